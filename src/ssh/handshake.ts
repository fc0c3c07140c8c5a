/**
 * Setting up one SSH hop up to an authenticated ssh2 client: the byte stream
 * (our own TCP socket with TCP_NODELAY, a forwarded channel through a jump
 * host, or an ssh_config ProxyCommand), the SSH handshake with strict host-key
 * verification through `KnownHosts` (ssh2's `hostVerifier` is always set) and
 * the operator's auth methods only. `connection.ts` wraps the result in a
 * `Connection`. An unknown host key is also reported to the caller's
 * first-contact scope (`first_contact.ts`); it is refused all the same.
 *
 * @module
 */

// @ts-types="npm:@types/ssh2@1.15.5"
import type ssh2 from "ssh2";
import { loadSsh2 } from "../util/ssh2_lib.ts";
import net from "node:net";
import { spawn } from "node:child_process";
import { Duplex } from "node:stream";
import type { HostPolicy } from "../config/types.ts";
import { ToolError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { firstContact } from "./first_contact.ts";
import { coalescePacketWrites } from "./packet_writes.ts";
import { fingerprintSha256, keyTypeOfBlob } from "./key_blob.ts";
import { type HostKeyVerdict, type KnownHosts, verdictError } from "./known_hosts.ts";
import type { PreparedAuth } from "./auth.ts";
import { type TelemetrySpan, tracing, withSpan } from "../telemetry/otel.ts";

/** Where and how to connect one hop. */
export interface ConnectTarget {
  /** the hosts.toml (or env-allowlist) policy of this hop */
  policy: HostPolicy;
  /** effective login user */
  user: string;
  /** effective port */
  port: number;
  /** name after ssh_config `HostName` mapping */
  connectName: string;
  /** name used for the known_hosts lookup (`HostKeyAlias` or connectName) */
  lookupName: string;
  /** true when lookupName is an ssh_config HostKeyAlias (looked up without the port, like OpenSSH) */
  hostKeyAlias: boolean;
  /** the network-policy-verified address (or the name when DNS checks are off) */
  connectAddress: string;
  /** ssh_config ProxyCommand (tokens expanded), only when ALLOW_SSH_CONFIG_PROXYCOMMAND=true */
  proxyCommand?: string;
  /** algorithm lists from ssh_config (already mapped to ssh2 names) */
  algorithms?: { cipher?: string[]; hmac?: string[]; kex?: string[]; serverHostKey?: string[] };
}

/**
 * Makes the TCP socket of a direct connection (unconnected; `tcpConnect`
 * connects it to the verified address and sets TCP_NODELAY). Tests pass one
 * to observe the address connected to and the socket options.
 */
export type SocketFactory = () => net.Socket;

/** The default {@link SocketFactory}: a plain `net.Socket`. */
export const defaultSocketFactory: SocketFactory = (): net.Socket => new net.Socket();

/** Shared dependencies of every connect. */
export interface ConnectDeps {
  knownHosts: KnownHosts;
  logger: Logger;
  connectTimeoutMs: number;
  keepaliveMs: number;
  /** max concurrent session channels (exec) per connection */
  maxChannels: number;
  /** the socket of a direct connection; default {@link defaultSocketFactory} */
  socketFactory?: SocketFactory;
}

/**
 * Cipher preference for direct connections when ssh_config names none: ssh2's
 * own default set, reordered by throughput measured under Deno (bench `files`:
 * chacha20-poly1305 ~294/244 MiB/s SFTP read/write vs ~136/130 for
 * aes128-gcm, whose node:crypto AES is slow in Deno). It is also OpenSSH's
 * first choice. Tunnelled hops keep ssh2's default order (see handshake()).
 */
export const DEFAULT_CIPHERS = [
  "chacha20-poly1305@openssh.com",
  "aes128-gcm@openssh.com",
  "aes256-gcm@openssh.com",
  "aes128-ctr",
  "aes192-ctr",
  "aes256-ctr",
] as const;

/** What a hop needs of the connection it tunnels through (a jump host's `Connection`). */
export interface JumpHost {
  /** Opens a direct-tcpip channel to `host:port`. */
  forwardOut(host: string, port: number): Promise<ssh2.ClientChannel>;
}

/**
 * ssh_config ProxyCommand: the command's stdin/stdout carry the SSH stream
 * (only with ALLOW_SSH_CONFIG_PROXYCOMMAND=true; the command comes from the
 * operator's ssh_config, never from tool arguments). Its stderr is logged at
 * DEBUG.
 */
function proxyCommandStream(command: string, logger: Logger): Duplex {
  const child = spawn("/bin/sh", ["-c", command], { stdio: ["pipe", "pipe", "pipe"] });
  const stream = new Duplex({
    read() {
      child.stdout.resume();
    },
    write(chunk, _enc, cb) {
      child.stdin.write(chunk, cb);
    },
    final(cb) {
      child.stdin.end();
      cb();
    },
    destroy(err, cb) {
      child.kill("SIGTERM");
      cb(err);
    },
  });
  child.stdout.on("data", (d: Uint8Array) => {
    if (!stream.push(d)) child.stdout.pause();
  });
  child.stdout.on("end", () => stream.push(null));
  child.stderr.on(
    "data",
    (d: Uint8Array) => logger.debug("ProxyCommand stderr", { bytes: d.length }),
  );
  child.on("error", (e: Error) => stream.destroy(e));
  child.on("exit", () => stream.push(null));
  return stream;
}

/** The part of ssh2's private protocol object {@link skipHostKeysProve} uses. */
interface Ssh2Protocol {
  _handlers?: Record<string, unknown>;
  requestSuccess(): void;
}

/**
 * OpenSSH announces its host keys to every client after authentication
 * (`hostkeys-00@openssh.com`, for `UpdateHostKeys`), and ssh2 always answers
 * with `hostkeys-prove-00@openssh.com`: the host signs the session with each
 * of its host keys (RSA too, on hosts with Debian's default keys) and the
 * client verifies every signature, on each new connection, for a key list
 * this server never uses (known_hosts is the only trust anchor and is never
 * written, KH-1 / KH-7). ssh2 has no option for it, so the announcement is
 * dropped before ssh2's handler sees it (a reply, if one is wanted, is the
 * success ssh2 itself sends). Should ssh2's internals change, nothing is
 * patched and the connection behaves as before (tests/ssh/handshake_test.ts
 * notices).
 */
function skipHostKeysProve(client: ssh2.Client): void {
  const proto = (client as unknown as { _protocol?: Ssh2Protocol })._protocol;
  const handlers = proto?._handlers;
  const original = handlers?.GLOBAL_REQUEST;
  if (!handlers || typeof original !== "function") return;
  handlers.GLOBAL_REQUEST = (
    p: Ssh2Protocol,
    name: string,
    wantReply: boolean,
    data: unknown,
  ) => {
    if (name !== "hostkeys-00@openssh.com") return original(p, name, wantReply, data);
    if (wantReply) p.requestSuccess();
  };
}

function tcpConnect(
  address: string,
  port: number,
  timeoutMs: number,
  signal?: AbortSignal,
  socketFactory: SocketFactory = defaultSocketFactory,
) {
  return new Promise<net.Socket>((resolve, reject) => {
    const sock = socketFactory();
    const fail = (msg: string) => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      sock.destroy();
      reject(new ToolError("ConnectError", msg));
    };
    const onAbort = () => fail("Connection attempt cancelled.");
    const timer = setTimeout(
      () =>
        fail(
          `TCP connect to ${address}:${port} timed out after ${
            Math.round(timeoutMs / 1000)
          } s (SSH_CONNECT_TIMEOUT).`,
        ),
      timeoutMs,
    );
    signal?.addEventListener("abort", onAbort, { once: true });
    sock.once(
      "error",
      (e: Error) => fail(`TCP connect to ${address}:${port} failed: ${e.message}`),
    );
    sock.connect(port, address, () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      sock.removeAllListeners("error");
      sock.setNoDelay(true);
      resolve(sock);
    });
  });
}

/** The key type of a presented host key blob, for the handshake span ("" when unreadable). */
function hostKeyType(blob: Uint8Array): string {
  try {
    return keyTypeOfBlob(blob);
  } catch {
    return "";
  }
}

/** An ssh2 client past the handshake (and authentication, unless none was offered). */
export interface Handshake {
  /** the ready client */
  client: ssh2.Client;
  /** SHA256 fingerprint of the presented host key ("" if none was seen) */
  presented: string;
}

/**
 * TCP (or a forwarded channel through `via`) plus the SSH handshake with
 * strict host-key verification, then authentication with `auth`. With
 * `auth === null` only the host key is checked: no credentials are offered and
 * the call resolves once the server has proven the pinned key (the
 * authentication failure that follows is expected).
 */
export async function handshake(
  target: ConnectTarget,
  auth: PreparedAuth | null,
  via: JumpHost | null,
  deps: ConnectDeps,
  signal?: AbortSignal,
): Promise<Handshake> {
  const attrs = {
    "ssh.host": target.policy.alias,
    "net.peer.port": target.port,
    "ssh.transport": via ? "jump" : target.proxyCommand ? "proxy_command" : "tcp",
    "ssh.host_key_only": auth === null,
  };
  return await withSpan(
    "ssh.handshake",
    attrs,
    (span) => handshakeIn(span, target, auth, via, deps, signal),
    "client",
  );
}

async function handshakeIn(
  span: TelemetrySpan,
  target: ConnectTarget,
  auth: PreparedAuth | null,
  via: JumpHost | null,
  deps: ConnectDeps,
  signal?: AbortSignal,
): Promise<Handshake> {
  const { knownHosts } = deps;
  const alias = target.policy.alias;
  // read now, while the caller's async context is certain (first_contact.ts)
  const firstContactCollector = firstContact.current();
  // loaded on the first connection, not at start-up; one socket write per packet (packet_writes.ts)
  const [lib] = await Promise.all([loadSsh2(), coalescePacketWrites()]);
  const sock: Duplex = via
    ? await via.forwardOut(target.connectAddress, target.port)
    : target.proxyCommand
    ? proxyCommandStream(target.proxyCommand, deps.logger)
    : await tcpConnect(
      target.connectAddress,
      target.port,
      deps.connectTimeoutMs,
      signal,
      deps.socketFactory,
    );

  knownHosts.refresh();
  let verdict: HostKeyVerdict | null = null;
  let presented = "";
  const client = new lib.Client();
  const serverHostKey = target.algorithms?.serverHostKey ??
    knownHosts.hostKeyAlgorithms(target.lookupName, target.port, {
      hostKeyAlias: target.hostKeyAlias,
    });

  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(
        new ToolError(
          "ConnectError",
          `SSH handshake with ${alias} (${target.connectAddress}:${target.port}) timed out after ${
            Math.round(deps.connectTimeoutMs / 1000)
          } s (SSH_CONNECT_TIMEOUT).`,
        ),
      );
      client.end();
    }, deps.connectTimeoutMs);
    const onAbort = () => {
      clearTimeout(timer);
      reject(new ToolError("Cancelled", "Connection attempt cancelled."));
      client.end();
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    client.once("ready", () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      resolve();
    });
    client.once("error", (e: Error & { level?: string }) => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      const v = verdict as HostKeyVerdict | null;
      if (v && v.status !== "trusted") {
        reject(verdictError(v, alias, target.port, knownHosts.path));
      } else if (e.level === "client-authentication") {
        if (auth === null && v?.status === "trusted") {
          resolve();
          return;
        }
        reject(
          new ToolError(
            "AuthenticationFailed",
            `Authentication as ${target.user} on ${alias} failed (tried: ${
              auth?.description ?? "none"
            }). Check that the key is in the server's authorized_keys and the user is right.`,
            { host_key_verified: v?.status === "trusted", actual_fingerprint: presented || null },
          ),
        );
      } else {
        reject(
          new ToolError(
            "ConnectError",
            `SSH connection to ${alias} (${target.connectAddress}:${target.port}) failed: ${e.message}`,
          ),
        );
      }
    });
    client.once("close", () => {
      clearTimeout(timer);
      reject(
        new ToolError(
          "ConnectError",
          `SSH connection to ${alias} (${target.connectAddress}:${target.port}) closed during the handshake.`,
        ),
      );
    });
  });

  try {
    client.connect({
      sock,
      username: target.user,
      authHandler: (auth?.methods ?? []) as ssh2.ConnectConfig["authHandler"],
      hostVerifier: (key: Buffer) => {
        const blob = new Uint8Array(key);
        presented = fingerprintSha256(blob);
        if (tracing()) {
          span.set({
            "ssh.host_key.type": hostKeyType(blob),
            "ssh.host_key.fingerprint": presented,
          });
        }
        const v = knownHosts.verify(target.lookupName, target.port, blob, {
          hostKeyAlias: target.hostKeyAlias,
        });
        verdict = v;
        // first contact: only an unknown key is ever offered, never a changed one
        if (v.status === "unknown" && !v.certAuthorityOnly && firstContactCollector) {
          firstContactCollector.record({
            alias,
            lookupKey: v.lookupKey,
            port: target.port,
            address: target.connectAddress,
            keyType: keyTypeOfBlob(blob),
            keyBlob: blob,
            fingerprint: v.actualFingerprint,
          });
        }
        return v.status === "trusted";
      },
      algorithms: {
        serverHostKey: serverHostKey as ssh2.ServerHostKeyAlgorithm[],
        // ChaCha20 first on direct connections only: a connection tunnelled through another one is
        // decrypted re-entrantly inside the outer connection's decrypt path, and ssh2's
        // chacha20-poly1305 then stalls the inner handshake (reproduced; see tests/ssh/pool_test.ts)
        ...(target.algorithms?.cipher
          ? { cipher: target.algorithms.cipher as ssh2.CipherAlgorithm[] }
          : via
          ? {}
          : { cipher: [...DEFAULT_CIPHERS] as ssh2.CipherAlgorithm[] }),
        ...(target.algorithms?.hmac ? { hmac: target.algorithms.hmac as ssh2.MacAlgorithm[] } : {}),
        ...(target.algorithms?.kex ? { kex: target.algorithms.kex as ssh2.KexAlgorithm[] } : {}),
      },
      readyTimeout: deps.connectTimeoutMs + 1000,
      keepaliveInterval: deps.keepaliveMs,
      keepaliveCountMax: 3,
      agentForward: false,
      tryKeyboard: false,
    });
    skipHostKeysProve(client);
  } catch (e) {
    client.end();
    throw new ToolError(
      "AuthenticationFailed",
      `Could not start authentication for ${alias}: ${(e as Error).message}`,
    );
  }
  try {
    await ready;
  } catch (e) {
    client.end();
    sock.destroy();
    throw e;
  }
  client.removeAllListeners("close");
  client.removeAllListeners("error");
  return { client, presented };
}

/**
 * Checks only the host key of a hop (no credentials offered); returns the
 * verified fingerprint or throws UnknownHost / HostKeyMismatch / ConnectError.
 */
export async function verifyHostKeyOnly(
  target: ConnectTarget,
  via: JumpHost | null,
  deps: ConnectDeps,
): Promise<string> {
  const h = await handshake(target, null, via, deps);
  h.client.on("error", () => {});
  h.client.end();
  return h.presented;
}
