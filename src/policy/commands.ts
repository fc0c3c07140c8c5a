/**
 * The command policy of the exec family (SECURITY.md §EXEC, §SCRIPT).
 *
 * The whole command is parsed with a POSIX/bash grammar (npm `unbash`), not
 * just its first word (EXEC-11): every simple command must be admitted, and
 * command substitution, subshells, control structures, output redirection to
 * files and dangerous environment prefixes are refused (EXEC-12..15). Glob
 * `command_rules` and the `command_denylist` are evaluated per normalised
 * simple command (EXEC-16/17), so `systemctl status *` never admits
 * `systemctl status x; reboot`.
 *
 * Evaluation order (EXEC-18): limits -> empty -> parse -> denylist -> allow-any
 * -> constructs -> per simple command (deny rules -> allow rules -> allowlist).
 *
 * Files: this module (the checker contract, limits and the evaluation order),
 * `command_parse.ts` (parse and simple-command extraction),
 * `command_denylist.ts` (denylist and wrapper stripping), `command_rules.ts`
 * (globs, command rules, allowlist) and `command_refusal.ts` (deny reasons
 * and the CommandNotAllowed error).
 *
 * @module
 */

import type { HostPolicy, Settings } from "../config/types.ts";
import { ToolError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { CheckedCommand } from "../checked.ts";
import { admitCommand } from "./mint.ts";
import { matchCheatsheet, optOutWarning, refusalMessage } from "./cheatsheet.ts";
import { denylistHit, scriptDenylistHit } from "./command_denylist.ts";
import { parseCommand } from "./command_parse.ts";
import { commandNotAllowed } from "./command_refusal.ts";
import { simpleCommandsDecision } from "./command_rules.ts";
import { effectivePolicy } from "./effective.ts";
import { matchGlobs } from "./globs.ts";

export { denylistHit, stripWrappers } from "./command_denylist.ts";
export { parseCommand } from "./command_parse.ts";
export type { ParsedCommand, SimpleCommand } from "./command_parse.ts";
export type { DenyReason } from "./command_refusal.ts";
export { allowlistMatch, globToRegExp } from "./command_rules.ts";

/** One command check (SECURITY.md §EXEC, §CHEAT, §SCRIPT). */
export interface CommandCheckRequest {
  tool: string;
  policy: HostPolicy;
  command: string;
  kind: "command" | "script";
}

/** Why a command was admitted or refused (for `policy_decision` audit lines). */
export interface CommandDecision {
  reason: string;
  rule: string | null;
}

/** A cheatsheet hit (SECURITY.md §CHEAT). */
export interface CheatsheetMatch {
  patternId: string;
  /** a tool name, or a family text such as "ssh_docker_* family" */
  suggestedTool: string;
}

/** The command policy (implemented in `src/policy/commands.ts`). */
export interface CommandChecker {
  /** Pure cheatsheet lookup (no opt-out logic, never throws); for `ssh_plan`. */
  cheatsheetMatch(req: CommandCheckRequest): CheatsheetMatch | null;
  /**
   * CHEAT-1/2: throws CommandIsCheatsheetMatch (attributes pattern_id,
   * suggested_tool) unless the opt-out is set; with the opt-out returns the
   * warning text and pattern id for a match. No match: both null.
   */
  cheatsheet(req: CommandCheckRequest): { warning: string | null; patternId: string | null };
  /**
   * EXEC-10..21 / SCRIPT-1..4: throws CommandNotAllowed (attributes reason,
   * rule) or ValueError; returns the admitted command and why.
   */
  admit(req: CommandCheckRequest): { command: CheckedCommand; decision: CommandDecision };
}

/** EXEC-10 / SCRIPT-4 limits. */
export const MAX_COMMAND_CHARS = 10_000;
export const MAX_SCRIPT_BYTES = 1024 * 1024;

/** Dependencies of the checker. */
export interface CommandCheckerDeps {
  settings: Settings;
  logger: Logger;
}

class Checker implements CommandChecker {
  readonly #s: Settings;

  constructor(deps: CommandCheckerDeps) {
    this.#s = deps.settings;
  }

  cheatsheetMatch(req: CommandCheckRequest): CheatsheetMatch | null {
    if (req.kind === "script") return null;
    const eff = effectivePolicy(req.policy, this.#s);
    const ci = req.policy.case_insensitive_paths || req.policy.platform === "windows";
    return matchCheatsheet(req.command, {
      redactListed: (p) =>
        eff.redact_paths_globs.length > 0 &&
        matchGlobs(p.startsWith("/") ? p : `/${p}`, eff.redact_paths_globs, {
            caseInsensitive: ci,
          }) !== null,
    });
  }

  cheatsheet(req: CommandCheckRequest): { warning: string | null; patternId: string | null } {
    const hit = this.cheatsheetMatch(req);
    if (!hit) return { warning: null, patternId: null };
    if (!this.#s.SSH_EXEC_ALLOW_CHEATSHEET_PATTERNS) {
      throw new ToolError("CommandIsCheatsheetMatch", refusalMessage(req.tool, hit), {
        pattern_id: hit.patternId,
        suggested_tool: hit.suggestedTool,
        command: req.command,
      });
    }
    return { warning: optOutWarning(req.tool, hit), patternId: hit.patternId };
  }

  admit(req: CommandCheckRequest): { command: CheckedCommand; decision: CommandDecision } {
    const decision = req.kind === "script" ? this.#script(req) : this.#command(req);
    return { command: admitCommand(req.command), decision };
  }

  #script(req: CommandCheckRequest): CommandDecision {
    const body = req.command;
    if (new TextEncoder().encode(body).length > MAX_SCRIPT_BYTES) {
      throw new ToolError(
        "ValueError",
        `script is larger than ${MAX_SCRIPT_BYTES} bytes (SCRIPT-4).`,
      );
    }
    if (body.includes("\0")) throw new ToolError("ValueError", "script contains a NUL byte.");
    if (body.trim() === "") throw commandNotAllowed("empty", "The script is empty.");
    const eff = effectivePolicy(req.policy, this.#s);
    if (!eff.allow_any_command && !this.#s.ALLOW_SCRIPT_WITH_ALLOWLIST) {
      throw commandNotAllowed(
        "script-needs-allow-any",
        `Scripts run arbitrary shell code, so ${req.tool} needs an "allow any" command policy on ${req.policy.alias} ` +
          '(command_allowlist containing "*", or an empty allowlist with ALLOW_ANY_COMMAND=true), or ' +
          "ALLOW_SCRIPT_WITH_ALLOWLIST=true. Use ssh_exec_run with allowlisted commands instead.",
      );
    }
    // SCRIPT-3: the denylist applies to the body as a whole and line by line
    const hit = scriptDenylistHit(body, eff.command_denylist);
    if (hit) {
      throw commandNotAllowed(
        "denylist",
        `The script contains a command on the deny list (${hit}); it was not run.`,
        hit,
      );
    }
    return {
      reason: eff.allow_any_command ? "allow-any" : "script-with-allowlist",
      rule: eff.allow_any_command ? this.#allowAnyRule(req.policy) : "ALLOW_SCRIPT_WITH_ALLOWLIST",
    };
  }

  #allowAnyRule(policy: HostPolicy): string {
    const eff = effectivePolicy(policy, this.#s);
    return eff.command_allowlist.includes("*") ? "*" : "ALLOW_ANY_COMMAND";
  }

  #command(req: CommandCheckRequest): CommandDecision {
    const cmd = req.command;
    if (cmd.length > MAX_COMMAND_CHARS) {
      throw new ToolError(
        "ValueError",
        `command is longer than ${MAX_COMMAND_CHARS} characters (EXEC-10).`,
      );
    }
    // deno-lint-ignore no-control-regex
    const ctl = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/.exec(cmd);
    if (ctl) {
      throw new ToolError(
        "ValueError",
        `command contains the control character 0x${
          ctl[0].charCodeAt(0).toString(16).padStart(2, "0")
        } ` +
          "(only tab, newline and carriage return are allowed).",
      );
    }
    if (cmd.trim() === "") throw commandNotAllowed("empty", "The command is empty.");
    const eff = effectivePolicy(req.policy, this.#s);
    const parsed = parseCommand(cmd);
    if (!parsed.ok && !eff.allow_any_command) {
      throw commandNotAllowed(
        "parse-error",
        `The command could not be parsed as POSIX shell (${parsed.error}).`,
        null,
        cmd,
      );
    }
    const hit = denylistHit(cmd, parsed, eff.command_denylist);
    if (hit) {
      throw commandNotAllowed(
        "denylist",
        `The command matches the deny list entry ${
          JSON.stringify(hit)
        } and is refused on every host.`,
        hit,
      );
    }
    if (eff.allow_any_command) return { reason: "allow-any", rule: this.#allowAnyRule(req.policy) };
    if (parsed.construct) {
      throw commandNotAllowed(
        "unsupported-construct",
        `The command uses a ${parsed.construct}, which the command policy does not allow. Run separate, simple ` +
          "commands (joined with ;, && or |) or ask the operator for an allow-any host.",
        null,
        parsed.construct,
      );
    }
    if (parsed.fileRedirect) {
      throw commandNotAllowed(
        "redirect-to-file",
        `Output redirection to a file (${parsed.fileRedirect}) is not allowed; write files with ssh_upload. ` +
          "Redirecting to /dev/null and between descriptors (2>&1) is fine.",
        null,
        parsed.fileRedirect,
      );
    }
    if (parsed.dangerousEnv) {
      throw commandNotAllowed(
        "dangerous-env",
        `Setting ${parsed.dangerousEnv} before a command is not allowed (it changes what program or code runs).`,
        null,
        parsed.dangerousEnv,
      );
    }
    if (parsed.nonLiteral) {
      throw commandNotAllowed(
        "non-literal-program",
        `The program name ${
          JSON.stringify(parsed.nonLiteral)
        } is not a literal word (variables, globs and ~ ` +
          "are not allowed in the program position).",
        null,
        parsed.nonLiteral,
      );
    }
    return simpleCommandsDecision(parsed, req.policy, eff.command_allowlist);
  }
}

/** The command policy used as `app.commands`. */
export function createCommandChecker(deps: CommandCheckerDeps): CommandChecker {
  return new Checker(deps);
}
