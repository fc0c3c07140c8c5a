/**
 * The optional key-server exchange of `ssh-mcp bridge` (TOOLS.md §15,
 * SECURITY.md BRIDGE-1 / BRIDGE-3, issue 15 item 2), compatible with the m2m
 * key-server convention:
 *
 * - `GET  <url>/server_pub_key` answers `{"server_pub_key": "<type> <base64> [comment]"}`,
 *   the SSH server's host key;
 * - `POST <url>/register` with `{"client_pub_key": "<type> <base64> [comment]"}`
 *   registers our client public key (any 2xx is success).
 *
 * Rules, enforced here by construction:
 *
 * - HTTPS only: the URL comes from the command line alone and `args.ts`
 *   refuses anything but `https://` (no HTTP fallback, no URL from remote
 *   data); redirects are never followed (a 3xx is an error, so nothing can
 *   send us to `http://` or elsewhere). TLS is verified against the system
 *   roots plus the `--key-server-ca` PEM file when given.
 * - Every request: 10 s timeout (connect, TLS, headers and body), body capped
 *   at 64 KiB (a larger `Content-Length` is refused before reading; a body
 *   that grows past the cap is cut and refused).
 * - The fetched key must have the `--server-fingerprint` fingerprint, or,
 *   with `--tofu`, equal the key pinned for the host (pinned now, in the
 *   bridge's OWN pin file `SSH_PINNED_KNOWN_HOSTS` through {@link HostPins},
 *   when the host has no key yet). A key that is `@revoked`, or that differs
 *   from a key known_hosts or the pin file already trusts for the host, is
 *   refused in both modes. All of this happens before any SSH connection, so
 *   a refused key means no credential is ever offered; the client key is
 *   registered only after the server key passed.
 * - The SSH handshake afterwards is strict against exactly that key
 *   ({@link KeyServerTrust}): the host's lines in known_hosts / the pin file
 *   no longer widen what is accepted, and a server presenting any other key
 *   is refused (HostKeyMismatch) before authentication. Jump hosts are
 *   checked against the normal files.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import * as path from "node:path";
// @ts-types="npm:@types/ssh2@1.15.5"
import ssh2 from "ssh2";
import type { Logger } from "../log.ts";
import { orderHostKeyAlgorithms } from "../ssh/host_key_algorithms.ts";
import { HostPins } from "../ssh/host_pins.ts";
import {
  blobTypeForKeyTypeName,
  decodeOpenSshBase64,
  fingerprintSha256,
  keyTypeOfBlob,
  parsePublicKeyBlob,
} from "../ssh/key_blob.ts";
import {
  KnownHosts,
  type KnownHostsLookup,
  type KnownHostsLookupOptions,
  lookupKeyFor,
  type PinnedKey,
} from "../ssh/known_hosts.ts";

/** Cap of a key-server response body (BRIDGE-3). */
export const KEY_SERVER_MAX_BODY = 64 * 1024;
/** Timeout of one key-server request, ms (BRIDGE-3). */
export const KEY_SERVER_TIMEOUT_MS = 10_000;

/** A failed exchange (the bridge exits 1; nothing was offered over SSH). */
export class KeyServerError extends Error {
  constructor(readonly code: string, message: string) {
    super(`${code}: ${message}`);
    this.name = "KeyServerError";
  }
}

/** The key-server part of a bridge plan. */
export interface KeyServerPlan {
  /** https base URL (no trailing slash) */
  url: string;
  /** `SHA256:...` the fetched key must have, or null with `tofu` */
  fingerprint: string | null;
  tofu: boolean;
  /** absolute path of the PEM CA file, or null (system roots) */
  caFile: string | null;
  /** the client key file whose public key is registered, or null (agent: nothing registered) */
  clientKey: string | null;
  /** the user's known_hosts + the bridge's pin file */
  pins: HostPins;
  /** the store the connection pool checks host keys with */
  trust: KeyServerTrust;
}

/** Outcome of {@link runKeyExchange}. */
export interface KeyExchangeResult {
  /** known_hosts name the key is accepted for (`host` or `[host]:port`) */
  lookupKey: string;
  fingerprint: string;
  keyType: string;
  /** "fingerprint" (matched --server-fingerprint), "pinned-now", "pin" (matched an existing pin/known_hosts line) */
  trustedBy: "fingerprint" | "pinned-now" | "pin";
  /** the registered public key line, or null when nothing was registered (--agent) */
  registered: string | null;
}

// ---------------------------------------------------------------------------
// host-key store

/**
 * The host-key store of a bridge with a key server: every query goes to the
 * wrapped store (known_hosts + pin file), except for the target's known_hosts
 * name, which trusts exactly the key the exchange accepted — and nothing at
 * all before the exchange ran (fail closed).
 */
export class KeyServerTrust extends KnownHosts {
  #base: KnownHosts | undefined;
  #target: string | null = null;
  #key: PinnedKey | null = null;

  constructor(base: KnownHosts) {
    super(base.path, { missingOk: true, label: "known_hosts file (key-server exchange)" });
    this.#base = base;
  }

  /** Sets the target's known_hosts name (from the pool's view of the target). */
  setTarget(lookupKey: string): void {
    this.#target = lookupKey;
  }

  /** the target's known_hosts name, or null before {@link setTarget} */
  get target(): string | null {
    return this.#target;
  }

  /** Accepts the exchanged key for the target (called once the exchange checks passed). */
  accept(blob: Uint8Array): void {
    const keyType = keyTypeOfBlob(blob);
    this.#key = {
      keyType,
      blob: new Uint8Array(blob),
      fingerprint: fingerprintSha256(blob),
      line: 0,
      marker: null,
    };
  }

  override refresh(): void {
    // the base constructor calls refresh() before #base exists
    if (#base in this && this.#base) this.#base.refresh();
  }

  override lookup(
    host: string,
    port: number,
    opts: KnownHostsLookupOptions = {},
  ): KnownHostsLookup {
    const r = this.#base!.lookup(host, port, opts);
    if (this.#target === null || lookupKeyFor(host, port, opts) !== this.#target) return r;
    return {
      lookupKey: r.lookupKey,
      trusted: this.#key ? [this.#key] : [],
      revoked: r.revoked,
      certAuthority: [],
      portlessFallback: false,
    };
  }

  override hostKeyAlgorithms(
    host: string,
    port: number,
    opts: KnownHostsLookupOptions = {},
  ): string[] {
    if (this.#target !== null && lookupKeyFor(host, port, opts) === this.#target) {
      return orderHostKeyAlgorithms(this.#key ? [this.#key.keyType] : []);
    }
    return this.#base!.hostKeyAlgorithms(host, port, opts);
  }
}

// ---------------------------------------------------------------------------
// HTTP

/** Printable, short form of untrusted text for an error message. */
function shown(s: string, max = 200): string {
  // deno-lint-ignore no-control-regex
  const clean = s.replace(/[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069]/g, "?");
  return JSON.stringify(clean.length > max ? clean.slice(0, max) + "..." : clean);
}

function describeFetchError(e: unknown): string {
  const parts: string[] = [];
  let cur: unknown = e;
  for (let i = 0; i < 4 && cur instanceof Error; i++) {
    parts.push(cur.message);
    cur = (cur as { cause?: unknown }).cause;
  }
  return parts.join(": ") || String(e);
}

/** One HTTPS request with the BRIDGE-3 limits; returns status and body text. */
async function request(
  client: Deno.HttpClient | null,
  url: string,
  init: { method: "GET" | "POST"; body?: string },
  what: string,
): Promise<{ status: number; body: string }> {
  const timeout = AbortSignal.timeout(KEY_SERVER_TIMEOUT_MS);
  const secs = KEY_SERVER_TIMEOUT_MS / 1000;
  const timedOut = () =>
    new KeyServerError(
      "KeyServerTimeout",
      `the key server did not answer ${what} (${url}) within ${secs} s; check that it runs ` +
        `and is reachable (nothing was sent over SSH)`,
    );
  let res: Response;
  try {
    res = await fetch(url, {
      method: init.method,
      headers: {
        accept: "application/json",
        ...(init.body !== undefined ? { "content-type": "application/json" } : {}),
      },
      ...(init.body !== undefined ? { body: init.body } : {}),
      redirect: "manual",
      signal: timeout,
      ...(client ? { client } : {}),
    });
  } catch (e) {
    if (timeout.aborted) throw timedOut();
    throw new KeyServerError(
      "KeyServerUnreachable",
      `cannot reach the key server for ${what} (${url}): ${describeFetchError(e)}. ` +
        `If it uses a private CA, give its certificate with --key-server-ca FILE`,
    );
  }
  try {
    if (res.status >= 300 && res.status < 400) {
      const loc = res.headers.get("location") ?? "";
      throw new KeyServerError(
        "KeyServerRedirect",
        `the key server answered ${what} (${url}) with a redirect (HTTP ${res.status}` +
          `${loc ? ` to ${shown(loc)}` : ""}); redirects are not followed (they could lead to ` +
          `plain HTTP): give the final https:// URL with --key-server`,
      );
    }
    const len = res.headers.get("content-length");
    if (len !== null && /^[0-9]+$/.test(len.trim()) && Number(len) > KEY_SERVER_MAX_BODY) {
      throw new KeyServerError(
        "KeyServerResponseTooLarge",
        `the key server's answer to ${what} (${url}) announces ${len.trim()} bytes, over the ` +
          `${KEY_SERVER_MAX_BODY / 1024} KiB limit; refused`,
      );
    }
    const chunks: Uint8Array[] = [];
    let total = 0;
    if (res.body) {
      const reader = res.body.getReader();
      try {
        while (true) {
          // sequential reads of one stream
          // deno-lint-ignore no-await-in-loop
          const { value, done } = await reader.read();
          if (done) break;
          total += value.length;
          if (total > KEY_SERVER_MAX_BODY) {
            throw new KeyServerError(
              "KeyServerResponseTooLarge",
              `the key server's answer to ${what} (${url}) is over the ` +
                `${KEY_SERVER_MAX_BODY / 1024} KiB limit; refused`,
            );
          }
          chunks.push(value);
        }
      } finally {
        await reader.cancel().catch(() => {});
      }
    }
    return { status: res.status, body: Buffer.concat(chunks).toString("utf8") };
  } catch (e) {
    if (e instanceof KeyServerError) throw e;
    if (timeout.aborted) throw timedOut();
    throw new KeyServerError(
      "KeyServerUnreachable",
      `reading the key server's answer to ${what} (${url}) failed: ${describeFetchError(e)}`,
    );
  } finally {
    await res.body?.cancel().catch(() => {});
  }
}

/** Parses `<type> <base64> [comment]` into a plain public key blob, or throws. */
export function parsePublicKeyLine(line: string, what: string): Uint8Array {
  const parts = line.trim().split(/[ \t]+/);
  const bad = (why: string) =>
    new KeyServerError(
      "KeyServerBadResponse",
      `${what} ${shown(line)} is not an SSH public key line (${why})`,
    );
  if (parts.length < 2) throw bad('expected "<type> <base64> [comment]"');
  const [type, b64] = parts as [string, string];
  const blob = decodeOpenSshBase64(b64);
  if (blob === null) throw bad("invalid base64");
  const want = blobTypeForKeyTypeName(type);
  if (want === null) throw bad(`unknown key type ${shown(type, 60)}`);
  if (keyTypeOfBlob(blob) !== want) throw bad("the key type does not match the key");
  const id = parsePublicKeyBlob(blob);
  if (id === null) throw bad("the key does not parse");
  if (id.canon.startsWith("cert:")) throw bad("certificates are not supported");
  return blob;
}

function parseServerKey(body: string, url: string): Uint8Array {
  let j: unknown;
  try {
    j = JSON.parse(body);
  } catch {
    throw new KeyServerError(
      "KeyServerBadResponse",
      `the key server's answer (${url}) is not JSON: ${shown(body)}; expected ` +
        `{"server_pub_key": "<type> <base64>"}`,
    );
  }
  const v = (j !== null && typeof j === "object" && !Array.isArray(j))
    ? (j as Record<string, unknown>).server_pub_key
    : undefined;
  if (typeof v !== "string") {
    throw new KeyServerError(
      "KeyServerBadResponse",
      `the key server's answer (${url}) has no string "server_pub_key": ${shown(body)}`,
    );
  }
  return parsePublicKeyLine(v, "the key server's server_pub_key");
}

/** Our public key line: KEY.pub when present, else derived from an unencrypted private key. */
async function clientPublicLine(keyFile: string): Promise<string> {
  try {
    const text = (await Deno.readTextFile(`${keyFile}.pub`)).split("\n")[0]!.trim();
    parsePublicKeyLine(text, `${keyFile}.pub`);
    return text;
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) {
      if (e instanceof KeyServerError) throw e;
      throw new KeyServerError(
        "ClientKeyUnreadable",
        `cannot read ${keyFile}.pub: ${(e as Error).message}`,
      );
    }
  }
  let text: string;
  try {
    text = await Deno.readTextFile(keyFile);
  } catch (e) {
    throw new KeyServerError(
      "ClientKeyUnreadable",
      `cannot read the client key ${keyFile} to register its public key: ${(e as Error).message}`,
    );
  }
  const k = ssh2.utils.parseKey(text);
  const key = Array.isArray(k) ? k[0] : k;
  if (!key || key instanceof Error) {
    throw new KeyServerError(
      "ClientKeyUnreadable",
      `cannot derive the public key of ${keyFile} (${
        key instanceof Error ? key.message : "no key"
      }); put it next to the key as ${path.basename(keyFile)}.pub ` +
        `(ssh-keygen -y -f ${keyFile} > ${keyFile}.pub)`,
    );
  }
  const blob = new Uint8Array(key.getPublicSSH());
  return `${keyTypeOfBlob(blob)} ${Buffer.from(blob).toString("base64")}`;
}

/** The HTTP client: system roots, plus the `--key-server-ca` certificates when given. */
async function httpClient(caFile: string | null): Promise<Deno.HttpClient | null> {
  if (caFile === null) return null;
  let pem: string;
  try {
    pem = await Deno.readTextFile(caFile);
  } catch (e) {
    throw new KeyServerError(
      "KeyServerCaUnreadable",
      `cannot read --key-server-ca ${caFile}: ${(e as Error).message}`,
    );
  }
  if (!/-----BEGIN CERTIFICATE-----/.test(pem)) {
    throw new KeyServerError(
      "KeyServerCaUnreadable",
      `--key-server-ca ${caFile} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`,
    );
  }
  try {
    return Deno.createHttpClient({ caCerts: [pem] });
  } catch (e) {
    throw new KeyServerError(
      "KeyServerCaUnreadable",
      `--key-server-ca ${caFile} is not a usable PEM certificate: ${(e as Error).message}`,
    );
  }
}

/**
 * Runs the exchange: fetch and check the server's host key, pin it (--tofu,
 * first use), register our client key, and make the pool's host-key store
 * trust exactly that key for the target. Throws {@link KeyServerError}.
 */
export async function runKeyExchange(
  ks: KeyServerPlan,
  target: { host: string; port: number; hostKeyAlias: boolean },
  logger: Logger,
): Promise<KeyExchangeResult> {
  const lookupKey = lookupKeyFor(target.host, target.port, {
    hostKeyAlias: target.hostKeyAlias,
  });
  ks.trust.setTarget(lookupKey);
  const client = await httpClient(ks.caFile);
  try {
    const keyUrl = `${ks.url}/server_pub_key`;
    const got = await request(client, keyUrl, { method: "GET" }, "GET /server_pub_key");
    if (got.status !== 200) {
      throw new KeyServerError(
        "KeyServerError",
        `GET ${keyUrl} answered HTTP ${got.status}: ${shown(got.body)}`,
      );
    }
    const blob = parseServerKey(got.body, keyUrl);
    const fingerprint = fingerprintSha256(blob);
    const keyType = keyTypeOfBlob(blob);

    if (ks.fingerprint !== null && fingerprint !== ks.fingerprint) {
      throw new KeyServerError(
        "HostKeyMismatch",
        `the key server ${ks.url} returned the host key ${keyType} ${fingerprint} for ` +
          `${lookupKey}, but --server-fingerprint is ${ks.fingerprint}. Refused before any SSH ` +
          `connection (nothing registered, no credential offered). Check the fingerprint on the ` +
          `server's console (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub); a wrong key may mean ` +
          `the key server or the network is not the one you think`,
      );
    }
    const v = ks.pins.verify(target.host, target.port, blob, {
      hostKeyAlias: target.hostKeyAlias,
    });
    if (v.status === "revoked") {
      throw new KeyServerError(
        "HostKeyMismatch",
        `the key server returned ${keyType} ${fingerprint} for ${lookupKey}, a key marked ` +
          `@revoked in ${ks.pins.path} or ${ks.pins.pinPath}; refused`,
      );
    }
    if (v.status === "mismatch") {
      throw new KeyServerError(
        "HostKeyMismatch",
        `the key server returned ${keyType} ${fingerprint} for ${lookupKey}, but ` +
          `${v.expectedFingerprint} is already trusted for it (in ${ks.pins.path} or the ` +
          `bridge's pin file ${ks.pins.pinPath}). A changed host key is never accepted ` +
          `automatically: verify the new key out of band, then remove the old line by hand`,
      );
    }
    let trustedBy: KeyExchangeResult["trustedBy"];
    if (ks.fingerprint !== null) {
      trustedBy = "fingerprint";
    } else if (v.status === "trusted") {
      trustedBy = "pin";
    } else {
      // --tofu, first use: pin into the bridge's own pin file (never known_hosts)
      let pinned;
      try {
        pinned = await ks.pins.pin(lookupKey, blob);
      } catch (e) {
        throw new KeyServerError(
          (e as { code?: string }).code ?? "PinFailed",
          `cannot pin the key server's key for ${lookupKey}: ${(e as Error).message}`,
        );
      }
      trustedBy = pinned.alreadyPinned ? "pin" : "pinned-now";
      if (!pinned.alreadyPinned) {
        logger.warn(
          `--tofu: trusted the key server's host key for ${lookupKey} on first use ` +
            `(${keyType} ${fingerprint}) and pinned it in ${pinned.file}; later runs refuse ` +
            `any other key for this host`,
        );
      }
    }

    let registered: string | null = null;
    if (ks.clientKey !== null) {
      const line = await clientPublicLine(ks.clientKey);
      const regUrl = `${ks.url}/register`;
      const r = await request(
        client,
        regUrl,
        { method: "POST", body: JSON.stringify({ client_pub_key: line }) },
        "POST /register",
      );
      if (r.status < 200 || r.status > 299) {
        throw new KeyServerError(
          "KeyServerError",
          `POST ${regUrl} (registering ${ks.clientKey}.pub) answered HTTP ${r.status}: ` +
            `${shown(r.body)}`,
        );
      }
      registered = line;
    } else {
      logger.info("key server: nothing registered (--agent: the agent's keys are not sent)");
    }

    ks.trust.accept(blob);
    logger.info("key server: host key accepted", {
      lookup_key: lookupKey,
      fingerprint,
      trusted_by: trustedBy,
    });
    return { lookupKey, fingerprint, keyType, trustedBy, registered };
  } finally {
    client?.close();
  }
}
