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
 * @module
 */

import { posix } from "node:path";
import { parse } from "unbash";
import type { Command, ParsedScript, Word } from "unbash";
import type { HostPolicy, Settings } from "../config/types.ts";
import { ToolError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { CheckedCommand } from "../checked.ts";
import { admitCommand } from "./mint.ts";
import { matchCheatsheet, optOutWarning, refusalMessage } from "./cheatsheet.ts";
import { effectivePolicy } from "./effective.ts";
import { matchGlobs } from "./globs.ts";

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

/** EXEC-15: assignments refused before a program. */
const DANGEROUS_ENV =
  /^(PATH|LD_.*|DYLD_.*|BASH_ENV|ENV|IFS|SHELLOPTS|BASHOPTS|PS4|PROMPT_COMMAND|GCONV_PATH|PYTHONPATH|PERL5LIB|NODE_OPTIONS)$/;

/** EXEC-12: programs that evaluate their arguments as shell code. */
const EVAL_PROGRAMS = new Set(["eval", "source", ".", "exec"]);

/** A simple command extracted from the parse tree. */
export interface SimpleCommand {
  /** program word as written (after quote removal), or null for assignment-only */
  program: string | null;
  /** argument values after quote removal */
  args: string[];
  /** EXEC-16 normalised text: basename(program) + args, single spaces */
  normalized: string;
  /** source text of the simple command */
  text: string;
  node: Command;
}

/** What the parse produced. */
export interface ParsedCommand {
  ok: boolean;
  error: string | null;
  simple: SimpleCommand[];
  /** first EXEC-12 construct found (e.g. "command substitution"), or null */
  construct: string | null;
  /** first output redirection to a file, or null */
  fileRedirect: string | null;
  /** first dangerous assignment name, or null */
  dangerousEnv: string | null;
  /** first simple command whose program is not a literal word, or null */
  nonLiteral: string | null;
}

function deny(
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

/** True when a word is a plain literal (quotes allowed, no expansion, glob, tilde or bash-only quoting). */
function isLiteralWord(w: Word): boolean {
  if (w.text.startsWith("~")) return false;
  if (!w.parts) return true;
  return w.parts.every((p) =>
    p.type === "Literal" || p.type === "SingleQuoted" ||
    (p.type === "DoubleQuoted" && p.parts.every((c) => c.type === "Literal"))
  );
}

/** Walks the JSON form of an AST looking for nested scripts (command / process substitution). */
function findSubstitution(node: unknown, depth = 0): string | null {
  if (depth > 200 || node === null || typeof node !== "object") return null;
  const o = node as Record<string, unknown>;
  switch (o.type) {
    case "CommandExpansion":
      return "command substitution $(...) or `...`";
    case "ProcessSubstitution":
      return "process substitution <(...) / >(...)";
    case "ArithmeticCommandExpansion":
      return "command substitution inside arithmetic";
  }
  for (const [k, v] of Object.entries(o)) {
    if (k === "pos" || k === "end") continue;
    if (Array.isArray(v)) {
      for (const x of v) {
        const r = findSubstitution(x, depth + 1);
        if (r) return r;
      }
    } else if (v && typeof v === "object") {
      const r = findSubstitution(v, depth + 1);
      if (r) return r;
    }
  }
  return null;
}

const COMPOUND_NAMES: Record<string, string> = {
  Subshell: "subshell ( ... )",
  BraceGroup: "brace group { ...; }",
  Function: "function definition",
  If: "if statement",
  For: "for loop",
  ArithmeticFor: "for (( )) loop",
  While: "while/until loop",
  Case: "case statement",
  Select: "select statement",
  TestCommand: "[[ ... ]] test",
  ArithmeticCommand: "arithmetic command (( ... ))",
  Coproc: "coproc",
};

function isDevNull(w: Word | undefined): boolean {
  return !!w && isLiteralWord(w) && w.value === "/dev/null";
}

/** Parses `command` and classifies it (EXEC-11..15). */
export function parseCommand(command: string): ParsedCommand {
  const out: ParsedCommand = {
    ok: true,
    error: null,
    simple: [],
    construct: null,
    fileRedirect: null,
    dangerousEnv: null,
    nonLiteral: null,
  };
  let script: ParsedScript;
  try {
    script = parse(command);
  } catch (e) {
    return { ...out, ok: false, error: (e as Error).message };
  }
  if (script.errors?.length) {
    const e = script.errors[0]!;
    return { ...out, ok: false, error: `${e.message} at offset ${e.pos}` };
  }
  const note = (k: "construct" | "fileRedirect" | "dangerousEnv" | "nonLiteral", v: string) => {
    if (out[k] === null) out[k] = v;
  };
  const visit = (node: unknown): void => {
    if (!node || typeof node !== "object") return;
    const n = node as { type?: string } & Record<string, unknown>;
    switch (n.type) {
      case "Script":
      case "CompoundList":
        for (const s of (n.commands as unknown[]) ?? []) visit(s);
        return;
      case "Statement":
        visit(n.command);
        return;
      case "AndOr":
      case "Pipeline":
        for (const c of (n.commands as unknown[]) ?? []) visit(c);
        return;
      case "Redirected":
        note(
          "construct",
          COMPOUND_NAMES[(n.command as { type: string }).type] ?? "compound command",
        );
        visit(n.command);
        for (const r of (n.redirects as unknown[]) ?? []) checkRedirect(r);
        return;
      case "Command":
        visitCommand(n as unknown as Command);
        return;
      default:
        if (n.type && COMPOUND_NAMES[n.type]) {
          note("construct", COMPOUND_NAMES[n.type]!);
          // still collect the simple commands inside (denylist on scripts)
          for (const [k, v] of Object.entries(n)) {
            if (k === "pos" || k === "end" || k === "type") continue;
            if (Array.isArray(v)) v.forEach(visit);
            else if (v && typeof v === "object") visit(v);
          }
        }
    }
  };
  const checkRedirect = (r: unknown) => {
    const red = r as { type: string; operator?: string; target?: Word };
    if (red.type !== "Redirect") return; // heredocs and here-strings feed stdin
    const op = red.operator ?? "";
    if (op === "<" || op === "<&") return;
    if (op === ">&" && red.target && /^(\d+-?|-)$/.test(red.target.value)) return;
    if (isDevNull(red.target)) return;
    note("fileRedirect", `${op} ${red.target?.text ?? ""}`.trim());
  };
  const visitCommand = (c: Command) => {
    const text = command.slice(c.pos, c.end);
    for (const p of c.prefix) {
      if (p.type === "Assignment") {
        if (DANGEROUS_ENV.test(p.name)) note("dangerousEnv", p.name);
      } else checkRedirect(p);
    }
    const args: string[] = [];
    for (const s of c.suffix) {
      if (s.type === "Word") args.push(s.value);
      else if (s.type === "Assignment") args.push(s.text);
      else checkRedirect(s);
    }
    let program: string | null = null;
    if (c.name) {
      program = c.name.value;
      if (!isLiteralWord(c.name)) note("nonLiteral", c.name.text);
      else if (EVAL_PROGRAMS.has(program)) note("construct", `\`${program}\` as a program`);
    }
    const normalized = [program === null ? null : posix.basename(program) || program, ...args]
      .filter((x): x is string => x !== null)
      .join(" ")
      .replace(/\s+/g, " ")
      .trim();
    out.simple.push({ program, args, normalized, text, node: c });
  };
  visit(script);
  // unbash materialises `parts` (where substitutions live) through lazy prototype getters that
  // Object.entries cannot see; its toJSON form includes them
  const sub = findSubstitution(JSON.parse(JSON.stringify(script)));
  if (sub) out.construct = sub;
  return out;
}

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

const OPERATOR_CHARS = /[;|&(){}<>]/;

/** Options that take an argument, per wrapper, for EXEC-17 wrapper stripping. */
const WRAPPERS: Record<
  string,
  { argOpts: Set<string>; positional?: number; assignments?: boolean }
> = {
  sudo: { argOpts: new Set(["-u", "-g", "-h", "-p", "-C", "-D", "-R", "-T", "-U", "-r", "-t"]) },
  doas: { argOpts: new Set(["-u", "-C"]) },
  env: { argOpts: new Set(["-u", "-C", "-S", "--unset", "--chdir"]), assignments: true },
  nice: { argOpts: new Set(["-n", "--adjustment"]) },
  nohup: { argOpts: new Set() },
  timeout: { argOpts: new Set(["-s", "-k", "--signal", "--kill-after"]), positional: 1 },
  stdbuf: { argOpts: new Set(["-i", "-o", "-e"]) },
  ionice: { argOpts: new Set(["-c", "-n", "-p", "-P", "-u"]) },
  setsid: { argOpts: new Set() },
  command: { argOpts: new Set() },
  exec: { argOpts: new Set(["-a"]) },
  busybox: { argOpts: new Set() },
};

/** Strips known wrapper prefixes from a normalised simple command (EXEC-17). */
export function stripWrappers(normalized: string): string {
  let words = normalized.split(" ").filter(Boolean);
  for (let guard = 0; guard < 16 && words.length; guard++) {
    const prog = posix.basename(words[0]!);
    const w = WRAPPERS[prog];
    if (!w) break;
    let i = 1;
    while (i < words.length) {
      const t = words[i]!;
      if (t === "--") {
        i++;
        break;
      }
      if (w.assignments && /^[A-Za-z_][A-Za-z0-9_]*=/.test(t)) {
        i++;
        continue;
      }
      if (t.startsWith("-") && t !== "-") {
        i += w.argOpts.has(t) ? 2 : 1;
        continue;
      }
      break;
    }
    i += w.positional ?? 0;
    words = words.slice(i);
    if (words.length) words[0] = posix.basename(words[0]!) || words[0]!;
  }
  return words.join(" ");
}

/** Normalises a whole command for structural denylist entries. */
function structuralText(command: string): string {
  return command.replace(/\s+/g, " ").trim();
}

/** EXEC-17: the first denylist entry hit, or null. */
export function denylistHit(
  command: string,
  parsed: ParsedCommand | null,
  entries: readonly string[],
): string | null {
  const whole = structuralText(command);
  for (const entry of entries) {
    const structural = OPERATOR_CHARS.test(entry.replace(/\\./g, ""));
    if (structural || !parsed || !parsed.ok) {
      if (globToRegExp(entry, "contains").test(whole)) return entry;
      continue;
    }
    const re = globToRegExp(entry, "prefix");
    for (const sc of parsed.simple) {
      if (sc.program === null) continue;
      if (re.test(sc.normalized) || re.test(stripWrappers(sc.normalized))) return entry;
    }
  }
  return null;
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

function lineSplit(body: string): string[] {
  return body.split(/\r?\n/).map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
}

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
    if (body.trim() === "") throw deny("empty", "The script is empty.");
    const eff = effectivePolicy(req.policy, this.#s);
    if (!eff.allow_any_command && !this.#s.ALLOW_SCRIPT_WITH_ALLOWLIST) {
      throw deny(
        "script-needs-allow-any",
        `Scripts run arbitrary shell code, so ${req.tool} needs an "allow any" command policy on ${req.policy.alias} ` +
          '(command_allowlist containing "*", or an empty allowlist with ALLOW_ANY_COMMAND=true), or ' +
          "ALLOW_SCRIPT_WITH_ALLOWLIST=true. Use ssh_exec_run with allowlisted commands instead.",
      );
    }
    // SCRIPT-3: the denylist applies to the body as a whole and line by line
    const parsed = parseCommand(body);
    const hit = denylistHit(body, parsed, eff.command_denylist) ??
      lineSplit(body).map((l) => denylistHit(l, parseCommand(l), eff.command_denylist)).find((x) =>
        x
      ) ?? null;
    if (hit) {
      throw deny(
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
    if (cmd.trim() === "") throw deny("empty", "The command is empty.");
    const eff = effectivePolicy(req.policy, this.#s);
    const parsed = parseCommand(cmd);
    if (!parsed.ok && !eff.allow_any_command) {
      throw deny(
        "parse-error",
        `The command could not be parsed as POSIX shell (${parsed.error}).`,
        null,
        cmd,
      );
    }
    const hit = denylistHit(cmd, parsed, eff.command_denylist);
    if (hit) {
      throw deny(
        "denylist",
        `The command matches the deny list entry ${
          JSON.stringify(hit)
        } and is refused on every host.`,
        hit,
      );
    }
    if (eff.allow_any_command) return { reason: "allow-any", rule: this.#allowAnyRule(req.policy) };
    if (parsed.construct) {
      throw deny(
        "unsupported-construct",
        `The command uses a ${parsed.construct}, which the command policy does not allow. Run separate, simple ` +
          "commands (joined with ;, && or |) or ask the operator for an allow-any host.",
        null,
        parsed.construct,
      );
    }
    if (parsed.fileRedirect) {
      throw deny(
        "redirect-to-file",
        `Output redirection to a file (${parsed.fileRedirect}) is not allowed; write files with ssh_upload. ` +
          "Redirecting to /dev/null and between descriptors (2>&1) is fine.",
        null,
        parsed.fileRedirect,
      );
    }
    if (parsed.dangerousEnv) {
      throw deny(
        "dangerous-env",
        `Setting ${parsed.dangerousEnv} before a command is not allowed (it changes what program or code runs).`,
        null,
        parsed.dangerousEnv,
      );
    }
    if (parsed.nonLiteral) {
      throw deny(
        "non-literal-program",
        `The program name ${
          JSON.stringify(parsed.nonLiteral)
        } is not a literal word (variables, globs and ~ ` +
          "are not allowed in the program position).",
        null,
        parsed.nonLiteral,
      );
    }
    const rules = req.policy.command_rules;
    const denyRules = rules.filter((r) => r.action === "deny");
    const allowRules = rules.filter((r) => r.action === "allow");
    for (const sc of parsed.simple) {
      for (const r of denyRules) {
        if (globToRegExp(r.pattern, "whole").test(sc.normalized)) {
          throw deny(
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
      const entry = allowlistMatch(sc.program, eff.command_allowlist);
      if (!entry) {
        const allowed = eff.command_allowlist.length ? eff.command_allowlist.join(", ") : "(none)";
        throw deny(
          "not-allowlisted",
          eff.command_allowlist.length === 0
            ? `No commands are allowed on ${req.policy.alias}: its command allowlist is empty. The operator can ` +
              "add programs to command_allowlist in hosts.toml or SSH_COMMAND_ALLOWLIST, or set ALLOW_ANY_COMMAND=true."
            : `Program ${
              JSON.stringify(sc.program)
            } is not in the command allowlist of ${req.policy.alias} ` +
              `(allowed: ${allowed}). The operator can extend command_allowlist in hosts.toml or SSH_COMMAND_ALLOWLIST.`,
          null,
          sc.text,
        );
      }
      lastRule = lastRule ?? entry;
    }
    return { reason: viaRule ? "rule-allow" : "allowlist", rule: lastRule };
  }
}

/** The command policy used as `app.commands`. */
export function createCommandChecker(deps: CommandCheckerDeps): CommandChecker {
  return new Checker(deps);
}
