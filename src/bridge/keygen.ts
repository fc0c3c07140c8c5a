/**
 * The bridge's default client key (`~/.ssh/ssh_mcp_bridge`, Ed25519),
 * generated on first use with `node:crypto` and written in the OpenSSH
 * private key format (unencrypted, like `ssh-keygen -N ""`): the private key
 * with mode 0600, the public key (`.pub`) with mode 0644, `~/.ssh` created
 * 0700 when missing. An existing file is never overwritten (exclusive create).
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { generateKeyPairSync } from "node:crypto";
import * as path from "node:path";
import { sshString, sshUint32 } from "../ssh/key_blob.ts";
import { fingerprintSha256 } from "../ssh/key_blob.ts";

/** A generated key pair. */
export interface GeneratedKey {
  privatePath: string;
  publicPath: string;
  /** `ssh-ed25519 AAAA... comment` */
  publicLine: string;
  fingerprint: string;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const n = parts.reduce((a, p) => a + p.length, 0);
  const out = new Uint8Array(n);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

function b64url(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s, "base64url"));
}

/** The OpenSSH encoding of an Ed25519 key pair: [private key file text, public blob]. */
export function encodeEd25519(
  seed: Uint8Array,
  pub: Uint8Array,
  comment: string,
): { privateText: string; publicBlob: Uint8Array } {
  const publicBlob = concat([sshString("ssh-ed25519"), sshString(pub)]);
  const check = crypto.getRandomValues(new Uint8Array(4));
  const body = [
    check,
    check,
    sshString("ssh-ed25519"),
    sshString(pub),
    sshString(concat([seed, pub])),
    sshString(comment),
  ];
  let priv = concat(body);
  const pad = (8 - (priv.length % 8)) % 8;
  if (pad) priv = concat([priv, Uint8Array.from({ length: pad }, (_, i) => i + 1)]);
  const blob = concat([
    new TextEncoder().encode("openssh-key-v1\0"),
    sshString("none"),
    sshString("none"),
    sshString(new Uint8Array(0)),
    sshUint32(1),
    sshString(publicBlob),
    sshString(priv),
  ]);
  const b64 = Buffer.from(blob).toString("base64");
  const lines = b64.match(/.{1,70}/g) ?? [];
  return {
    privateText: `-----BEGIN OPENSSH PRIVATE KEY-----\n${
      lines.join("\n")
    }\n-----END OPENSSH PRIVATE KEY-----\n`,
    publicBlob,
  };
}

/** True when `p` exists (any file type). */
export async function exists(p: string): Promise<boolean> {
  try {
    await Deno.lstat(p);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/**
 * Generates the key pair at `privatePath` (+ `.pub`). Throws
 * `Deno.errors.AlreadyExists` if the private key appeared meanwhile.
 */
export async function generateClientKey(
  privatePath: string,
  comment: string,
): Promise<GeneratedKey> {
  const dir = path.dirname(privatePath);
  if (!(await exists(dir))) {
    await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
    await Deno.chmod(dir, 0o700);
  }
  const { privateKey } = generateKeyPairSync("ed25519");
  const jwk = privateKey.export({ format: "jwk" }) as { d?: string; x?: string };
  if (!jwk.d || !jwk.x) throw new Error("node:crypto did not export the Ed25519 key");
  const seed = b64url(jwk.d);
  const pub = b64url(jwk.x);
  const { privateText, publicBlob } = encodeEd25519(seed, pub, comment);
  seed.fill(0);
  const publicLine = `ssh-ed25519 ${Buffer.from(publicBlob).toString("base64")} ${comment}`;
  const f = await Deno.open(privatePath, { write: true, createNew: true, mode: 0o600 });
  try {
    await f.write(new TextEncoder().encode(privateText));
  } finally {
    f.close();
  }
  await Deno.chmod(privatePath, 0o600);
  const publicPath = `${privatePath}.pub`;
  await Deno.writeTextFile(publicPath, publicLine + "\n", { mode: 0o644 });
  await Deno.chmod(publicPath, 0o644);
  return { privatePath, publicPath, publicLine, fingerprint: fingerprintSha256(publicBlob) };
}
