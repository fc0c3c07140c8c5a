/**
 * The OpenSSH wire format (RFC 4251 §5) and public key blobs, shared by the
 * known_hosts matcher (`known_hosts*.ts`) and private-key loading (`keys.ts`):
 *
 * - {@link WireReader} reads SSH `string` / `mpint` fields; `sshUint32`,
 *   `sshString` and `sshMpint` write them.
 * - {@link parsePublicKeyBlob} validates a public key blob like OpenSSH's
 *   `sshkey_from_blob` (Ed25519, RSA, DSA, ECDSA with OpenSSH's point checks,
 *   FIDO `sk-` keys; certificates by type only) and gives it a canonical
 *   identity for key equality; {@link keyTypeOfBlob} and
 *   {@link fingerprintSha256} read a blob without validating it.
 * - {@link decodeOpenSshBase64} is BIND's `b64_pton`, which OpenSSH uses for
 *   key blobs and hashed-host salts in known_hosts.
 * - {@link ECDSA_CURVES}: the NIST curves of the `ecdsa-sha2-*` key types.
 *
 * @module
 */

import { concat, latin1 } from "../util/bytes.ts";
import { sha256 } from "../util/digest.ts";

// ---------------------------------------------------------------------------
// small helpers

function hex(b: Uint8Array): string {
  return b.toHex();
}

function bitLength(x: bigint): number {
  return x === 0n ? 0 : x.toString(2).length;
}

function bytesToBigInt(b: Uint8Array): bigint {
  return b.length === 0 ? 0n : BigInt("0x" + hex(b));
}

/** An unsigned big-endian integer without its leading zero bytes (a view, not a copy). */
export function stripLeadingZeros(b: Uint8Array): Uint8Array {
  let i = 0;
  while (i < b.length && b[i] === 0) i++;
  return b.subarray(i);
}

/** "SHA256:" + unpadded base64 of sha256(blob), as `ssh-keygen -l` prints it. */
export function fingerprintSha256(blob: Uint8Array): string {
  const d = sha256(blob).toBase64();
  return "SHA256:" + d.replace(/=+$/, "");
}

// ---------------------------------------------------------------------------
// base64 (b64_pton)

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
export function decodeOpenSshBase64(s: string): Uint8Array | null {
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

// ---------------------------------------------------------------------------
// wire types

/** Reads SSH wire types (RFC 4251 §5) from a blob, front to back. */
export class WireReader {
  #b: Uint8Array;
  #off = 0;
  /** Starts reading at the first byte of `b`. */
  constructor(b: Uint8Array) {
    this.#b = b;
  }
  /** true when every byte has been read */
  get done(): boolean {
    return this.#off === this.#b.length;
  }
  /** SSH `string` (uint32 length + bytes), as a view into the blob; null when truncated. */
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
  /** SSH `string` decoded as latin1 (one char per byte), e.g. a key type name. */
  text(): string | null {
    const t = this.string();
    return t === null ? null : latin1(t);
  }
  /** mpint as OpenSSH's `sshbuf_get_bignum2`: non-negative, ≤ 16384 bits; returns minimal bytes. */
  mpint(): Uint8Array | null {
    const d = this.string();
    if (d === null) return null;
    if (d.length !== 0 && (d[0]! & 0x80) !== 0) return null;
    if (d.length > 2049 || (d.length === 2049 && d[0] !== 0)) return null;
    return stripLeadingZeros(d);
  }
  /** SSH string without embedded NUL (OpenSSH `sshbuf_get_cstring`). */
  cstring(): Uint8Array | null {
    const d = this.string();
    if (d === null || d.includes(0)) return null;
    return d;
  }
}

/** SSH `uint32` (big-endian). */
export function sshUint32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n);
  return b;
}

/** SSH `string` of bytes, or of a text's UTF-8 bytes. */
export function sshString(b: Uint8Array | string): Uint8Array {
  const bytes = typeof b === "string" ? new TextEncoder().encode(b) : b;
  return concat([sshUint32(bytes.length), bytes]);
}

/** SSH `mpint` of an unsigned big-endian integer. */
export function sshMpint(unsigned: Uint8Array): Uint8Array {
  const v = stripLeadingZeros(unsigned);
  const body = v.length > 0 && (v[0]! & 0x80) !== 0 ? concat([Uint8Array.of(0), v]) : v;
  return sshString(body);
}

// ---------------------------------------------------------------------------
// ECDSA curves

/** An ECDSA curve of OpenSSH (short Weierstrass, a = -3). */
export interface EcdsaCurve {
  /** OpenSSH curve name, the second field of the key blob (`nistp256`) */
  ssh: string;
  /** length in bytes of a field element, a coordinate or a private scalar */
  size: number;
  /** field prime */
  p: bigint;
  /** curve coefficient b */
  b: bigint;
  /** group order */
  n: bigint;
}

/** The curves of the `ecdsa-sha2-*` key types, by key type. */
export const ECDSA_CURVES: Readonly<Record<string, EcdsaCurve>> = {
  "ecdsa-sha2-nistp256": {
    ssh: "nistp256",
    size: 32,
    p: BigInt("0xffffffff00000001000000000000000000000000ffffffffffffffffffffffff"),
    b: BigInt("0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604b"),
    n: BigInt("0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551"),
  },
  "ecdsa-sha2-nistp384": {
    ssh: "nistp384",
    size: 48,
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
  "ecdsa-sha2-nistp521": {
    ssh: "nistp521",
    size: 66,
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
function validEcPoint(curve: EcdsaCurve, q: Uint8Array): boolean {
  if (q.length !== 1 + 2 * curve.size || q[0] !== 0x04) return false;
  const x = bytesToBigInt(q.subarray(1, 1 + curve.size));
  const y = bytesToBigInt(q.subarray(1 + curve.size));
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

// ---------------------------------------------------------------------------
// public key blobs

/** A public key blob as {@link parsePublicKeyBlob} read it. */
export interface PublicKeyIdentity {
  /** key type of the blob, e.g. "ssh-ed25519" */
  keyType: string;
  /** canonical identity: equal for equal keys (like `sshkey_equal`), whatever the encoding */
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

/**
 * The blob type a key type name requires, for the names OpenSSH 9.2 accepts
 * on a known_hosts line (`rsa-sha2-256` / `rsa-sha2-512` name `ssh-rsa`
 * blobs), or null for a name it does not accept.
 */
export function blobTypeForKeyTypeName(declared: string): string | null {
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
 * The key type stored at the start of an SSH public key blob (the first
 * SSH `string`), e.g. "ssh-ed25519". Returns "" when the blob is too short to
 * hold one.
 */
export function keyTypeOfBlob(blob: Uint8Array): string {
  return new WireReader(blob).text() ?? "";
}

/**
 * Parses a public key blob like OpenSSH's `sshkey_from_blob` (plain keys
 * fully; certificates only by their type, they can never equal a plain key).
 * Returns null when OpenSSH would refuse the blob.
 */
export function parsePublicKeyBlob(blob: Uint8Array): PublicKeyIdentity | null {
  const r = new WireReader(blob);
  const keyType = r.text();
  if (keyType === null) return null;
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
      const curve = ECDSA_CURVES[keyType.startsWith("sk-") ? "ecdsa-sha2-nistp256" : keyType]!;
      if (r.text() !== curve.ssh) return null;
      const q = r.string();
      if (q === null || !validEcPoint(curve, q)) return null;
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

/** Canonical identity of a key blob (falls back to the raw bytes if it does not parse). */
export function canonicalKeyId(blob: Uint8Array): string {
  return parsePublicKeyBlob(blob)?.canon ?? "raw:" + hex(blob);
}
