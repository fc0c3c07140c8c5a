/**
 * Strict known_hosts matcher (SECURITY.md §KH, CONFIG.md §8).
 *
 * Hand-written because no npm package parses known_hosts. The accept/reject
 * verdict mirrors OpenSSH 9.2's client (`hostfile.c`, `sshconnect.c`), and
 * every rule below was checked against the real `ssh` binary
 * (tests/ssh/known_hosts_test.ts runs both side by side):
 *
 * - Line syntax as `hostkeys_foreach`: leading spaces/tabs, `#` comments and
 *   blank lines skipped; optional marker `@revoked` / `@cert-authority`
 *   (OpenSSH cuts the marker at the first SPACE of the line, a tab only when
 *   the line has no space at all, so `@revoked<TAB>host key` is invalid);
 *   host field; key type; base64 key blob (BIND `b64_pton` rules: padding
 *   required, zero slop bits, `\r` and other non-blank whitespace ignored);
 *   comment. Invalid lines are skipped (DEBUG log).
 * - The key type must be the blob's type (`rsa-sha2-256` / `rsa-sha2-512`
 *   are accepted for `ssh-rsa` blobs; short names like `ED25519` are not).
 *   The blob must parse completely: Ed25519 keys 32 bytes, RSA moduli at
 *   least 1024 bits, ECDSA points uncompressed, on the curve and passing
 *   OpenSSH's `sshkey_ec_validate_public`; trailing bytes make a line invalid.
 * - Host patterns: comma list, `*`/`?` wildcards, `!` negation (a negated
 *   match makes the line not match), case-insensitive (ASCII) like
 *   `match_hostname`; hashed fields `|1|salt|HMAC-SHA1(salt, name)` are
 *   compared over the lowercased name (OpenSSH lowercases host names and
 *   HostKeyAlias values).
 * - Lookup name: `host` for port 22, `[host]:port` otherwise; a HostKeyAlias
 *   is used as-is (never with a port, never with the port-less fallback).
 * - Verdict: a presented key equal to an `@revoked` key for the name is
 *   refused even when another line trusts it. Plain (unmarked) lines for the
 *   name decide: equal key → trusted, otherwise → mismatch, whatever the key
 *   type (OpenSSH: "REMOTE HOST IDENTIFICATION HAS CHANGED"). When there is no
 *   plain line for `[host]:port` (port ≠ 22, no alias), the port-less `host`
 *   lines are consulted: an equal key is trusted, anything else is unknown
 *   ("No … host key is known for [host]:port").
 * - `@cert-authority` lines never make a key trusted: ssh2 cannot negotiate
 *   host certificates. They are ignored with a WARNING at load; when they are
 *   all there is for a host, the verdict is unknown with `certAuthorityOnly`.
 *
 * Nothing in this module writes to the file.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { createHash, createHmac } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { type Logger, nullLogger } from "../log.ts";
import { ToolError } from "../errors.ts";

/** One key line of the known_hosts file. */
export interface PinnedKey {
  /** key type of the blob, e.g. "ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256" */
  keyType: string;
  /** raw wire blob (base64-decoded key field) */
  blob: Uint8Array;
  /** "SHA256:" + unpadded base64 of sha256(blob) */
  fingerprint: string;
  /** 1-based line number in the file */
  line: number;
  /** marker of the line */
  marker: null | "revoked" | "cert-authority";
}

/** Result of {@link KnownHosts.verify}. */
export type HostKeyVerdict =
  | { status: "trusted"; fingerprint: string; lookupKey: string }
  | {
    status: "unknown";
    actualFingerprint: string;
    lookupKey: string;
    certAuthorityOnly: boolean;
  }
  | {
    status: "mismatch";
    expectedFingerprint: string;
    actualFingerprint: string;
    lookupKey: string;
  }
  | { status: "revoked"; actualFingerprint: string; lookupKey: string };

/** Result of {@link KnownHosts.lookup}. */
export interface KnownHostsLookup {
  /** name the file was searched for: `host`, `[host]:port` or the alias */
  lookupKey: string;
  /** plain (unmarked) keys that decide the verdict, in file order */
  trusted: PinnedKey[];
  /** `@revoked` keys that apply (lookup name, plus the port-less name when it was consulted) */
  revoked: PinnedKey[];
  /** `@cert-authority` keys that matched (never honoured, see module doc) */
  certAuthority: PinnedKey[];
  /** true when `trusted` comes from port-less `host` lines (no plain line for `[host]:port`) */
  portlessFallback: boolean;
}

/** Options of the lookup methods of {@link KnownHosts}. */
export interface KnownHostsLookupOptions {
  /**
   * `host` is an ssh_config `HostKeyAlias`: OpenSSH 9.2 looks the alias up
   * as-is, without `[alias]:port` and without the port-less fallback, whatever
   * the port (measured). Default false.
   */
  hostKeyAlias?: boolean;
}

/** One parsed, valid line of a known_hosts file. */
export interface KnownHostsEntry {
  /** the host field as written (patterns or a `|1|salt|hash` field) */
  hosts: string;
  /** salt of a hashed host field; null for patterns */
  hashSalt: Uint8Array | null;
  key: PinnedKey;
}

/** Why a line was skipped by {@link parseKnownHosts}. */
export interface SkippedLine {
  line: number;
  reason: string;
}

/** Host-key algorithms ssh2 1.17 offers by default, in its preference order. */
export const SSH2_DEFAULT_HOST_KEY_ALGORITHMS: readonly string[] = [
  "ssh-ed25519",
  "ecdsa-sha2-nistp256",
  "ecdsa-sha2-nistp384",
  "ecdsa-sha2-nistp521",
  "rsa-sha2-512",
  "rsa-sha2-256",
  "ssh-rsa",
];

/** ssh2 host-key algorithms allowed per pinned key type. */
const ALGORITHMS_FOR_KEY_TYPE: Record<string, readonly string[]> = {
  "ssh-ed25519": ["ssh-ed25519"],
  "ecdsa-sha2-nistp256": ["ecdsa-sha2-nistp256"],
  "ecdsa-sha2-nistp384": ["ecdsa-sha2-nistp384"],
  "ecdsa-sha2-nistp521": ["ecdsa-sha2-nistp521"],
  "ssh-rsa": ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"],
  // ssh-dss is only offered when it is pinned (ssh2 supports it, OpenSSH 9.2 no longer offers it).
  "ssh-dss": ["ssh-dss"],
};
const ALL_ALGORITHMS_ORDER: readonly string[] = [...SSH2_DEFAULT_HOST_KEY_ALGORITHMS, "ssh-dss"];

// ---------------------------------------------------------------------------
// small helpers

/** "SHA256:" + unpadded base64 of sha256(blob), as `ssh-keygen -l` prints it. */
export function fingerprintSha256(blob: Uint8Array): string {
  const d = createHash("sha256").update(blob).digest("base64");
  return "SHA256:" + d.replace(/=+$/, "");
}

/**
 * The key type stored at the start of an SSH public key blob (the first
 * SSH `string`), e.g. "ssh-ed25519". Returns "" when the blob is too short to
 * hold one.
 */
export function keyTypeOfBlob(blob: Uint8Array): string {
  const r = new WireReader(blob);
  const t = r.string();
  return t === null ? "" : latin1(t);
}

function latin1(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("latin1");
}

function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");
}

/** ASCII-only lowercase, like OpenSSH's `lowercase()` in the C locale. */
function asciiLower(s: string): string {
  return s.replace(/[A-Z]+/g, (m) => m.toLowerCase());
}

function isCSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

const B64_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const B64_INDEX: Int16Array = (() => {
  const t = new Int16Array(256).fill(-1);
  for (let i = 0; i < B64_ALPHABET.length; i++) t[B64_ALPHABET.charCodeAt(i)] = i;
  return t;
})();

/**
 * Base64 decoding with the rules of BIND's `b64_pton`, which OpenSSH uses
 * for key blobs and salts: whitespace is skipped anywhere, padding is
 * required, nothing but whitespace may follow it and the unused low bits of
 * the last character must be zero. Returns null when the text is invalid.
 */
export function decodeBase64Strict(s: string): Uint8Array | null {
  const out: number[] = [];
  let state = 0;
  let acc = 0;
  let i = 0;
  let sawPad = false;
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (isCSpace(c)) continue;
    if (c === 0x3d) {
      sawPad = true;
      break;
    }
    const v = c < 256 ? B64_INDEX[c]! : -1;
    if (v < 0) return null;
    switch (state) {
      case 0:
        acc = v;
        state = 1;
        break;
      case 1:
        out.push(((acc << 2) | (v >> 4)) & 0xff);
        acc = v & 0x0f;
        state = 2;
        break;
      case 2:
        out.push(((acc << 4) | (v >> 2)) & 0xff);
        acc = v & 0x03;
        state = 3;
        break;
      default:
        out.push(((acc << 6) | v) & 0xff);
        state = 0;
        break;
    }
  }
  if (!sawPad) return state === 0 ? Uint8Array.from(out) : null;
  i++; // skip the first "="
  if (state === 0 || state === 1) return null;
  if (state === 2) {
    while (i < s.length && isCSpace(s.charCodeAt(i))) i++;
    if (i >= s.length || s.charCodeAt(i) !== 0x3d) return null;
    i++;
  }
  for (; i < s.length; i++) if (!isCSpace(s.charCodeAt(i))) return null;
  if (acc !== 0) return null;
  return Uint8Array.from(out);
}

/** Reads SSH wire types (RFC 4251 §5) from a blob. */
class WireReader {
  #b: Uint8Array;
  #off = 0;
  constructor(b: Uint8Array) {
    this.#b = b;
  }
  get done(): boolean {
    return this.#off === this.#b.length;
  }
  string(): Uint8Array | null {
    const b = this.#b;
    if (this.#off + 4 > b.length) return null;
    const n = ((b[this.#off]! << 24) >>> 0) + (b[this.#off + 1]! << 16) +
      (b[this.#off + 2]! << 8) + b[this.#off + 3]!;
    const start = this.#off + 4;
    if (n > b.length - start) return null;
    this.#off = start + n;
    return b.subarray(start, start + n);
  }
  /** mpint as OpenSSH's `sshbuf_get_bignum2`: non-negative, ≤ 16384 bits; returns minimal bytes. */
  mpint(): Uint8Array | null {
    const d = this.string();
    if (d === null) return null;
    if (d.length !== 0 && (d[0]! & 0x80) !== 0) return null;
    if (d.length > 2049 || (d.length === 2049 && d[0] !== 0)) return null;
    let i = 0;
    while (i < d.length && d[i] === 0) i++;
    return d.subarray(i);
  }
  /** SSH string without embedded NUL (OpenSSH `sshbuf_get_cstring`). */
  cstring(): Uint8Array | null {
    const d = this.string();
    if (d === null || d.includes(0)) return null;
    return d;
  }
}

function bitLength(x: bigint): number {
  return x === 0n ? 0 : x.toString(2).length;
}

function bytesToBigInt(b: Uint8Array): bigint {
  return b.length === 0 ? 0n : BigInt("0x" + hex(b));
}

interface Curve {
  name: string;
  fieldBytes: number;
  p: bigint;
  b: bigint;
  n: bigint;
}

const CURVES: Record<string, Curve> = {
  nistp256: {
    name: "nistp256",
    fieldBytes: 32,
    p: BigInt("0xffffffff00000001000000000000000000000000ffffffffffffffffffffffff"),
    b: BigInt("0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604b"),
    n: BigInt("0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551"),
  },
  nistp384: {
    name: "nistp384",
    fieldBytes: 48,
    p: BigInt(
      "0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffff",
    ),
    b: BigInt(
      "0xb3312fa7e23ee7e4988e056be3f82d19181d9c6efe8141120314088f5013875ac656398d8a2ed19d2a85c8edd3ec2aef",
    ),
    n: BigInt(
      "0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973",
    ),
  },
  nistp521: {
    name: "nistp521",
    fieldBytes: 66,
    p: (1n << 521n) - 1n,
    b: BigInt(
      "0x51953eb9618e1c9a1f929a21a0b68540eea2da725b99b315f3b8b489918ef109e156193951ec7e937b1652c0bd3bb1bf073573df883d2c34f1ef451fd46b503f00",
    ),
    n: BigInt(
      "0x1fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409",
    ),
  },
};

/**
 * An ECDSA public point as OpenSSH accepts it (`sshbuf_get_eckey` +
 * `sshkey_ec_validate_public`): uncompressed, coordinates below p, on the
 * curve, both coordinates longer than half the order's bit length and below
 * order - 1.
 */
function validEcPoint(curve: Curve, q: Uint8Array): boolean {
  if (q.length !== 1 + 2 * curve.fieldBytes || q[0] !== 0x04) return false;
  const x = bytesToBigInt(q.subarray(1, 1 + curve.fieldBytes));
  const y = bytesToBigInt(q.subarray(1 + curve.fieldBytes));
  const { p, b, n } = curve;
  if (x >= p || y >= p) return false;
  const lhs = (y * y) % p;
  const rhs = (((x * x) % p) * x - 3n * x + b) % p;
  if (lhs !== ((rhs % p) + p) % p) return false;
  const half = Math.floor(bitLength(n) / 2);
  if (bitLength(x) <= half || bitLength(y) <= half) return false;
  if (x >= n - 1n || y >= n - 1n) return false;
  return true;
}

/** Parsed key: its type and a canonical identity used for equality (like `sshkey_equal`). */
interface ParsedKey {
  keyType: string;
  canon: string;
}

const CERT_TYPES = new Set([
  "ssh-ed25519-cert-v01@openssh.com",
  "sk-ssh-ed25519-cert-v01@openssh.com",
  "ecdsa-sha2-nistp256-cert-v01@openssh.com",
  "ecdsa-sha2-nistp384-cert-v01@openssh.com",
  "ecdsa-sha2-nistp521-cert-v01@openssh.com",
  "sk-ecdsa-sha2-nistp256-cert-v01@openssh.com",
  "ssh-rsa-cert-v01@openssh.com",
  "ssh-dss-cert-v01@openssh.com",
]);

/** Key type names OpenSSH 9.2 accepts on a known_hosts line → the blob type they require. */
function blobTypeForDeclared(declared: string): string | null {
  switch (declared) {
    case "ssh-ed25519":
    case "sk-ssh-ed25519@openssh.com":
    case "ssh-rsa":
    case "ssh-dss":
    case "ecdsa-sha2-nistp256":
    case "ecdsa-sha2-nistp384":
    case "ecdsa-sha2-nistp521":
    case "sk-ecdsa-sha2-nistp256@openssh.com":
      return declared;
    case "rsa-sha2-256":
    case "rsa-sha2-512":
      return "ssh-rsa";
    case "rsa-sha2-256-cert-v01@openssh.com":
    case "rsa-sha2-512-cert-v01@openssh.com":
      return "ssh-rsa-cert-v01@openssh.com";
    default:
      return CERT_TYPES.has(declared) ? declared : null;
  }
}

/**
 * Parses a public key blob like OpenSSH's `sshkey_from_blob` (plain keys
 * fully; certificates only by their type, they can never equal a plain key).
 * Returns null when OpenSSH would refuse the blob.
 */
function parseKeyBlob(blob: Uint8Array): ParsedKey | null {
  const r = new WireReader(blob);
  const t = r.string();
  if (t === null) return null;
  const keyType = latin1(t);
  if (CERT_TYPES.has(keyType)) return { keyType, canon: "cert:" + hex(blob) };
  const parts: string[] = [];
  switch (keyType) {
    case "ssh-ed25519":
    case "sk-ssh-ed25519@openssh.com": {
      const pk = r.string();
      if (pk === null || pk.length !== 32) return null;
      parts.push(hex(pk));
      if (keyType !== "ssh-ed25519") {
        const app = r.cstring();
        if (app === null) return null;
        parts.push(hex(app));
      }
      break;
    }
    case "ssh-rsa": {
      const e = r.mpint();
      const n = r.mpint();
      if (e === null || n === null) return null;
      if (bitLength(bytesToBigInt(n)) < 1024) return null;
      parts.push(hex(e), hex(n));
      break;
    }
    case "ssh-dss": {
      for (let i = 0; i < 4; i++) {
        const v = r.mpint();
        if (v === null) return null;
        parts.push(hex(v));
      }
      break;
    }
    case "ecdsa-sha2-nistp256":
    case "ecdsa-sha2-nistp384":
    case "ecdsa-sha2-nistp521":
    case "sk-ecdsa-sha2-nistp256@openssh.com": {
      const want = keyType.startsWith("sk-") ? "nistp256" : keyType.slice("ecdsa-sha2-".length);
      const curveName = r.string();
      if (curveName === null || latin1(curveName) !== want) return null;
      const q = r.string();
      if (q === null || !validEcPoint(CURVES[want]!, q)) return null;
      parts.push(hex(q));
      if (keyType.startsWith("sk-")) {
        const app = r.cstring();
        if (app === null) return null;
        parts.push(hex(app));
      }
      break;
    }
    default:
      return null;
  }
  if (!r.done) return null;
  return { keyType, canon: keyType + ":" + parts.join(":") };
}

/** Canonical identity of a presented key (falls back to the raw bytes if it does not parse). */
function canonicalId(blob: Uint8Array): string {
  return parseKeyBlob(blob)?.canon ?? "raw:" + hex(blob);
}

// ---------------------------------------------------------------------------
// host patterns

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
  const h = createHmac("sha1", s).update(Buffer.from(name, "latin1")).digest("base64");
  return `|1|${Buffer.from(s).toString("base64")}|${h}`;
}

/**
 * The UTF-8 bytes of `s` as a byte string (one char per byte). The file is
 * read the same way (latin1), so names compare byte for byte like in C.
 */
function byteString(s: string): string {
  return Buffer.from(s, "utf8").toString("latin1");
}

/** Salt of a hashed host field as OpenSSH's `extract_salt`, or null when the field is invalid. */
function extractSalt(field: string): Uint8Array | null {
  if (!field.startsWith("|1|")) return null;
  const rest = field.slice(3);
  const end = rest.indexOf("|");
  if (end <= 0 || end > 1024) return null;
  const salt = decodeBase64Strict(rest.slice(0, end));
  if (salt === null || salt.length !== 20) return null;
  return salt;
}

/** `name`: lowercased byte string. */
function entryMatches(e: KnownHostsEntry, name: string): boolean {
  if (e.hashSalt !== null) return hashByteName(name, e.hashSalt) === e.hosts;
  return matchHostPatterns(name, e.hosts) === 1;
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

// ---------------------------------------------------------------------------
// parsing

function isBlank(c: string | undefined): boolean {
  return c === " " || c === "\t";
}

/**
 * Parses one line. Returns null for comments and blank lines, a string reason
 * for an invalid line, or the entry.
 */
function parseLine(text: string, lineNo: number): KnownHostsEntry | string | null {
  let i = 0;
  while (isBlank(text[i])) i++;
  if (i >= text.length || text[i] === "#") return null;

  // markers (check_markers): cut at the first space of the rest of the line, else the first tab
  let marker: PinnedKey["marker"] = null;
  while (text[i] === "@") {
    if (marker !== null) return "more than one marker";
    let sp = text.indexOf(" ", i);
    if (sp < 0) sp = text.indexOf("\t", i);
    if (sp < 0) return "marker without a host field";
    const m = text.slice(i, sp);
    if (m === "@cert-authority") marker = "cert-authority";
    else if (m === "@revoked") marker = "revoked";
    else return "invalid marker";
    i = sp;
    while (isBlank(text[i])) i++;
  }

  // host field
  let j = i;
  while (j < text.length && !isBlank(text[j])) j++;
  const hosts = text.slice(i, j);
  let hashSalt: Uint8Array | null = null;
  if (hosts.startsWith("|")) {
    hashSalt = extractSalt(hosts);
    if (hashSalt === null) return "invalid hashed host field";
  }
  i = j;
  while (isBlank(text[i])) i++;
  if (i >= text.length || text[i] === "#") return "no key after the host field";

  // key type
  j = i;
  while (j < text.length && !isBlank(text[j])) j++;
  if (j >= text.length) return "no key blob after the key type";
  const declared = text.slice(i, j);
  const wantBlobType = blobTypeForDeclared(declared);
  if (wantBlobType === null) return "unsupported key type";
  i = j;
  while (isBlank(text[i])) i++;
  if (i >= text.length) return "no key blob after the key type";

  // key blob
  j = i;
  while (j < text.length && !isBlank(text[j])) j++;
  const blob = decodeBase64Strict(text.slice(i, j));
  if (blob === null || blob.length === 0) return "key blob is not valid base64";
  const parsed = parseKeyBlob(blob);
  if (parsed === null) return "key blob does not parse";
  if (parsed.keyType !== wantBlobType) return "key type does not match the key blob";

  const key: PinnedKey = {
    keyType: parsed.keyType,
    blob,
    fingerprint: fingerprintSha256(blob),
    line: lineNo,
    marker,
  };
  CANON.set(key, parsed.canon);
  return { hosts, hashSalt, key };
}

const CANON = new WeakMap<PinnedKey, string>();

function canonOf(k: PinnedKey): string {
  let c = CANON.get(k);
  if (c === undefined) {
    c = canonicalId(k.blob);
    CANON.set(k, c);
  }
  return c;
}

/**
 * Parses known_hosts text (lines split on "\n", bytes as latin1 like C).
 * Comments and blank lines are ignored; invalid lines are reported through
 * `onSkip` and left out.
 */
export function parseKnownHosts(
  text: string,
  onSkip?: (s: SkippedLine) => void,
): { entries: KnownHostsEntry[]; entryLines: number } {
  const entries: KnownHostsEntry[] = [];
  let entryLines = 0;
  const lines = text.split("\n");
  // a final newline does not start another line
  if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  lines.forEach((l, idx) => {
    const r = parseLine(l, idx + 1);
    if (r === null) return;
    entryLines++;
    if (typeof r === "string") onSkip?.({ line: idx + 1, reason: r });
    else entries.push(r);
  });
  return { entries, entryLines };
}

// ---------------------------------------------------------------------------
// the file

interface MatchSet {
  trusted: PinnedKey[];
  revoked: PinnedKey[];
  certAuthority: PinnedKey[];
}

/** A window (ms) after a file's mtime during which a same-size rewrite could go unnoticed. */
const RACY_WINDOW_MS = 3000;

/**
 * The known_hosts file (`SSH_KNOWN_HOSTS`), re-read when it changes. Every
 * query method calls {@link KnownHosts.refresh} first (one `stat`), so an
 * out-of-band pin takes effect on the next connect.
 */
export class KnownHosts {
  /** path of the file (read only, never written) */
  readonly path: string;
  #logger: Logger;
  #entries: KnownHostsEntry[] = [];
  #loaded = false;
  #signature: string | null = null;
  #racy = false;
  #lastText: string | null = null;
  #missingWarned = false;
  #cache = new Map<string, MatchSet>();

  /** Loads the file now (a missing file logs one WARNING). */
  constructor(path: string, opts: { logger?: Logger } = {}) {
    this.path = path;
    this.#logger = opts.logger ?? nullLogger;
    this.refresh();
  }

  /** true while the state in memory comes from a successful read of the file. */
  get loaded(): boolean {
    return this.#loaded;
  }

  /**
   * Re-reads the file when its inode, size, mtime or ctime changed (and,
   * within a few seconds of a modification, when its bytes changed: Deno
   * reports mtimes in milliseconds only). Missing file: one WARNING (not
   * repeated), every host unknown until it appears. A read failure, a file
   * with NUL bytes (binary) or a file whose entry lines are all invalid
   * keeps the previous state and logs a WARNING. Invalid lines are skipped
   * with a DEBUG log.
   */
  refresh(): void {
    let sig: string;
    try {
      const st = statSync(this.path);
      sig = `${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
      if (sig === this.#signature && !this.#racy) return;
      this.#racy = Date.now() - st.mtimeMs < RACY_WINDOW_MS;
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code === "ENOENT" || code === "ENOTDIR") {
        if (!this.#missingWarned) {
          this.#logger.warn(
            "known_hosts file (SSH_KNOWN_HOSTS) does not exist: every host is UnknownHost until it is created",
          );
          this.#missingWarned = true;
        }
        this.#replace([], false);
        this.#signature = "missing";
        this.#lastText = null;
        this.#racy = false;
        return;
      }
      this.#failed(`stat:${code}`, `cannot stat the known_hosts file (${code ?? "error"})`);
      return;
    }
    this.#missingWarned = false;
    let text: string;
    try {
      text = Buffer.from(readFileSync(this.path)).toString("latin1");
    } catch (e) {
      const code = (e as { code?: string }).code;
      this.#failed(sig, `cannot read the known_hosts file (${code ?? "error"})`);
      return;
    }
    if (sig === this.#signature && text === this.#lastText) return; // racy re-check, unchanged
    this.#signature = sig;
    this.#lastText = text;
    if (text.includes("\0")) {
      this.#logger.warn(
        "known_hosts file contains NUL bytes (not a text file): keeping the previously loaded entries",
      );
      return;
    }
    let skipped = 0;
    const { entries, entryLines } = parseKnownHosts(text, (s) => {
      skipped++;
      this.#logger.debug("known_hosts: skipped invalid line", { line: s.line, reason: s.reason });
    });
    if (entryLines > 0 && entries.length === 0) {
      this.#logger.warn(
        "known_hosts file has no valid entry (all lines invalid): keeping the previously loaded entries",
        { invalid_lines: skipped },
      );
      return;
    }
    this.#replace(entries, true);
    const ca = entries.filter((e) => e.key.marker === "cert-authority").length;
    if (ca > 0) {
      this.#logger.warn(
        "known_hosts has @cert-authority lines: they are ignored (the SSH library cannot verify " +
          "host certificates); hosts covered only by them are UnknownHost until a plain key is pinned",
        { cert_authority_lines: ca },
      );
    }
  }

  #failed(sig: string, msg: string): void {
    if (sig === this.#signature) return; // already reported for this state of the file
    this.#signature = sig;
    this.#lastText = null;
    this.#racy = false;
    this.#logger.warn(`${msg}: keeping the previously loaded entries`);
  }

  #replace(entries: KnownHostsEntry[], loaded: boolean): void {
    this.#entries = entries;
    this.#loaded = loaded;
    this.#cache.clear();
  }

  /** Entries matching one lookup name, split by marker (cached until the file changes). */
  #match(name: string): MatchSet {
    let m = this.#cache.get(name);
    if (m) return m;
    m = { trusted: [], revoked: [], certAuthority: [] };
    const bytes = byteString(name);
    for (const e of this.#entries) {
      if (!entryMatches(e, bytes)) continue;
      if (e.key.marker === "revoked") m.revoked.push(e.key);
      else if (e.key.marker === "cert-authority") m.certAuthority.push(e.key);
      else m.trusted.push(e.key);
    }
    if (this.#cache.size > 4096) this.#cache.clear();
    this.#cache.set(name, m);
    return m;
  }

  /**
   * The keys that apply to `host:port`. lookupKey is `host` for port 22, else
   * `[host]:port` (an alias is used as-is). When there is no plain line for
   * `[host]:port`, the port-less `host` lines are consulted like OpenSSH does.
   */
  lookup(host: string, port: number, opts: KnownHostsLookupOptions = {}): KnownHostsLookup {
    this.refresh();
    const lookupKey = lookupKeyFor(host, port, opts);
    const l = this.#match(lookupKey);
    const res: KnownHostsLookup = {
      lookupKey,
      trusted: [...l.trusted],
      revoked: [...l.revoked],
      certAuthority: [...l.certAuthority],
      portlessFallback: false,
    };
    if (l.trusted.length === 0 && !opts.hostKeyAlias && port !== 22) {
      const p = this.#match(asciiLower(host));
      res.revoked.push(...p.revoked);
      res.certAuthority.push(...p.certAuthority);
      if (p.trusted.length > 0) {
        res.trusted = [...p.trusted];
        res.portlessFallback = true;
      }
    }
    return res;
  }

  /** Verdict for the key a server presented (raw wire blob, as ssh2's hostVerifier passes it). */
  verify(
    host: string,
    port: number,
    presented: Uint8Array,
    opts: KnownHostsLookupOptions = {},
  ): HostKeyVerdict {
    const r = this.lookup(host, port, opts);
    const actual = fingerprintSha256(presented);
    const id = canonicalId(presented);
    const lookupKey = r.lookupKey;
    if (r.revoked.some((k) => canonOf(k) === id)) {
      return { status: "revoked", actualFingerprint: actual, lookupKey };
    }
    if (r.trusted.some((k) => canonOf(k) === id)) {
      return { status: "trusted", fingerprint: actual, lookupKey };
    }
    if (r.trusted.length > 0 && !r.portlessFallback) {
      const type = keyTypeOfBlob(presented);
      const expected = r.trusted.find((k) => k.keyType === type) ?? r.trusted[0]!;
      return {
        status: "mismatch",
        expectedFingerprint: expected.fingerprint,
        actualFingerprint: actual,
        lookupKey,
      };
    }
    return {
      status: "unknown",
      actualFingerprint: actual,
      lookupKey,
      certAuthorityOnly: r.trusted.length === 0 && r.certAuthority.length > 0,
    };
  }

  /** Fingerprint of the first trusted key for host:port (port-less fallback included), or null. */
  pinnedFingerprint(host: string, port: number, opts: KnownHostsLookupOptions = {}): string | null {
    return this.lookup(host, port, opts).trusted[0]?.fingerprint ?? null;
  }

  /**
   * ssh2 `algorithms.serverHostKey` order: the algorithms of the key types
   * pinned for the lookup name first (ssh-rsa pins expand to rsa-sha2-512,
   * rsa-sha2-256, ssh-rsa), then the rest of ssh2's default host-key
   * algorithms, all in ssh2's preference order. Like OpenSSH's
   * `order_hostkeyalgs`, only lines for the lookup name itself count (not the
   * port-less fallback).
   */
  hostKeyAlgorithms(host: string, port: number, opts: KnownHostsLookupOptions = {}): string[] {
    this.refresh();
    const pinned = new Set<string>();
    for (const k of this.#match(lookupKeyFor(host, port, opts)).trusted) {
      for (const a of ALGORITHMS_FOR_KEY_TYPE[k.keyType] ?? []) pinned.add(a);
    }
    const first = ALL_ALGORITHMS_ORDER.filter((a) => pinned.has(a));
    const rest = SSH2_DEFAULT_HOST_KEY_ALGORITHMS.filter((a) => !pinned.has(a));
    return [...first, ...rest];
  }
}

// ---------------------------------------------------------------------------
// errors

/** Host part of a lookup key (`[h]:p` → h). */
function hostOfLookupKey(lookupKey: string): string {
  const m = /^\[(.*)\]:\d+$/.exec(lookupKey);
  return m ? m[1]! : lookupKey;
}

function pinAdvice(lookupKey: string, port: number, knownHostsPath: string): string {
  const h = hostOfLookupKey(lookupKey);
  return `To pin the key out of band: run \`ssh-keyscan -p ${port} ${h} > scratch\`, ` +
    `compare \`ssh-keygen -lf scratch\` with the fingerprint obtained from the host's console ` +
    `(never from this connection), then append the matching line (host field "${lookupKey}") ` +
    `to ${knownHostsPath}. The server never writes that file.`;
}

/**
 * Maps a non-trusted verdict to the contract error: `UnknownHost` (no entry,
 * or only @cert-authority lines, which cannot be honoured) or
 * `HostKeyMismatch` (different key, or a key marked @revoked), with
 * out-of-band pinning advice. There is no way to accept a key anyway.
 */
export function verdictError(
  v: Exclude<HostKeyVerdict, { status: "trusted" }>,
  displayHost: string,
  port: number,
  knownHostsPath: string,
): ToolError {
  const where = `${displayHost} (port ${port}, known_hosts name "${v.lookupKey}")`;
  const advice = pinAdvice(v.lookupKey, port, knownHostsPath);
  switch (v.status) {
    case "unknown": {
      const head = v.certAuthorityOnly
        ? `Host key for ${where} is not trusted: only @cert-authority lines match this host, and ` +
          `they cannot be honoured because the SSH library (ssh2) cannot verify host ` +
          `certificates. Pin the host's plain public key instead.`
        : `Host key for ${where} is not in known_hosts.`;
      return new ToolError(
        "UnknownHost",
        `${head} The server presented a key with fingerprint ${v.actualFingerprint}; ` +
          `the connection was closed before authentication. ${advice}`,
        {
          actual_fingerprint: v.actualFingerprint,
          lookup_key: v.lookupKey,
          cert_authority_only: v.certAuthorityOnly,
        },
      );
    }
    case "mismatch":
      return new ToolError(
        "HostKeyMismatch",
        `HOST KEY MISMATCH for ${where}: known_hosts expects ${v.expectedFingerprint} but the ` +
          `server presented ${v.actualFingerprint}. The host may have been reinstalled, or ` +
          `someone may be intercepting the connection; it was closed before authentication. ` +
          `Verify the new key out of band before replacing the old line. ${advice}`,
        {
          expected_fingerprint: v.expectedFingerprint,
          actual_fingerprint: v.actualFingerprint,
          lookup_key: v.lookupKey,
        },
      );
    case "revoked":
      return new ToolError(
        "HostKeyMismatch",
        `REVOKED HOST KEY for ${where}: the presented key ${v.actualFingerprint} is marked ` +
          `@revoked in ${knownHostsPath}, so it is refused even if another line trusts it. ` +
          `A stolen key may be in use; the connection was closed before authentication. ` +
          `Find out why the host presents a revoked key before pinning a new one. ${advice}`,
        {
          expected_fingerprint: null,
          actual_fingerprint: v.actualFingerprint,
          lookup_key: v.lookupKey,
          revoked: true,
        },
      );
  }
}
