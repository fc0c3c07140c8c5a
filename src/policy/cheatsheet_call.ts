/**
 * The exact tool call a cheatsheet refusal or hint names (CHEAT-9..): the
 * words of the raw command as the command policy's parser reads them, a small
 * option scanner, and the rendering `tool(host="web1", container="web",
 * tail=100)`.
 *
 * Only the command's own words go into a call (CHEAT-9): nothing is looked up
 * on the host and nothing is added but the host argument as the caller gave
 * it. A word whose meaning depends on run-time expansion (`$x`, globs, ...)
 * makes the command's tool still known but its call unknown.
 *
 * @module
 */

import { parseCommand } from "./command_parse.ts";

/** One argument value of a suggested call. */
export type CallValue = string | number | boolean | readonly string[];

/** A remark attached to a call; `tools` are the tools it names (hidden tools drop it). */
export interface CallNote {
  text: string;
  tools?: readonly string[];
}

/**
 * What a redirect suggests: a tool (or a family text such as `ssh_docker_*
 * family`) and, when the command's words give one, the call's arguments.
 */
export interface Suggestion {
  tool: string;
  /** the arguments after `host`, in order; null: no exact call */
  args: [string, CallValue][] | null;
  notes: CallNote[];
}

/** A suggestion without an exact call. */
export function toolOnly(tool: string): Suggestion {
  return { tool, args: null, notes: [] };
}

/** Collects the arguments and notes of one call. */
export class CallBuilder {
  readonly args: [string, CallValue][] = [];
  readonly notes: CallNote[] = [];
  #exact = true;

  constructor(readonly tool: string) {}

  /** Sets (or replaces) an argument. */
  set(name: string, value: CallValue): this {
    const i = this.args.findIndex(([k]) => k === name);
    if (i >= 0) this.args[i] = [name, value];
    else this.args.push([name, value]);
    return this;
  }

  note(text: string, tools?: readonly string[]): this {
    this.notes.push(tools ? { text, tools } : { text });
    return this;
  }

  /** The words could not be read reliably: name the tool only. */
  inexact(): this {
    this.#exact = false;
    return this;
  }

  done(): Suggestion {
    return this.#exact
      ? { tool: this.tool, args: this.args, notes: this.notes }
      : toolOnly(this.tool);
  }
}

/** The words of the first simple command of a command text. */
export interface LeadWords {
  /** source texts (quotes kept): `"docker"` is not `docker` (CHEAT-8) */
  texts: string[];
  /** values after quote removal */
  values: string[];
  /** every word is a literal (no run-time expansion): calls may be built */
  literal: boolean;
  /** the text holds more than this one command (a pipeline, a list, ...) */
  more: boolean;
}

/**
 * The words of the command that starts `c` (no `NAME=value` prefix, not
 * after `!` or `time`). When the text does not parse, its whitespace-separated
 * words with `literal: false` (the tool can still be named, CHEAT-4's regular
 * expressions work on the raw text too).
 */
export function leadWords(c: string): LeadWords | null {
  const p = parseCommand(c);
  if (!p.ok) {
    const w = c.trim().split(/\s+/).filter((x) => x !== "");
    return w.length ? { texts: w, values: w, literal: false, more: false } : null;
  }
  const sc = p.statements[0]?.pipelines[0]?.commands[0] ?? p.simple.find((s) => !s.nested);
  if (!sc || !sc.programWord || sc.assignments.length > 0) return null;
  if (!c.trimStart().startsWith(sc.text)) return null;
  const words = [sc.programWord, ...sc.argWords];
  return {
    texts: words.map((w) => w.text),
    values: words.map((w) => w.value),
    literal: words.every((w) => w.expansion === null && !w.bashQuoting),
    more: p.simple.length > 1,
  };
}

/** Option names of one command: which take a value, which are known switches. */
export interface OptSpec {
  /** e.g. `-n`, `--tail` */
  value?: readonly string[];
  /** switches without a value, e.g. `-a`, `--all` */
  flag?: readonly string[];
}

/** One option as written: `name` (e.g. `--tail`), its value or null, its text. */
export interface Opt {
  name: string;
  value: string | null;
  text: string;
  known: boolean;
}

/** The result of scanning words for options. */
export interface Scanned {
  opts: Opt[];
  pos: string[];
  /**
   * an unknown option that might take a value (`-x`, `--xyz` without `=`):
   * where the positional words start is uncertain, so no exact call.
   */
  ambiguous: boolean;
}

/**
 * Scans getopt-style words: `--name=value`, `--name value`, `-abc` clusters,
 * `-nVALUE`, `--` ends options. With `stopAtPositional` the first positional
 * word and everything after it are positional (`docker run IMAGE args...`).
 */
export function scanOptions(
  words: readonly string[],
  spec: OptSpec,
  stopAtPositional = false,
): Scanned {
  const value = new Set(spec.value ?? []);
  const flag = new Set(spec.flag ?? []);
  const opts: Opt[] = [];
  const pos: string[] = [];
  let ambiguous = false;
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    if (w === "--") {
      pos.push(...words.slice(i + 1));
      break;
    }
    if (!w.startsWith("-") || w === "-") {
      if (stopAtPositional) {
        pos.push(...words.slice(i));
        break;
      }
      pos.push(w);
      continue;
    }
    if (w.startsWith("--")) {
      const eq = w.indexOf("=");
      const name = eq > 0 ? w.slice(0, eq) : w;
      if (value.has(name)) {
        if (eq > 0) opts.push({ name, value: w.slice(eq + 1), text: w, known: true });
        else if (i + 1 < words.length) {
          const v = words[++i]!;
          opts.push({ name, value: v, text: `${w} ${v}`, known: true });
        } else opts.push({ name, value: null, text: w, known: true });
      } else {
        const known = flag.has(name);
        if (!known && eq < 0) ambiguous = true;
        opts.push({ name, value: eq > 0 ? w.slice(eq + 1) : null, text: w, known });
      }
      continue;
    }
    for (let j = 1; j < w.length; j++) {
      const name = `-${w[j]}`;
      if (value.has(name)) {
        // the option's own text: `-p80` out of `-dp80`, `-p 80` out of `-dp 80`
        const own = j === 1 ? w : `${name}${w.slice(j + 1)}`;
        const rest = w.slice(j + 1).replace(/^=/, "");
        if (rest !== "") opts.push({ name, value: rest, text: own, known: true });
        else if (i + 1 < words.length) {
          const v = words[++i]!;
          opts.push({ name, value: v, text: `${own} ${v}`, known: true });
        } else opts.push({ name, value: null, text: own, known: true });
        break;
      }
      const known = flag.has(name);
      if (!known) ambiguous = true;
      opts.push({ name, value: null, text: w.length === 2 ? w : name, known });
    }
  }
  return { opts, pos, ambiguous };
}

/** Reads the scanned options of one call, remembering which ones it used. */
export class OptReader {
  readonly #used = new Set<Opt>();

  constructor(readonly scanned: Scanned, readonly quiet: readonly string[] = []) {}

  /** every value of the options called `names`, in order (marks them used) */
  values(...names: string[]): string[] {
    const out: string[] = [];
    for (const o of this.scanned.opts) {
      if (!names.includes(o.name)) continue;
      this.#used.add(o);
      if (o.value !== null) out.push(o.value);
    }
    return out;
  }

  /** the last value of `names`, or null */
  last(...names: string[]): string | null {
    return this.values(...names).at(-1) ?? null;
  }

  /** true when a switch called one of `names` was given (marks it used) */
  has(...names: string[]): boolean {
    let hit = false;
    for (const o of this.scanned.opts) {
      if (!names.includes(o.name)) continue;
      this.#used.add(o);
      hit = true;
    }
    return hit;
  }

  /** the options written but not used and not quiet, as written */
  leftovers(): string[] {
    const out: string[] = [];
    for (const o of this.scanned.opts) {
      if (this.#used.has(o) || this.quiet.includes(o.name)) continue;
      if (!out.includes(o.text)) out.push(o.text);
    }
    return out;
  }

  /** adds the CHEAT-19 note about options the call does not carry over */
  noteLeftovers(b: CallBuilder): void {
    const left = this.leftovers();
    if (left.length) {
      b.note(`not carried over (${b.tool} has no such parameter): ${left.join(" ")}`);
    }
  }
}

/** An integer word within `min..max`, or null. */
export function intWord(w: string | null, min: number, max: number): number | null {
  if (w === null || !/^\d{1,9}$/.test(w)) return null;
  const n = Number(w);
  return n >= min && n <= max ? n : null;
}

/** Sets an integer argument from a word, or notes why it cannot. */
export function setInt(
  b: CallBuilder,
  param: string,
  w: string | null,
  min: number,
  max: number,
): void {
  if (w === null) return;
  const n = intWord(w, min, max);
  if (n === null) b.note(`${param} takes a whole number ${min}..${max} (the command gave ${w})`);
  else b.set(param, n);
}

/** Notes that a call covers only the first of several positional values. */
export function noteOnePerCall(b: CallBuilder, what: string, rest: readonly string[]): void {
  if (rest.length) b.note(`${b.tool} takes one ${what}: call it once more for ${rest.join(", ")}`);
}

const SAFE_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** Joins words into one POSIX shell command line (a word is single-quoted when needed). */
export function shellJoin(words: readonly string[]): string {
  return words.map((w) => SAFE_WORD.test(w) ? w : `'${w.replaceAll("'", `'"'"'`)}'`).join(" ");
}

function renderValue(v: CallValue): string {
  if (typeof v === "string") return JSON.stringify(v);
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  return `[${v.map((x) => JSON.stringify(x)).join(", ")}]`;
}

/** `tool(host="web1", name=value, ...)`: strings as JSON strings (CHEAT-9). */
export function renderCall(
  tool: string,
  host: string,
  args: readonly [string, CallValue][],
): string {
  const parts = [`host=${JSON.stringify(host)}`, ...args.map(([k, v]) => `${k}=${renderValue(v)}`)];
  return `${tool}(${parts.join(", ")})`;
}
