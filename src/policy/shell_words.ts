/**
 * One shell word as the command policy sees it (SECURITY.md §EXEC, EXEC-22..):
 * its value after quote removal, or the first construct whose meaning depends
 * on run-time expansion by the remote shell (parameter, arithmetic, indirect
 * and prompt expansion, array subscripts, command and process substitution,
 * globs, tilde and brace expansion).
 *
 * A restrictive policy re-emits only words that are literal here, each one
 * single-quoted, so no login shell (bash, dash, zsh, busybox ash) can expand
 * anything in them.
 *
 * @module
 */

import type { Word, WordPart } from "unbash";

/** A construct in a word whose meaning is decided by the remote shell at run time. */
export interface Expansion {
  /** what it is, e.g. "parameter expansion" */
  construct: string;
  /** the source text of the construct, e.g. "${x@P}" */
  text: string;
  /** how to write the command literally instead */
  hint: string;
}

/** A word after analysis. */
export interface WordInfo {
  /** source text */
  text: string;
  /** value after quote removal (only meaningful when `expansion` is null) */
  value: string;
  /** the first run-time construct, or null when the word is a literal */
  expansion: Expansion | null;
  /** true when the word uses bash-only quoting (`$'...'`, `$"..."`) */
  bashQuoting: boolean;
}

const HINT_VARIABLE =
  "variables are not expanded under a restrictive command policy: write the value itself, in single quotes ('...')";
const HINT_ARITH = "compute the number yourself and write it literally";
const HINT_SUBST =
  "run the inner command on its own (if it is allowed) and write its output into the next command";
const HINT_GLOB =
  "list the files first (ssh_find, or ls) and name each one, or quote the word ('*.log') to pass the characters literally";
const HINT_TILDE =
  "write the absolute path (/home/<user>/...), or quote it ('~') to pass the character literally";
const HINT_BRACE =
  "write each word out (a b instead of {a,b}), or quote the word to pass it literally";

function expansion(construct: string, text: string, hint: string): Expansion {
  return { construct, text, hint };
}

/** The construct of one non-literal part, or null for quoting and literals. */
function partExpansion(p: WordPart): Expansion | null {
  switch (p.type) {
    case "Literal":
    case "SingleQuoted":
    case "AnsiCQuoted":
      return null;
    case "DoubleQuoted":
    case "LocaleString":
      for (const c of p.parts) {
        const e = partExpansion(c);
        if (e) return e;
      }
      return null;
    case "Glob":
      return expansion("glob pattern", p.text, HINT_GLOB);
    case "ExtendedGlob":
      return expansion("extended glob pattern", p.text, HINT_GLOB);
    case "BraceExpansion":
      return expansion("brace expansion", p.text, HINT_BRACE);
    case "SimpleExpansion":
      return expansion("parameter expansion", p.text, HINT_VARIABLE);
    case "ParameterExpansion":
      if (p.prefix === "!") return expansion("indirect expansion", p.text, HINT_VARIABLE);
      if (p.operation?.type === "Transform") {
        const op = p.operation.operand.value;
        return expansion(
          op === "P" ? "prompt expansion" : `parameter transformation @${op}`,
          p.text,
          HINT_VARIABLE,
        );
      }
      if (p.index) return expansion("array subscript", p.text, HINT_VARIABLE);
      return expansion("parameter expansion", p.text, HINT_VARIABLE);
    case "ArithmeticExpansion":
      return expansion("arithmetic expansion", p.text, HINT_ARITH);
    case "CommandExpansion":
      return expansion("command substitution", p.text, HINT_SUBST);
    case "ProcessSubstitution":
      return expansion("process substitution", p.text, HINT_SUBST);
  }
}

/**
 * Scans unquoted literal source text (backslash escapes honoured) for tilde
 * expansion (`~` at the start of the word or after an unquoted `=` or `:`)
 * and for glob characters the parser left as literals. `prev` is the
 * unquoted character before `text` in the word ("" at the start, null after
 * a quoted part).
 */
function scanLiteral(
  text: string,
  prev: string | null,
): { exp: Expansion | null; last: string | null } {
  let last = prev;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === "\\") {
      i++;
      last = null;
      continue;
    }
    if (ch === "~" && (last === "" || last === "=" || last === ":")) {
      return { exp: expansion("tilde expansion", text.slice(i), HINT_TILDE), last };
    }
    if (ch === "*" || ch === "?") {
      return { exp: expansion("glob pattern", text, HINT_GLOB), last };
    }
    last = ch;
  }
  return { exp: null, last };
}

/** Analyses one parsed word (see {@link WordInfo}). */
export function analyseWord(w: Word): WordInfo {
  const parts: readonly WordPart[] = w.parts ??
    [{ type: "Literal", text: w.text, value: w.value, pos: w.pos, end: w.end }];
  let prev: string | null = "";
  let exp: Expansion | null = null;
  let bashQuoting = false;
  for (const p of parts) {
    if (p.type === "AnsiCQuoted" || p.type === "LocaleString") bashQuoting = true;
    if (p.type === "Literal") {
      const r = scanLiteral(p.text, prev);
      prev = r.last;
      exp = exp ?? r.exp;
      continue;
    }
    prev = null;
    exp = exp ?? partExpansion(p);
  }
  return { text: w.text, value: w.value, expansion: exp, bashQuoting };
}

/**
 * POSIX single-quoting of every word, also of words that need none: `'` is
 * written `'"'"'`. Unlike `quote()` in `checked.ts`, nothing stays bare, so
 * no shell applies alias, keyword, `=word` (zsh) or any other expansion.
 */
export function quoteWord(s: string): string {
  return "'" + s.replaceAll("'", `'"'"'`) + "'";
}
