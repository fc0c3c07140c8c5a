/**
 * Word-by-word matching of command patterns (SECURITY.md EXEC-16, EXEC-40..)
 * on the parsed words of a simple command, never on its text:
 *
 * - A pattern is split into words at unescaped whitespace. Inside a word the
 *   EXEC-16 glob applies (`*` any run, `/` included; `?` one character;
 *   `[...]` a class; `\` makes the next character literal), but no pattern
 *   word ever spans a word boundary, so `cat /var/log/*` does not admit
 *   `cat /var/log/x /etc/passwd`. A pattern word that is exactly `**`
 *   matches any number of words (also none).
 * - Allow rules ({@link allowMatch}) match position by position; a
 *   path-shaped pattern word (one containing `/`) never admits an argument
 *   with a `..` segment. The program word: a bare pattern matches only a bare
 *   program, a path-qualified one only that exact program.
 * - Deny rules and denylist entries ({@link denyMatch}) hit when the program
 *   matches (by basename) and every pattern word is present somewhere among
 *   the arguments: options as parts of clusters (`-K` in `-tK`), long options
 *   also abbreviated or with `=value` (`--kill`, `--ki`, `--kill=1`), known
 *   short/long synonyms (`ss -K` = `ss --kill`), and path arguments also in
 *   lexically normalised form (`//`, `/.`, `/tmp/..` are `/`).
 *
 * @module
 */

import { posix } from "node:path";

/** EXEC-16 glob as a regular expression (`whole`, `prefix` or `contains`). */
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

/** One word of a pattern. */
interface PatternWord {
  /** the glob source (escapes kept) */
  glob: string;
  /** the literal text (escapes removed), for option analysis */
  literal: string;
  re: RegExp;
  /** `**`: any number of words */
  any: boolean;
  /** contains an unescaped glob character */
  wild: boolean;
}

/** Splits a pattern into words at unescaped whitespace. */
export function patternWords(pattern: string): string[] {
  const out: string[] = [];
  let cur = "";
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i]!;
    if (ch === "\\" && i + 1 < pattern.length) {
      cur += ch + pattern[++i]!;
    } else if (/\s/.test(ch)) {
      if (cur) out.push(cur);
      cur = "";
    } else cur += ch;
  }
  if (cur) out.push(cur);
  return out;
}

function compileWord(glob: string): PatternWord {
  const literal = glob.replace(/\\(.)/gs, "$1");
  const wild = /(^|[^\\])[*?[]/.test(glob);
  return { glob, literal, re: globToRegExp(glob, "whole"), any: glob === "**", wild };
}

const cache = new Map<string, PatternWord[]>();

function compile(pattern: string): PatternWord[] {
  let c = cache.get(pattern);
  if (!c) {
    c = patternWords(pattern).map(compileWord);
    if (cache.size > 2000) cache.clear();
    cache.set(pattern, c);
  }
  return c;
}

/** True when `arg` has a `..` path segment. */
export function hasDotDot(arg: string): boolean {
  return /(^|[/=])\.\.(\/|$)/.test(arg);
}

/** Result of an allow match: matched, or why not (for messages). */
export type AllowResult = { ok: true } | { ok: false; dotDot: string | null };

/**
 * Allow rules (EXEC-37/38): `words` = [program, ...args] (or the
 * `NAME=value` words of an assignment-only command, `program: false`).
 * Position by position, `**` any run of words; path-shaped pattern words
 * never admit a `..` segment.
 */
export function allowMatch(
  pattern: string,
  words: readonly string[],
  opts: { program: boolean } = { program: true },
): AllowResult {
  const pw = compile(pattern);
  if (pw.length === 0 || words.length === 0) return { ok: false, dotDot: null };
  const p0 = pw[0]!;
  const prog = words[0]!;
  if (p0.any || !p0.re.test(prog)) return { ok: false, dotDot: null };
  // a bare program pattern never admits a path-qualified program (EXEC-37)
  if (opts.program && !p0.literal.includes("/") && prog.includes("/")) {
    return { ok: false, dotDot: null };
  }
  let dotDot: string | null = null;
  const rec = (i: number, j: number): boolean => {
    if (i === pw.length) return j === words.length;
    const p = pw[i]!;
    if (p.any) {
      for (let k = j; k <= words.length; k++) if (rec(i + 1, k)) return true;
      return false;
    }
    if (j >= words.length) return false;
    const w = words[j]!;
    if (!p.re.test(w)) return false;
    if (p.literal.includes("/") && hasDotDot(w)) {
      dotDot = dotDot ?? w;
      return false;
    }
    return rec(i + 1, j + 1);
  };
  return rec(1, 1) ? { ok: true } : { ok: false, dotDot };
}

/** Short/long synonyms of options, per program (for deny matching). */
const SYNONYMS: Record<string, Record<string, string[]>> = {
  rm: { "-r": ["-R", "--recursive"], "-R": ["-r", "--recursive"], "-f": ["--force"] },
  cp: { "-r": ["-R", "--recursive"], "-R": ["-r", "--recursive"], "-f": ["--force"] },
  chmod: { "-R": ["--recursive"] },
  chown: { "-R": ["--recursive"] },
  chgrp: { "-R": ["--recursive"] },
  ss: { "-K": ["--kill"] },
  systemctl: { "-f": ["--force"], "-i": ["--ignore-inhibitors"] },
  shutdown: { "-r": ["--reboot"], "-h": ["--halt"], "-P": ["--poweroff"] },
  sed: { "-i": ["--in-place"] },
};

/** Lexically normalised form of a path argument (`//` and `/.` are `/`). */
export function normalisePath(arg: string): string {
  if (!arg.includes("/")) return arg;
  const n = posix.normalize(arg);
  return n.length > 1 ? n.replace(/\/+$/, "") : n;
}

/** Does argument `a` carry the option `opt` (a short letter `-x` or a long `--name`)? */
function hasOption(opt: string, a: string): boolean {
  if (opt.startsWith("--")) {
    const name = opt.slice(2);
    if (!a.startsWith("--") || a.length < 3) return false;
    const given = a.slice(2).split("=")[0]!;
    return given.length > 0 && name.startsWith(given);
  }
  if (opt.length === 2 && a.startsWith("-") && !a.startsWith("--") && a.length >= 2) {
    return a.slice(1).includes(opt[1]!);
  }
  return a === opt;
}

/** Does any argument carry every letter of the short cluster `-abc` (or the long option)? */
function optionPresent(program: string, opt: string, args: readonly string[]): boolean {
  const before = args.indexOf("--") < 0 ? args : args.slice(0, args.indexOf("--"));
  const single = (o: string) => {
    const alts = [o, ...(SYNONYMS[program]?.[o] ?? [])];
    for (const [k, v] of Object.entries(SYNONYMS[program] ?? {})) if (v.includes(o)) alts.push(k);
    return before.some((a) => alts.some((x) => hasOption(x, a)));
  };
  if (opt.startsWith("--")) return single(opt.split("=")[0]!);
  // a short cluster: every letter somewhere (-rf = -r -f = -fr = --recursive --force)
  return [...opt.slice(1)].every((ch) => single(`-${ch}`));
}

/** Is an option-shaped deny word (`-K`, `-rf`, `--kill`) without glob characters? */
function isOptionWord(p: PatternWord): boolean {
  return !p.wild && /^-[A-Za-z0-9]+$|^--[A-Za-z0-9][A-Za-z0-9-]*$/.test(p.literal);
}

/**
 * Deny rules and denylist entries (EXEC-42..44): the program (by basename)
 * matches the first pattern word and every other pattern word is present
 * among the arguments (see module docs).
 */
export function denyMatch(pattern: string, program: string, args: readonly string[]): boolean {
  const pw = compile(pattern);
  if (pw.length === 0) return false;
  const base = posix.basename(program) || program;
  if (!pw[0]!.any && !pw[0]!.re.test(base) && !pw[0]!.re.test(program)) return false;
  for (const p of pw.slice(1)) {
    if (p.any) continue;
    if (isOptionWord(p)) {
      if (!optionPresent(base, p.literal, args)) return false;
      continue;
    }
    // `-K*` / `--kill*` (an option with anything attached): the option in any cluster or spelling
    const opt = /^(-[A-Za-z0-9]+|--[A-Za-z0-9][A-Za-z0-9-]*)\*$/.exec(p.glob);
    if (opt && optionPresent(base, opt[1]!, args)) continue;
    if (p.literal.startsWith("--") && p.literal.includes("=") && !p.wild) {
      const [name, value] = [p.literal.split("=")[0]!, p.literal.slice(p.literal.indexOf("=") + 1)];
      const ok = args.some((a) =>
        hasOption(name, a) && a.includes("=") && a.slice(a.indexOf("=") + 1) === value
      );
      if (!ok) return false;
      continue;
    }
    if (!args.some((a) => p.re.test(a) || p.re.test(normalisePath(a)))) return false;
  }
  return true;
}
