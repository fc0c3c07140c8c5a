/**
 * One SSH connection (one hop): our own TCP socket with TCP_NODELAY (or a
 * forwarded channel through a jump host), strict host-key verification through
 * `KnownHosts` (ssh2's `hostVerifier` is always set), the operator's auth
 * methods only, a per-connection cap on concurrent session channels and one
 * shared SFTP channel.
 *
 * @module
 */

// @ts-types="npm:@types/ssh2@1.15.5"
import ssh2 from "ssh2";
import net from "node:net";
import { spawn } from "node:child_process";
import { Duplex } from "node:stream";
import type { HostPolicy } from "../config/types.ts";
import { ToolError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { Semaphore } from "../util/semaphore.ts";
import type { RemoteCommand } from "../checked.ts";
import {
  execCommand,
  type ExecHost,
  type ExecOptions,
  type OpenedChannel,
  type RawExecResult,
} from "./exec.ts";
import {
  fingerprintSha256,
  type HostKeyVerdict,
  type KnownHosts,
  verdictError,
} from "./known_hosts.ts";
import type { PreparedAuth } from "./auth.ts";

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

/** Shared dependencies of every connect. */
export interface ConnectDeps {
  knownHosts: KnownHosts;
  logger: Logger;
  connectTimeoutMs: number;
  keepaliveMs: number;
  /** max concurrent session channels (exec) per connection */
  maxChannels: number;
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

/** Pool identity of a connection: `(user, hostname, port)` plus the route. */
export function connectionKey(user: string, hostname: string, port: number, via?: string): string {
  return `${user}@${hostname}:${port}${via ? ` via ${via}` : ""}`;
}

/** An authenticated SSH connection. */
export class Connection implements ExecHost {
  readonly key: string;
  readonly target: ConnectTarget;
  readonly client: ssh2.Client;
  readonly hostKeyFingerprint: string;
  readonly serverBanner: string | null;
  readonly connectedAt: number = Date.now();
  /** the connection this one tunnels through, if any */
  readonly via: Connection | null;
  posixShell = false;
  lastUsed: number = Date.now();
  #alive = true;
  #channels: Semaphore;
  #killSlot: Semaphore;
  #forwarded = 0;
  #sftp: Promise<ssh2.SFTPWrapper> | null = null;
  #closeListeners: (() => void)[] = [];
  #logger: Logger;

  constructor(init: {
    key: string;
    target: ConnectTarget;
    client: ssh2.Client;
    hostKeyFingerprint: string;
    serverBanner: string | null;
    via: Connection | null;
    maxChannels: number;
    logger: Logger;
  }) {
    this.key = init.key;
    this.target = init.target;
    this.client = init.client;
    this.hostKeyFingerprint = init.hostKeyFingerprint;
    this.serverBanner = init.serverBanner;
    this.via = init.via;
    this.#channels = new Semaphore(init.maxChannels);
    this.#killSlot = new Semaphore(1);
    this.#logger = init.logger;
    const onGone = () => this.#markDead();
    this.client.on("close", onGone);
    this.client.on("end", onGone);
    this.client.on("error", (e: Error) => {
      this.#logger.debug("ssh connection error", { conn: this.key, error: e.message });
      onGone();
    });
  }

  /** False once the transport closed; the pool then reconnects on the next call. */
  get alive(): boolean {
    return this.#alive;
  }

  /** Session channels plus forwarded channels currently open. */
  get activeChannels(): number {
    return this.#channels.active + this.#channels.waiting + this.#forwarded;
  }

  /** Registers a callback for when the connection dies. */
  onClose(cb: () => void): void {
    if (!this.#alive) cb();
    else this.#closeListeners.push(cb);
  }

  #markDead(): void {
    if (!this.#alive) return;
    this.#alive = false;
    this.#sftp = null;
    const ls = this.#closeListeners;
    this.#closeListeners = [];
    for (const l of ls) {
      try {
        l();
      } catch {
        // listeners must not break teardown
      }
    }
  }

  #assertAlive(): void {
    if (!this.#alive) {
      throw new ToolError(
        "ConnectError",
        `The SSH connection to ${this.target.policy.alias} was lost; retry the call to reconnect.`,
      );
    }
  }

  /** Runs one command under the channel cap. */
  async exec(command: RemoteCommand, opts: ExecOptions): Promise<RawExecResult> {
    this.#assertAlive();
    const release = await this.#channels.acquire(opts.signal);
    this.lastUsed = Date.now();
    try {
      const r = await execCommand(this, command, opts);
      if (!this.#alive && !r.timedOut && !r.cancelled && r.exitCode === -1) {
        throw new ToolError(
          "ConnectError",
          `The SSH connection to ${this.target.policy.alias} closed while the command ran; retry the call.`,
        );
      }
      return r;
    } finally {
      this.lastUsed = Date.now();
      release();
    }
  }

  /** {@link ExecHost}: opens an exec channel (caller holds a slot). */
  openChannel(command: string, env?: Record<string, string>): Promise<OpenedChannel> {
    this.#assertAlive();
    return new Promise((resolve, reject) => {
      const cb = (err: Error | undefined, ch: ssh2.ClientChannel) => {
        if (err) {
          reject(
            new ToolError(
              "ConnectError",
              `Could not open an SSH channel on ${this.target.policy.alias}: ${err.message}`,
            ),
          );
          return;
        }
        const opened: OpenedChannel = { channel: ch, exit: null };
        ch.once("exit", (code: number | null, signal?: string) => {
          opened.exit = { code: typeof code === "number" ? code : null, signal: signal ?? null };
        });
        resolve(opened);
      };
      try {
        if (env) this.client.exec(command, { env }, cb);
        else this.client.exec(command, cb);
      } catch (e) {
        reject(
          new ToolError("ConnectError", `Could not open an SSH channel: ${(e as Error).message}`),
        );
      }
    });
  }

  /** {@link ExecHost}: short command on its own channel, output ignored, bounded. */
  fireAndForget(command: string, timeoutMs: number): Promise<void> {
    // one kill channel at a time: exec slots (<= 8) + SFTP (1) + this (1) stay within MaxSessions 10
    return this.#killSlot.run(() => this.#fireAndForget(command, timeoutMs));
  }

  #fireAndForget(command: string, timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      try {
        this.client.exec(command, (err, ch) => {
          if (err) {
            clearTimeout(timer);
            resolve();
            return;
          }
          ch.on("data", () => {});
          ch.stderr.on("data", () => {});
          ch.on("close", () => {
            clearTimeout(timer);
            resolve();
          });
          ch.end();
        });
      } catch {
        clearTimeout(timer);
        resolve();
      }
    });
  }

  /** The shared SFTP channel, opened on first use (CONFIG.md §6.3). */
  sftp(): Promise<ssh2.SFTPWrapper> {
    this.#assertAlive();
    this.lastUsed = Date.now();
    if (!this.#sftp) {
      const p = new Promise<ssh2.SFTPWrapper>((resolve, reject) => {
        this.client.sftp((err, s) => {
          if (err) {
            reject(
              new ToolError(
                "SFTPSubsystemUnavailable",
                `The server ${this.target.policy.alias} refused the sftp subsystem (${err.message}). Ask the operator to enable "Subsystem sftp" in sshd_config.`,
              ),
            );
            return;
          }
          s.on("close", () => {
            if (this.#sftp === p) this.#sftp = null;
          });
          resolve(s);
        });
      });
      p.catch(() => {
        if (this.#sftp === p) this.#sftp = null;
      });
      this.#sftp = p;
    }
    return this.#sftp;
  }

  /** Drops the SFTP client after a channel-level failure (next call reopens). */
  resetSftp(): void {
    const p = this.#sftp;
    this.#sftp = null;
    p?.then((s) => s.end()).catch(() => {});
  }

  /** Opens a direct-tcpip channel to `host:port` (jump host use). */
  forwardOut(host: string, port: number): Promise<ssh2.ClientChannel> {
    this.#assertAlive();
    return new Promise((resolve, reject) => {
      this.client.forwardOut("127.0.0.1", 0, host, port, (err, ch) => {
        if (err) {
          reject(
            new ToolError(
              "ConnectError",
              `Jump host ${this.target.policy.alias} could not reach ${host}:${port}: ${err.message}`,
            ),
          );
          return;
        }
        this.#forwarded++;
        this.lastUsed = Date.now();
        ch.once("close", () => {
          this.#forwarded--;
          this.lastUsed = Date.now();
        });
        resolve(ch);
      });
    });
  }

  /** Closes the transport (SFTP first). */
  close(): void {
    const s = this.#sftp;
    this.#sftp = null;
    s?.then((x) => x.end()).catch(() => {});
    try {
      this.client.end();
    } catch {
      // already closed
    }
    this.#markDead();
  }
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

function tcpConnect(address: string, port: number, timeoutMs: number, signal?: AbortSignal) {
  return new Promise<net.Socket>((resolve, reject) => {
    const sock = new net.Socket();
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

interface Handshake {
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
async function handshake(
  target: ConnectTarget,
  auth: PreparedAuth | null,
  via: Connection | null,
  deps: ConnectDeps,
  signal?: AbortSignal,
): Promise<Handshake> {
  const { knownHosts } = deps;
  const alias = target.policy.alias;
  const sock: Duplex = via
    ? await via.forwardOut(target.connectAddress, target.port)
    : target.proxyCommand
    ? proxyCommandStream(target.proxyCommand, deps.logger)
    : await tcpConnect(target.connectAddress, target.port, deps.connectTimeoutMs, signal);

  knownHosts.refresh();
  let verdict: HostKeyVerdict | null = null;
  let presented = "";
  const client = new ssh2.Client();
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
        verdict = knownHosts.verify(target.lookupName, target.port, blob, {
          hostKeyAlias: target.hostKeyAlias,
        });
        return verdict.status === "trusted";
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
  via: Connection | null,
  deps: ConnectDeps,
): Promise<string> {
  const h = await handshake(target, null, via, deps);
  h.client.on("error", () => {});
  h.client.end();
  return h.presented;
}

/**
 * Opens one hop: TCP (or a forwarded channel through `via`), SSH handshake with
 * strict host-key verification, authentication, and the POSIX-shell probe.
 */
export async function openConnection(
  target: ConnectTarget,
  auth: PreparedAuth,
  via: Connection | null,
  deps: ConnectDeps,
  signal?: AbortSignal,
): Promise<Connection> {
  const { logger } = deps;
  const { client, presented } = await handshake(target, auth, via, deps, signal);
  const banner = (client as unknown as { _remoteVer?: string })._remoteVer ?? null;
  const conn = new Connection({
    key: connectionKey(target.user, target.policy.hostname, target.port, via?.key),
    target,
    client,
    hostKeyFingerprint: presented,
    serverBanner: banner,
    via,
    maxChannels: deps.maxChannels,
    logger,
  });
  if (target.policy.platform === "posix") {
    conn.posixShell = await probePosixShell(conn);
  }
  logger.debug("ssh connected", {
    conn: conn.key,
    fingerprint: presented,
    posix_shell: conn.posixShell,
  });
  return conn;
}

/** TIMEOUT-3: the login shell must print `$$` as digits for process-group kills. */
async function probePosixShell(conn: Connection): Promise<boolean> {
  try {
    const { channel: ch } = await conn.openChannel(`printf '%s' "$$"`);
    const out = await new Promise<string>((resolve) => {
      let buf = "";
      const timer = setTimeout(() => {
        ch.close();
        resolve("");
      }, 5000);
      ch.on("data", (d: Uint8Array) => (buf += new TextDecoder().decode(d)));
      ch.stderr.on("data", () => {});
      ch.on("close", () => {
        clearTimeout(timer);
        resolve(buf);
      });
      ch.end();
    });
    return /^[0-9]+$/.test(out.trim());
  } catch {
    return false;
  }
}
