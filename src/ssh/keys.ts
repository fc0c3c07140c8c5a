/**
 * Private key loading for ssh2 under Deno (SECURITY.md §AUTH).
 *
 * ssh2 1.17 parses keys itself and hands PEM strings to `node:crypto` when it
 * signs. Deno's `node:crypto` is stricter than Node's OpenSSL build, which
 * breaks several key kinds:
 *
 * - ECDSA keys in OpenSSH format: ssh2 copies the private scalar from the
 *   OpenSSH `mpint` verbatim into the SEC1 `privateKey` OCTET STRING. About half
 *   of all scalars carry a leading zero byte (sign bit) or are shorter than the
 *   field, and Deno rejects them ("invalid SEC1 private key"). We rebuild the
 *   SEC1 structure with the scalar at exactly the field length.
 * - Legacy PEM keys (`BEGIN RSA/EC PRIVATE KEY`): when encrypted, ssh2 leaves the
 *   CBC padding after the DER and Deno refuses it ("DECODER routines::
 *   unsupported"); for P-521 ssh2 derives the public point with
 *   `createECDH("secp521r1")`, which Deno does not implement (it throws). PEM and
 *   PKCS#8 keys therefore never go through ssh2's PEM code: `node:crypto`
 *   decrypts and decodes them, and the components are re-encoded as an
 *   unencrypted OpenSSH key that ssh2 parses on its well-tested path.
 *
 * Every parsed key is then signed with once (and the signature verified) so a
 * key that ssh2 cannot use fails here with a clear message instead of as a
 * vague authentication failure later. The resulting object must be passed to
 * ssh2 through `authHandler` (`{type: "publickey", key}`): the `privateKey`
 * connect option silently ignores key objects.
 *
 * @module
 */

import { ssh2Lib } from "../util/ssh2_lib.ts";
// @ts-types="npm:@types/ssh2@1.15.5"
import type { ParsedKey as Ssh2ParsedKey } from "ssh2";
import { Buffer } from "node:buffer";
import { createPrivateKey, type JsonWebKey, randomBytes } from "node:crypto";
import { ToolError } from "../errors.ts";
import { concat } from "../util/bytes.ts";
import {
  ECDSA_CURVES,
  type EcdsaCurve,
  fingerprintSha256,
  sshMpint,
  sshString,
  sshUint32,
  stripLeadingZeros,
  WireReader,
} from "./key_blob.ts";

// `SHA256:<unpadded base64>` of a public key blob, under the name this module has always exported

/** A private key as ssh2 understands it (ssh2's `ParsedKey`). */
export type ParsedKey = Ssh2ParsedKey;

/** Curve facts for the ECDSA key types OpenSSH supports (`ssh`, `size` from key_blob.ts). */
interface CurveInfo extends EcdsaCurve {
  /** JWK `crv` */
  jwk: string;
  /** DER encoding of the named-curve OID (tag and length included) */
  oidDer: Uint8Array;
}

const CURVES: Record<string, CurveInfo> = {
  "ecdsa-sha2-nistp256": {
    ...ECDSA_CURVES["ecdsa-sha2-nistp256"]!,
    jwk: "P-256",
    oidDer: Uint8Array.of(0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07),
  },
  "ecdsa-sha2-nistp384": {
    ...ECDSA_CURVES["ecdsa-sha2-nistp384"]!,
    jwk: "P-384",
    oidDer: Uint8Array.of(0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22),
  },
  "ecdsa-sha2-nistp521": {
    ...ECDSA_CURVES["ecdsa-sha2-nistp521"]!,
    jwk: "P-521",
    oidDer: Uint8Array.of(0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23),
  },
};

const OPENSSH_RE =
  /^-----BEGIN OPENSSH PRIVATE KEY-----\n([\s\S]+?)\n-----END OPENSSH PRIVATE KEY-----$/;
const LEGACY_PEM_RE = /^-----BEGIN (RSA|EC|DSA) PRIVATE KEY-----\n/;
const PKCS8_RE = /^-----BEGIN (ENCRYPTED )?PRIVATE KEY-----\n/;
const PPK_RE = /^PuTTY-User-Key-File-(\d+):\s*(\S+)/;
const PUBLIC_RE =
  /^(?:ssh-(?:rsa|dss|ed25519)|ecdsa-sha2-nistp\d+|sk-\S+)\s|^---- BEGIN SSH2 PUBLIC KEY ----|^-----BEGIN PUBLIC KEY-----/;

function toText(data: string | Uint8Array): string {
  const s = typeof data === "string" ? data : new TextDecoder().decode(data);
  return s.replace(/\r\n?/g, "\n").trim();
}

/** The cipher name of an OpenSSH-format private key, or null when malformed. */
function opensshCipher(body: string): string | null {
  const data = Buffer.from(body.replace(/\s+/g, ""), "base64");
  const magic = "openssh-key-v1\0";
  if (data.length < magic.length || data.toString("latin1", 0, magic.length) !== magic) {
    return null;
  }
  return new WireReader(data.subarray(magic.length)).text();
}

/**
 * True when the key needs a passphrase: an OpenSSH key with a cipher other than
 * `none`, a legacy PEM key with `Proc-Type: 4,ENCRYPTED`, a PKCS#8 `ENCRYPTED
 * PRIVATE KEY`, or a PuTTY key with `Encryption` other than `none`.
 */
export function isEncryptedKey(data: string | Uint8Array): boolean {
  const text = toText(data);
  const m = OPENSSH_RE.exec(text);
  if (m) {
    const cipher = opensshCipher(m[1]!);
    return cipher !== null && cipher !== "none";
  }
  if (LEGACY_PEM_RE.test(text)) return /^Proc-Type:\s*4,\s*ENCRYPTED\s*$/m.test(text);
  if (PKCS8_RE.test(text)) return text.startsWith("-----BEGIN ENCRYPTED PRIVATE KEY-----");
  if (PPK_RE.test(text)) {
    const enc = /^Encryption:\s*(\S+)/m.exec(text);
    return enc !== null && enc[1] !== "none";
  }
  return false;
}

/** SHA256 fingerprint of the public half, same as `ssh-keygen -l -E sha256`. */
export function keyFingerprint(key: ParsedKey): string {
  return fingerprintSha256(key.getPublicSSH());
}

// ---------------------------------------------------------------------------
// Errors

function authError(message: string, label: string): ToolError {
  return new ToolError("AuthenticationFailed", message, { key: label });
}

function needPassphrase(label: string): ToolError {
  return authError(
    `private key ${label} is encrypted and no passphrase source is configured: set ` +
      `passphrase_cmd or passphrase_secret in the host's [auth] table, or load the key into ` +
      `ssh-agent and use method = "agent"`,
    label,
  );
}

function wrongPassphrase(label: string): ToolError {
  return authError(
    `wrong passphrase for ${label}: check what passphrase_cmd / passphrase_secret returns`,
    label,
  );
}

function unsupported(label: string, reason: string): ToolError {
  return authError(
    `unsupported or corrupt private key ${label} (${reason}); supported: OpenSSH or PEM ` +
      `(PKCS#1 / SEC1 / PKCS#8) RSA, ed25519 and ECDSA P-256/384/521 keys, optionally encrypted`,
    label,
  );
}

/** A short, secret-free reason from a parser error. */
function reasonOf(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.replace(/[\r\n]+/g, " ").slice(0, 160);
}

// ---------------------------------------------------------------------------
// Minimal DER encoding (the SSH wire format is in key_blob.ts)

/** Left-pads / strips an unsigned big-endian integer to exactly `size` bytes. */
function fixedLength(unsigned: Uint8Array, size: number): Uint8Array | null {
  const v = stripLeadingZeros(unsigned);
  if (v.length > size) return null;
  const out = new Uint8Array(size);
  out.set(v, size - v.length);
  return out;
}

function derLength(n: number): Uint8Array {
  if (n < 0x80) return Uint8Array.of(n);
  const bytes: number[] = [];
  while (n > 0) {
    bytes.unshift(n & 0xff);
    n >>>= 8;
  }
  return Uint8Array.of(0x80 | bytes.length, ...bytes);
}

function derTlv(tag: number, content: Uint8Array): Uint8Array {
  return concat([Uint8Array.of(tag), derLength(content.length), content]);
}

/** One DER element: tag, content bounds, end. */
interface DerElement {
  tag: number;
  start: number;
  end: number;
}

function readDer(buf: Uint8Array, pos: number): DerElement | null {
  if (pos + 2 > buf.length) return null;
  const tag = buf[pos]!;
  let len = buf[pos + 1]!;
  let start = pos + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || start + n > buf.length) return null;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[start + i]!;
    start += n;
  }
  const end = start + len;
  if (end > buf.length) return null;
  return { tag, start, end };
}

function pemBody(pem: string): Uint8Array | null {
  const m = /-----BEGIN [A-Z ]+-----\n?([\s\S]*?)\n?-----END [A-Z ]+-----/.exec(pem);
  return m ? new Uint8Array(Buffer.from(m[1]!.replace(/\s+/g, ""), "base64")) : null;
}

function makePem(type: string, der: Uint8Array): string {
  const b64 = Buffer.from(der).toString("base64").replace(/.{64}/g, "$&\n").replace(/\n$/, "");
  return `-----BEGIN ${type} KEY-----\n${b64}\n-----END ${type} KEY-----`;
}

function b64url(s: string | undefined): Uint8Array {
  if (s === undefined) throw new Error("missing JWK component");
  return new Uint8Array(Buffer.from(s, "base64url"));
}

// ---------------------------------------------------------------------------
// PEM / PKCS#8 -> OpenSSH re-encoding

/**
 * Builds an unencrypted `openssh-key-v1` private key from the private and
 * public sections (OpenSSH PROTOCOL.key).
 */
function opensshKeyText(publicBlob: Uint8Array, privateFields: Uint8Array): string {
  const check = randomBytes(4);
  let priv = concat([check, check, privateFields, sshString("")]);
  const pad = (8 - (priv.length % 8)) % 8;
  const padding = new Uint8Array(pad);
  for (let i = 0; i < pad; i++) padding[i] = i + 1;
  priv = concat([priv, padding]);
  const blob = concat([
    new TextEncoder().encode("openssh-key-v1\0"),
    sshString("none"),
    sshString("none"),
    sshString(""),
    sshUint32(1),
    sshString(publicBlob),
    sshString(priv),
  ]);
  const b64 = Buffer.from(blob).toString("base64").replace(/.{70}/g, "$&\n").replace(/\n$/, "");
  return `-----BEGIN OPENSSH PRIVATE KEY-----\n${b64}\n-----END OPENSSH PRIVATE KEY-----`;
}

/** Converts a private JWK (RSA, EC P-256/384/521, Ed25519) to OpenSSH key text. */
function jwkToOpenssh(jwk: JsonWebKey): string {
  if (jwk.kty === "RSA") {
    const [n, e, d, p, q, qi] = [jwk.n, jwk.e, jwk.d, jwk.p, jwk.q, jwk.qi].map(b64url) as [
      Uint8Array,
      Uint8Array,
      Uint8Array,
      Uint8Array,
      Uint8Array,
      Uint8Array,
    ];
    const pub = concat([sshString("ssh-rsa"), sshMpint(e), sshMpint(n)]);
    const priv = concat([
      sshString("ssh-rsa"),
      sshMpint(n),
      sshMpint(e),
      sshMpint(d),
      sshMpint(qi),
      sshMpint(p),
      sshMpint(q),
    ]);
    return opensshKeyText(pub, priv);
  }
  if (jwk.kty === "EC") {
    const entry = Object.entries(CURVES).find(([, c]) => c.jwk === jwk.crv);
    if (!entry) throw new Error(`unsupported curve ${String(jwk.crv)}`);
    const [type, curve] = entry;
    const x = fixedLength(b64url(jwk.x), curve.size);
    const y = fixedLength(b64url(jwk.y), curve.size);
    const d = b64url(jwk.d);
    if (!x || !y) throw new Error("malformed EC point");
    const q = concat([Uint8Array.of(4), x, y]);
    const pub = concat([sshString(type), sshString(curve.ssh), sshString(q)]);
    const priv = concat([sshString(type), sshString(curve.ssh), sshString(q), sshMpint(d)]);
    return opensshKeyText(pub, priv);
  }
  if (jwk.kty === "OKP" && jwk.crv === "Ed25519") {
    const x = b64url(jwk.x);
    const d = b64url(jwk.d);
    if (x.length !== 32 || d.length !== 32) throw new Error("malformed Ed25519 key");
    const pub = concat([sshString("ssh-ed25519"), sshString(x)]);
    const priv = concat([sshString("ssh-ed25519"), sshString(x), sshString(concat([d, x]))]);
    return opensshKeyText(pub, priv);
  }
  throw new Error(`unsupported key type ${String(jwk.kty)}${jwk.crv ? " " + jwk.crv : ""}`);
}

/** Decodes a PEM / PKCS#8 key with node:crypto and re-encodes it as OpenSSH text. */
function pemToOpenssh(
  text: string,
  passphrase: Buffer | undefined,
  encrypted: boolean,
  label: string,
): string {
  let jwk: JsonWebKey;
  try {
    const key = createPrivateKey({
      key: text,
      format: "pem",
      ...(encrypted ? { passphrase: passphrase ?? Buffer.alloc(0) } : {}),
    });
    jwk = key.export({ format: "jwk" });
  } catch (e) {
    if (encrypted) throw wrongPassphrase(label);
    throw unsupported(label, reasonOf(e));
  }
  try {
    return jwkToOpenssh(jwk);
  } catch (e) {
    throw unsupported(label, reasonOf(e));
  }
}

// ---------------------------------------------------------------------------
// Normalisation of ssh2's parsed key

const PRIV_PEM_SYMBOL_DESCRIPTION = "Private key PEM";

function privPemSymbol(key: ParsedKey): symbol | undefined {
  return Object.getOwnPropertySymbols(key).find(
    (s) => s.description === PRIV_PEM_SYMBOL_DESCRIPTION,
  );
}

/**
 * Rewrites the SEC1 `EC PRIVATE KEY` ssh2 generated so Deno's decoder accepts
 * it: scalar at exactly the field length, nothing after the outer SEQUENCE.
 * Returns the new PEM, or null when nothing needed changing.
 */
function normaliseEcPrivatePem(
  pem: string,
  type: string,
  publicSsh: Uint8Array,
): string | null {
  const curve = CURVES[type];
  if (!curve) return null;
  const der = pemBody(pem);
  if (!der) return null;
  const seq = readDer(der, 0);
  if (!seq || seq.tag !== 0x30) return null;
  const version = readDer(der, seq.start);
  if (!version || version.tag !== 0x02) return null;
  const octet = readDer(der, version.end);
  if (!octet || octet.tag !== 0x04) return null;
  const scalar = der.subarray(octet.start, octet.end);
  const fixed = fixedLength(scalar, curve.size);
  if (!fixed) return null;
  // public point from the SSH blob: string type, string curve, string Q
  const blob = new WireReader(publicSsh);
  const q = blob.string() && blob.string() && blob.string();
  if (!q) return null;
  if (scalar.length === curve.size && seq.end === der.length) return null;
  const rebuilt = derTlv(
    0x30,
    concat([
      Uint8Array.of(0x02, 0x01, 0x01),
      derTlv(0x04, fixed),
      derTlv(0xa0, curve.oidDer),
      derTlv(0xa1, derTlv(0x03, concat([Uint8Array.of(0), q]))),
    ]),
  );
  return makePem("EC PRIVATE", rebuilt);
}

/** Trims anything after the outer DER element of a PEM (left-over cipher padding). */
function trimPemDer(pem: string): string | null {
  const der = pemBody(pem);
  const type = /-----BEGIN ([A-Z ]+) KEY-----/.exec(pem)?.[1];
  if (!der || !type) return null;
  const outer = readDer(der, 0);
  if (!outer || outer.end === der.length) return null;
  return makePem(type, der.subarray(0, outer.end));
}

function normaliseParsed(key: ParsedKey): void {
  const sym = privPemSymbol(key);
  if (!sym) return;
  const pem = key.getPrivatePEM();
  if (typeof pem !== "string") return;
  const next = CURVES[key.type]
    ? normaliseEcPrivatePem(pem, key.type, key.getPublicSSH())
    : trimPemDer(pem);
  if (next !== null) (key as unknown as Record<symbol, unknown>)[sym] = next;
}

/** Signs and verifies a probe so unusable keys fail at load time. */
function selfTest(key: ParsedKey, label: string): void {
  const probe = Buffer.from("ssh-mcp key self-test");
  let sig: Buffer | Error;
  try {
    sig = key.sign(probe);
  } catch (e) {
    sig = e instanceof Error ? e : new Error(String(e));
  }
  if (sig instanceof Error) {
    throw authError(`cannot sign with private key ${label}: ${reasonOf(sig)}`, label);
  }
  let ok: boolean | Error;
  try {
    ok = key.verify(probe, sig);
  } catch (e) {
    ok = e instanceof Error ? e : new Error(String(e));
  }
  if (ok !== true) {
    throw authError(
      `private key ${label} is inconsistent (its signature does not verify against its public half)`,
      label,
    );
  }
}

function ssh2Parse(text: string, passphrase: Buffer | undefined): ParsedKey | Error {
  let r: ParsedKey | ParsedKey[] | Error;
  try {
    r = ssh2Lib().utils.parseKey(text, passphrase) as ParsedKey | ParsedKey[] | Error;
  } catch (e) {
    return e instanceof Error ? e : new Error(String(e));
  }
  if (Array.isArray(r)) return r[0] ?? new Error("no key in file");
  return r;
}

/**
 * Parses a private key (OpenSSH, legacy PEM, PKCS#8 or PuTTY; RSA, ed25519,
 * ECDSA P-256/384/521; plain or encrypted) and normalises the Deno-specific
 * breakages (ECDSA scalar with a leading zero or short, legacy PEM DER padding,
 * P-521 PEM) so that ssh2 can sign with it. The key is test-signed once.
 *
 * `label` names the key in errors (e.g. the file path) — never the passphrase.
 * A passphrase given as bytes (UTF-8) is used in place, never copied into a
 * string, so the caller can zero it afterwards.
 * Pass the result to ssh2 as `authHandler: [{type: "publickey", username, key}]`.
 * Needs `loadSsh2()` (util/ssh2_lib.ts) resolved first.
 *
 * @throws ToolError("AuthenticationFailed") for an encrypted key without a
 *   passphrase (message names passphrase_cmd / passphrase_secret), a wrong
 *   passphrase ("wrong passphrase for <label>"), a public key, DSA keys, or an
 *   unsupported / corrupt format.
 */
export function parsePrivateKey(
  data: string | Uint8Array,
  passphrase: string | Uint8Array | undefined,
  label: string,
): ParsedKey {
  const text = toText(data);
  const encrypted = isEncryptedKey(text);
  if (encrypted && (passphrase === undefined || passphrase.length === 0)) {
    throw needPassphrase(label);
  }
  const pass = !encrypted || passphrase === undefined
    ? undefined
    : typeof passphrase === "string"
    ? Buffer.from(passphrase, "utf8")
    : Buffer.from(passphrase.buffer, passphrase.byteOffset, passphrase.byteLength);
  try {
    return parseText(text, encrypted, pass, label);
  } finally {
    // our own copy of a string passphrase; bytes passed in are the caller's to zero
    if (typeof passphrase === "string") pass?.fill(0);
  }
}

function parseText(
  text: string,
  encrypted: boolean,
  pass: Buffer | undefined,
  label: string,
): ParsedKey {
  let source = text;
  if (OPENSSH_RE.test(text)) {
    const cipher = opensshCipher(OPENSSH_RE.exec(text)![1]!);
    if (cipher === null) throw unsupported(label, "malformed OpenSSH key");
  } else if (LEGACY_PEM_RE.test(text) || PKCS8_RE.test(text)) {
    if (text.startsWith("-----BEGIN DSA PRIVATE KEY-----")) {
      throw unsupported(label, "DSA keys are not supported");
    }
    source = pemToOpenssh(text, pass, encrypted, label);
  } else if (PPK_RE.test(text)) {
    // PuTTY keys: ssh2 parses them itself
  } else if (PUBLIC_RE.test(text)) {
    throw authError(`${label} is a public key; point "key" at the private key file`, label);
  } else {
    throw unsupported(label, "unrecognised format");
  }

  const parsed = ssh2Parse(source, source === text ? pass : undefined);
  if (parsed instanceof Error) {
    const reason = reasonOf(parsed);
    if (encrypted && source === text && !/^Unsupported (cipher|kdf|OpenSSH)/i.test(reason)) {
      throw wrongPassphrase(label);
    }
    throw unsupported(label, reason);
  }
  if (!parsed.isPrivateKey()) {
    throw authError(`${label} is a public key; point "key" at the private key file`, label);
  }
  if (parsed.type === "ssh-dss") throw unsupported(label, "DSA keys are not supported");
  normaliseParsed(parsed);
  selfTest(parsed, label);
  return parsed;
}

/**
 * Re-encodes a parsed private key as an unencrypted `openssh-key-v1` key
 * (UTF-8 bytes, comment dropped) that {@link parsePrivateKey} reads without a
 * passphrase and without a KDF. Used by the KDF worker (kdf_worker.ts): the
 * expensive decryption runs there and only this cheap-to-parse form comes
 * back. The caller owns the bytes and should zero them after parsing.
 *
 * @throws ToolError("AuthenticationFailed") when node:crypto cannot export the key
 */
export function plainOpensshKey(key: ParsedKey, label: string): Uint8Array {
  const pem = key.getPrivatePEM();
  let jwk: JsonWebKey;
  try {
    jwk = createPrivateKey({ key: pem, format: "pem" }).export({ format: "jwk" });
  } catch (e) {
    throw unsupported(label, reasonOf(e));
  }
  try {
    return new TextEncoder().encode(jwkToOpenssh(jwk));
  } catch (e) {
    throw unsupported(label, reasonOf(e));
  }
}
