/**
 * Secret redaction for `ssh_read_redacted` / `ssh_sudo_read_redacted`
 * (SECURITY.md §RED, RED-10..RED-17; REFERENCE_GAPS.md #10).
 *
 * Runs on the MCP server before anything is returned (RED-17). Layers, in
 * order; a later layer never touches text an earlier one already replaced:
 *
 * 1. PEM blocks (`-----BEGIN X-----` ... `-----END X-----`), always, even
 *    with entropy detection off: header kept, body replaced by one marker,
 *    closing line `-----END (redacted)-----`; an unterminated block is
 *    redacted to the end of the text (fail closed);
 * 2. key/value lines by format: env/ini assignments (`export` and commented
 *    `# KEY=old` lines included) and `key: value` lines (so an
 *    `Authorization:` header in an env file is caught); YAML `key: value`
 *    with block scalars (`key: |`, `key: >`) and nested blocks under a secret
 *    key; generic = env else YAML; every format: JSON pairs, where a secret
 *    key's non-string value (number, array, object) is replaced whole;
 * 3. URL userinfo passwords (`scheme://user:pass@host`), `Authorization:`
 *    header credentials and `Bearer <token>` anywhere;
 * 4. with entropy detection on, outside comment lines: base64-like runs of
 *    20+ characters, then hex runs of 32+ (a run of hex digits is reported as
 *    `entropy_hex`).
 *
 * Key matching (RED-11): tokens are upper-case; `^X$` exact, `^X` prefix, `X$`
 * suffix, otherwise substring; a key with any non-ASCII character matches
 * (fail closed against homoglyph keys such as `PАSSWORD` with a Cyrillic А).
 *
 * Marker (RED-14): `<sha:<12 hex> len:<N>>` (+ ` hint:<first k>...<last k>`),
 * HMAC-SHA256 keyed with `SSH_REDACT_SALT`, or plain SHA-256 (with a warning)
 * when the salt is empty. `len` counts code points.
 *
 * @module
 */

import { createHash, createHmac } from "node:crypto";
import path from "node:path";
import type { HostPolicy, Settings } from "../config/types.ts";
import { effectivePolicy } from "./effective.ts";

/** Parser selection (RED-12). */
export type RedactFormat = "env" | "yaml" | "json" | "ini" | "generic";

/** Every format name, for schemas. */
export const REDACT_FORMATS: readonly RedactFormat[] = ["env", "yaml", "json", "ini", "generic"];

/** Built-in key tokens (RED-10): the reference list plus the NEW additions. */
export const BUILTIN_REDACT_KEYS: readonly string[] = [
  "PASSWORD",
  "PASSWD",
  "^PASS_",
  "_PASS$",
  "SECRET",
  "TOKEN",
  "KEY",
  "PRIVATE",
  "CREDENTIAL",
  "CREDENTIALS",
  "API_KEY",
  "APIKEY",
  "DSN",
  "AUTH",
  "BEARER",
  "COOKIE",
  "SESSION",
  "JWT",
  "OAUTH",
  "SSH_KEY",
  // NEW
  "PWD",
  "PASSPHRASE",
  "_PW$",
  "PIN",
  "SALT",
  "SIGNATURE",
  "WEBHOOK",
  "CONN_STR",
  "CONNECTION_STRING",
];

/** Resolved redaction policy of one host. */
export interface RedactOptions {
  /** upper-case key tokens */
  keys: string[];
  /** HMAC key; "" = plain SHA-256 */
  salt: string;
  /** base64/hex run detection */
  entropy: boolean;
  /** 0..4 characters of each end shown in the marker */
  hintChars: number;
}

/** One marker in the output. */
export interface Redaction {
  /** the key whose value was replaced; null for entropy and PEM hits */
  key: string | null;
  /** the 12 hex characters of the marker */
  hash: string;
  /** 1-based line of the input where the value starts; null for PEM blocks */
  line: number | null;
  kind: "key_match" | "entropy_base64" | "entropy_hex" | "pem_block";
}

/** Result of {@link redact}. */
export interface RedactResult {
  content: string;
  redactions: Redaction[];
  warnings: string[];
}

/** Warning added when markers are plain SHA-256 (empty salt, RED-14). */
export const WEAK_MARKER_WARNING =
  "SSH_REDACT_SALT is empty: redaction markers are plain SHA-256 hashes, so a guessed secret " +
  "can be confirmed by hashing it; set SSH_REDACT_SALT (32+ characters) for keyed markers.";

/** RED-12: the parser for a file, from its canonical path. */
export function detectFormat(canonicalPath: string): RedactFormat {
  const base = path.posix.basename(canonicalPath.replaceAll("\\", "/"));
  const lower = base.toLowerCase();
  if (lower.endsWith(".env") || lower.startsWith(".env.")) return "env";
  if (lower.endsWith(".yml") || lower.endsWith(".yaml")) return "yaml";
  if (lower.endsWith(".json")) return "json";
  if (lower.endsWith(".ini") || lower.endsWith(".cfg") || lower.endsWith(".conf")) return "ini";
  if (!base.includes(".")) return "env";
  return "generic";
}

/**
 * RED-10 precedence: host `redact_keys_replace` > env
 * `SSH_REDACT_KEYS_REPLACE` > built-ins ∪ env `_ADD` ∪ host `_add`; tokens
 * upper-cased. Scalars: host value over env value.
 */
export function redactionOptions(policy: HostPolicy, settings: Settings): RedactOptions {
  const tokens = policy.redact_keys_replace.length > 0
    ? policy.redact_keys_replace
    : settings.SSH_REDACT_KEYS_REPLACE.length > 0
    ? settings.SSH_REDACT_KEYS_REPLACE
    : [...BUILTIN_REDACT_KEYS, ...settings.SSH_REDACT_KEYS_ADD, ...policy.redact_keys_add];
  const keys = [...new Set(tokens.map((t) => t.trim().toUpperCase()).filter((t) => t !== ""))];
  const eff = effectivePolicy(policy, settings);
  return {
    keys,
    salt: settings.SSH_REDACT_SALT ?? "",
    entropy: eff.redact_entropy_detection,
    hintChars: eff.redact_hint_chars,
  };
}

// deno-lint-ignore no-control-regex
const NON_ASCII = /[^\u0000-\u007f]/;

/** RED-11 key matching. */
export function keyMatches(key: string, tokens: readonly string[]): boolean {
  if (NON_ASCII.test(key)) return true;
  const k = key.toUpperCase();
  for (const raw of tokens) {
    const t = raw.toUpperCase();
    const pre = t.startsWith("^");
    const suf = t.endsWith("$") && t.length > (pre ? 1 : 0);
    const core = t.slice(pre ? 1 : 0, suf ? -1 : undefined);
    if (core === "") continue;
    if (
      pre && suf ? k === core : pre ? k.startsWith(core) : suf ? k.endsWith(core) : k.includes(core)
    ) {
      return true;
    }
  }
  return false;
}

/** The marker text and its hash (RED-14). */
export function marker(value: string, opts: RedactOptions): { text: string; hash: string } {
  const hash =
    (opts.salt
      ? createHmac("sha256", opts.salt).update(value, "utf8")
      : createHash("sha256").update(value, "utf8")).digest("hex").slice(0, 12);
  const cps = [...value];
  const k = Math.max(0, Math.min(4, Math.trunc(opts.hintChars)));
  let hint = "";
  if (k > 0 && cps.length >= 2 * k) {
    // deno-lint-ignore no-control-regex
    const safe = (xs: string[]) => xs.join("").replace(/[\u0000-\u001f\u007f]/g, "?");
    hint = ` hint:${safe(cps.slice(0, k))}...${safe(cps.slice(-k))}`;
  }
  return { text: `<sha:${hash} len:${cps.length}${hint}>`, hash };
}

/** One replacement on the input text. */
interface Edit {
  start: number;
  end: number;
  /** literal replacement (no record) */
  literal?: string;
  /** secret replacement */
  secret?: {
    value: string;
    kind: Redaction["kind"];
    key: string | null;
    line: number | null;
    /** JSON string context: escape the marker; `quote`: wrap it in quotes */
    json?: "inside" | "quote";
  };
}

/**
 * Sorted, non-overlapping edits; a new edit overlapping an accepted one is
 * dropped (earlier layers win). Edits of the current layer are kept apart and
 * merged by {@link Edits.commit}, so large inputs stay linear: within a layer
 * edits arrive almost in text order.
 */
class Edits {
  list: Edit[] = [];
  #pending: Edit[] = [];

  static #overlapsSorted(xs: readonly Edit[], start: number, end: number): boolean {
    let lo = 0;
    let hi = xs.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (xs[mid]!.start < start) lo = mid + 1;
      else hi = mid;
    }
    const prev = xs[lo - 1];
    const next = xs[lo];
    return (prev !== undefined && prev.end > start) || (next !== undefined && next.start < end);
  }

  add(e: Edit): boolean {
    if (e.end < e.start || Edits.#overlapsSorted(this.list, e.start, e.end)) return false;
    const p = this.#pending;
    let i = p.length;
    while (i > 0 && p[i - 1]!.start > e.start) i--;
    if ((i > 0 && p[i - 1]!.end > e.start) || (i < p.length && p[i]!.start < e.end)) return false;
    p.splice(i, 0, e);
    return true;
  }

  /** Merges the current layer into the accepted edits. */
  commit(): void {
    const a = this.list;
    const b = this.#pending;
    if (b.length === 0) return;
    const out: Edit[] = [];
    let i = 0;
    let j = 0;
    while (i < a.length || j < b.length) {
      if (j >= b.length || (i < a.length && a[i]!.start <= b[j]!.start)) out.push(a[i++]!);
      else out.push(b[j++]!);
    }
    this.list = out;
    this.#pending = [];
  }
}

/** Line table of a text. */
class Lines {
  readonly starts: number[] = [0];
  constructor(readonly text: string) {
    for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n", i + 1)) {
      this.starts.push(i + 1);
    }
  }
  get count(): number {
    return this.starts.length;
  }
  /** [start, end) of line i (0-based), end excluding the newline */
  span(i: number): [number, number] {
    const s = this.starts[i]!;
    const next = this.starts[i + 1];
    return [s, next === undefined ? this.text.length : next - 1];
  }
  get(i: number): string {
    const [s, e] = this.span(i);
    return this.text.slice(s, e);
  }
  /** 0-based line of an offset */
  lineOf(pos: number): number {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid]! <= pos) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }
}

/** Comment prefixes of commented-out assignments (`# KEY=old`, `; key = x`, `// KEY=x`). */
const COMMENT = String.raw`(?:#+|;+|//)[ \t]*`;
const KEY_ENV = String.raw`[\p{L}_][\p{L}\p{N}_.\-]*`;

/** env/ini assignment (RED-13 widened: `export`, comments, dotted keys). */
const ENV_LINE = new RegExp(
  String.raw`^(\s*(?:${COMMENT})?(?:export\s+)?)(${KEY_ENV})(\s*=\s*)(.+?)(\s*)$`,
  "u",
);
/** `key: value` (YAML-style; also used for env files' header lines). */
const COLON_LINE = new RegExp(
  String.raw`^(\s*(?:#+[ \t]*)?(?:-\s+)?(["']?))(${KEY_ENV})\2(\s*:(?:\s+|$))(.*?)(\s*)$`,
  "u",
);
const BLOCK_SCALAR = /^[|>][-+0-9]*\s*(#.*)?$/;
const COMMENT_LINE = /^\s*(#|\/\/)/;
const URL_USERINFO = /\b([A-Za-z][A-Za-z0-9+.\-]*:\/\/)([^\s:\/@?#'"<>]*):([^\s@\/?#'"<>]+)@/g;
const AUTH_HEADER =
  /(?<![\p{L}\p{N}_-])((?:proxy-)?authorization)[ \t]*[:=][ \t]*["']?(?:(?:bearer|basic|token|digest|negotiate|ntlm|apikey)[ \t]+)?([^\s"',;]+)/giu;
const BEARER = /\b(bearer)[ \t]+([A-Za-z0-9\-._~+\/]{8,}=*)/gi;
/** `key <op> "value"` anywhere in a line (op: `=`, `:`, `=>`, `:=`). */
const QUOTED_ASSIGN =
  /(?<![\p{L}\p{N}_])(["']?)([\p{L}_][\p{L}\p{N}_.\-]*)\1[ \t]*(?:=>|:=|=|:)[ \t]*(["'])((?:\\.|(?!\3).)*)\3/gu;
/** `key=value` (unquoted) anywhere in a line. */
const BARE_ASSIGN = /(?<![\p{L}\p{N}_])([\p{L}_][\p{L}\p{N}_.\-]*)=(?=([^\s"'&;,<>|`)]+))/gu;
/** `<secretKey>value</secretKey>` on one line. */
const XML_ELEMENT = /<([\p{L}_][\p{L}\p{N}_.\-]*)(?:\s[^<>]*)?>([^<>\n]+)<\/\1>/gu;
/** `mysql -pSECRET` style command lines. */
const MYSQL_P = /\b(mysql|mysqldump|mysqladmin|mysqlimport|mysqlcheck)\b[^\n|;&]*?\s-p([^\s'"]+)/g;
const BASE64_RUN = /(?<![\w<])[A-Za-z0-9+\/]{20,}={0,2}(?!\w)/g;
const HEX_RUN = /(?<![\w<])[a-fA-F0-9]{32,}(?!\w)/g;
const PEM_BEGIN = /-----BEGIN [A-Z0-9 ]+-----/;
const PEM_END = /-----END [A-Z0-9 ]+-----/;

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

/** The redaction engine for one text. */
class Redactor {
  readonly lines: Lines;
  readonly edits = new Edits();
  constructor(readonly text: string, readonly opts: RedactOptions) {
    this.lines = new Lines(text);
  }

  secret(
    start: number,
    end: number,
    kind: Redaction["kind"],
    key: string | null,
    json?: "inside" | "quote",
  ): boolean {
    if (end <= start) return false;
    const value = this.text.slice(start, end);
    if (json === "inside") {
      // hash the decoded string so the same secret gives the same marker in every format
      let decoded = value;
      try {
        decoded = JSON.parse(`"${value}"`);
      } catch {
        // keep the raw text
      }
      return this.edits.add({
        start,
        end,
        secret: { value: decoded, kind, key, line: this.#line(start, kind), json },
      });
    }
    return this.edits.add({
      start,
      end,
      secret: { value, kind, key, line: this.#line(start, kind), ...(json ? { json } : {}) },
    });
  }

  #line(pos: number, kind: Redaction["kind"]): number | null {
    return kind === "pem_block" ? null : this.lines.lineOf(pos) + 1;
  }

  /** Layer 1: PEM blocks. */
  pem(): void {
    const L = this.lines;
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
        this.secret(bodyStart, endStart, "pem_block", null);
        this.edits.add({
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
        let end = this.text.length;
        if (this.text.endsWith("\n")) end--;
        if (end > bodyStart) this.#pemBody(bodyStart, end, "", false);
        return;
      }
      const endLine = L.get(j);
      const e = PEM_END.exec(endLine)!;
      const [es] = L.span(j);
      const prefix = endLine.slice(0, e.index);
      const indent = /^\s*$/.test(prefix) ? prefix : "";
      const bodyEnd = es + (indent === "" ? e.index : 0);
      this.#pemBody(bodyStart, bodyEnd, indent);
      this.edits.add({
        start: es + indent.length,
        end: es + e.index + e[0].length,
        literal: "-----END (redacted)-----",
      });
      i = j;
    }
  }

  /** Replaces a multi-line PEM body by "\n<indent><marker>\n" (no final newline when unterminated). */
  #pemBody(start: number, end: number, indent = "", closed = true): void {
    let value = this.text.slice(start, end);
    const lead = value.match(/^[ \t]*\r?\n/)?.[0] ?? "";
    value = value.slice(lead.length).replace(/\r?\n$/, "");
    if (value.trim() === "") return;
    const m = marker(value, this.opts);
    this.edits.add({
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
  envLine(i: number): number | null {
    const line = this.lines.get(i);
    const [ls] = this.lines.span(i);
    const m = ENV_LINE.exec(line);
    if (!m) return null;
    const key = m[2]!;
    if (!keyMatches(key, this.opts.keys)) return i;
    const vs = ls + m[1]!.length + key.length + m[3]!.length;
    const value = m[4]!;
    const q = value[0];
    if ((q === '"' || q === "'") && !closesQuote(value.slice(1), q)) {
      // a multi-line quoted value (dotenv): up to the line with the closing quote
      for (let j = i + 1; j < this.lines.count; j++) {
        const next = this.lines.get(j);
        const at = closingQuoteAt(next, q);
        if (at >= 0) {
          this.secret(vs + 1, this.lines.span(j)[0] + at, "key_match", key);
          return j;
        }
      }
      this.secret(vs + 1, this.text.length, "key_match", key);
      return this.lines.count - 1;
    }
    const [a, b] = unquote(value);
    this.secret(vs + a, vs + b, "key_match", key);
    return i;
  }

  /** Layer 2b: one `key: value` line; with `yaml`, block scalars and nested blocks. */
  colonLine(i: number, yaml: boolean): number {
    const line = this.lines.get(i);
    const [ls] = this.lines.span(i);
    const m = COLON_LINE.exec(line);
    if (!m) return i;
    const key = m[3]!;
    if (!keyMatches(key, this.opts.keys)) return i;
    const value = m[5]!;
    const vs = ls + m[1]!.length + key.length + m[2]!.length + m[4]!.length;
    const commented = /^\s*#/.test(line);
    if (yaml && !commented && (value === "" || BLOCK_SCALAR.test(value))) {
      return this.#yamlBlock(i, key, value === "");
    }
    if (value === "") return i;
    const [a, b] = unquote(value);
    this.secret(vs + a, vs + b, "key_match", key);
    return i;
  }

  /**
   * Lines after `key: |` / `key: >` (block scalar) or after `key:` with
   * nothing (nested mapping or sequence) that belong to the key: more
   * indented, or (for a sequence) `- ` items at the same indentation.
   */
  #yamlBlock(i: number, key: string, nested: boolean): number {
    const L = this.lines;
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
        this.secret(ls + ind, ls + line.replace(/\s+$/, "").length, "key_match", key);
        continue;
      }
      const kv = COLON_LINE.exec(line);
      if (kv && kv[5] !== "") {
        const vs = ls + kv[1]!.length + kv[3]!.length + kv[2]!.length + kv[4]!.length;
        const [a, b] = unquote(kv[5]!);
        this.secret(vs + a, vs + b, "key_match", kv[3]!);
        continue;
      }
      if (kv) continue; // a nested "k:" header
      const item = /^(\s*-\s+)(.*?)\s*$/.exec(line);
      if (item) {
        const [a, b] = unquote(item[2]!);
        const vs = ls + item[1]!.length;
        this.secret(vs + a, vs + b, "key_match", key);
        continue;
      }
      this.secret(ls + ind, ls + line.replace(/\s+$/, "").length, "key_match", key);
    }
    return j - 1;
  }

  /** Layer 2c: JSON pairs anywhere (string-aware scan of the whole text). */
  json(): void {
    const t = this.text;
    const n = t.length;
    let i = 0;
    while (i < n) {
      const q = t.indexOf('"', i);
      if (q < 0) return;
      const s = this.#jsonString(q);
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
      if (!keyMatches(rawKey, this.opts.keys)) {
        i = j;
        continue;
      }
      const c = t[j];
      if (c === '"') {
        const e = this.#jsonString(j);
        if (e !== null) {
          this.secret(j + 1, e - 1, "key_match", rawKey, "inside");
          i = e;
          continue;
        }
        i = j + 1;
        continue;
      }
      if (c === "[" || c === "{") {
        const e = this.#jsonContainerEnd(j);
        this.secret(j, e, "key_match", rawKey, "quote");
        i = e;
        continue;
      }
      const num = /^-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/.exec(t.slice(j, j + 400));
      if (num) {
        this.secret(j, j + num[0].length, "key_match", rawKey, "quote");
        i = j + num[0].length;
        continue;
      }
      i = j;
    }
  }

  /** End offset (after the closing quote) of a JSON string at `q`, or null (no closing quote on the line). */
  #jsonString(q: number): number | null {
    const t = this.text;
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
  #jsonContainerEnd(p: number): number {
    const t = this.text;
    let depth = 0;
    for (let k = p; k < t.length; k++) {
      const c = t[k];
      if (c === '"') {
        const e = this.#jsonString(k);
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

  /** Layer 3: URL userinfo, Authorization headers, Bearer tokens. */
  inline(): void {
    const L = this.lines;
    for (let i = 0; i < L.count; i++) {
      const line = L.get(i);
      const [ls] = L.span(i);
      const keyOf = () => ENV_LINE.exec(line)?.[2] ?? COLON_LINE.exec(line)?.[3] ?? null;
      for (const m of line.matchAll(URL_USERINFO)) {
        const s = ls + m.index + m[1]!.length + m[2]!.length + 1;
        this.secret(s, s + m[3]!.length, "key_match", keyOf() ?? "url_userinfo");
      }
      for (const m of line.matchAll(AUTH_HEADER)) {
        const cred = m[2]!;
        const s = ls + m.index + m[0].length - cred.length;
        this.secret(s, s + cred.length, "key_match", m[1]!);
      }
      for (const m of line.matchAll(BEARER)) {
        const s = ls + m.index + m[0].length - m[2]!.length;
        this.secret(s, s + m[2]!.length, "key_match", m[1]!);
      }
      // secret keys inside other syntax: `$db_password = 'x';`, `'token' => "x"`,
      // `--password=x`, `?api_key=x&`, `Environment=DB_PASSWORD=x`, XML elements
      for (const m of line.matchAll(QUOTED_ASSIGN)) {
        if (!keyMatches(m[2]!, this.opts.keys)) continue;
        const s = ls + m.index + m[0].length - m[4]!.length - 1;
        this.secret(s, s + m[4]!.length, "key_match", m[2]!);
      }
      for (const m of line.matchAll(BARE_ASSIGN)) {
        // the value is a lookahead, so `a=B_TOKEN=x` also finds `B_TOKEN=x`
        if (!keyMatches(m[1]!, this.opts.keys)) continue;
        const s = ls + m.index + m[0].length;
        this.secret(s, s + m[2]!.length, "key_match", m[1]!);
      }
      for (const m of line.matchAll(XML_ELEMENT)) {
        if (!keyMatches(m[1]!, this.opts.keys)) continue;
        const s = ls + m.index + m[0].length - m[2]!.length - m[1]!.length - 3;
        this.secret(s, s + m[2]!.length, "key_match", m[1]!);
      }
      for (const m of line.matchAll(MYSQL_P)) {
        const s = ls + m.index + m[0].length - m[2]!.length;
        this.secret(s, s + m[2]!.length, "key_match", `${m[1]} -p`);
      }
    }
  }

  /** Layer 4: high-entropy runs outside comment lines. */
  entropy(): void {
    const L = this.lines;
    for (let i = 0; i < L.count; i++) {
      const line = L.get(i);
      if (COMMENT_LINE.test(line)) continue;
      const [ls] = L.span(i);
      for (const m of line.matchAll(BASE64_RUN)) {
        const hexOnly = /^[a-fA-F0-9]{32,}$/.test(m[0]);
        this.secret(
          ls + m.index,
          ls + m.index + m[0].length,
          hexOnly ? "entropy_hex" : "entropy_base64",
          null,
        );
      }
      for (const m of line.matchAll(HEX_RUN)) {
        this.secret(ls + m.index, ls + m.index + m[0].length, "entropy_hex", null);
      }
    }
  }

  /** Builds the output text and the records (in text order). */
  render(): { content: string; redactions: Redaction[] } {
    let out = "";
    let pos = 0;
    const redactions: Redaction[] = [];
    for (const e of this.edits.list) {
      out += this.text.slice(pos, e.start);
      if (e.secret) {
        const m = marker(e.secret.value, this.opts);
        redactions.push({
          key: e.secret.key,
          hash: m.hash,
          line: e.secret.line,
          kind: e.secret.kind,
        });
        if (e.literal !== undefined) out += e.literal;
        else if (e.secret.json === "inside") out += JSON.stringify(m.text).slice(1, -1);
        else if (e.secret.json === "quote") out += JSON.stringify(m.text);
        else out += m.text;
      } else {
        out += e.literal ?? "";
      }
      pos = e.end;
    }
    out += this.text.slice(pos);
    return { content: out, redactions };
  }
}

/**
 * Redacts `text` parsed as `format` (RED-13..RED-16). Returns the redacted
 * text (line structure kept except PEM bodies, which become one marker line;
 * trailing newline preserved; empty in, empty out), one record per marker,
 * and warnings (plain SHA-256 markers when the salt is empty).
 */
export function redact(text: string, format: RedactFormat, opts: RedactOptions): RedactResult {
  const warnings = opts.salt ? [] : [WEAK_MARKER_WARNING];
  if (text === "") return { content: "", redactions: [], warnings };
  const r = new Redactor(text, opts);
  r.pem();
  r.edits.commit();
  const L = r.lines;
  for (let i = 0; i < L.count; i++) {
    switch (format) {
      case "env":
      case "ini":
        i = r.envLine(i) ?? r.colonLine(i, false);
        break;
      case "yaml":
        // a KEY=value line is not YAML syntax but may still hold a secret
        i = COLON_LINE.test(L.get(i)) ? r.colonLine(i, true) : (r.envLine(i) ?? i);
        break;
      case "generic":
        i = r.envLine(i) ?? r.colonLine(i, true);
        break;
      case "json":
        break;
    }
  }
  r.edits.commit();
  r.json();
  r.edits.commit();
  r.inline();
  r.edits.commit();
  if (opts.entropy) r.entropy();
  r.edits.commit();
  const { content, redactions } = r.render();
  return { content, redactions, warnings };
}
