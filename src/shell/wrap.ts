/**
 * The cwd-tracking wrapper of `ssh_shell_exec` (SECURITY.md SESS-4):
 *
 * ```sh
 * cd <cwd> || cd ~; <command>
 * __sshmcp_rc=$?; printf '\n%s%s\n' '__SSHMCP_STATE_<nonce>__' "$PWD"; exit $__sshmcp_rc
 * ```
 *
 * The sentinel carries a fresh random nonce per call, so command output
 * cannot spoof the cwd; the **last** occurrence is parsed; a missing sentinel
 * (`exit` in the command, timeout) leaves the cwd unchanged.
 *
 * cwd `~` and `~/...` are written with an unquoted `~/` prefix so the tilde
 * expands (the reference quoted `~`, making the first `cd` fail).
 *
 * @module
 */

import { type CheckedCommand, nested, nestedChecked, sh, type ShellCommand } from "../checked.ts";
import { randomHex } from "../util/random.ts";

/** `cd` target: `~`, `~/<quoted rest>` or the quoted absolute path. */
export function cdTarget(cwd: string): ShellCommand {
  if (cwd === "~" || cwd === "") return sh`~`;
  if (cwd.startsWith("~/")) return sh`~/${cwd.slice(2)}`;
  return sh`${cwd}`;
}

/** A wrapped command and the sentinel to look for. */
export interface Wrapped {
  command: ShellCommand;
  sentinel: string;
}

/** Wraps an admitted command (see module docs). */
export function wrapCommand(cwd: string, command: CheckedCommand): Wrapped {
  const sentinel = `__SSHMCP_STATE_${randomHex(8)}__`;
  return {
    sentinel,
    command: sh`cd ${nested(cdTarget(cwd))} || cd ~; ${nestedChecked(command)}
__sshmcp_rc=$?; printf '\\n%s%s\\n' ${sentinel} "$PWD"; exit $__sshmcp_rc`,
  };
}

/** What the sentinel told. */
export interface Unwrapped {
  /** stdout without the sentinel line */
  stdout: string;
  /** bytes removed from stdout */
  removedBytes: number;
  /** new cwd, or null when the sentinel is absent or empty */
  cwd: string | null;
}

/** Finds the last sentinel occurrence in stdout (SESS-4). */
export function unwrapOutput(stdout: string, sentinel: string): Unwrapped {
  const marker = "\n" + sentinel;
  const i = stdout.lastIndexOf(marker);
  if (i < 0) return { stdout, removedBytes: 0, cwd: null };
  const rest = stdout.slice(i + marker.length);
  const nl = rest.indexOf("\n");
  const line = (nl < 0 ? rest : rest.slice(0, nl)).replace(/\r$/, "");
  const after = nl < 0 ? "" : rest.slice(nl + 1);
  const kept = stdout.slice(0, i) + after;
  return {
    stdout: kept,
    removedBytes: new TextEncoder().encode(stdout).length - new TextEncoder().encode(kept).length,
    cwd: line === "" ? null : line,
  };
}
