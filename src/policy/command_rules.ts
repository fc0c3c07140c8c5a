/**
 * Command rules and the allowlist (SECURITY.md §EXEC EXEC-5, EXEC-16,
 * EXEC-36..41), the last stage of a restrictive command check, run per
 * simple command on its parsed words: host deny rules (also through
 * wrappers), then allow rules, then the program allowlist.
 *
 * - Allowlist: `*` admits anything; otherwise the program word must equal an
 *   entry. A bare entry (`ls`) admits only the bare word `ls`, which the
 *   re-emitted command resolves in the standard system directories only
 *   (`shell_emit.ts`); a path-qualified program (`/srv/app/bin/ls`) needs an
 *   identical entry.
 * - Rules match word by word (`command_match.ts`).
 *
 * @module
 */

import type { HostPolicy } from "../config/types.ts";
import type { ParsedCommand, SimpleCommand } from "./command_parse.ts";
import { commandNotAllowed } from "./command_refusal.ts";
import { allowMatch, denyMatch } from "./command_match.ts";
import { reachedInvocations } from "./command_wrappers.ts";

export { globToRegExp } from "./command_match.ts";

/** EXEC-5 / EXEC-36: does the allowlist admit `program`? Returns the matching entry. */
export function allowlistMatch(program: string, allowlist: readonly string[]): string | null {
  for (const entry of allowlist) {
    if (entry === "*" || entry === program) return entry;
  }
  return null;
}

/** The words rules see: [program, ...args], or the assignments of an assignment-only command. */
export function ruleWords(sc: SimpleCommand): string[] {
  if (sc.program !== null) return [sc.program, ...sc.args];
  return sc.assignments.map((a) => `${a.name}=${a.value?.value ?? ""}`);
}

function denyRuleHit(pattern: string, sc: SimpleCommand): boolean {
  if (sc.program === null) return denyMatch(pattern, ruleWords(sc)[0] ?? "", []);
  const reached = reachedInvocations({ program: sc.program, args: sc.args }).invocations;
  return reached.some((inv) => denyMatch(pattern, inv.program, inv.args));
}

function notAllowlisted(
  sc: SimpleCommand,
  policy: HostPolicy,
  allowlist: readonly string[],
  dotDot: string | null,
) {
  const allowed = allowlist.length ? allowlist.join(", ") : "(none)";
  const extend =
    "The operator can extend command_allowlist (or command_rules) in hosts.toml or SSH_COMMAND_ALLOWLIST.";
  if (dotDot !== null) {
    return commandNotAllowed(
      "not-allowlisted",
      `The argument ${
        JSON.stringify(dotDot)
      } contains "..", which a path-shaped command rule never admits ` +
        '(it could leave the directory the rule names). Write the path without "..".',
      null,
      sc.text,
    );
  }
  if (sc.program === null) {
    return commandNotAllowed(
      "not-allowlisted",
      `The assignment-only command ${
        JSON.stringify(sc.text)
      } sets a shell variable, which needs an allow rule ` +
        `(command_rules) like any other command on ${policy.alias}. Variables cannot be used by later commands ` +
        "under a restrictive policy anyway; put environment settings before the program instead (LC_ALL=C ls).",
      null,
      sc.text,
    );
  }
  if (allowlist.length === 0 && policy.command_rules.every((r) => r.action !== "allow")) {
    return commandNotAllowed(
      "not-allowlisted",
      `No commands are allowed on ${policy.alias}: its command allowlist is empty. The operator can ` +
        "add programs to command_allowlist in hosts.toml or SSH_COMMAND_ALLOWLIST, or set ALLOW_ANY_COMMAND=true.",
      null,
      sc.text,
    );
  }
  const prog = sc.program;
  const bare = prog.slice(prog.lastIndexOf("/") + 1);
  if (prog.includes("/") && allowlist.includes(bare)) {
    return commandNotAllowed(
      "not-allowlisted",
      `Program ${
        JSON.stringify(prog)
      } is path-qualified; only an identical allowlist entry admits it, and ` +
        `${policy.alias} allowlists the bare name ${JSON.stringify(bare)}. Write ${
          JSON.stringify(bare)
        }: it runs ` +
        `the program from the standard system directories. ${extend}`,
      null,
      sc.text,
    );
  }
  return commandNotAllowed(
    "not-allowlisted",
    `Program ${JSON.stringify(prog)} is not in the command allowlist of ${policy.alias} ` +
      `(allowed: ${allowed}). ${extend}`,
    null,
    sc.text,
  );
}

/**
 * EXEC-18, last stage: every simple command against the host's deny rules,
 * then against the allow rules, else the allowlist. Throws
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
      if (denyRuleHit(r.pattern, sc)) {
        throw commandNotAllowed(
          "rule-deny",
          `The command ${JSON.stringify(sc.text)} matches the deny rule ${
            JSON.stringify(r.pattern)
          } ` +
            "(deny rules match options in any cluster, order or long form, also through wrappers).",
          r.pattern,
          sc.text,
        );
      }
    }
  }
  let lastRule: string | null = null;
  let viaRule = false;
  for (const sc of parsed.simple) {
    const words = ruleWords(sc);
    let dotDot: string | null = null;
    const rule = allowRules.find((r) => {
      const m = allowMatch(r.pattern, words, { program: sc.program !== null });
      if (!m.ok) dotDot = dotDot ?? m.dotDot;
      return m.ok;
    });
    if (rule) {
      lastRule = rule.pattern;
      viaRule = true;
      continue;
    }
    const entry = sc.program === null ? null : allowlistMatch(sc.program, allowlist);
    if (!entry) throw notAllowlisted(sc, policy, allowlist, dotDot);
    lastRule = lastRule ?? entry;
  }
  return { reason: viaRule ? "rule-allow" : "allowlist", rule: lastRule };
}
