/**
 * Redaction layer 2 (SECURITY.md §RED RED-13, RED-16, RED-24): JSON anywhere
 * in the text, in one string-aware pass that tracks objects and arrays.
 *
 * - `"key": value` pairs under a secret key: a string's content (hashed
 *   decoded), a number, or a whole object/array (as a quoted marker, so the
 *   output stays JSON);
 * - name/value records (RED-24): in one object, a naming member (`name`,
 *   `key`, `ParameterKey`, ...) whose value names a secret makes its value
 *   members (`value`, `ParameterValue`, `default`, ...) secret, whatever
 *   their order: ECS/Kubernetes `env` lists, CloudFormation parameters, HAR
 *   headers.
 *
 * Only JSON-shaped values are handled here; a plain scalar after a quoted
 * key (`"password": hunter2` in YAML) is left to the line layer.
 *
 * @module
 */

import type { Redactor } from "./redact_engine.ts";

/** Members that name a record (compared lower-case). */
export const NAME_FIELDS: ReadonlySet<string> = new Set([
  "name",
  "key",
  "parameterkey",
  "variable",
  "param",
  "parameter",
  "setting",
  "property",
  "envvar",
]);
/** Members holding a named record's value (compared lower-case). */
export const VALUE_FIELDS: ReadonlySet<string> = new Set([
  "value",
  "val",
  "parametervalue",
  "default",
  "defaultvalue",
  "data",
  "content",
]);

const NUMBER = /-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/y;

interface ValueSpan {
  start: number;
  end: number;
  json: "inside" | "quote";
  value?: string;
}

interface Frame {
  open: "{" | "[";
  start: number;
  /** the secret key whose value this container is */
  secretKey: string | null;
  /** the name of a record whose name member names a secret */
  recordName: string | null;
  /** value members seen so far (for records; allocated on first use) */
  values?: ValueSpan[];
  /** naming members (`"key": "team"`): secret only when the object has no value member */
  names?: { key: string; span: ValueSpan }[];
  /** the parent's value member this container is (its end is set on close) */
  parentValue?: ValueSpan;
}

/**
 * Containers tracked at most this deep; deeper ones are only counted (a
 * million unclosed `{` must not keep a million frames alive, RED-36).
 */
const MAX_DEPTH = 256;

/** The open containers. */
interface Scan {
  stack: Frame[];
  /** containers opened beyond {@link MAX_DEPTH} and not closed yet */
  deep: number;
  /** the end of the line last looked up (each line's end is searched once) */
  eol: number;
}

/** Layer 2: JSON pairs and records anywhere (linear, one pass). */
export function redactJson(r: Redactor): void {
  const t = r.text;
  const n = t.length;
  const sc: Scan = { stack: [], deep: 0, eol: -1 };
  const stack = sc.stack;
  let i = 0;
  while (i < n) {
    const c = t.charCodeAt(i);
    if (c === 34 /* " */) {
      const e = stringEnd(t, i);
      if (e === null) {
        // no closing quote on this line: not JSON here (never rescanned)
        const nl = t.indexOf("\n", i);
        i = nl < 0 ? n : nl + 1;
        continue;
      }
      let j = e;
      while (j < n && (t[j] === " " || t[j] === "\t")) j++;
      if (t[j] !== ":") {
        i = e;
        continue;
      }
      const key = decode(t.slice(i, e));
      j++;
      while (j < n && /\s/.test(t[j]!)) j++;
      i = member(r, sc, key, j);
      continue;
    }
    if (c === 123 /* { */ || c === 91 /* [ */) {
      push(sc, { open: c === 123 ? "{" : "[", start: i, secretKey: null, recordName: null });
    } else if (sc.deep > 0 && (c === 125 || c === 93)) {
      sc.deep--;
    } else if (c === 125 /* } */ || c === 93 /* ] */) {
      const want = c === 125 ? "{" : "[";
      const top = stack.at(-1);
      if (top?.open === want) close(r, stack.pop()!, i + 1);
    }
    i++;
  }
  // unbalanced containers: a secret key's value is redacted to the end (fail closed)
  for (const f of stack) close(r, f, n);
}

/** Opens a container; false when it is beyond {@link MAX_DEPTH} (only counted). */
function push(sc: Scan, f: Frame): boolean {
  if (sc.stack.length >= MAX_DEPTH) {
    sc.deep++;
    return false;
  }
  sc.stack.push(f);
  return true;
}

/** One member `key: value` whose value starts at `j`; returns where scanning goes on. */
function member(r: Redactor, sc: Scan, key: string, j: number): number {
  const stack = sc.stack;
  const t = r.text;
  const top = stack.at(-1);
  const lower = key.toLowerCase();
  const c = t[j];
  if (c === '"') {
    const e = stringEnd(t, j);
    if (e === null) return j + 1;
    const value = decode(t.slice(j, e));
    if (top?.open === "{" && NAME_FIELDS.has(lower)) {
      (top.names ??= []).push({ key, span: { start: j + 1, end: e - 1, json: "inside", value } });
    } else {
      r.keyed(key, j + 1, e - 1, { json: "inside", value });
    }
    if (top?.open === "{") {
      if (NAME_FIELDS.has(lower) && r.isSecretKey(value)) top.recordName = value;
      if (VALUE_FIELDS.has(lower)) {
        (top.values ??= []).push({ start: j + 1, end: e - 1, json: "inside", value });
      }
    }
    return e;
  }
  if (c === "{" || c === "[") {
    // the container's end is known when its frame closes (see close())
    if (r.isSecretKey(key)) {
      if (!push(sc, { open: c, start: j, secretKey: key, recordName: null })) {
        // too deep to track its end: the rest of the line (fail closed)
        if (sc.eol < j) {
          const nl = t.indexOf("\n", j);
          sc.eol = nl < 0 ? t.length : nl;
        }
        r.keyed(key, j, sc.eol, { json: "quote" });
      }
      return j + 1;
    }
    if (top?.open === "{" && VALUE_FIELDS.has(lower)) {
      const v: ValueSpan = { start: j, end: -1, json: "quote" };
      (top.values ??= []).push(v);
      push(sc, { open: c, start: j, secretKey: null, recordName: null, parentValue: v });
      return j + 1;
    }
    return j;
  }
  NUMBER.lastIndex = j;
  const num = NUMBER.exec(t);
  if (num && !/[\w.]/.test(t[j + num[0].length] ?? "")) {
    const e = j + num[0].length;
    r.keyed(key, j, e, { json: "quote" });
    if (top?.open === "{" && VALUE_FIELDS.has(lower)) {
      (top.values ??= []).push({ start: j, end: e, json: "quote" });
    }
    return e;
  }
  return j;
}

/** A container frame closes at `end` (exclusive). */
function close(r: Redactor, f: Frame, end: number): void {
  if (f.parentValue) f.parentValue.end = end;
  if (!f.values) {
    for (const { key, span } of f.names ?? []) {
      r.keyed(key, span.start, span.end, { json: "inside", value: span.value! });
    }
  }
  if (f.secretKey !== null) r.keyed(f.secretKey, f.start, end, { json: "quote" });
  if (f.recordName !== null) {
    for (const v of f.values ?? []) {
      if (v.end < 0) continue;
      r.keyed(f.recordName, v.start, v.end, {
        json: v.json,
        ...(v.value !== undefined ? { value: v.value } : {}),
      });
    }
  }
}

/** End offset (after the closing quote) of a JSON string at `q`, or null (no closing quote on the line). */
export function stringEnd(t: string, q: number): number | null {
  for (let k = q + 1; k < t.length; k++) {
    const c = t.charCodeAt(k);
    if (c === 92 /* \ */) {
      k++;
      continue;
    }
    if (c === 34) return k + 1;
    if (c === 10) return null;
  }
  return null;
}

function decode(quoted: string): string {
  try {
    return JSON.parse(quoted);
  } catch {
    return quoted.slice(1, -1);
  }
}
