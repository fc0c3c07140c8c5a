/**
 * YAML structure for the line layer (SECURITY.md §RED RED-16, RED-26):
 * block scalars and nested blocks under a secret key, anchors and aliases
 * (`cookieSecret: *shared` redacts what `&shared` holds), name/value
 * records (`- name: DB_PASSWORD` + `value: x`, Kubernetes `env` lists),
 * Kubernetes `kind: Secret` documents (everything under `data` /
 * `stringData`), and flow mappings on one line (`{user: a, password: b}`,
 * also HCL/TOML `{ name = "X", value = "y" }`).
 *
 * Indentation counts spaces only: YAML forbids tabs there, so a Makefile
 * target `secrets:` followed by tab-indented recipe lines is no block.
 *
 * @module
 */

import type { Redactor } from "./redact_engine.ts";
import { NAME_FIELDS, VALUE_FIELDS } from "./redact_json.ts";
import { BLOCK_SCALAR, KEY_CHARS } from "./redact_patterns.ts";
import { stripQuotes } from "./redact_values.ts";
import { QuoteMemo } from "./redact_words.ts";

/** A YAML `key: value` line (groups: lead, quote, key, value). */
export const YAML_PAIR = new RegExp(
  String.raw`^(\s*(?:-[ \t]+)*(["']?))(${KEY_CHARS})\2[ \t]*:(?:[ \t]+(.*))?$`,
  "du",
);

/** Offset in `line` where the value of a {@link YAML_PAIR} match starts (the line's end when empty). */
export function pairValueAt(m: RegExpExecArray, line: string): number {
  return m.indices?.[4]?.[0] ?? line.trimEnd().length;
}

/** Facts about the whole text collected before the line pass. */
export interface YamlContext {
  /** anchor name -> line of its definition and offset of its value (-1: nested/block) */
  anchors: Map<string, { line: number; value: number; block: boolean }>;
  /** lines of `data:` / `stringData:` keys of Kubernetes Secret documents */
  secretData: Set<number>;
  /** anchors already redacted through an alias (each anchor once: linear) */
  done: Set<string>;
}

const ANCHOR = /(?:^|[:\-][ \t]+)&([^\s,\[\]{}]+)(?:[ \t]+(?=\S))?/;
const KIND_SECRET = /^kind:[ \t]*["']?Secret["']?[ \t]*$/;
const DATA_KEY = /^(?:data|stringData):[ \t]*$/;

/** The pre-pass: anchors and Secret documents. */
export function yamlContext(r: Redactor): YamlContext {
  const L = r.lines;
  const anchors = new Map<string, { line: number; value: number; block: boolean }>();
  const secretData = new Set<number>();
  let docData: number[] = [];
  let docSecret = false;
  const endDoc = () => {
    if (docSecret) { for (const d of docData) secretData.add(d); }
    docData = [];
    docSecret = false;
  };
  const hasAnchor = r.text.includes("&");
  for (let i = 0; i < L.count; i++) {
    const line = L.get(i);
    if (line.startsWith("---")) endDoc();
    else if (line.startsWith("kind:") && KIND_SECRET.test(line)) docSecret = true;
    else if (DATA_KEY.test(line)) docData.push(i);
    if (hasAnchor && line.includes("&")) {
      const a = ANCHOR.exec(line);
      if (a) {
        const rest = line.slice(a.index + a[0].length);
        const [ls] = L.span(i);
        const block = BLOCK_SCALAR.test(rest.trim());
        const value = rest.trim() === "" || block ? -1 : ls + a.index + a[0].length;
        anchors.set(a[1]!, { line: i, value, block });
      }
    }
  }
  endDoc();
  return { anchors, secretData, done: new Set() };
}

const indentOf = (s: string) => {
  let k = 0;
  while (k < s.length && s.charCodeAt(k) === 32) k++;
  return k;
};

/** The column a mapping key starts at (after `- ` item markers). */
export function keyColumn(line: string): number {
  const m = /^[ \t]*(?:-[ \t]+)*/.exec(line)!;
  return m[0].length;
}

/**
 * Lines after `key: |` / `key: >` (block scalar) or after `key:` with
 * nothing (a nested mapping or sequence) that belong to `key`: more
 * indented, or (for a sequence) `- ` items at the same indentation. Returns
 * the last line used, or `i` when nothing follows.
 */
export function yamlBlock(
  r: Redactor,
  i: number,
  key: string,
  nested: boolean,
  force = false,
): number {
  const L = r.lines;
  const keyIndent = keyColumn(L.get(i));
  let j = i + 1;
  let last = i;
  for (; j < L.count; j++) {
    const line = L.get(j);
    if (line.trim() === "") continue;
    if (line[0] === "\t" || (line[0] === " " && line[indentOf(line)] === "\t")) break;
    const ind = indentOf(line);
    const sameLevelItem = nested && ind === keyIndent && /^\s*-(\s|$)/.test(line);
    if (ind <= keyIndent && !sameLevelItem) break;
    last = j;
    const [ls] = L.span(j);
    if (!nested) {
      r.keyed(key, ls + ind, ls + line.trimEnd().length, { force });
      continue;
    }
    const kv = YAML_PAIR.exec(line);
    if (kv) {
      const v = (kv[4] ?? "").trimEnd();
      if (v === "" || BLOCK_SCALAR.test(v)) continue; // a header: its lines follow
      const vs = ls + pairValueAt(kv, line);
      const inner = stripQuotes(v);
      const off = v.startsWith(inner) ? 0 : 1;
      r.keyed(key, vs + off, vs + off + inner.length, { force });
      continue;
    }
    const item = /^(\s*-\s+)(.*?)\s*$/.exec(line);
    if (item) {
      const inner = stripQuotes(item[2]!);
      const vs = ls + item[1]!.length + (item[2]!.startsWith(inner) ? 0 : 1);
      r.keyed(key, vs, vs + inner.length, { force });
      continue;
    }
    r.keyed(key, ls + ind, ls + line.trimEnd().length, { force });
  }
  return last;
}

/**
 * RED-26 records: `name: SECRET_NAME` at line `i` (a key from
 * {@link NAME_FIELDS}) makes the value member of the same mapping secret,
 * before or after it (bounded scan of the mapping's lines).
 */
export function yamlRecord(
  r: Redactor,
  i: number,
  name: string,
  redactValue: (line: number, key: string, recordKey: string) => void,
): void {
  const L = r.lines;
  const col = keyColumn(L.get(i));
  const itemStart = /^\s*-[ \t]/.test(L.get(i));
  /** One line of the mapping: false when the mapping ended before it. */
  const visit = (j: number, backward: boolean): boolean => {
    const line = L.get(j);
    if (line.trim() === "" || /^\s*#/.test(line)) return true;
    const c = keyColumn(line);
    const item = c === col && /^\s*-[ \t]/.test(line);
    if (indentOf(line) < col && !item) return false;
    if (item && !backward) return false; // the next item
    if (c !== col) return true;
    const kv = YAML_PAIR.exec(line);
    if (kv && VALUE_FIELDS.has(kv[3]!.toLowerCase())) redactValue(j, kv[3]!, name);
    return true;
  };
  for (let j = i + 1; j < L.count && j <= i + 200; j++) if (!visit(j, false)) break;
  if (!itemStart) {
    for (let j = i - 1; j >= 0 && j >= i - 200; j--) {
      if (!visit(j, true)) break;
      if (keyColumn(L.get(j)) === col && /^\s*-[ \t]/.test(L.get(j))) break; // the item's first line
    }
  }
}

/** True when a `name:` value at line `i` names a secret (a record head). */
export function recordName(r: Redactor, key: string, value: string): string | null {
  if (!NAME_FIELDS.has(key.toLowerCase())) return null;
  const v = stripQuotes(value);
  return v !== "" && !/\s/.test(v) && r.isSecretKey(v) ? v : null;
}

/**
 * Flow mappings on line `i` (`{a: b, c: d}`, `{ a = "b" }`, nested and in
 * lists): secret pairs and name/value records inside each `{...}`. One pass
 * finds the pairs of braces; mappings nested deeper than 4 are not parsed
 * on their own (their text is inside a parsed one), which keeps it linear.
 */
export function flowMappings(r: Redactor, i: number): void {
  const line = r.lines.get(i);
  const [ls] = r.lines.span(i);
  const memo = new QuoteMemo();
  const open: number[] = [];
  for (let k = 0; k < line.length; k++) {
    const c = line[k];
    if (c === '"' || c === "'") {
      const q = memo.close(line, k);
      if (q >= 0) k = q;
    } else if (c === "{") {
      open.push(line[k - 1] === "$" || line[k + 1] === "{" ? -1 : k); // `${VAR}`, `{{ x }}`
    } else if (c === "}") {
      const s = open.pop();
      if (s !== undefined && s >= 0 && open.length < 4) flowPairs(r, ls, line, s + 1, k);
    }
  }
}

const FLOW_PAIR = new RegExp(
  String.raw`^[ \t]*(["']?)(${KEY_CHARS})\1[ \t]*(?::(?=[ \t])|=>|=)[ \t]*`,
  "u",
);

/** The pairs between offsets [s, e) of a line (the inside of one `{...}`). */
function flowPairs(r: Redactor, ls: number, line: string, s: number, e: number): void {
  const pairs: { key: string; vs: number; ve: number; value: string }[] = [];
  let p = s;
  while (p < e) {
    const m = FLOW_PAIR.exec(line.slice(p, e));
    let next = itemEnd(line, p, e);
    if (m) {
      const vs = p + m[0].length;
      const raw = line.slice(vs, next).trimEnd();
      pairs.push({ key: m[2]!, vs, ve: vs + raw.length, value: raw });
    }
    if (next < e) next++; // the comma
    p = next;
  }
  const hasValue = pairs.some((x) => VALUE_FIELDS.has(x.key.toLowerCase()));
  let record: string | null = null;
  for (const x of pairs) record = recordName(r, x.key, x.value) ?? record;
  for (const x of pairs) {
    const lower = x.key.toLowerCase();
    if (NAME_FIELDS.has(lower) && hasValue) continue;
    const inner = stripQuotes(x.value);
    const off = inner === x.value.trim() ? 0 : 1;
    const key = record !== null && VALUE_FIELDS.has(lower) ? record : x.key;
    r.keyed(key, ls + x.vs + off, ls + x.vs + off + inner.length);
  }
}

/** End of one flow item starting at p (the next top-level `,` or e). */
function itemEnd(line: string, p: number, e: number): number {
  let depth = 0;
  for (let k = p; k < e; k++) {
    const c = line[k];
    if (c === '"' || c === "'") {
      const q = line.indexOf(c, k + 1);
      if (q < 0 || q >= e) return e;
      k = q;
    } else if (c === "{" || c === "[" || c === "(") depth++;
    else if (c === "}" || c === "]" || c === ")") depth--;
    else if (c === "," && depth === 0) return k;
  }
  return e;
}
