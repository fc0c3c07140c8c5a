/**
 * The structure-aware redaction layers (SECURITY.md §RED RED-13..RED-16):
 * PEM blocks (layer 1), env/ini assignments and `key: value` lines with YAML
 * block scalars and nested blocks (layer 2a/2b), and JSON pairs anywhere in
 * the text (layer 2c). Each adds its replacements to a {@link Redactor}.
 *
 * @module
 */

import { marker, type Redactor } from "./redact_engine.ts";
import {
  BLOCK_SCALAR,
  COLON_LINE,
  ENV_LINE,
  keyMatches,
  PEM_BEGIN,
  PEM_END,
} from "./redact_patterns.ts";

/** Strips one pair of matching surrounding quotes: [innerStartOffset, innerEndOffset). */
function unquote(v: string): [number, number] {
  if (v.length >= 2 && (v[0] === '"' || v[0] === "'") && v[v.length - 1] === v[0]) {
    return [1, v.length - 1];
  }
  return [0, v.length];
}

/** Offset of the first unescaped `q` in `s`, or -1. */
function closingQuoteAt(s: string, q: string): number {
  for (let k = 0; k < s.length; k++) {
    if (s[k] === "\\" && q === '"') {
      k++;
      continue;
    }
    if (s[k] === q) return k;
  }
  return -1;
}

/** True when `rest` (a value after its opening quote) closes the quote on this line. */
function closesQuote(rest: string, q: string): boolean {
  return closingQuoteAt(rest, q) >= 0;
}

/** Layer 1: PEM blocks. */
export function redactPemBlocks(r: Redactor): void {
  const L = r.lines;
  for (let i = 0; i < L.count; i++) {
    const line = L.get(i);
    const b = PEM_BEGIN.exec(line);
    if (!b) continue;
    const [ls] = L.span(i);
    const bodyStart = ls + b.index + b[0].length;
    // single-line block
    const restOfLine = line.slice(b.index + b[0].length);
    const sameEnd = PEM_END.exec(restOfLine);
    if (sameEnd) {
      const endStart = bodyStart + sameEnd.index;
      r.secret(bodyStart, endStart, "pem_block", null);
      r.edits.add({
        start: endStart,
        end: endStart + sameEnd[0].length,
        literal: "-----END (redacted)-----",
      });
      continue;
    }
    let j = i + 1;
    while (j < L.count && !PEM_END.test(L.get(j))) j++;
    if (j >= L.count) {
      // unterminated: everything after the header (the final newline kept)
      let end = r.text.length;
      if (r.text.endsWith("\n")) end--;
      if (end > bodyStart) pemBody(r, bodyStart, end, "", false);
      return;
    }
    const endLine = L.get(j);
    const e = PEM_END.exec(endLine)!;
    const [es] = L.span(j);
    const prefix = endLine.slice(0, e.index);
    const indent = /^\s*$/.test(prefix) ? prefix : "";
    const bodyEnd = es + (indent === "" ? e.index : 0);
    pemBody(r, bodyStart, bodyEnd, indent);
    r.edits.add({
      start: es + indent.length,
      end: es + e.index + e[0].length,
      literal: "-----END (redacted)-----",
    });
    i = j;
  }
}

/** Replaces a multi-line PEM body by "\n<indent><marker>\n" (no final newline when unterminated). */
function pemBody(r: Redactor, start: number, end: number, indent = "", closed = true): void {
  let value = r.text.slice(start, end);
  const lead = value.match(/^[ \t]*\r?\n/)?.[0] ?? "";
  value = value.slice(lead.length).replace(/\r?\n$/, "");
  if (value.trim() === "") return;
  const m = marker(value, r.opts);
  r.edits.add({
    start,
    end,
    literal: `${lead || "\n"}${indent}${m.text}${closed ? "\n" : ""}`,
    secret: { value, kind: "pem_block", key: null, line: null },
  });
}

/**
 * Layer 2a: one env/ini assignment. Returns null when the line is not one,
 * else the last line it used (a quoted value may continue on later lines).
 */
export function redactEnvLine(r: Redactor, i: number): number | null {
  const line = r.lines.get(i);
  const [ls] = r.lines.span(i);
  const m = ENV_LINE.exec(line);
  if (!m) return null;
  const key = m[2]!;
  if (!keyMatches(key, r.opts.keys)) return i;
  const vs = ls + m[1]!.length + key.length + m[3]!.length;
  const value = m[4]!;
  const q = value[0];
  if ((q === '"' || q === "'") && !closesQuote(value.slice(1), q)) {
    // a multi-line quoted value (dotenv): up to the line with the closing quote
    for (let j = i + 1; j < r.lines.count; j++) {
      const next = r.lines.get(j);
      const at = closingQuoteAt(next, q);
      if (at >= 0) {
        r.secret(vs + 1, r.lines.span(j)[0] + at, "key_match", key);
        return j;
      }
    }
    r.secret(vs + 1, r.text.length, "key_match", key);
    return r.lines.count - 1;
  }
  const [a, b] = unquote(value);
  r.secret(vs + a, vs + b, "key_match", key);
  return i;
}

/**
 * Layer 2b: one `key: value` line; with `yaml`, block scalars and nested
 * blocks. Returns the last line it used.
 */
export function redactColonLine(r: Redactor, i: number, yaml: boolean): number {
  const line = r.lines.get(i);
  const [ls] = r.lines.span(i);
  const m = COLON_LINE.exec(line);
  if (!m) return i;
  const key = m[3]!;
  if (!keyMatches(key, r.opts.keys)) return i;
  const value = m[5]!;
  const vs = ls + m[1]!.length + key.length + m[2]!.length + m[4]!.length;
  const commented = /^\s*#/.test(line);
  if (yaml && !commented && (value === "" || BLOCK_SCALAR.test(value))) {
    return yamlBlock(r, i, key, value === "");
  }
  if (value === "") return i;
  const [a, b] = unquote(value);
  r.secret(vs + a, vs + b, "key_match", key);
  return i;
}

/**
 * Lines after `key: |` / `key: >` (block scalar) or after `key:` with
 * nothing (nested mapping or sequence) that belong to the key: more
 * indented, or (for a sequence) `- ` items at the same indentation.
 */
function yamlBlock(r: Redactor, i: number, key: string, nested: boolean): number {
  const L = r.lines;
  const indent = (s: string) => s.match(/^[ \t]*/)![0].length;
  const keyIndent = indent(L.get(i).replace(/^(\s*)-\s+/, (_m, sp: string) => sp + "  "));
  let j = i + 1;
  for (; j < L.count; j++) {
    const line = L.get(j);
    if (line.trim() === "") continue;
    const ind = indent(line);
    const sameLevelItem = nested && ind === keyIndent && /^\s*-(\s|$)/.test(line);
    if (ind <= keyIndent && !sameLevelItem) break;
    const [ls] = L.span(j);
    if (!nested) {
      r.secret(ls + ind, ls + line.replace(/\s+$/, "").length, "key_match", key);
      continue;
    }
    const kv = COLON_LINE.exec(line);
    if (kv && kv[5] !== "") {
      const vs = ls + kv[1]!.length + kv[3]!.length + kv[2]!.length + kv[4]!.length;
      const [a, b] = unquote(kv[5]!);
      r.secret(vs + a, vs + b, "key_match", kv[3]!);
      continue;
    }
    if (kv) continue; // a nested "k:" header
    const item = /^(\s*-\s+)(.*?)\s*$/.exec(line);
    if (item) {
      const [a, b] = unquote(item[2]!);
      const vs = ls + item[1]!.length;
      r.secret(vs + a, vs + b, "key_match", key);
      continue;
    }
    r.secret(ls + ind, ls + line.replace(/\s+$/, "").length, "key_match", key);
  }
  return j - 1;
}

/** Layer 2c: JSON pairs anywhere (string-aware scan of the whole text). */
export function redactJsonPairs(r: Redactor): void {
  const t = r.text;
  const n = t.length;
  let i = 0;
  while (i < n) {
    const q = t.indexOf('"', i);
    if (q < 0) return;
    const s = jsonStringEnd(t, q);
    if (s === null) {
      i = q + 1;
      continue;
    }
    let j = s;
    while (j < n && /\s/.test(t[j]!)) j++;
    if (t[j] !== ":") {
      i = s;
      continue;
    }
    let rawKey = t.slice(q + 1, s - 1);
    try {
      rawKey = JSON.parse(t.slice(q, s));
    } catch {
      // keep raw
    }
    j++;
    while (j < n && /\s/.test(t[j]!)) j++;
    if (!keyMatches(rawKey, r.opts.keys)) {
      i = j;
      continue;
    }
    const c = t[j];
    if (c === '"') {
      const e = jsonStringEnd(t, j);
      if (e !== null) {
        r.secret(j + 1, e - 1, "key_match", rawKey, "inside");
        i = e;
        continue;
      }
      i = j + 1;
      continue;
    }
    if (c === "[" || c === "{") {
      const e = jsonContainerEnd(t, j);
      r.secret(j, e, "key_match", rawKey, "quote");
      i = e;
      continue;
    }
    const num = /^-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/.exec(t.slice(j, j + 400));
    if (num) {
      r.secret(j, j + num[0].length, "key_match", rawKey, "quote");
      i = j + num[0].length;
      continue;
    }
    i = j;
  }
}

/** End offset (after the closing quote) of a JSON string at `q`, or null (no closing quote on the line). */
function jsonStringEnd(t: string, q: number): number | null {
  for (let k = q + 1; k < t.length; k++) {
    const c = t[k];
    if (c === "\\") {
      k++;
      continue;
    }
    if (c === '"') return k + 1;
    if (c === "\n") return null;
  }
  return null;
}

/** End offset of a balanced JSON array/object at `p` (string-aware); the text end when unbalanced. */
function jsonContainerEnd(t: string, p: number): number {
  let depth = 0;
  for (let k = p; k < t.length; k++) {
    const c = t[k];
    if (c === '"') {
      const e = jsonStringEnd(t, k);
      if (e !== null) {
        k = e - 1;
        continue;
      }
    } else if (c === "[" || c === "{") depth++;
    else if (c === "]" || c === "}") {
      depth--;
      if (depth === 0) return k + 1;
    }
  }
  return t.length;
}
