/**
 * The parse of a command (SECURITY.md §EXEC EXEC-11..EXEC-16, EXEC-22..): the
 * whole text is parsed with a POSIX/bash grammar (npm `unbash`) into
 *
 * - `statements`: the top level as lists of pipelines of simple commands
 *   (what a restrictive policy re-emits), each word analysed by
 *   `shell_words.ts` (its value, or the run-time construct it uses);
 * - `simple`: every simple command anywhere in the text, also inside
 *   compound commands, functions and command substitutions (what the
 *   denylist sees in every mode);
 * - `construct`: the first construct a restrictive policy refuses outright
 *   (substitution, subshell, group, function, control structure, `eval`-like
 *   program).
 *
 * @module
 */

import { posix } from "node:path";
import { parse } from "unbash";
import type { RedirectOperator, Word } from "unbash";
import { analyseWord, type Expansion, type WordInfo } from "./shell_words.ts";

/** EXEC-12: programs that evaluate their arguments as shell code. */
const EVAL_PROGRAMS = new Set(["eval", "source", ".", "exec"]);

/** One `NAME=value` before a program (or alone). */
export interface AssignmentInfo {
  name: string;
  text: string;
  /** `a[0]=...` (an array element to bash, a program name to dash) */
  index: boolean;
  /** `NAME+=value` */
  append: boolean;
  /** the value word, or null for an array value `a=(...)` */
  value: WordInfo | null;
}

/** One redirection of a simple command. */
export type RedirectInfo =
  | {
    kind: "redirect";
    op: RedirectOperator;
    fd: number | null;
    /** bash `{name}>...` */
    fdVariable: string | null;
    target: WordInfo | null;
    text: string;
  }
  | {
    kind: "heredoc";
    op: "<<" | "<<-";
    fd: number | null;
    fdVariable: string | null;
    /** the body as the program reads it (leading tabs removed for `<<-`) */
    body: string;
    quotedDelimiter: boolean;
    closed: boolean;
    /** expansion in an unquoted-delimiter body (`$`, backquote or backslash), or null */
    bodyExpansion: Expansion | null;
    text: string;
  }
  | {
    kind: "herestring";
    fd: number | null;
    fdVariable: string | null;
    target: WordInfo | null;
    text: string;
  };

/** A simple command extracted from the parse tree. */
export interface SimpleCommand {
  /** program word after quote removal, or null for an assignment-only command */
  program: string | null;
  programWord: WordInfo | null;
  /** argument values after quote removal */
  args: string[];
  argWords: WordInfo[];
  /** assignments before the program */
  assignments: AssignmentInfo[];
  redirects: RedirectInfo[];
  /** EXEC-16 normalised text: basename(program) + args, single spaces */
  normalized: string;
  /** source text of the simple command */
  text: string;
  /** true when the command sits inside a compound command or a substitution */
  nested: boolean;
}

/** A pipeline of simple commands (`a | b |& c`), optionally negated (`!`). */
export interface PipelineIR {
  negated: boolean;
  /** bash `time` keyword before the pipeline */
  time: boolean;
  commands: SimpleCommand[];
  operators: ("|" | "|&")[];
}

/** One top-level statement: pipelines joined by `&&` / `||`, maybe in the background. */
export interface StatementIR {
  pipelines: PipelineIR[];
  operators: ("&&" | "||")[];
  background: boolean;
}

/** What the parse produced. */
export interface ParsedCommand {
  ok: boolean;
  error: string | null;
  /** every simple command, nested ones included, in source order */
  simple: SimpleCommand[];
  /** the top level; complete only when `construct` is null */
  statements: StatementIR[];
  /** first EXEC-12 construct found (e.g. "command substitution"), or null */
  construct: string | null;
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
  Redirected: "compound command with redirections",
};

const SUBSTITUTIONS: Record<string, string> = {
  CommandExpansion: "command substitution $(...) or `...`",
  ProcessSubstitution: "process substitution <(...) / >(...)",
  ArithmeticCommandExpansion: "command substitution inside arithmetic",
};

type Node = { type?: string } & Record<string, unknown>;

function descriptor(d: unknown): { fd: number | null; fdVariable: string | null } {
  const x = d as { type?: string; value?: number; name?: string } | undefined;
  if (x?.type === "FileDescriptor") return { fd: x.value ?? null, fdVariable: null };
  if (x?.type === "FileDescriptorVariable") return { fd: null, fdVariable: x.name ?? "" };
  return { fd: null, fdVariable: null };
}

function heredocBody(text: string, dash: boolean): string {
  return dash ? text.replace(/^\t+/gm, "") : text;
}

function redirectInfo(r: Node, source: string): RedirectInfo | null {
  const text = source.slice(Number(r.pos), Number(r.end));
  const d = descriptor(r.descriptor);
  if (r.type === "Redirect") {
    const target = r.target ? analyseWord(r.target as unknown as Word) : null;
    return { kind: "redirect", op: r.operator as RedirectOperator, ...d, target, text };
  }
  if (r.type === "HereString") {
    const target = r.target ? analyseWord(r.target as unknown as Word) : null;
    return { kind: "herestring", ...d, target, text };
  }
  if (r.type === "HereDoc") {
    const delim = r.delimiter as { quoted?: boolean } | undefined;
    const body = r.body as { text?: string; parts?: unknown[] } | undefined;
    const quoted = delim?.quoted === true;
    const raw = body?.text ?? "";
    let bodyExpansion: Expansion | null = null;
    if (!quoted && /[$`\\]/.test(raw)) {
      const m = /[$`\\]/.exec(raw)!;
      bodyExpansion = {
        construct: "expansion in a here-document",
        text: raw.slice(m.index, m.index + 20),
        hint:
          "quote the delimiter (<<'EOF') so the body is sent exactly as written, or write the values literally",
      };
    }
    return {
      kind: "heredoc",
      op: r.operator === "<<-" ? "<<-" : "<<",
      ...d,
      body: heredocBody(raw, r.operator === "<<-"),
      quotedDelimiter: quoted,
      closed: r.closing !== undefined && r.closing !== null,
      bodyExpansion,
      text,
    };
  }
  return null;
}

function suffixAssignmentWord(a: Node, source: string): WordInfo {
  const text = source.slice(Number(a.pos), Number(a.end));
  const v = a.value as Node | undefined;
  if (!v || v.type !== "Word") {
    return {
      text,
      value: text,
      expansion: { construct: "array assignment", text, hint: "write the words one by one" },
      bashQuoting: false,
    };
  }
  const w = analyseWord(v as unknown as Word);
  return { ...w, text, value: `${a.name}${a.append ? "+=" : "="}${w.value}` };
}

function simpleCommand(c: Node, source: string, nested: boolean): SimpleCommand {
  const text = source.slice(Number(c.pos), Number(c.end));
  const assignments: AssignmentInfo[] = [];
  const redirects: RedirectInfo[] = [];
  for (const p of (c.prefix as Node[]) ?? []) {
    if (p.type === "Assignment") {
      const v = p.value as Node | undefined;
      assignments.push({
        name: String(p.name),
        text: source.slice(Number(p.pos), Number(p.end)),
        index: p.index !== undefined && p.index !== null,
        append: p.append === true,
        value: v && v.type === "Word" ? analyseWord(v as unknown as Word) : null,
      });
    } else {
      const r = redirectInfo(p, source);
      if (r) redirects.push(r);
    }
  }
  const argWords: WordInfo[] = [];
  for (const s of (c.suffix as Node[]) ?? []) {
    if (s.type === "Word") argWords.push(analyseWord(s as unknown as Word));
    else if (s.type === "Assignment") argWords.push(suffixAssignmentWord(s, source));
    else {
      const r = redirectInfo(s, source);
      if (r) redirects.push(r);
    }
  }
  const programWord = c.name ? analyseWord(c.name as unknown as Word) : null;
  const program = programWord ? programWord.value : null;
  const args = argWords.map((w) => w.value);
  const normalized = [program === null ? null : posix.basename(program) || program, ...args]
    .filter((x): x is string => x !== null)
    .join(" ")
    .replace(/\s+/g, " ")
    .trim();
  return {
    program,
    programWord,
    args,
    argWords,
    assignments,
    redirects,
    normalized,
    text,
    nested,
  };
}

/** Parses `command` (see module docs). */
export function parseCommand(command: string): ParsedCommand {
  const out: ParsedCommand = { ok: true, error: null, simple: [], statements: [], construct: null };
  let tree: Node;
  try {
    const script = parse(command);
    if (script.errors?.length) {
      const e = script.errors[0]!;
      return { ...out, ok: false, error: `${e.message} at offset ${e.pos}` };
    }
    // unbash materialises `parts` (where substitutions live) through lazy getters that
    // Object.entries cannot see; its toJSON form includes them
    tree = JSON.parse(JSON.stringify(script));
  } catch (e) {
    return { ...out, ok: false, error: (e as Error).message };
  }
  const seen = new Map<Node, SimpleCommand>();
  const note = (construct: string) => {
    if (out.construct === null) out.construct = construct;
  };
  const top = (c: Node): SimpleCommand | null => {
    if (c.type !== "Command") {
      note(COMPOUND_NAMES[String(c.type)] ?? "compound command");
      return null;
    }
    const sc = simpleCommand(c, command, false);
    seen.set(c, sc);
    return sc;
  };
  for (const st of (tree.commands as Node[]) ?? []) {
    const node = st.command as Node;
    const units = node.type === "AndOr" ? (node.commands as Node[]) : [node];
    const pipelines: PipelineIR[] = [];
    for (const u of units) {
      const isPipe = u.type === "Pipeline";
      const prefixes = isPipe ? ((u.prefixes as Node[]) ?? []) : [];
      const members = isPipe ? (u.commands as Node[]) : [u];
      const commands = members.map(top).filter((x): x is SimpleCommand => x !== null);
      pipelines.push({
        negated: prefixes.some((p) => p.type === "Negation"),
        time: prefixes.some((p) => p.type === "Time"),
        commands,
        operators: isPipe ? ((u.operators as ("|" | "|&")[]) ?? []) : [],
      });
    }
    out.statements.push({
      pipelines,
      operators: node.type === "AndOr" ? ((node.operators as ("&&" | "||")[]) ?? []) : [],
      background: st.background === true,
    });
  }
  // every simple command anywhere (compound bodies, functions, substitutions)
  const walk = (n: unknown, depth: number): void => {
    if (depth > 400 || n === null || typeof n !== "object") return;
    if (Array.isArray(n)) {
      for (const x of n) walk(x, depth + 1);
      return;
    }
    const o = n as Node;
    if (o.type && SUBSTITUTIONS[o.type]) note(SUBSTITUTIONS[o.type]!);
    if (o.type === "Command") {
      const sc = seen.get(o) ?? simpleCommand(o, command, true);
      out.simple.push(sc);
      if (sc.program !== null && EVAL_PROGRAMS.has(sc.program) && !sc.programWord?.expansion) {
        note(`\`${sc.program}\` as a program`);
      }
    }
    for (const [k, v] of Object.entries(o)) {
      if (k === "pos" || k === "end" || k === "type") continue;
      if (v && typeof v === "object") walk(v, depth + 1);
    }
  };
  walk(tree, 0);
  return out;
}
