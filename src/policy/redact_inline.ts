/**
 * Redaction layer 5 (SECURITY.md §RED RED-16, RED-27): secrets inside a line
 * whatever the file format: URL userinfo passwords, `Authorization`
 * credentials (after `:`, `=` or whitespace, as in nginx
 * `proxy_set_header Authorization "Basic x"`), `Bearer <token>`, secret keys
 * inside other syntax (`$db_password = 'x';`, `'token' => "x"`,
 * `--password=x`, `?api_key=x&`, `Password=x;` in connection strings, XML
 * elements on one line), call arguments (`define('DB_PASSWORD', 'x')`,
 * `os.environ.get("API_TOKEN", "x")`) and subscript assignments
 * (`os.environ["TOKEN"] = "x"`).
 *
 * @module
 */

import type { Redactor } from "./redact_engine.ts";
import { parseAssign } from "./redact_lines.ts";
import { NAME_FIELDS } from "./redact_json.ts";
import { QuoteMemo } from "./redact_words.ts";

/** `scheme://user:pass@` (groups: scheme, user, password). */
export const URL_USERINFO =
  /\b([A-Za-z][A-Za-z0-9+.\-]{0,31}:\/\/)([^\s:\/@?#'"<>]{0,256}):([^\s@\/?#'"<>]{1,1024})@/g;
/** `Authorization:` / `Proxy-Authorization=` / `Authorization "Basic ..."` (groups: header, credential). */
const AUTH_HEADER =
  /(?<![\p{L}\p{N}_-])((?:proxy-)?authorization)(?:[ \t]*[:=][ \t]*|[ \t]+(?=["']?(?:bearer|basic|token|digest|negotiate|ntlm|apikey)\b))["']?(?:(?:bearer|basic|token|digest|negotiate|ntlm|apikey)[ \t]+)?([^\s"',;]+)/giu;
/** `Bearer <token>` (groups: word, token). */
const BEARER = /\b(bearer)[ \t]+([A-Za-z0-9\-._~+\/]{8,}=*)/gi;
/** An operator followed by an opening quote (the key before it is checked separately). */
const OP_QUOTE = /(=>|:=|=|:|,)[ \t]*(["'])/g;
/** The key before `=`, `:`, `=>`, `:=` (a bounded tail of the text before the operator). */
const KEY_BEFORE = /(?<![\p{L}\p{N}_])(["']?)([\p{L}_$][\p{L}\p{N}_.\-]*)\1[ \t]*$/u;
/** `["KEY"] =` subscripts. */
const SUBSCRIPT_BEFORE = /\[[ \t]*(["'])([\p{L}_][\p{L}\p{N}_.\-]*)\1[ \t]*\][ \t]*$/u;
/** `f('KEY', ` first call arguments. */
const ARGUMENT_BEFORE = /\([ \t]*(["'])([\p{L}_][\p{L}\p{N}_.\-]*)\1[ \t]*$/u;
/** `<secretKey>value</secretKey>` on one line. */
const XML_ELEMENT = /<([\p{L}_][\p{L}\p{N}_.\-]*)(?:\s[^<>]*)?>([^<>\n]+)<\/\1>/gu;
const KEY_START = /[\p{L}_]/u;
const KEY_PART = /[\p{L}\p{N}_.\-]/u;
const BARE_STOP = /[\s"'&;,<>|`)]/;

/** Layer 5: URL userinfo, Authorization headers, Bearer tokens, inline assignments. */
export function redactInlineSecrets(r: Redactor): void {
  const L = r.lines;
  for (let i = 0; i < L.count; i++) {
    const line = L.get(i);
    const [ls] = L.span(i);
    if (line.includes("://")) {
      let key: string | undefined;
      for (const m of line.matchAll(URL_USERINFO)) {
        key ??= parseAssign(line)?.key ?? "url_userinfo";
        const s = ls + m.index + m[1]!.length + m[2]!.length + 1;
        r.secret(s, s + m[3]!.length, { kind: "key_match", key });
      }
    }
    const lower = line.toLowerCase();
    if (lower.includes("authorization")) {
      for (const m of line.matchAll(AUTH_HEADER)) {
        const cred = m[2]!;
        const s = ls + m.index + m[0].length - cred.length;
        r.secret(s, s + cred.length, { kind: "key_match", key: m[1]! });
      }
    }
    if (lower.includes("bearer")) {
      for (const m of line.matchAll(BEARER)) {
        const s = ls + m.index + m[0].length - m[2]!.length;
        r.secret(s, s + m[2]!.length, { kind: "key_match", key: m[1]! });
      }
    }
    if (line.includes('"') || line.includes("'")) quotedValues(r, ls, line);
    if (line.includes("=")) bareValues(r, ls, line);
    if (line.includes("(")) callArguments(r, ls, line);
    if (line.includes("</")) {
      for (const m of line.matchAll(XML_ELEMENT)) {
        if (NAME_FIELDS.has(m[1]!.toLowerCase())) continue; // plist `<key>Name</key>`
        const s = ls + m.index + m[0].length - m[2]!.length - m[1]!.length - 3;
        r.keyed(m[1]!, s, s + m[2]!.length);
      }
    }
  }
}

/**
 * `key <op> "value"` (op `=`, `:`, `=>`, `:=`), `["KEY"] = "value"` and
 * `f('KEY', 'value')`, in one pass: each quoted value is read once and
 * scanning goes on after it (RED-36).
 */
function quotedValues(r: Redactor, ls: number, line: string): void {
  const memo = new QuoteMemo();
  OP_QUOTE.lastIndex = 0;
  for (let m = OP_QUOTE.exec(line); m !== null; m = OP_QUOTE.exec(line)) {
    const qp = m.index + m[0].length - 1;
    const close = memo.close(line, qp);
    if (close < 0) continue;
    const before = line.slice(Math.max(0, m.index - 256), m.index);
    const key = m[1] === ","
      ? ARGUMENT_BEFORE.exec(before)?.[2]
      : (KEY_BEFORE.exec(before) ?? SUBSCRIPT_BEFORE.exec(before))?.[2];
    // `key="DbPassword"`, `"name": "X"`: a record's name, not a secret (RED-24/25)
    if (key !== undefined && !NAME_FIELDS.has(key.toLowerCase())) {
      r.keyed(key, ls + qp + 1, ls + close);
    }
    OP_QUOTE.lastIndex = close + 1;
  }
}

/**
 * `key=value` (unquoted) anywhere in a line: `--password=x`, `?api_key=x&`,
 * `Password=x;` in connection strings. All keys of one value run share its
 * end, and only the first secret key of a run is proposed (the later ones
 * are inside its value), so `a=b=c=...` stays linear (RED-36).
 */
function bareValues(r: Redactor, ls: number, line: string): void {
  let runEnd = -1;
  let covered = -1;
  for (let p = line.indexOf("="); p >= 0; p = line.indexOf("=", p + 1)) {
    if (p + 1 > runEnd) {
      runEnd = p + 1;
      while (runEnd < line.length && !BARE_STOP.test(line[runEnd]!)) runEnd++;
    }
    if (runEnd === p + 1 || p < covered) continue;
    let ks = p;
    while (ks > 0 && p - ks < 256 && KEY_PART.test(line[ks - 1]!)) ks--;
    while (ks < p && !(KEY_START.test(line[ks]!) && !/[\p{L}\p{N}_]/u.test(line[ks - 1] ?? ""))) {
      ks++;
    }
    if (ks === p) continue;
    if (r.keyed(line.slice(ks, p), ls + p + 1, ls + runEnd)) covered = runEnd;
  }
}

/** `name(` or `name=(` where the last part of the name may name a secret. */
const CALL = /(?<![\p{L}\p{N}_$.])([\p{L}_$][\p{L}\p{N}_$.]*)[ \t]*=?[ \t]*\(/gu;

/**
 * String arguments of a call whose name names a secret (`db.auth("ops",
 * "pw")`, `auth=("user", "pw")`, `HTTPBasicAuth("u", "pw")`,
 * `setPassword("pw")`): every string after the first, or the only one.
 * At most 512 characters of arguments are read (RED-36).
 */
function callArguments(r: Redactor, ls: number, line: string): void {
  const memo = new QuoteMemo();
  for (const m of line.matchAll(CALL)) {
    const name = m[1]!.slice(m[1]!.lastIndexOf(".") + 1);
    if (name === "" || !r.isSecretKey(name)) continue;
    const strings: [number, number][] = [];
    let depth = 1;
    const stop = Math.min(line.length, m.index! + m[0].length + 512);
    for (let k = m.index! + m[0].length; k < stop && depth > 0; k++) {
      const c = line[k];
      if (c === '"' || c === "'") {
        const e = memo.close(line, k);
        if (e < 0) break;
        strings.push([k + 1, e]);
        k = e;
      } else if (c === "(") depth++;
      else if (c === ")") depth--;
    }
    for (const [s, e] of strings.length > 1 ? strings.slice(1) : strings) {
      r.keyed(name, ls + s, ls + e);
    }
  }
}
