/**
 * Redaction layer 4 (SECURITY.md §RED RED-13, RED-16, RED-26, RED-27): one
 * pass over the lines, every format at once (RED-12: a `format` can only add
 * parsers, and every parser here is on for every file).
 *
 * Assignments: `KEY=value` and the `:=`, `?=`, `+=`, `!=`, `=>` forms
 * (Makefiles, PHP arrays), `key: value` and `key:value` (YAML, properties,
 * headers), after `export`/`set`/`ENV`/`const`/... and `- ` list markers,
 * in comments too (`# PASSWORD=old`, `;admin_password = x`), with quoted
 * keys, subscripts (`ENV['X']`) and quoted items (`- "KEY=a b"`). Values
 * may be quoted across lines, bracketed across lines, heredocs, continued
 * with `\` or by deeper indentation, YAML block scalars, nested blocks,
 * anchors (`&a x`), tags (`!vault |`) and aliases (`*a`).
 *
 * Directives: `requirepass x`, `ENV API_SECRET x`, `sentinel auth-pass m x`,
 * `set $token "x";` (a secret-named word in a short line: the rest of the
 * line); credential words in longer lines (`.netrc`, fetchmail, Markdown);
 * `.pgpass` lines; Redis ACL `>password`; strongSwan `PSK "x"`; HCL
 * `variable "db_password" { default = ... }`.
 *
 * @module
 */

import type { Redactor } from "./redact_engine.ts";
import { BLOCK_SCALAR, KEY_CHARS } from "./redact_patterns.ts";
import { isHarmless } from "./redact_values.ts";
import { QuoteMemo, words } from "./redact_words.ts";
import {
  flowMappings,
  keyColumn,
  recordName,
  YAML_PAIR,
  yamlBlock,
  type YamlContext,
  yamlRecord,
} from "./redact_yaml.ts";

const HEAD =
  /^[ \t]*((?:#+|;+|\/\/)[ \t]*)?((?:-[ \t]+)*)(?:(?:export|set|setenv|ENV|ARG|declare|typeset|local|readonly|const|let|var|final|val|my|our|static|private|public|protected|String|def)(?:[ \t]+-\w+)*[ \t]+)?/;
const KEY = new RegExp(String.raw`(?:\$env:)?${KEY_CHARS}(?:\[[^\]\n]{1,80}\])?`, "uy");
const OP = /=>|:=|\?=|\+=|::=|!=|=|:/y;

/** One parsed assignment (offsets are columns of the line). */
interface Assign {
  key: string;
  keyStart: number;
  op: string;
  valueStart: number;
  comment: boolean;
  /** the quote wrapping the whole item (`- "KEY=value"`), if any */
  itemQuote: string | null;
  /** the key was written in double quotes (JSON style) */
  jsonKey: boolean;
}

/** Parses `line` as an assignment; null when it is none. */
export function parseAssign(line: string): Assign | null {
  const h = HEAD.exec(line)!;
  let p = h[0].length;
  const q = line[p] === '"' || line[p] === "'" ? line[p]! : null;
  if (q) p++;
  KEY.lastIndex = p;
  const k = KEY.exec(line);
  if (!k) return null;
  const keyStart = p;
  p += k[0].length;
  let itemQuote: string | null = null;
  let jsonKey = false;
  if (q) {
    if (line[p] === q) {
      p++;
      jsonKey = q === '"';
    } else itemQuote = q;
  }
  while (line[p] === " " || line[p] === "\t") p++;
  OP.lastIndex = p;
  const o = OP.exec(line);
  if (!o) return null;
  const op = o[0];
  p += op.length;
  if (op === ":") {
    const nx = line[p];
    if (nx === ":" || nx === "/" || nx === "=" || nx === "\\") return null;
  }
  if (itemQuote && op !== "=") return null;
  while (line[p] === " " || line[p] === "\t") p++;
  return {
    key: k[0],
    keyStart,
    op,
    valueStart: p,
    comment: h[1] !== undefined,
    itemQuote,
    jsonKey,
  };
}

/** What {@link valueOf} found. */
interface Value {
  spans: [number, number][];
  last: number;
  nested?: boolean;
  block?: boolean;
  alias?: string;
}

/** Offset of the first unescaped `q` in `s` from `from`, or -1 (YAML `''` is an escaped `'`). */
function closingQuote(s: string, q: string, from: number): number {
  for (let k = from; k < s.length; k++) {
    const c = s[k];
    if (c === "\\" && q === '"') {
      k++;
      continue;
    }
    if (c === q) {
      if (q === "'" && s[k + 1] === "'") {
        k++;
        continue;
      }
      return k;
    }
  }
  return -1;
}

const indentOf = (s: string) => /^[ \t]*/.exec(s)![0].length;
const MAX_SPAN_LINES = 2000;

/**
 * The value starting at absolute offset `vs` on line `i` (`colon`: YAML
 * semantics; `keyCol`: the key's column, for continuation lines).
 */
function valueOf(r: Redactor, i: number, vs: number, colon: boolean, keyCol: number): Value {
  const L = r.lines;
  const t = r.text;
  const [, le] = L.span(i);
  let p = vs;
  if (p >= le) return { spans: [], last: i, nested: colon };
  if (colon) {
    // anchors and tags come before the value itself
    for (let guard = 0; guard < 3 && (t[p] === "&" || t[p] === "!"); guard++) {
      while (p < le && !/\s/.test(t[p]!)) p++;
      while (p < le && (t[p] === " " || t[p] === "\t")) p++;
    }
    if (p >= le) return { spans: [], last: i, nested: true };
    if (t[p] === "*") return { spans: [], last: i, alias: t.slice(p + 1, le).trim() };
    if (BLOCK_SCALAR.test(t.slice(p, le))) return { spans: [], last: i, block: true };
  }
  const c = t[p]!;
  const triple = t.slice(p, p + 3);
  if (triple === '"""' || triple === "'''") {
    // TOML / Python multi-line strings: up to the closing triple quote
    const close = t.indexOf(triple, p + 3);
    const end = close < 0 ? t.length : close;
    return { spans: [[p + 3, end]], last: L.lineOf(Math.max(p, end - 1)) };
  }
  if (c === '"' || c === "'" || c === "`") {
    const close = closingQuote(t.slice(p, le), c, 1);
    if (close >= 0) {
      const after = t.slice(p + close + 1, le);
      // `"abc"def` is one shell word: the whole word
      if (/^[\w"'$]/.test(after)) {
        return { spans: [[p, p + close + 1 + after.search(/\s|$/)]], last: i };
      }
      return { spans: [[p + 1, p + close]], last: i };
    }
    for (let j = i + 1; j < L.count && j <= i + MAX_SPAN_LINES; j++) {
      const [s, e] = L.span(j);
      const at = closingQuote(t.slice(s, e), c, 0);
      if (at >= 0) return { spans: [[p + 1, s + at]], last: j };
    }
    return { spans: [[p + 1, t.length]], last: L.count - 1 };
  }
  if (c === "{" || c === "[" || c === "(") {
    const limit = i + MAX_SPAN_LINES < L.count ? L.starts[i + MAX_SPAN_LINES]! : t.length;
    // unbalanced within the limit: everything up to it (fail closed, and never rescanned)
    const end = bracketEnd(t, p, limit);
    return { spans: [[p, end]], last: L.lineOf(Math.max(p, end - 1)) };
  }
  const heredoc = /^<<[-~]?[ \t]*(["']?)(\w+)\1[ \t]*$/.exec(t.slice(p, le));
  if (heredoc) {
    for (let j = i + 1; j < L.count; j++) {
      if (L.get(j).trim() === heredoc[2]) {
        return { spans: j > i + 1 ? [[L.starts[i + 1]!, L.span(j - 1)[1]]] : [], last: j };
      }
    }
    return { spans: [[L.starts[i + 1] ?? le, t.length]], last: L.count - 1 };
  }
  // plain: to the end of the line, continued by `\` or deeper-indented lines
  let e = le;
  let last = i;
  while (e > p && /[ \t]/.test(t[e - 1]!)) e--;
  for (;;) {
    const bs = /\\+$/.exec(t.slice(Math.max(p, e - 64), e));
    if (bs && bs[0].length % 2 === 1 && last + 1 < L.count) {
      last++;
      e = L.span(last)[1];
      continue;
    }
    const nx = last + 1 < L.count ? L.get(last + 1) : "";
    if (
      nx.trim() !== "" && indentOf(nx) > keyCol && !/^\s*(#|;|\/\/|-\s)/.test(nx) &&
      parseAssign(nx) === null
    ) {
      last++;
      e = L.span(last)[1];
      continue;
    }
    break;
  }
  return { spans: [[p, e]], last };
}

/**
 * End (exclusive) of the bracket opened at p (strings skipped, one pass);
 * `limit` (the end of the scanned lines) when it does not close before.
 */
function bracketEnd(t: string, p: number, limit: number): number {
  let depth = 0;
  let inStr = false;
  const stop = Math.max(limit, p + 1);
  for (let k = p; k < stop; k++) {
    const c = t[k];
    if (inStr) {
      if (c === "\\") k++;
      else if (c === '"' || c === "\n") inStr = false;
    } else if (c === '"') inStr = true;
    else if (c === "{" || c === "[" || c === "(") depth++;
    else if (c === "}" || c === "]" || c === ")") {
      depth--;
      if (depth === 0) return k + 1;
    }
  }
  let e = Math.min(stop, t.length);
  if (t[e - 1] === "\n") e--;
  return e;
}

/** Layer 4: every line. */
export function redactLines(r: Redactor, y: YamlContext): void {
  const L = r.lines;
  for (let i = 0; i < L.count; i++) {
    const line = L.get(i);
    if (line.trim() === "") continue;
    const a = parseAssign(line);
    if (a) {
      const j = assignment(r, i, line, a, y);
      if (j > i) {
        i = j;
        continue;
      }
    } else {
      directive(r, i, line);
    }
    if (line.includes("{")) flowMappings(r, i);
    credentialWords(r, i, line);
    if (line.includes(":")) pgpass(r, i, line);
    formatSecrets(r, i, line);
    if (/^\s*(?:variable|output)\s+"/.test(line)) i = hclBlock(r, i);
  }
}

/** One assignment; returns the last line it consumed (i when none beyond it). */
function assignment(r: Redactor, i: number, line: string, a: Assign, y: YamlContext): number {
  const [ls, le] = r.lines.span(i);
  const colon = a.op === ":";
  const vtext = line.slice(a.valueStart);
  // JSON-shaped values after a "quoted" key belong to the JSON layer
  if (a.jsonKey && colon && /^["{\[\d-]|^(true|false|null)\b/.test(vtext)) return i;
  const force = colon && y.secretData.has(i);
  const secret = force || r.isSecretKey(a.key);
  if (a.itemQuote) {
    const close = line.indexOf(a.itemQuote, a.valueStart);
    if (secret) r.keyed(a.key, ls + a.valueStart, close < 0 ? le : ls + close);
    return i;
  }
  if (!secret) {
    const name = colon ? recordName(r, a.key, vtext) : null;
    if (name) yamlRecord(r, i, name, (j, _k, rec) => recordValue(r, j, rec));
    return i;
  }
  if (a.comment && !colon && a.op !== "=") return i;
  const v = valueOf(r, i, ls + a.valueStart, colon, keyColumn(line));
  if (v.alias !== undefined) {
    alias(r, y, a.key, v.alias);
    return i;
  }
  if (v.block || v.nested) {
    if (a.comment) return i;
    return yamlBlock(r, i, a.key, v.nested === true, force);
  }
  for (const [s, e] of v.spans) r.keyed(a.key, s, e, { force });
  return v.last;
}

/** The value member of a record (line j) under the record's name. */
function recordValue(r: Redactor, j: number, rec: string): void {
  const line = r.lines.get(j);
  const m = YAML_PAIR.exec(line);
  if (!m) return;
  const [ls] = r.lines.span(j);
  const vs = m.indices?.[4]?.[0] ?? line.length;
  const v = valueOf(r, j, ls + vs, true, keyColumn(line));
  if (v.block || v.nested) {
    yamlBlock(r, j, rec, v.nested === true, true);
    return;
  }
  for (const [s, e] of v.spans) r.keyed(rec, s, e, { force: true });
}

/** A secret key whose value is the alias `*name`: the anchored value is secret. */
function alias(r: Redactor, y: YamlContext, key: string, name: string): void {
  const an = y.anchors.get(name);
  if (!an || y.done.has(name)) return;
  y.done.add(name);
  if (an.value < 0) {
    yamlBlock(r, an.line, key, !an.block, true);
    return;
  }
  const v = valueOf(r, an.line, an.value, true, keyColumn(r.lines.get(an.line)));
  for (const [s, e] of v.spans) r.keyed(key, s, e, { force: true });
}

const WORD = /^[$@]?[\p{L}_][\p{L}\p{N}_.\-]*$/u;

/**
 * A whitespace directive: in a short line (at most 6 words) the first word
 * that names a secret makes the rest of the line its value (`requirepass x`,
 * `ENV API_SECRET x`, `sentinel auth-pass master x`, `set $token "x";`).
 * In a comment only a strong key followed by exactly one word.
 */
function directive(r: Redactor, i: number, line: string): void {
  const cm = /^\s*(#+|;+|\/\/)\s*/.exec(line);
  const off = cm ? cm[0].length : 0;
  const toks = words(line.slice(off), off, "", 7);
  if (toks.length < 2 || toks.length > 6 || !WORD.test(toks[0]!.text)) return;
  if (cm && (toks.length !== 2 || r.keyStrength(toks[0]!.text) !== "strong")) return;
  const [ls] = r.lines.span(i);
  for (let k = 0; k < toks.length - 1; k++) {
    const w = toks[k]!.text;
    if (!WORD.test(w) || !r.isSecretKey(w)) continue;
    const first = toks[k + 1]!;
    const lastTok = toks.at(-1)!;
    let s = first.start;
    let e = lastTok.start + lastTok.text.length;
    if (line[e - 1] === ";" || line[e - 1] === "{") e--;
    const value = line.slice(s, e);
    if (isHarmless(value, r.keyStrength(w), "directive", w)) return;
    if (toks.length - k === 2 && /^["'`]/.test(value) && value.at(-1) === value[0]) {
      s++;
      e--;
    }
    r.keyed(w, ls + s, ls + e, { ctx: "directive" });
    return;
  }
}

const CRED_WORD = /(?<![\w-])(password|passwd|pass|passphrase|pwd)[ \t]+(?=\S)/gi;
const CRED_WORD_AT_END = /(?<![\w-])(password|passwd|pass|passphrase|pwd)[ \t]*$/i;
const NETRC_WORDS = /\b(?:machine|login|default|account|username|user|poll|protocol)\b/;

/** `password x` inside longer lines: quoted values, or `.netrc` / fetchmail lines. */
function credentialWords(r: Redactor, i: number, line: string): void {
  if (!/pass|pwd/i.test(line)) return;
  const [ls] = r.lines.span(i);
  const netrc = NETRC_WORDS.test(line);
  const memo = new QuoteMemo();
  for (const m of line.matchAll(CRED_WORD)) {
    const at = m.index! + m[0].length;
    const c = line[at]!;
    let e = -1;
    if (c === '"' || c === "'" || c === "`") e = memo.close(line, at);
    if (e >= 0) {
      r.keyed(m[1]!, ls + at + 1, ls + e, { ctx: "directive" });
      continue;
    }
    if (!netrc) continue;
    let k = at;
    while (k < line.length && !/[\s,;)]/.test(line[k]!)) k++;
    r.keyed(m[1]!, ls + at, ls + k, { ctx: "directive" });
  }
  // wrapped prose: `password` ends the line, the quoted value starts the next one
  const end = CRED_WORD_AT_END.exec(line);
  if (end && i + 1 < r.lines.count) {
    const next = r.lines.get(i + 1);
    const at = next.length - next.trimStart().length;
    const c = next[at];
    const e = c === '"' || c === "'" || c === "`" ? new QuoteMemo().close(next, at) : -1;
    const [ns] = r.lines.span(i + 1);
    if (e >= 0) r.keyed(end[1]!, ns + at + 1, ns + e, { ctx: "directive" });
  }
}

/** `.pgpass`: `host:port:db:user:password` (port digits or `*`). */
function pgpass(r: Redactor, i: number, line: string): void {
  if (/^\s*#/.test(line)) return;
  let k = 0;
  const cuts: number[] = [];
  for (; k < line.length && cuts.length < 4; k++) {
    if (line[k] === "\\") k++;
    else if (line[k] === ":") cuts.push(k);
    else if (line[k] === " " || line[k] === "\t") return;
  }
  if (cuts.length < 4 || cuts[0] === 0) return;
  const port = line.slice(cuts[0]! + 1, cuts[1]);
  if (!/^(\d{1,5}|\*)$/.test(port) || cuts[3]! + 1 >= line.length) return;
  const [ls] = r.lines.span(i);
  r.keyed("pgpass", ls + cuts[3]! + 1, ls + line.length, { force: true });
}

const REDIS_USER = /^\s*(?:user|acl\s+setuser)\s+\S+\s/i;
const IPSEC = /(?<![\w])(PSK|EAP|XAUTH|NTLM|PIN)[ \t]+("([^"]*)"|'([^']*)')/g;

/** Redis ACL passwords (`>pw`, `#sha256`) and strongSwan secrets (`PSK "x"`). */
function formatSecrets(r: Redactor, i: number, line: string): void {
  const [ls] = r.lines.span(i);
  if (REDIS_USER.test(line)) {
    for (const m of line.matchAll(/(?<=\s)([>#])(\S+)/g)) {
      if (m[1] === "#" && !/^[0-9a-fA-F]{64}$/.test(m[2]!)) continue;
      const s = ls + m.index! + 1;
      r.keyed("redis_acl", s, s + m[2]!.length, { force: true });
    }
  }
  if (line.includes('"') || line.includes("'")) {
    for (const m of line.matchAll(IPSEC)) {
      const v = m[3] ?? m[4] ?? "";
      const s = ls + m.index! + m[0].length - v.length - 1;
      r.keyed(m[1]!, s, s + v.length, { force: true });
    }
  }
}

/**
 * HCL `variable "db_password" { default = ... }` / `output "x" { value = ... }`;
 * returns the last line of the block (i when it is no such block).
 */
function hclBlock(r: Redactor, i: number): number {
  const L = r.lines;
  const h = /^\s*(?:variable|output)\s+"([^"]+)"\s*\{(.*)$/.exec(L.get(i));
  if (!h || !r.isSecretKey(h[1]!)) return i;
  const name = h[1]!;
  let depth = 1;
  let j = i;
  for (; j < L.count && j <= i + MAX_SPAN_LINES && depth > 0; j++) {
    const line = j === i ? h[2]! : L.get(j);
    const off = j === i ? L.get(i).length - h[2]!.length : 0;
    const m = /(?:^|[{\s;])(default|value)\s*=\s*/.exec(line);
    if (m && depth === 1) {
      const [ls] = L.span(j);
      const v = valueOf(r, j, ls + off + m.index + m[0].length, false, indentOf(L.get(j)));
      for (const [s, e] of v.spans) {
        // a one-line block ends with its own `}`
        const end = j === i && r.text[e - 1] === "}" ? e - 1 : e;
        r.keyed(name, s, end, { force: true });
      }
      if (v.last > j) {
        j = v.last;
        continue;
      }
    }
    for (const w of words(line, 0)) {
      if (/^["'`]/.test(w.text)) continue;
      for (const c of w.text) {
        if (c === "{") depth++;
        else if (c === "}") depth--;
      }
    }
  }
  return Math.max(i, Math.min(j - 1, L.count - 1));
}
