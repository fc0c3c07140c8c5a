/**
 * The process entry (main.ts): computes the permission plan of the command
 * from the configuration ({@link planFor}, permissions.ts) and runs the real
 * program (cli.ts) in a Worker holding only that plan (docs/PERMISSIONS.md).
 *
 * This module and what it imports (the configuration loader) run with the
 * process's static grants and never see agent input: the agent talks to code
 * in the Worker, over stdin/stdout (or HTTP / SSH) opened by the Worker. The
 * launcher takes one thing back from the Worker: an exit code (an integer
 * 0..255); anything else is ignored.
 *
 * @module
 */

import * as path from "./util/local_path.ts";
import { loadConfig, type LoadedConfig } from "./config/load.ts";
import {
  minimalPlan,
  type PermissionPlan,
  planBridge,
  planInit,
  planServer,
  workerPermissions,
} from "./permissions.ts";
import { importLazy } from "./util/lazy_import.ts";
import { mark, snapshot } from "./startup.ts";
import { writeAllSync } from "./util/fd_write.ts";

/** cli.ts by a computed URL: this isolate does not load the server's graph (only the Worker does). */
function importCli(): Promise<typeof import("./cli.ts")> {
  return importLazy(new URL("./cli.ts", import.meta.url));
}

/** Printed when the runtime refuses narrowed Workers (no `--unstable-worker-options`). */
export const UNNARROWED_WARNING =
  "ssh-mcp: WARNING: permissions NOT narrowed: this deno was started without " +
  "--unstable-worker-options, so the server runs with every grant of its command line. " +
  "Start it with `deno task start` (or add --unstable-worker-options before main.ts); " +
  "see docs/PERMISSIONS.md.";

/**
 * Whether this runtime accepts Worker permissions. Deno ends the process
 * (exit 70) instead of throwing when `new Worker({deno: {permissions}})` is
 * used without `--unstable-worker-options`, so this is decided up front:
 * a compiled binary has the flag baked in (scripts/compile.ts passes it);
 * `deno run` has it when the project's deno.json lists "worker-options" under
 * "unstable" or the command line (`ps`) carries the flag before main.ts.
 */
export async function workerOptionsEnabled(): Promise<boolean> {
  if (Deno.build.standalone) return true;
  try {
    const cfg = JSON.parse(
      await Deno.readTextFile(new URL("../deno.json", import.meta.url)),
    ) as { unstable?: unknown };
    if (Array.isArray(cfg.unstable) && cfg.unstable.includes("worker-options")) return true;
  } catch {
    // no readable deno.json beside the sources: decide from the command line
  }
  if (Deno.build.os === "windows") return false;
  try {
    // /proc/self/cmdline needs --allow-all in Deno 2; ps is POSIX (Linux, macOS)
    const r = await new Deno.Command("ps", {
      args: ["-ww", "-o", "args=", "-p", String(Deno.pid)],
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).output();
    const argv = new TextDecoder().decode(r.stdout).trim().split(/\s+/);
    const main = argv.findIndex((a) => /(^|\/)main\.ts$/.test(a));
    return (main < 0 ? argv : argv.slice(0, main)).includes("--unstable-worker-options");
  } catch {
    return false;
  }
}

/** Commands that read the server configuration and get its plan. */
const SERVER_COMMANDS = new Set(["serve", "tools", "doctor", "serve-ssh"]);

async function tryLoad(env: Record<string, string>, cwd: string): Promise<LoadedConfig | string> {
  try {
    return await loadConfig({ env, cwd });
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

/**
 * The plan of one command line (mirrors cli.ts's dispatch). A configuration
 * that does not load gives the minimal plan (no write, no run): the Worker
 * then reports the error itself and exits 3.
 */
export async function planFor(
  argv: readonly string[],
  env: Record<string, string> = Deno.env.toObject(),
  cwd: string = Deno.cwd(),
): Promise<PermissionPlan> {
  const rest = argv.filter((a) => a !== "--json");
  const cmd = rest[0] ?? "serve";
  if (cmd === "doctor" && rest.includes("--client")) return minimalPlan("doctor --client");
  if (SERVER_COMMANDS.has(cmd)) {
    const cfg = await tryLoad(env, cwd);
    if (typeof cfg === "string") {
      return minimalPlan(cmd, "the configuration did not load: nothing may be written or run");
    }
    return await planServer(cfg, cmd);
  }
  if (cmd === "init") {
    const { loadDotenv } = await import("./config/env.ts");
    let vars = env;
    try {
      vars = loadDotenv(env, cwd).vars;
    } catch {
      // init reports a broken .env itself
    }
    return planInit(rest.slice(1), vars, cwd);
  }
  if (cmd === "bridge") {
    const { parseBridgeArgs } = await importLazy<typeof import("./bridge/args.ts")>(
      new URL("./bridge/args.ts", import.meta.url),
    );
    const { DEFAULT_BRIDGE_KEY } = await importLazy<typeof import("./bridge/connect.ts")>(
      new URL("./bridge/connect.ts", import.meta.url),
    );
    let a;
    try {
      a = parseBridgeArgs(rest.slice(1));
    } catch {
      return minimalPlan("bridge", "bad arguments: nothing may be written or run");
    }
    const cfg = await tryLoad(env, cwd);
    const { expandPath } = await import("./config/env.ts");
    const e = expandPath(DEFAULT_BRIDGE_KEY, env);
    const defaultKey = !a.agent && a.key === null ? path.resolve(cwd, e) : null;
    return await planBridge(
      defaultKey,
      a.passphraseCmd !== null,
      typeof cfg === "string" ? null : cfg,
    );
  }
  return minimalPlan(cmd);
}

/**
 * Runs `argv` in a Worker narrowed to its plan; resolves to the exit code.
 * The Worker's own `Deno.exit` would end only the Worker, so cli.ts's result
 * comes back as a message and the launcher exits with it.
 */
export async function launch(argv: readonly string[]): Promise<number> {
  mark("launcher");
  if (["--version", "-V", "version", "--help", "-h", "help"].includes(argv[0] ?? "")) {
    // print a constant text, read nothing, write nothing: no Worker needed
    const { main } = await importCli();
    return await main(argv);
  }
  // the runtime check (a file read, or `ps`) runs while the configuration loads
  const [enabled, plan] = await Promise.all([workerOptionsEnabled(), planFor(argv)]);
  mark("plan");
  if (!enabled) {
    // started without the flag (an old client configuration, `deno run -A main.ts`): run
    // unnarrowed and say so; doctor reports "NOT NARROWED" too
    writeAllSync(Deno.stderr, new TextEncoder().encode(UNNARROWED_WARNING + "\n"));
    const { main } = await importCli();
    return await main(argv);
  }
  const worker = new Worker(new URL("./worker_entry.ts", import.meta.url), {
    type: "module",
    name: "ssh-mcp",
    deno: { permissions: workerPermissions(plan) },
  } as WorkerOptions);
  return await new Promise<number>((resolve) => {
    worker.onmessage = (e: MessageEvent) => {
      const code = (e.data as { exit?: unknown } | null)?.exit;
      if (typeof code === "number" && Number.isInteger(code) && code >= 0 && code <= 255) {
        resolve(code);
      }
    };
    worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      writeAllSync(Deno.stderr, new TextEncoder().encode(`ssh-mcp: fatal: ${e.message}\n`));
      resolve(1);
    };
    worker.postMessage({
      argv: [...argv],
      plan,
      mainModule: Deno.mainModule,
      startup: snapshot(),
    });
  });
}
