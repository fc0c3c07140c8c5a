/**
 * How the command policy refuses (SECURITY.md §EXEC EXEC-18, EXEC-22..): the
 * deny reasons and the `CommandNotAllowed` error carrying them (attributes
 * `reason`, `rule` and, when given, the offending `fragment`, cut at 200
 * characters).
 *
 * @module
 */

import { ToolError } from "../errors.ts";

/**
 * Denial reasons (EXEC-18). NEW with EXEC-22..: `run-time-expansion` (a word
 * whose meaning the remote shell decides at run time: parameter, arithmetic,
 * glob, tilde, brace expansion, ...), `env-not-allowed` (an environment
 * prefix not on the safe list) and `shell-builtin` (an allowlisted name that
 * exists only inside the shell).
 */
export type DenyReason =
  | "empty"
  | "parse-error"
  | "unsupported-construct"
  | "redirect-to-file"
  | "dangerous-env"
  | "env-not-allowed"
  | "denylist"
  | "rule-deny"
  | "not-allowlisted"
  | "non-literal-program"
  | "run-time-expansion"
  | "shell-builtin"
  | "script-needs-allow-any";

/** A `CommandNotAllowed` error for `reason` (attributes reason, rule, fragment). */
export function commandNotAllowed(
  reason: DenyReason,
  message: string,
  rule: string | null = null,
  fragment: string | null = null,
): ToolError {
  return new ToolError("CommandNotAllowed", message, {
    reason,
    rule,
    ...(fragment !== null
      ? { fragment: fragment.length > 200 ? fragment.slice(0, 200) + "..." : fragment }
      : {}),
  });
}
