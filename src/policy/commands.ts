/**
 * The command policy of the exec family (SECURITY.md §EXEC, §SCRIPT).
 *
 * The whole command is parsed with a POSIX/bash grammar (npm `unbash`), not
 * just its first word (EXEC-11): every simple command must be admitted.
 *
 * "Allow any" hosts run the caller's text as given (the denylist still
 * applies). On every other host (an allowlist or allow rules) what runs is
 * what was checked (EXEC-22..): the server re-emits the command from its
 * parsed words, each one single-quoted, every program run through
 * `/usr/bin/env` with a fixed `PATH` of the standard system directories, so
 * no login shell (bash, dash, zsh, busybox ash) expands anything or picks a
 * different program; constructs whose meaning depends on run-time expansion
 * are refused with an error naming them and how to write the command
 * literally; environment prefixes must be on a safe list.
 *
 * Evaluation order (EXEC-18): limits -> empty -> parse -> denylist -> allow-any
 * -> constructs, redirects, environment, program and argument words ->
 * per simple command (deny rules -> allow rules -> allowlist) -> shell-only
 * builtins -> re-emission.
 *
 * Files: this module (the checker contract, limits and the evaluation order),
 * `command_parse.ts` (parse, statements and simple commands),
 * `shell_words.ts` (one word: its value or its run-time construct),
 * `command_restrict.ts` (what a restrictive policy refuses),
 * `command_env.ts` (environment prefixes), `command_match.ts` (word-by-word
 * patterns), `command_rules.ts` (rules and allowlist),
 * `command_wrappers.ts` (what wrappers run), `command_denylist.ts` (the
 * denylist), `shell_emit.ts` (re-emission) and `command_refusal.ts` (deny
 * reasons and the CommandNotAllowed error).
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
import { checkAdmitted, checkRestricted } from "./command_restrict.ts";
import { simpleCommandsDecision } from "./command_rules.ts";
import { emitRestricted } from "./shell_emit.ts";
import { effectivePolicy } from "./effective.ts";
import { matchGlobs } from "./globs.ts";

export { denylistHit, stripWrappers } from "./command_denylist.ts";
export { parseCommand } from "./command_parse.ts";
export type { ParsedCommand, SimpleCommand } from "./command_parse.ts";
export type { DenyReason } from "./command_refusal.ts";
export { allowlistMatch, globToRegExp } from "./command_rules.ts";
export { emitRestricted, ENV_PROGRAM, SAFE_PATH } from "./shell_emit.ts";

/** One command check (SECURITY.md §EXEC, §CHEAT, §SCRIPT). */
export interface CommandCheckRequest {
  tool: string;
  policy: HostPolicy;
  command: string;
  kind: "command" | "script";
  /**
   * The host argument as the caller gave it (or the target alias of a
   * fan-out). When set, cheatsheet hits name the exact call (CHEAT-9,
   * docs/security/cheatsheet.md); only the cheatsheet reads it.
   */
  host?: string;
  /**
   * The tools visible in this configuration (tier and groups). When set, a
   * cheatsheet hit whose suggested tool is not in it is no hit (CHEAT-18:
   * hidden means hidden); only the cheatsheet reads it.
   */
  visibleTools?: ReadonlySet<string>;
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
  /** CHEAT-9: the exact call, e.g. `ssh_docker_ps(host="web1", all_=true)` (needs `host`) */
  suggestedCall?: string;
  /** remarks on the call (options not carried over, decisions left to a human) */
  notes?: string[];
}

/** The command policy (implemented in `src/policy/commands.ts`). */
export interface CommandChecker {
  /** Pure cheatsheet lookup (no opt-out logic, never throws); for `ssh_plan`. */
  cheatsheetMatch(req: CommandCheckRequest): CheatsheetMatch | null;
  /**
   * CHEAT-1/2: throws CommandIsCheatsheetMatch (attributes pattern_id,
   * suggested_tool, command, and suggested_call when known) unless the opt-out is set; with the opt-out returns the
   * warning text and pattern id for a match. No match: both null.
   */
  cheatsheet(req: CommandCheckRequest): { warning: string | null; patternId: string | null };
  /**
   * EXEC-10..48 / SCRIPT-1..4: throws CommandNotAllowed (attributes reason,
   * rule) or ValueError; returns the command to run and why. Under a
   * restrictive policy the command is the server's re-emission of the parsed
   * words (EXEC-22), not the caller's text; under "allow any", and for
   * scripts, it is the caller's text.
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
      ...(req.host !== undefined ? { host: req.host } : {}),
      ...(req.visibleTools !== undefined ? { visibleTools: req.visibleTools } : {}),
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
        ...(hit.suggestedCall !== undefined ? { suggested_call: hit.suggestedCall } : {}),
      });
    }
    return { warning: optOutWarning(req.tool, hit), patternId: hit.patternId };
  }

  admit(req: CommandCheckRequest): { command: CheckedCommand; decision: CommandDecision } {
    if (req.kind === "script") {
      return { command: admitCommand(req.command), decision: this.#script(req) };
    }
    const r = this.#command(req);
    return { command: admitCommand(r.text), decision: r.decision };
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

  /** EXEC-10..59: the decision and the text to run (the caller's, or the re-emitted one). */
  #command(req: CommandCheckRequest): { decision: CommandDecision; text: string } {
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
        } and is refused on every host (the deny list matches options in any spelling and order, ` +
          "also through wrappers such as sudo, env, timeout, xargs and sh -c).",
        hit,
      );
    }
    if (eff.allow_any_command) {
      return { decision: { reason: "allow-any", rule: this.#allowAnyRule(req.policy) }, text: cmd };
    }
    const restrict = { alias: req.policy.alias, envAllowlist: this.#s.SSH_COMMAND_ENV_ALLOWLIST };
    checkRestricted(parsed, restrict);
    const decision = simpleCommandsDecision(parsed, req.policy, eff.command_allowlist);
    checkAdmitted(parsed, restrict);
    return { decision, text: emitRestricted(parsed) };
  }
}

/** The command policy used as `app.commands`. */
export function createCommandChecker(deps: CommandCheckerDeps): CommandChecker {
  return new Checker(deps);
}
