/**
 * The redactor's key tables (SECURITY.md §RED): the built-in secret key
 * tokens (RED-10), key matching (RED-11, with the separator and camel-case
 * spellings of RED-18), the directive names whose value is a secret by the
 * format's own definition (RED-19), key strength (RED-20) and the shared
 * regular expressions.
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

/**
 * RED-19: directive names that hold a password by the definition of their
 * format, matched whatever the configured key list says (`requirepass`,
 * `masterauth`, `bindpw`, `rootpw`, `psk`, `pass`, `dbpass`, ...).
 */
export const FORMAT_SECRET_KEYS: readonly string[] = ["PASS$", "PW$", "^PSK$", "MASTERAUTH"];

/**
 * RED-20: built-in tokens that also name harmless settings (`key_buffer_size`,
 * `session.gc_maxlifetime`, `MaxAuthTries`, `cookie_samesite`). A key matched
 * only by these is a weak match: numbers, durations and sizes under it are
 * not secrets.
 */
export const WEAK_KEYS: readonly string[] = ["KEY", "SESSION", "COOKIE", "AUTH", "SIGNATURE"];

// deno-lint-ignore no-control-regex
const NON_ASCII = /[^\u0000-\u007f]/;

function matchesOne(k: string, raw: string): boolean {
  const t = raw.toUpperCase();
  const pre = t.startsWith("^");
  const suf = t.endsWith("$") && t.length > (pre ? 1 : 0);
  const core = t.slice(pre ? 1 : 0, suf ? -1 : undefined);
  if (core === "") return false;
  return pre && suf
    ? k === core
    : pre
    ? k.startsWith(core)
    : suf
    ? k.endsWith(core)
    : k.includes(core);
}

/**
 * The spellings a key is matched in (RED-18): as written, with `.`, `-`,
 * `:`, `/`, `$`, `@` and spaces as `_` (`db.pass`, `$env:API_TOKEN`), and with
 * camel-case words split (`smtpPass` -> `SMTP_PASS`, `APIToken` -> `API_TOKEN`).
 */
export function keySpellings(key: string): string[] {
  const up = key.toUpperCase();
  const sep = key.replace(/[.\-:\/\s$@\[\]'"]+/g, "_").replace(/^_+|_+$/g, "").toUpperCase();
  const camel = key
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .replace(/([A-Z])([A-Z][a-z])/g, "$1_$2")
    .replace(/[.\-:\/\s$@\[\]'"]+/g, "_")
    .replace(/^_+|_+$/g, "")
    .toUpperCase();
  return up === sep && sep === camel ? [up] : [...new Set([up, sep, camel])];
}

/** RED-11 key matching (RED-18 spellings; a key with non-ASCII characters always matches). */
export function keyMatches(key: string, tokens: readonly string[]): boolean {
  if (NON_ASCII.test(key)) return true;
  for (const k of keySpellings(key)) {
    for (const t of tokens) if (matchesOne(k, t)) return true;
  }
  return false;
}

/** How strongly a key names a secret (RED-20). */
export type KeyStrength = "none" | "weak" | "strong";

/**
 * RED-20: the last word of a key that makes it a setting about a secret, not
 * the secret (`DB_PASSWORD_FILE`, `secretKeyRef`, `AUTH_TYPE`,
 * `TOKEN_TTL`, `passwordPolicy`, `MaxAuthTries`, `key_buffer_size`).
 */
export const SETTING_WORDS: ReadonlySet<string> = new Set(
  ("REF REFS REFERENCE NAME NAMES FILE FILES PATH DIR TYPE MODE POLICY PLUGIN PROVIDER HANDLER " +
    "ISSUER ALGORITHM ALG METHOD METHODS TTL TIMEOUT LIFESPAN LIFETIME EXPIRY EXPIRES EXPIRATION " +
    "LENGTH LEN SIZE ENABLED DISABLED REQUIRED FORMAT ENCRYPTION HEADER FIELD SCOPE SCOPES " +
    "AUDIENCE CACHE SAMESITE SECURE HTTPONLY ROTATION INTERVAL RETRIES TRIES ATTEMPTS COUNT LIMIT " +
    "MAX MIN STRENGTH COMPLEXITY STORE").split(" "),
);
/** Short tokens that are no secret name when they only occur inside a longer word (`jsonwebtoken`, `swappiness`). */
const SUBWORD_WEAK = new Set(["TOKEN", "PIN", "PWD", "SALT", "JWT", "DSN", "OAUTH", "BEARER"]);
const BUILTIN = new Set(BUILTIN_REDACT_KEYS);

/** The words of a key: `smtpPass` -> SMTP, PASS; `db.password-file` -> DB, PASSWORD, FILE. */
export function keyWords(key: string): string[] {
  return key
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .replace(/([A-Z])([A-Z][a-z])/g, "$1_$2")
    .toUpperCase()
    .split(/[^A-Z0-9]+/)
    .filter((w) => w !== "");
}

/** True when token `raw` matches whole words of `words` (anchors respected). */
function wordMatch(words: readonly string[], raw: string): boolean {
  const t = raw.toUpperCase();
  const pre = t.startsWith("^");
  const suf = t.endsWith("$");
  const core = t.slice(pre ? 1 : 0, suf ? -1 : undefined).split("_").filter((w) => w !== "");
  if (core.length === 0) return false;
  for (let i = 0; i + core.length <= words.length; i++) {
    if (pre && i !== 0) break;
    if (suf && i + core.length !== words.length) continue;
    if (core.every((w, k) => words[i + k] === w)) return true;
  }
  return false;
}

/** Classifies keys against one configured token list (cached). */
export class KeyClassifier {
  readonly #custom: string[];
  readonly #builtin: string[];
  readonly #cache = new Map<string, KeyStrength>();
  /** `tokens`: the host's resolved key list (upper-case tokens). */
  constructor(tokens: readonly string[]) {
    this.#custom = tokens.filter((t) => !BUILTIN.has(t.toUpperCase()));
    this.#builtin = tokens.filter((t) => BUILTIN.has(t.toUpperCase()));
  }
  /** The strength of `key` (RED-11, RED-18..RED-20). */
  strength(key: string): KeyStrength {
    let s = this.#cache.get(key);
    if (s === undefined) {
      s = this.#classify(key);
      if (this.#cache.size < 10_000) this.#cache.set(key, s);
    }
    return s;
  }
  #classify(key: string): KeyStrength {
    if (NON_ASCII.test(key)) return "strong";
    if (keyMatches(key, FORMAT_SECRET_KEYS) || keyMatches(key, this.#custom)) return "strong";
    const words = keyWords(key);
    if (words.length > 1 && SETTING_WORDS.has(words.at(-1)!)) return "none";
    let best: KeyStrength = "none";
    for (const t of this.#builtin) {
      if (!keyMatches(key, [t])) continue;
      const up = t.toUpperCase();
      if (WEAK_KEYS.includes(up) || (SUBWORD_WEAK.has(up) && !wordMatch(words, up))) best = "weak";
      else return "strong";
    }
    return best;
  }
  /** True when `key` names a secret at all. */
  matches(key: string): boolean {
    return this.strength(key) !== "none";
  }
}

/** A key as the line parsers see it (letters, digits, `_ . - $ @ :` inside). */
export const KEY_CHARS = String.raw`[\p{L}_$@\u0080-\uffff][\p{L}\p{N}_.\-$@\u0080-\uffff]*`;
/** A YAML block scalar header (`|`, `>-`, `|2 # note`). */
export const BLOCK_SCALAR = /^[|>][-+0-9]*\s*(#.*)?$/;
/** A comment line (`#`, `;` or `//`). */
export const COMMENT_LINE = /^\s*(#|;|\/\/)/;
/** A comment line for entropy detection (`#` or `//`, RED-13). */
export const ENTROPY_COMMENT_LINE = /^\s*(#|\/\/)/;
