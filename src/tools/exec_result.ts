/**
 * The ExecResult shape (TOOLS.md §2.1) and its construction from a raw exec:
 * UTF-8 decoding (done by the exec engine), sanitizing (SECURITY.md OUT-3/4),
 * the TTY hint (OUT-8) and the timeout/cancel flags.
 *
 * @module
 */

import { z } from "zod";
import type { HostPolicy, Settings } from "../config/types.ts";
import { ToolError } from "../errors.ts";
import { effectivePolicy } from "../policy/effective.ts";
import { mergeWarnings, sanitize } from "../policy/sanitize.ts";
import type { RawExecResult } from "../ssh/exec.ts";
import { OutputWarnings } from "./_schemas.ts";
import type { AuditExtra, CtxExecOptions, ToolContext } from "./context.ts";

/** ExecResult fields (TOOLS.md §2.1, plus NEW `cancelled`). */
export const EXEC_RESULT_FIELDS = {
  host: z.string().describe("Canonical hostname"),
  exit_code: z.number().int().describe("Remote exit status; -1 on timeout/cancel or none sent"),
  stdout: z.string(),
  stderr: z.string(),
  stdout_bytes: z.number().int(),
  stderr_bytes: z.number().int(),
  stdout_truncated: z.boolean(),
  stderr_truncated: z.boolean(),
  duration_ms: z.number().int(),
  timed_out: z.boolean(),
  cancelled: z.boolean(),
  killed_by_signal: z.string().nullable(),
  hint: z.string().nullable(),
  output_warnings: OutputWarnings,
};

/** ExecResult as a strict schema. */
export const ExecResult = z.strictObject(EXEC_RESULT_FIELDS);
/** One ExecResult value. */
export type ExecResultT = z.output<typeof ExecResult>;

const TTY_MARKERS = [
  "is not a tty",
  "stdin: not a tty",
  "must be run from a terminal",
  "you must run this from a terminal",
];

/** OUT-8 remediation text. */
export const TTY_HINT =
  "The command wanted a terminal, but ssh-mcp never allocates a PTY. Use a batch mode instead " +
  "(top -bn1, htop -t, vim -es / ex, chpasswd instead of passwd, sudo -n or the ssh_sudo_* " +
  "tools), or run a non-interactive script with ssh_exec_script.";

/** The TTY hint when stderr says a terminal is needed, else null. */
export function ttyHint(stderr: string): string | null {
  const l = stderr.toLowerCase();
  return TTY_MARKERS.some((m) => l.includes(m)) ? TTY_HINT : null;
}

/** Builds the ExecResult of a raw exec on `hostname`. */
export function execResult(hostname: string, r: RawExecResult): ExecResultT {
  const out = sanitize(r.stdout);
  const err = sanitize(r.stderr);
  return {
    host: hostname,
    exit_code: r.exitCode,
    stdout: out.text,
    stderr: err.text,
    stdout_bytes: r.stdoutBytes,
    stderr_bytes: r.stderrBytes,
    stdout_truncated: r.stdoutTruncated,
    stderr_truncated: r.stderrTruncated,
    duration_ms: r.durationMs,
    timed_out: r.timedOut,
    cancelled: r.cancelled,
    killed_by_signal: r.signal,
    hint: ttyHint(r.stderr),
    output_warnings: mergeWarnings(out.warnings, err.warnings),
  };
}

/**
 * Ends an exec tool on `ctx.host`: the audit fields, `Cancelled` when the
 * client cancelled (the remote process group is already killed), else the
 * ExecResult.
 */
export function finishExec(ctx: ToolContext, r: RawExecResult): ExecResultT {
  ctx.audit(execAudit(r));
  if (r.cancelled) {
    throw new ToolError(
      "Cancelled",
      "The request was cancelled; the remote process group was killed.",
    );
  }
  return execResult(ctx.host.policy.hostname, r);
}

/** Audit fields of a finished exec (AUDIT-2). */
export function execAudit(r: RawExecResult): AuditExtra {
  return {
    exit_code: r.exitCode,
    timed_out: r.timedOut,
    ...(r.cancelled ? { cancelled: true } : {}),
    bytes_out: r.stdoutBytes,
    bytes_err: r.stderrBytes,
  };
}

/** Exec options for a call's `timeout` argument (null = the host's default). */
export function timeoutOpts(timeout: number | null | undefined): CtxExecOptions {
  return typeof timeout === "number" ? { timeoutMs: timeout * 1000 } : {};
}

/** Effective timeout in seconds for one host (TIMEOUT-1). */
export function effectiveTimeoutS(
  policy: HostPolicy,
  settings: Settings,
  timeout: number | null | undefined,
): number {
  return typeof timeout === "number"
    ? timeout
    : effectivePolicy(policy, settings).command_timeout_s;
}

/** The command argument of the exec family (EXEC-10 is enforced by the policy). */
export const CommandArg = z.string().max(10_000).describe(
  "Shell command",
);
