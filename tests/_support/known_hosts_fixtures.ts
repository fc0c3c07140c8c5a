/**
 * Helpers for the known_hosts tests: OpenSSH's own verdict (the oracle), the
 * real ssh2 client's verdict through {@link KnownHosts}, and independent
 * known_hosts line builders (hashes computed here, not by the module).
 *
 * @module
 */

// @ts-types="npm:@types/ssh2@1.15.5"
import ssh2 from "ssh2";
import net from "node:net";
import { Buffer } from "node:buffer";
import { createHmac } from "node:crypto";
import type { HostKeyVerdict, KnownHosts } from "../../src/ssh/known_hosts.ts";
import { opensshAccepts, type SshdInstance } from "./sshd.ts";

/** The four verdict classes, as both clients report them. */
export type VerdictStatus = HostKeyVerdict["status"];

/** Result of running OpenSSH's client. */
export interface OpensshResult {
  accepted: boolean;
  /** verdict class read from OpenSSH's stderr (documentation of what OpenSSH printed) */
  status: VerdictStatus | "other";
  stderr: string;
}

/**
 * Classifies OpenSSH's host-key messages (tests only; the product never
 * classifies by message text):
 * - "WARNING: REVOKED HOST KEY DETECTED!" → revoked
 * - "WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!" → mismatch
 * - "No <TYPE> host key is known for <name> and you have requested strict checking." → unknown
 */
export function classifyOpenssh(accepted: boolean, stderr: string): VerdictStatus | "other" {
  if (accepted) return "trusted";
  if (stderr.includes("REVOKED HOST KEY DETECTED")) return "revoked";
  if (stderr.includes("REMOTE HOST IDENTIFICATION HAS CHANGED")) return "mismatch";
  if (/No \S+ host key is known for \S+ and you have requested strict checking/.test(stderr)) {
    return "unknown";
  }
  return "other";
}

/**
 * Runs `ssh -o StrictHostKeyChecking=yes ... true` with the same options as
 * `opensshAccepts` in sshd.ts, plus `extraOptions` (e.g. `HostKeyAlgorithms=...`).
 */
export async function opensshRun(opts: {
  sshd: SshdInstance;
  knownHostsPath: string;
  identity: string;
  hostKeyAlias?: string;
  extraOptions?: string[];
}): Promise<OpensshResult> {
  const { accepted, stderr } = await opensshAccepts(opts);
  return { accepted, status: classifyOpenssh(accepted, stderr), stderr };
}

/** Result of a real ssh2 connection verified by {@link KnownHosts}. */
export interface Ssh2Result {
  /** handshake and authentication completed */
  accepted: boolean;
  /** our verdict for the key ssh2 received (null if the handshake never got there) */
  verdict: HostKeyVerdict | null;
  /** algorithms offered to ssh2 */
  algorithms: string[];
  error?: string;
}

/**
 * Connects the real ssh2 client (own socket with TCP_NODELAY, `hostVerifier`
 * = our verdict, host-key algorithms ordered by `kh.hostKeyAlgorithms`
 * unless `algorithms` is given) and reports whether it got to `ready`.
 */
export async function ssh2Connect(opts: {
  sshd: SshdInstance;
  kh: KnownHosts;
  /** name passed to verify (address, or the HostKeyAlias) */
  name: string;
  hostKeyAlias?: boolean;
  privateKey: string;
  algorithms?: string[];
}): Promise<Ssh2Result> {
  const { sshd, kh } = opts;
  const lookupOpts = { hostKeyAlias: opts.hostKeyAlias ?? false };
  const algorithms = opts.algorithms ?? kh.hostKeyAlgorithms(opts.name, sshd.port, lookupOpts);
  const sock = net.connect({ host: sshd.address, port: sshd.port });
  sock.setNoDelay(true);
  await new Promise<void>((resolve, reject) => {
    sock.once("connect", () => resolve());
    sock.once("error", reject);
  });
  return await new Promise<Ssh2Result>((resolve) => {
    const client = new ssh2.Client();
    let verdict: HostKeyVerdict | null = null;
    let accepted = false;
    let error: string | undefined;
    const timer = setTimeout(() => {
      error ??= "timeout";
      client.end();
      sock.destroy();
    }, 15_000);
    client.on("ready", () => {
      accepted = true;
      client.end();
    });
    client.on("error", (e: Error) => {
      error ??= e.message;
      sock.destroy();
    });
    client.on("close", () => {
      clearTimeout(timer);
      sock.destroy();
      resolve({ accepted, verdict, algorithms, error });
    });
    client.connect({
      sock,
      username: sshd.user.name,
      privateKey: opts.privateKey,
      readyTimeout: 10_000,
      algorithms: {
        serverHostKey: algorithms as ssh2.ServerHostKeyAlgorithm[],
      },
      hostVerifier: (key: Buffer): boolean => {
        verdict = kh.verify(opts.name, sshd.port, key, lookupOpts);
        return verdict.status === "trusted";
      },
    });
  });
}

/**
 * A hashed host field computed independently of the module:
 * `|1|` + base64(salt) + `|` + base64(HMAC-SHA1(key = salt, data = name)).
 */
export function hmacHostField(name: string, salt?: Uint8Array): string {
  const s = salt ?? crypto.getRandomValues(new Uint8Array(20));
  const mac = createHmac("sha1", s).update(name).digest("base64");
  return `|1|${Buffer.from(s).toString("base64")}|${mac}`;
}

function readString(b: Uint8Array, off: number): [Uint8Array, number] {
  const n = new DataView(b.buffer, b.byteOffset).getUint32(off);
  return [b.subarray(off + 4, off + 4 + n), off + 4 + n];
}

function sshString(x: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + x.length);
  new DataView(out.buffer).setUint32(0, x.length);
  out.set(x, 4);
  return out;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Splits `type base64` into its parts. */
export function splitPublicKey(publicKey: string): { type: string; blob: Uint8Array } {
  const [type, b64] = publicKey.trim().split(/\s+/);
  return { type: type!, blob: new Uint8Array(Buffer.from(b64!, "base64")) };
}

/** base64 of a blob. */
export function b64(blob: Uint8Array): string {
  return Buffer.from(blob).toString("base64");
}

/** Variants of a valid public key that OpenSSH must (or must not) accept on a known_hosts line. */
export const keyVariants = {
  /** the blob with one extra trailing byte (OpenSSH: invalid) */
  trailingByte(publicKey: string): string {
    const { type, blob } = splitPublicKey(publicKey);
    return `${type} ${b64(concat(blob, new Uint8Array([0])))}`;
  },
  /** base64 without its `=` padding (OpenSSH: invalid) */
  noPadding(publicKey: string): string {
    const { type, blob } = splitPublicKey(publicKey);
    return `${type} ${b64(blob).replace(/=+$/, "")}`;
  },
  /** the last byte of the key material flipped (for ECDSA: a point off the curve) */
  flipLastByte(publicKey: string): string {
    const { type, blob } = splitPublicKey(publicKey);
    const c = blob.slice();
    c[c.length - 1] = c[c.length - 1]! ^ 1;
    return `${type} ${b64(c)}`;
  },
  /** an RSA key re-encoded with redundant leading zero bytes in e and n (OpenSSH: same key) */
  rsaLeadingZeros(publicKey: string): string {
    const { type, blob } = splitPublicKey(publicKey);
    const [t, o1] = readString(blob, 0);
    const [e, o2] = readString(blob, o1);
    const [n] = readString(blob, o2);
    const z = new Uint8Array([0]);
    return `${type} ${b64(concat(sshString(t), sshString(concat(z, e)), sshString(concat(z, n))))}`;
  },
  /** an RSA key whose modulus is cut to `bits` bits (valid structure) */
  rsaTruncated(publicKey: string, bytes: number): string {
    const { type, blob } = splitPublicKey(publicKey);
    const [t, o1] = readString(blob, 0);
    const [e, o2] = readString(blob, o1);
    const [n] = readString(blob, o2);
    // n starts with a 0x00 sign byte; keep it plus `bytes` bytes
    return `${type} ${
      b64(concat(sshString(t), sshString(e), sshString(n.subarray(0, 1 + bytes))))
    }`;
  },
};
