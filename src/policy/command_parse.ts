/**
 * The parse of a command (SECURITY.md §EXEC EXEC-11..EXEC-16): the whole
 * text is parsed with a POSIX/bash grammar (npm `unbash`) and walked to
 * extract every simple command (program, arguments, EXEC-16 normalised
 * text) and to note the first refused construct (substitution, subshell,
 * control structure, `eval`-like program), output redirection to a file,
 * dangerous environment assignment and non-literal program word.
 *
 * @module
 */

import { posix } from "node:path";
import { parse } from "unbash";
import type { Command, ParsedScript, Word } from "unbash";

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
