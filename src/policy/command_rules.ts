/**
 * Command rules and the allowlist (SECURITY.md §EXEC EXEC-5, EXEC-16): the
 * EXEC-16 glob syntax shared with the denylist, allowlist matching, and the
 * last stage of a command check, run per simple command: host deny rules,
 * then allow rules, then the program allowlist.
 *
 * @module
 */

import { posix } from "node:path";
import type { HostPolicy } from "../config/types.ts";
import type { ParsedCommand } from "./command_parse.ts";
import { commandNotAllowed } from "./command_refusal.ts";

/**
 * EXEC-16 glob: `*` any run (spaces and `/` included), `?` one character,
 * `[...]` a class (`[!...]` negated), `\` escapes; the whole text must match.
 */
export function globToRegExp(glob: string, mode: "whole" | "prefix" | "contains"): RegExp {
  let re = "";
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i]!;
    if (ch === "\\" && i + 1 < glob.length) {
      re += escapeRe(glob[++i]!);
    } else if (ch === "*") re += ".*";
    else if (ch === "?") re += ".";
    else if (ch === "[") {
      const close = glob.indexOf("]", i + 2);
      if (close < 0) {
        re += "\\[";
        continue;
      }
      let body = glob.slice(i + 1, close);
      const neg = body.startsWith("!") || body.startsWith("^");
      if (neg) body = body.slice(1);
      re += `[${neg ? "^" : ""}${body.replace(/[\\\]]/g, "\\$&")}]`;
      i = close;
    } else re += escapeRe(ch);
  }
  if (mode === "whole") return new RegExp(`^(?:${re})$`, "s");
  if (mode === "prefix") return new RegExp(`^(?:${re})(?: .*)?$`, "s");
  return new RegExp(re, "s");
}

function escapeRe(ch: string): string {
  return ch.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}

/** EXEC-5: does the allowlist admit `program`? Returns the matching entry. */
export function allowlistMatch(program: string, allowlist: readonly string[]): string | null {
  for (const entry of allowlist) {
    if (entry === "*") return entry;
    if (entry === program) return entry;
    if (!entry.includes("/") && program.includes("/") && posix.basename(program) === entry) {
      return entry;
    }
  }
  return null;
}

/**
 * EXEC-18, last stage: every simple command against the host's deny rules,
 * then each program against the allow rules, else the allowlist. Throws
 * CommandNotAllowed (`rule-deny`, `not-allowlisted`); returns why the
 * command was admitted.
 */
export function simpleCommandsDecision(
  parsed: ParsedCommand,
  policy: HostPolicy,
  allowlist: readonly string[],
): { reason: "rule-allow" | "allowlist"; rule: string | null } {
  const rules = policy.command_rules;
  const denyRules = rules.filter((r) => r.action === "deny");
  const allowRules = rules.filter((r) => r.action === "allow");
  for (const sc of parsed.simple) {
    for (const r of denyRules) {
      if (globToRegExp(r.pattern, "whole").test(sc.normalized)) {
        throw commandNotAllowed(
          "rule-deny",
          `The command matches the deny rule ${JSON.stringify(r.pattern)}.`,
          r.pattern,
          sc.text,
        );
      }
    }
  }
  let lastRule: string | null = null;
  let viaRule = false;
  for (const sc of parsed.simple) {
    if (sc.program === null) continue;
    const rule = allowRules.find((r) => globToRegExp(r.pattern, "whole").test(sc.normalized));
    if (rule) {
      lastRule = rule.pattern;
      viaRule = true;
      continue;
    }
    const entry = allowlistMatch(sc.program, allowlist);
    if (!entry) {
      const allowed = allowlist.length ? allowlist.join(", ") : "(none)";
      throw commandNotAllowed(
        "not-allowlisted",
        allowlist.length === 0
          ? `No commands are allowed on ${policy.alias}: its command allowlist is empty. The operator can ` +
            "add programs to command_allowlist in hosts.toml or SSH_COMMAND_ALLOWLIST, or set ALLOW_ANY_COMMAND=true."
          : `Program ${
            JSON.stringify(sc.program)
          } is not in the command allowlist of ${policy.alias} ` +
            `(allowed: ${allowed}). The operator can extend command_allowlist in hosts.toml or SSH_COMMAND_ALLOWLIST.`,
        null,
        sc.text,
      );
    }
    lastRule = lastRule ?? entry;
  }
  return { reason: viaRule ? "rule-allow" : "allowlist", rule: lastRule };
}
