/**
 * Redaction layer 3 (SECURITY.md §RED): secrets inside a line whatever the
 * file format: URL userinfo passwords, `Authorization:` header credentials,
 * `Bearer <token>`, secret keys inside other syntax (`$db_password = 'x';`,
 * `'token' => "x"`, `--password=x`, `?api_key=x&`, XML elements) and
 * `mysql -pSECRET` command lines.
 *
 * @module
 */

import type { Redactor } from "./redact_engine.ts";
import {
  AUTH_HEADER,
  BARE_ASSIGN,
  BEARER,
  COLON_LINE,
  ENV_LINE,
  keyMatches,
  MYSQL_P,
  QUOTED_ASSIGN,
  URL_USERINFO,
  XML_ELEMENT,
} from "./redact_patterns.ts";

/** Layer 3: URL userinfo, Authorization headers, Bearer tokens, inline assignments. */
export function redactInlineSecrets(r: Redactor): void {
  const L = r.lines;
  for (let i = 0; i < L.count; i++) {
    const line = L.get(i);
    const [ls] = L.span(i);
    const keyOf = () => ENV_LINE.exec(line)?.[2] ?? COLON_LINE.exec(line)?.[3] ?? null;
    for (const m of line.matchAll(URL_USERINFO)) {
      const s = ls + m.index + m[1]!.length + m[2]!.length + 1;
      r.secret(s, s + m[3]!.length, "key_match", keyOf() ?? "url_userinfo");
    }
    for (const m of line.matchAll(AUTH_HEADER)) {
      const cred = m[2]!;
      const s = ls + m.index + m[0].length - cred.length;
      r.secret(s, s + cred.length, "key_match", m[1]!);
    }
    for (const m of line.matchAll(BEARER)) {
      const s = ls + m.index + m[0].length - m[2]!.length;
      r.secret(s, s + m[2]!.length, "key_match", m[1]!);
    }
    // secret keys inside other syntax: `$db_password = 'x';`, `'token' => "x"`,
    // `--password=x`, `?api_key=x&`, `Environment=DB_PASSWORD=x`, XML elements
    for (const m of line.matchAll(QUOTED_ASSIGN)) {
      if (!keyMatches(m[2]!, r.opts.keys)) continue;
      const s = ls + m.index + m[0].length - m[4]!.length - 1;
      r.secret(s, s + m[4]!.length, "key_match", m[2]!);
    }
    for (const m of line.matchAll(BARE_ASSIGN)) {
      // the value is a lookahead, so `a=B_TOKEN=x` also finds `B_TOKEN=x`
      if (!keyMatches(m[1]!, r.opts.keys)) continue;
      const s = ls + m.index + m[0].length;
      r.secret(s, s + m[2]!.length, "key_match", m[1]!);
    }
    for (const m of line.matchAll(XML_ELEMENT)) {
      if (!keyMatches(m[1]!, r.opts.keys)) continue;
      const s = ls + m.index + m[0].length - m[2]!.length - m[1]!.length - 3;
      r.secret(s, s + m[2]!.length, "key_match", m[1]!);
    }
    for (const m of line.matchAll(MYSQL_P)) {
      const s = ls + m.index + m[0].length - m[2]!.length;
      r.secret(s, s + m[2]!.length, "key_match", `${m[1]} -p`);
    }
  }
}
