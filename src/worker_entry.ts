/**
 * The Worker side of launcher.ts: records the permission plan it runs under
 * (doctor reports it) and runs the CLI; posts `{exit}` when done.
 *
 * @module
 */

import { main } from "./cli.ts";
import { type PermissionPlan, setActivePlan, setLaunchMainModule } from "./permissions.ts";

interface WorkerScope {
  onmessage: ((e: MessageEvent) => void) | null;
  postMessage(message: unknown): void;
}

const scope = globalThis as unknown as WorkerScope;

scope.onmessage = (e: MessageEvent) => {
  scope.onmessage = null; // one command per Worker
  const { argv, plan, mainModule } = e.data as {
    argv: string[];
    plan: PermissionPlan;
    mainModule: string;
  };
  setActivePlan(plan);
  setLaunchMainModule(mainModule); // Deno.mainModule is undefined inside a Worker
  main(argv).then((code) => scope.postMessage({ exit: code }));
};
