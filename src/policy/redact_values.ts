/**
 * Which values are not secrets although their key names one (RED-21), and
 * which character runs look random (RED-28). Both keep over-redaction low
 * without opening a leak: a value is only let through when it cannot carry a
 * secret (a boolean, a reference to a variable without a default, a file
 * path that reads as words) or, under a weak key only (RED-20), a number,
 * duration or size, or a single plain word in a whitespace directive.
 *
 * @module
 */

import type { KeyStrength } from "./redact_patterns.ts";

/** Where a value was found: an `=`/`:` assignment, or a whitespace directive / command option. */
export type ValueContext = "assign" | "directive";

const BOOLEAN = /^(?:true|false|yes|no|on|off|none|null|nil|~|enabled|disabled|undefined)$/i;
/** `${NAME}`, `${?NAME}` (HOCON optional), `$NAME`, `${{ secrets.X }}`, `{{ x }}`, `%(x)s`, `%NAME%`. */
const REFERENCE =
  /^(?:\$\{\??[A-Za-z_][\w.]*\}|\$[A-Za-z_]\w*|\$\{\{\s*[\w.\-]+\s*\}\}|\{\{\s*[\w.\-]+\s*\}\}|%\([\w.]+\)s|%[A-Za-z_]\w*%)$/;
/** An absolute, home, relative or Windows path with at least two parts. */
const PATH =
  /^(?:(?:~|\.{1,2}|\$\{?\w+\}?)?\/(?:[\w.@+\-]+\/)+[\w.@+\-*]*|\.{0,2}[\w.\-]+\/(?:[\w.@+\-]+\/)*[\w.@+\-*]+|[A-Za-z]:\\(?:[\w.@+\- ]+\\)*[\w.@+\- ]*)$/;
const NUMBERISH = /^-?\d{1,6}(?:\.\d+)?\s*(?:ms|s|sec|m|min|h|d|w|[kKMGT]i?[bB]?|%)?$/;
/** A URL without userinfo (its query and path are checked for randomness). */
const URL_PLAIN = /^[a-z][a-z0-9+.\-]*:\/\/[\w.\-]+(?::\d+)?(?:\/[^\s@]*)?$/i;
const PLAIN_WORD = /^[A-Za-z][a-z]+(?:[-_][a-z]+)*$/;
const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/** Strips one pair of matching quotes. */
export function stripQuotes(v: string): string {
  const t = v.trim();
  if (t.length >= 2 && (t[0] === '"' || t[0] === "'" || t[0] === "`") && t.at(-1) === t[0]) {
    return t.slice(1, -1);
  }
  return t;
}

/** RED-21: true when `raw` (the value of a secret-named key) cannot be a secret. */
export function isHarmless(
  raw: string,
  strength: KeyStrength,
  ctx: ValueContext,
  key = "",
): boolean {
  if (raw.length > 4096) return false; // no boolean, path or URL is that long
  const v = stripQuotes(raw).replace(/;$/, "").trim();
  if (v === "" || BOOLEAN.test(v) || REFERENCE.test(v)) return true;
  if (PATH.test(v) && !looksRandom(v, 8)) return true;
  // a plain URL is an address, unless the key says the URL itself is the secret (webhooks, DSNs)
  if (URL_PLAIN.test(v) && !/hook|dsn/i.test(key) && !/[?&#=]/.test(v) && !looksRandom(v, 8)) {
    return true;
  }
  if (strength === "weak") {
    if (NUMBERISH.test(v)) return true;
    if (ctx === "directive" && PLAIN_WORD.test(v) && v.length <= 24) return true;
  }
  if (ctx === "directive" && /\s/.test(v)) {
    // several values of one directive (`AuthorizedKeysFile a b`): harmless when each one is
    const parts = v.split(/\s+/);
    return parts.length > 1 && parts.every((p) => isHarmless(p, strength, ctx, key));
  }
  return false;
}

/**
 * RED-28: a run of base64/base64url characters (`_`, `-` included) that
 * reads as random rather than as words: many changes between upper case,
 * lower case and digits, and short pieces between them. Paths, identifiers
 * (`THIS_IS_A_CONSTANT`, `getRequestHandler`, `x86_64-linux-gnu`) and UUIDs
 * are not random; base64 of random bytes, API keys and hex digests are.
 * `min` is the shortest run considered (separators and padding excluded).
 */
export function looksRandom(run: string, min = 20): boolean {
  const core = run.replace(/=+$/, "");
  if (UUID.test(core)) return false;
  if (randomChars(core, min)) return true;
  // judge path segments on their own too: `/var/lib/postgresql/data` is words,
  // `/keys/Xk2Lm9Np7Qr5St3Uv1WxYz` holds a random segment
  return core.includes("/") && core.split("/").some((s) => s !== core && randomChars(s, min));
}

function randomChars(core: string, min: number): boolean {
  let chars = 0;
  let changes = 0;
  let prev = 0;
  let pieces = 0;
  let upper = 0;
  let lower = 0;
  let digit = 0;
  for (let i = 0; i < core.length; i++) {
    const c = core.charCodeAt(i);
    const cls = c >= 48 && c <= 57 ? 1 : c >= 65 && c <= 90 ? 2 : c >= 97 && c <= 122 ? 3 : 0;
    if (cls === 0) {
      prev = 0;
      continue;
    }
    chars++;
    if (cls === 1) digit++;
    else if (cls === 2) upper++;
    else lower++;
    if (prev === 0) pieces++;
    else if (prev !== cls && !(prev === 2 && cls === 3)) {
      // Upper followed by lower continues a capitalised word
      changes++;
      pieces++;
    }
    prev = cls;
  }
  if (core.length < min || chars < min / 2) return false;
  const kinds = (upper > 0 ? 1 : 0) + (lower > 0 ? 1 : 0) + (digit > 0 ? 1 : 0);
  if (kinds < 2) return false;
  const avgPiece = chars / pieces;
  return changes / chars >= 0.2 && avgPiece < 4;
}
