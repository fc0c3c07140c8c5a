/**
 * Hostname normalisation (SECURITY.md HOST-5, AC-106).
 *
 * Every comparison of a hostname against a blocklist, an allowlist or the
 * network policy uses {@link normalizeHostname}, so `DB.Internal.`,
 * `db.internal` and their IDNA / numeric spellings cannot escape a rule written
 * for one of them.
 *
 * @module
 */

import type ipaddr from "ipaddr.js";
import { ip } from "../config/ip_slot.ts";

const MAX_NAME = 253;
const MAX_LABEL = 63;
const LABEL_RE = /^[a-z0-9_-]+$/;
/** Characters that never appear in a host name (URL delimiters, whitespace, controls, `%`). */
// deno-lint-ignore no-control-regex
const FORBIDDEN_RE = /[\u0000-\u0020\u007f/\\@?#%:[\]<>^|"'`{}]/;

/**
 * Normalises an IP address to its canonical text: IPv4 dotted quad, IPv6 in
 * RFC 5952 form without brackets; an IPv4-mapped IPv6 address becomes the
 * IPv4 address it maps. Returns null when `addr` is not an address.
 */
function canonicalIp(addr: string): string | null {
  const lib = ip();
  let a: ipaddr.IPv4 | ipaddr.IPv6;
  if (lib.IPv4.isValidFourPartDecimal(addr)) a = lib.IPv4.parse(addr);
  else if (lib.IPv6.isValid(addr)) a = lib.IPv6.parse(addr);
  else return null;
  if (a.kind() === "ipv6") {
    const v6 = a as ipaddr.IPv6;
    if (v6.isIPv4MappedAddress()) return v6.toIPv4Address().toString();
    // toRFC5952String keeps a zone id (`fe80::1%eth0`) verbatim
    const text = v6.toRFC5952String();
    const pct = text.indexOf("%");
    return pct < 0 ? text.toLowerCase() : text.slice(0, pct).toLowerCase() + text.slice(pct);
  }
  return a.toString();
}

/**
 * Normalises a host name for every blocklist / allowlist / network-policy
 * comparison (SECURITY.md HOST-5):
 *
 * - lower-case; one trailing dot removed;
 * - internationalised names converted to ASCII (punycode, UTS #46 mapping as
 *   done by the WHATWG URL parser, so full-width letters and ignorable
 *   characters fold too);
 * - IP literals canonicalised: brackets removed from IPv6, IPv6 in RFC 5952
 *   form, IPv4-mapped IPv6 (`::ffff:a.b.c.d`) turned into the IPv4 address,
 *   and the numeric IPv4 spellings the system resolver accepts (`2130706433`,
 *   `0x7f.1`, `127.1`) turned into the dotted quad they denote;
 * - labels restricted to `[a-z0-9_-]`, 1..63 characters, 253 in total.
 *
 * Returns null for anything that is not a valid host name or IP literal.
 */
export function normalizeHostname(h: string): string | null {
  if (typeof h !== "string" || h.length === 0 || h.length > 1024) return null;
  // IPv6 literal, bracketed or not (a zone id is kept verbatim).
  if (h.startsWith("[") || h.includes(":")) {
    const inner = h.startsWith("[") && h.endsWith("]") ? h.slice(1, -1) : h;
    if (inner.startsWith("[") || inner.includes("]") || !inner.includes(":")) return null;
    if (!ip().IPv6.isValid(inner)) return null;
    return canonicalIp(inner);
  }
  const stripped = h.endsWith(".");
  let name = stripped ? h.slice(0, -1) : h;
  if (name.length === 0 || FORBIDDEN_RE.test(name)) return null;
  try {
    name = new URL(`http://${name}/`).hostname;
  } catch {
    return null;
  }
  if (name.startsWith("[")) return null;
  // IDNA mapping may turn a full stop (U+3002 ...) into a trailing dot
  if (name.endsWith(".") && !stripped) name = name.slice(0, -1);
  if (name.length === 0 || name.length > MAX_NAME) return null;
  const canonical = canonicalIp(name);
  if (canonical !== null) return canonical;
  for (const label of name.split(".")) {
    if (label.length === 0 || label.length > MAX_LABEL || !LABEL_RE.test(label)) return null;
  }
  return name;
}

/**
 * True when `h` denotes an IP address (IPv4 in any spelling the system
 * resolver accepts, IPv6 with or without brackets), i.e. when connecting to it
 * needs no DNS lookup.
 */
export function isIpLiteral(h: string): boolean {
  const n = normalizeHostname(h);
  return n !== null && isCanonicalIp(n);
}

/** True when `n` (already normalised) is an IPv4 dotted quad or an IPv6 address. */
export function isCanonicalIp(n: string): boolean {
  return ip().IPv4.isValidFourPartDecimal(n) || ip().IPv6.isValid(n);
}

/**
 * Canonical text of an IP address (see {@link normalizeHostname}); null when
 * `addr` is not a strict IPv4 dotted quad or IPv6 address.
 */
export function canonicalIpAddress(addr: string): string | null {
  const inner = addr.startsWith("[") && addr.endsWith("]") ? addr.slice(1, -1) : addr;
  return canonicalIp(inner);
}
