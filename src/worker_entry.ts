/**
 * The Worker side of launcher.ts: records the permission plan it runs under
 * (doctor reports it) and runs the CLI; posts `{exit}` when done.
 *
 * @module
 */

import { main } from "./cli.ts";
import { type PermissionPlan, setActivePlan, setLaunchMainModule } from "./permissions.ts";
import { adopt, mark, now } from "./startup.ts";

/** when this Worker's module graph had been evaluated (imports run before this line) */
const evaluated = now();

interface WorkerScope {
  onmessage: ((e: MessageEvent) => void) | null;
  postMessage(message: unknown): void;
}

const scope = globalThis as unknown as WorkerScope;

scope.onmessage = (e: MessageEvent) => {
  scope.onmessage = null; // one command per Worker
  const { argv, plan, mainModule, startup } = e.data as {
    argv: string[];
    plan: PermissionPlan;
    mainModule: string;
    startup?: unknown;
  };
  adopt(startup);
  mark("worker", evaluated);
  setActivePlan(plan);
  setLaunchMainModule(mainModule); // Deno.mainModule is undefined inside a Worker
  main(argv).then((code) => scope.postMessage({ exit: code }));
};
