/**
 * Per-call elevation for the sudo tools: the password is fetched once per
 * tool call (never cached across calls, SUDO-2) and every elevated command
 * goes through the prompt handshake (`src/ssh/sudo.ts`). The registry builds
 * one per call ({@link createElevation}); declared sudo paths canonicalize
 * through it inside an elevated shell (SUDO-8).
 *
 * @module
 */

import type { RemoteCommand } from "../checked.ts";
import type { HostPolicy, Settings } from "../config/types.ts";
import { ToolError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { ExecOptions, RawExecResult } from "../ssh/exec.ts";
import { type ElevatedResult, type ElevateTarget, runElevated } from "../ssh/sudo.ts";
import { realPasswordDeps, resolveSudoPassword } from "./password.ts";

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
export function assertStarted(r: ElevatedResult, what: string): void {
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

/** What {@link createElevation} needs from the call. */
export interface ElevationDeps {
  policy: HostPolicy;
  settings: Settings;
  env: Readonly<Record<string, string>>;
  logger: Logger;
  signal: AbortSignal;
  /** runs a command on the call's host with its timeout and caps */
  exec(cmd: RemoteCommand, opts: Partial<ExecOptions>): Promise<RawExecResult>;
}

/** Starts the elevation of one call: resolves the password once (sudo only). */
export async function createElevation(d: ElevationDeps): Promise<Elevation> {
  const method = d.policy.become_method;
  // doas never reads a password from a pipe: no source is consulted for it
  const password = method === "sudo"
    ? await resolveSudoPassword(
      d.policy,
      d.settings,
      realPasswordDeps({ settings: d.settings, env: d.env, logger: d.logger }),
      d.logger,
    )
    : { value: null, source: null };
  if (password.source) d.logger.debug("sudo password source", { source: password.source });
  return {
    method,
    hasPassword: password.value !== null,
    run: (target: ElevateTarget, opts: RunOptions = {}) =>
      runElevated((cmd, o) => d.exec(cmd, o), {
        method,
        target,
        password: password.value,
        signal: d.signal,
        ...opts,
      }),
  };
}
