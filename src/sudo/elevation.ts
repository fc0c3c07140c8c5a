/**
 * Per-call elevation for the sudo tools: the password is fetched once per
 * tool call (never cached across calls, SUDO-2), every elevated command goes
 * through the prompt handshake (`src/ssh/sudo.ts`), and path checks
 * canonicalize inside an elevated shell (SUDO-8).
 *
 * @module
 */

import { ToolError } from "../../errors.ts";
import type { PathIo } from "../../policy/paths.ts";
import { type ElevatedResult, type ElevateTarget, runElevated } from "../../ssh/sudo.ts";
import { realPasswordDeps, resolveSudoPassword } from "../../sudo/password.ts";
import type { ToolContext } from "../define.ts";
import type { CheckedPath } from "../../checked.ts";

/** Fixed default deadline of the sudo file pipeline (TIMEOUT-7). */
export const FILE_PIPELINE_TIMEOUT_S = 60;

/** Options of one elevated run. */
export interface RunOptions {
  payload?: string | Uint8Array | AsyncIterable<Uint8Array>;
  timeoutMs?: number;
  stdoutCap?: number;
  stderrCap?: number;
}

/** The elevation of one tool call. */
export interface Elevation {
  readonly method: "sudo" | "doas";
  /** a password source produced a password for this call */
  readonly hasPassword: boolean;
  /** runs one elevated command with the handshake */
  run(target: ElevateTarget, opts?: RunOptions): Promise<ElevatedResult>;
  /** remote I/O for `ctx.checkPath` that canonicalizes as root */
  readonly pathIo: PathIo;
  /** the path chain with the elevated canonicalization (SUDO-8) */
  checkPath(
    raw: string,
    opts: { mustExist: boolean; redactGate: boolean },
  ): Promise<CheckedPath>;
}

/** SudoFileOpError for an elevated run that did not start the command (auth, sudoers, tty). */
function notStartedError(r: ElevatedResult, what: string): ToolError {
  const detail = r.authFailed
    ? "sudo: authentication failed"
    : r.timedOut
    ? "timed out"
    : (r.stderr.trim().split("\n").slice(-3).join(" ") || `exit ${r.exitCode}`);
  return new ToolError(
    "SudoFileOpError",
    `${what}: elevation failed (${detail}).${r.hint ? ` ${r.hint}` : ""}`,
    { stage: "sudo" },
  );
}

/** Throws Cancelled / SudoFileOpError unless elevation succeeded and the command started. */
function assertStarted(r: ElevatedResult, what: string): void {
  if (r.cancelled) throw new ToolError("Cancelled", "The request was cancelled.");
  if (!r.started || r.authFailed) throw notStartedError(r, what);
}

/** Throws Cancelled / SudoFileOpError unless the elevated command ran to completion. */
export function assertRan(r: ElevatedResult, what: string): void {
  assertStarted(r, what);
  if (r.timedOut) {
    throw new ToolError("SudoFileOpError", `${what}: timed out (pass a larger timeout).`, {
      stage: "timeout",
    });
  }
}

/** Starts the elevation of one call: resolves the password once (sudo only). */
export async function elevation(ctx: ToolContext): Promise<Elevation> {
  const app = ctx.app;
  const policy = ctx.host.policy;
  const method = policy.become_method;
  // doas never reads a password from a pipe: no source is consulted for it
  const password = method === "sudo"
    ? await resolveSudoPassword(
      policy,
      app.settings,
      realPasswordDeps({ settings: app.settings, env: app.config.env, logger: ctx.logger }),
      ctx.logger,
    )
    : { value: null, source: null };
  if (password.source) ctx.logger.debug("sudo password source", { source: password.source });
  const run = (target: ElevateTarget, opts: RunOptions = {}) =>
    runElevated((cmd, o) => ctx.exec(cmd, o), {
      method,
      target,
      password: password.value,
      signal: ctx.signal,
      ...opts,
    });
  const pathIo: PathIo = {
    async exec(cmd, timeoutMs) {
      const r = await run({ kind: "shell", inner: cmd }, timeoutMs ? { timeoutMs } : {});
      // a timeout is left to the path policy (it reports realpath timing out)
      assertStarted(r, "path canonicalization");
      return r;
    },
    sftp: () => ctx.sftp(),
  };
  return {
    method,
    hasPassword: password.value !== null,
    run,
    pathIo,
    checkPath: (raw, opts) =>
      ctx.checkPath(policy, raw, {
        mustExist: opts.mustExist,
        redactGate: opts.redactGate,
        io: pathIo,
      }),
  };
}
