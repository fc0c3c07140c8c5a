/**
 * How the command policy refuses (SECURITY.md §EXEC EXEC-18): the deny
 * reasons and the `CommandNotAllowed` error carrying them (attributes
 * `reason`, `rule` and, when given, the offending `fragment`, cut at 200
 * characters).
 *
 * @module
 */

import { ToolError } from "../errors.ts";

/** Denial reasons (EXEC-18). */
export type DenyReason =
  | "empty"
  | "parse-error"
  | "unsupported-construct"
  | "redirect-to-file"
  | "dangerous-env"
  | "denylist"
  | "rule-deny"
  | "not-allowlisted"
  | "non-literal-program"
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
