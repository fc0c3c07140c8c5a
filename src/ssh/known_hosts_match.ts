/**
 * Host names in known_hosts (see `known_hosts.ts` for the rules): the name
 * OpenSSH looks up (`host`, `[host]:port` or a HostKeyAlias), `match_hostname`
 * pattern lists (`*`/`?` wildcards, `!` negation, ASCII case-insensitive) and
 * hashed host fields `|1|salt|HMAC-SHA1(salt, name)`.
 *
 * @module
 */

import { fromLatin1, latin1 } from "../util/bytes.ts";
import { hmacSha1 } from "../util/digest.ts";
import { decodeOpenSshBase64 } from "./key_blob.ts";

/** Options of the lookup methods of `KnownHosts`. */
export interface KnownHostsLookupOptions {
  /**
   * `host` is an ssh_config `HostKeyAlias`: OpenSSH 9.2 looks the alias up
   * as-is, without `[alias]:port` and without the port-less fallback, whatever
   * the port (measured). Default false.
   */
  hostKeyAlias?: boolean;
}

const encoder = new TextEncoder();

/** ASCII-only lowercase, like OpenSSH's `lowercase()` in the C locale. */
export function asciiLower(s: string): string {
  return s.replace(/[A-Z]+/g, (m) => m.toLowerCase());
}

/**
 * The UTF-8 bytes of `s` as a byte string (one char per byte). The file is
 * read the same way (latin1), so names compare byte for byte like in C.
 */
export function byteString(s: string): string {
  return latin1(encoder.encode(s));
}

/** `match_pattern`: `*` and `?` wildcards, byte for byte. */
function globMatch(s: string, pat: string): boolean {
  let si = 0;
  let pi = 0;
  let starP = -1;
  let starS = 0;
  while (si < s.length) {
    const pc = pat[pi];
    if (pi < pat.length && (pc === "?" || (pc !== "*" && pc === s[si]))) {
      si++;
      pi++;
    } else if (pi < pat.length && pc === "*") {
      starP = pi++;
      starS = si;
    } else if (starP >= 0) {
      pi = starP + 1;
      si = ++starS;
    } else {
      return false;
    }
  }
  while (pi < pat.length && pat[pi] === "*") pi++;
  return pi === pat.length;
}

/**
 * OpenSSH `match_hostname`: matches `name` (lowercased) against a comma list
 * of patterns (lowercased), each optionally negated with `!`. Returns -1 when
 * a negated pattern matches, 1 on a positive match, 0 otherwise. A
 * subpattern of 1023 bytes or more ends the scan with 0, like OpenSSH.
 */
export function matchHostPatterns(name: string, patterns: string): -1 | 0 | 1 {
  const host = asciiLower(name);
  let got = false;
  let i = 0;
  const len = patterns.length;
  while (i < len) {
    let negated = false;
    if (patterns[i] === "!") {
      negated = true;
      i++;
    }
    let j = i;
    while (j < len && patterns[j] !== ",") j++;
    const sub = asciiLower(patterns.slice(i, j));
    if (sub.length >= 1023) return 0;
    i = j < len ? j + 1 : j;
    if (globMatch(host, sub)) {
      if (negated) return -1;
      got = true;
    }
  }
  return got ? 1 : 0;
}

/**
 * A hashed known_hosts host field (`|1|<b64 salt>|<b64 HMAC-SHA1(salt, name)>`)
 * for `name` (lowercased first, as OpenSSH and `ssh-keygen -H` do). A random
 * 20-byte salt is used unless one is given.
 */
export function hashHostName(name: string, salt?: Uint8Array): string {
  return hashByteName(asciiLower(byteString(name)), salt);
}

/** Hashed field for a name given as a byte string (one char per byte). */
function hashByteName(name: string, salt?: Uint8Array): string {
  const s = salt ?? crypto.getRandomValues(new Uint8Array(20));
  const h = hmacSha1(s, fromLatin1(name)).toBase64();
  return `|1|${s.toBase64()}|${h}`;
}

/** Salt of a hashed host field as OpenSSH's `extract_salt`, or null when the field is invalid. */
export function extractSalt(field: string): Uint8Array | null {
  if (!field.startsWith("|1|")) return null;
  const rest = field.slice(3);
  const end = rest.indexOf("|");
  if (end <= 0 || end > 1024) return null;
  const salt = decodeOpenSshBase64(rest.slice(0, end));
  if (salt === null || salt.length !== 20) return null;
  return salt;
}

/**
 * Whether a line's host field matches `name` (a lowercased byte string):
 * `hosts` is a pattern list, or a hashed field when `hashSalt` (its salt) is
 * not null.
 */
export function hostFieldMatches(
  hosts: string,
  hashSalt: Uint8Array | null,
  name: string,
): boolean {
  if (hashSalt !== null) return hashByteName(name, hashSalt) === hosts;
  return matchHostPatterns(name, hosts) === 1;
}

/** The name OpenSSH looks up: `host` for port 22, `[host]:port` otherwise, or the alias as-is. */
export function lookupKeyFor(
  host: string,
  port: number,
  opts: KnownHostsLookupOptions = {},
): string {
  const h = asciiLower(host);
  if (opts.hostKeyAlias || port === 22) return h;
  return `[${h}]:${port}`;
}
