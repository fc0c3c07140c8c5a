/**
 * One SSH connection (one hop) once it is authenticated: the `Connection`
 * class with its per-connection cap on concurrent session channels, forwarded
 * channels for jump hosts and one shared SFTP channel, and `openConnection`.
 * The stream, the handshake with strict host-key verification and the auth
 * methods are set up in `handshake.ts` (its public names are re-exported here).
 *
 * @module
 */

// @ts-types="npm:@types/ssh2@1.15.5"
import type ssh2 from "ssh2";
import { ToolError } from "../errors.ts";
import { connectionKey } from "./connection_key.ts";
import type { Logger } from "../log.ts";
import { Semaphore } from "../util/semaphore.ts";
import type { RemoteCommand } from "../checked.ts";
import {
  execCommand,
  type ExecHost,
  type ExecOptions,
  isStream,
  type OpenedChannel,
  type RawExecResult,
} from "./exec.ts";
import type { PreparedAuth } from "./auth.ts";
import { type ConnectDeps, type ConnectTarget, handshake, type JumpHost } from "./handshake.ts";

export {
  type ConnectDeps,
  type ConnectTarget,
  DEFAULT_CIPHERS,
  defaultSocketFactory,
  type JumpHost,
  type SocketFactory,
  verifyHostKeyOnly,
} from "./handshake.ts";

/** An authenticated SSH connection. */
/** The server (or ssh2) refused to open a channel; `reason` is its text. */
class ChannelRefused extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
}

export class Connection implements ExecHost, JumpHost {
  readonly key: string;
  readonly target: ConnectTarget;
  readonly client: ssh2.Client;
  readonly hostKeyFingerprint: string;
  readonly serverBanner: string | null;
  readonly connectedAt: number = Date.now();
  /** the connection this one tunnels through, if any */
  readonly via: Connection | null;
  #posixShell: boolean | null;
  /** the login shell being learned: a first command's inline probe, or the probe channel */
  #shellProbe: Promise<boolean> | null = null;
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
    this.#posixShell = init.target.policy.platform === "posix" ? null : false;
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

  /**
   * TIMEOUT-3: true when the login shell is POSIX, false when not (or the host
   * is not a POSIX platform), null until the first command's marker or the
   * probe channel told (see {@link claimShellProbe}).
   */
  get posixShell(): boolean | null {
    return this.#posixShell;
  }

  /**
   * {@link ExecHost}: lets the caller's command learn the login shell (its
   * marker carries the probe, exec.ts). Returns the function that records the
   * answer (null: inconclusive, the probe channel decides), or null when the
   * shell is known or already being learned.
   */
  claimShellProbe(): ((posix: boolean | null) => void) | null {
    if (this.#posixShell !== null || this.#shellProbe) return null;
    let settle!: (posix: boolean | null) => void;
    const answer = new Promise<boolean | null>((r) => (settle = r));
    this.#shellProbe = answer.then((posix) => {
      if (posix === null) {
        this.#shellProbe = null;
        return this.knowShell();
      }
      this.#posixShell = posix;
      return posix;
    });
    let done = false;
    return (posix) => {
      if (done) return;
      done = true;
      settle(posix);
    };
  }

  /**
   * {@link ExecHost}: whether the login shell is POSIX, learning it first when
   * nothing has yet: waits for a first command's inline probe in flight, else
   * runs {@link POSIX_PROBE} on a channel of its own.
   */
  async knowShell(): Promise<boolean> {
    if (this.#posixShell !== null) return this.#posixShell;
    this.#shellProbe ??= (async () => {
      const release = await this.#channels.acquire();
      try {
        return (this.#posixShell = await probePosixShell(this));
      } finally {
        release();
      }
    })();
    return await this.#shellProbe;
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
    // a command that cannot be sent twice does not carry the shell probe
    // (exec.ts): learn the shell first, before this call holds a slot
    if (isStream(opts.stdin) && this.#posixShell === null) await this.knowShell();
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

  /**
   * {@link ExecHost}: opens an exec channel (caller holds a slot). A refusal
   * with the generic reason "open failed" is retried twice (50, 150 ms): sshd
   * still counts a session whose close is in flight against MaxSessions, so a
   * burst of short calls can meet it for a moment although our slots are free.
   */
  async openChannel(command: string, env?: Record<string, string>): Promise<OpenedChannel> {
    for (let attempt = 0;; attempt++) {
      try {
        return await this.#openChannel(command, env);
      } catch (e) {
        const transient = e instanceof ChannelRefused && /open failed/i.test(e.reason);
        if (!transient || attempt >= 2) {
          throw new ToolError(
            "ConnectError",
            `Could not open an SSH channel on ${this.target.policy.alias}: ${
              e instanceof ChannelRefused ? e.reason : (e as Error).message
            }`,
          );
        }
        await new Promise((r) => setTimeout(r, 50 * (2 * attempt + 1)));
      }
    }
  }

  #openChannel(command: string, env?: Record<string, string>): Promise<OpenedChannel> {
    this.#assertAlive();
    return new Promise((resolve, reject) => {
      const cb = (err: Error | undefined, ch: ssh2.ClientChannel) => {
        if (err) {
          reject(new ChannelRefused(err.message));
          return;
        }
        endOnce(ch);
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
        reject(new ChannelRefused((e as Error).message));
      }
    });
  }

  /**
   * Opens the SSH subsystem `name` (e.g. "mcp") under the channel cap; the
   * slot is held until the channel closes, so the idle reaper leaves the
   * connection alone while it is open.
   */
  async openSubsystem(name: string, signal?: AbortSignal): Promise<ssh2.ClientChannel> {
    this.#assertAlive();
    const release = await this.#channels.acquire(signal);
    this.lastUsed = Date.now();
    let ch: ssh2.ClientChannel;
    try {
      ch = await new Promise<ssh2.ClientChannel>((resolve, reject) => {
        try {
          this.client.subsys(name, (err, c) => (err ? reject(err) : resolve(endOnce(c))));
        } catch (e) {
          reject(e);
        }
      });
    } catch (e) {
      release();
      throw new ToolError(
        "ConnectError",
        `Could not open the SSH subsystem ${JSON.stringify(name)} on ${this.target.policy.alias}: ${
          (e as Error).message
        } (is "Subsystem ${name} ..." configured in the host's sshd_config?)`,
      );
    }
    ch.once("close", () => {
      this.lastUsed = Date.now();
      release();
    });
    return ch;
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
          endOnce(ch);
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
 * ssh2's `Channel.destroy()` calls `end()` unconditionally, and the stream's
 * autoDestroy calls `destroy()` once the channel has finished: every closed
 * channel (exec, kill, subsystem) built, and dropped, an ERR_STREAM_ALREADY_FINISHED error with
 * its stack trace (about 0.1 ms of CPU per command, measured). This
 * `destroy()` ends the stream only when it has not been ended, then closes
 * the channel as ssh2's does.
 */
function endOnce(ch: ssh2.ClientChannel): ssh2.ClientChannel {
  ch.destroy = function (this: ssh2.ClientChannel) {
    if (!this.writableEnded) this.end();
    this.close();
    return this;
  };
  return ch;
}

/**
 * Opens one hop: TCP (or a forwarded channel through `via`), SSH handshake with
 * strict host-key verification and authentication. The login shell is
 * learned later, by the first command (Connection.claimShellProbe).
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
  logger.debug("ssh connected", { conn: conn.key, fingerprint: presented });
  return conn;
}

/**
 * TIMEOUT-3 probe: the login shell must expand `$$` to digits for process-group
 * kills, and must be POSIX, because the marker prefix redirects with `>&2`.
 * `$$` alone is not enough: csh and tcsh expand it too, but read `>&2` as
 * "stdout and stderr to a file named 2", so every command would leave a file
 * `2` in the login directory and the marker would never arrive. Arithmetic
 * expansion `$((6*7))` is POSIX (dash, bash, zsh, busybox ash, ksh) and a
 * syntax error in csh/tcsh, fish and nushell, which then print nothing and
 * get no prefix.
 */
export const POSIX_PROBE = `printf '%s' "$((6*7)):$$"`;

/** What {@link POSIX_PROBE} prints on a POSIX login shell. */
export const POSIX_PROBE_ANSWER = /^42:[0-9]+$/;

async function probePosixShell(conn: Connection): Promise<boolean> {
  try {
    const { channel: ch } = await conn.openChannel(POSIX_PROBE);
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
    return POSIX_PROBE_ANSWER.test(out.trim());
  } catch {
    return false;
  }
}
