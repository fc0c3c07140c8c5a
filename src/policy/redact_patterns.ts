/**
 * The redactor's tables (SECURITY.md §RED): the built-in secret key tokens
 * (RED-10), key matching (RED-11) and the regular expressions every layer
 * scans with (PEM markers, env/ini and `key: value` lines, URL userinfo,
 * `Authorization:` headers, `Bearer` tokens, assignments inside other syntax,
 * XML elements, `mysql -p`, base64 and hex runs).
 *
 * @module
 */

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

/** Comment prefixes of commented-out assignments (`# KEY=old`, `; key = x`, `// KEY=x`). */
const COMMENT = String.raw`(?:#+|;+|//)[ \t]*`;
const KEY_ENV = String.raw`[\p{L}_][\p{L}\p{N}_.\-]*`;

/** env/ini assignment (RED-13 widened: `export`, comments, dotted keys). */
export const ENV_LINE = new RegExp(
  String.raw`^(\s*(?:${COMMENT})?(?:export\s+)?)(${KEY_ENV})(\s*=\s*)(.+?)(\s*)$`,
  "u",
);
/** `key: value` (YAML-style; also used for env files' header lines). */
export const COLON_LINE = new RegExp(
  String.raw`^(\s*(?:#+[ \t]*)?(?:-\s+)?(["']?))(${KEY_ENV})\2(\s*:(?:\s+|$))(.*?)(\s*)$`,
  "u",
);
/** A YAML block scalar header (`|`, `>-`, `|2 # note`). */
export const BLOCK_SCALAR = /^[|>][-+0-9]*\s*(#.*)?$/;
/** A comment line (`#` or `//`), skipped by entropy detection. */
export const COMMENT_LINE = /^\s*(#|\/\/)/;
/** `scheme://user:pass@` (groups: scheme, user, password). */
export const URL_USERINFO =
  /\b([A-Za-z][A-Za-z0-9+.\-]*:\/\/)([^\s:\/@?#'"<>]*):([^\s@\/?#'"<>]+)@/g;
/** `Authorization:` / `Proxy-Authorization=` credentials (groups: header, credential). */
export const AUTH_HEADER =
  /(?<![\p{L}\p{N}_-])((?:proxy-)?authorization)[ \t]*[:=][ \t]*["']?(?:(?:bearer|basic|token|digest|negotiate|ntlm|apikey)[ \t]+)?([^\s"',;]+)/giu;
/** `Bearer <token>` (groups: word, token). */
export const BEARER = /\b(bearer)[ \t]+([A-Za-z0-9\-._~+\/]{8,}=*)/gi;
/** `key <op> "value"` anywhere in a line (op: `=`, `:`, `=>`, `:=`). */
export const QUOTED_ASSIGN =
  /(?<![\p{L}\p{N}_])(["']?)([\p{L}_][\p{L}\p{N}_.\-]*)\1[ \t]*(?:=>|:=|=|:)[ \t]*(["'])((?:\\.|(?!\3).)*)\3/gu;
/** `key=value` (unquoted) anywhere in a line. */
export const BARE_ASSIGN = /(?<![\p{L}\p{N}_])([\p{L}_][\p{L}\p{N}_.\-]*)=(?=([^\s"'&;,<>|`)]+))/gu;
/** `<secretKey>value</secretKey>` on one line. */
export const XML_ELEMENT = /<([\p{L}_][\p{L}\p{N}_.\-]*)(?:\s[^<>]*)?>([^<>\n]+)<\/\1>/gu;
/** `mysql -pSECRET` style command lines. */
export const MYSQL_P =
  /\b(mysql|mysqldump|mysqladmin|mysqlimport|mysqlcheck)\b[^\n|;&]*?\s-p([^\s'"]+)/g;
/** A base64-like run of 20+ characters. */
export const BASE64_RUN = /(?<![\w<])[A-Za-z0-9+\/]{20,}={0,2}(?!\w)/g;
/** A hex run of 32+ digits. */
export const HEX_RUN = /(?<![\w<])[a-fA-F0-9]{32,}(?!\w)/g;
/** A PEM header line marker. */
export const PEM_BEGIN = /-----BEGIN [A-Z0-9 ]+-----/;
/** A PEM footer line marker. */
export const PEM_END = /-----END [A-Z0-9 ]+-----/;
