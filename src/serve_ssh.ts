/**
 * `ssh-mcp serve-ssh`: this server's own MCP endpoint served over SSH
 * (TOOLS.md §15, "Bridge (server) contract"), with an in-process ssh2
 * `Server`.
 *
 * - Listens on 127.0.0.1:8022 by default; a non-loopback `--listen` needs
 *   `--allow-remote` (exit 3 otherwise).
 * - The host key (`--host-key`) is an unencrypted OpenSSH/PEM private key that
 *   must exist and must not be accessible by group or others.
 * - Public-key authentication only, against `--authorized-keys` (OpenSSH
 *   format; lines with an options prefix, certificates and security keys are
 *   skipped with a warning naming the line). The file is re-read when it
 *   changes (mtime, ctime, size or inode), so removing a line revokes the key
 *   for the next authentication attempt without a restart; a file that
 *   disappears or becomes group/world-writable refuses everyone until fixed.
 *   A key is accepted only after its signature verified; the user name is
 *   not checked (there are no accounts).
 * - Each session channel is ONE MCP session: subsystem `mcp`, `exec` (any
 *   command: its text is ignored and only its hash is logged) or `shell`
 *   serve newline-delimited JSON-RPC on the channel's stdin/stdout through
 *   the server's own {@link LineTransport} (message size limit as on stdio);
 *   stderr is not used. Other subsystems, pty, x11, agent and port
 *   forwarding (both directions) are refused.
 * - The connecting key is the MCP caller: its `authInfo.clientId` is
 *   `ssh-key:SHA256:...`, so audit lines carry it as `principal` and tasks,
 *   large outputs and approvals are bound to it (as for an HTTP principal).
 * - Idle timeout per connection (`--idle-timeout`, default 600 s, 0 = off):
 *   no channel data in either direction while no request of the client is
 *   being answered -> disconnect. A connection must authenticate within
 *   {@link LOGIN_GRACE_MS}; {@link MAX_AUTH_FAILURES} refused keys or
 *   passwords end it.
 * - One App per process: tiers, policies and the audit log are exactly those
 *   of `ssh-mcp serve` with the same environment.
 * - SIGINT/SIGTERM (or `opts.signal`) stop listening, close every MCP
 *   session and connection, close the App, and return 0; SIGHUP reloads the
 *   configuration as on stdio.
 *
 * Exit codes: 0 clean stop; 1 cannot listen; 2 usage; 3 configuration.
 *
 * @module
 */

// @ts-types="npm:@types/ssh2@1.15.5"
import ssh2 from "ssh2";
// @ts-types="npm:@types/ssh2@1.15.5"
import type { Connection, ParsedKey, ServerChannel } from "ssh2";
import net from "node:net";
import { Buffer } from "node:buffer";
import { App } from "./app.ts";
import { loadConfig } from "./config/load.ts";
import { isLoopbackHost } from "./config/settings.ts";
import "./config/ip_lib.ts"; // isLoopbackHost of any listen address, before the App exists
import { ConfigError, isToolError } from "./errors.ts";
import { checkInlineCaps, messageLimit } from "./mcp/limits.ts";
import { McpService } from "./mcp/server.ts";
import {
  type AuthInfo,
  type JSONRPCMessage,
  type McpServer,
  parseJSONRPCMessage,
  serveStdio,
  type StdioServerHandle,
  type Transport,
} from "./mcp/sdk.ts";
import { LineTransport } from "./mcp/stdio.ts";
import { ToolRegistry } from "./registry/pipeline.ts";
import { initTelemetry } from "./telemetry/otel.ts";
import { auditHash } from "./audit/audit.ts";
import { fingerprintSha256 } from "./ssh/key_blob.ts";
import { coalescePacketWrites } from "./ssh/packet_writes.ts";
import type { Logger } from "./log.ts";
import { VERSION } from "./version.ts";

/** Exit codes of `serve-ssh`. */
export const SERVE_SSH_EXIT = { ok: 0, failure: 1, usage: 2, config: 3 } as const;

/** Default listen address. */
export const DEFAULT_LISTEN = "127.0.0.1:8022";
/** Default idle timeout, seconds. */
export const DEFAULT_IDLE_TIMEOUT_S = 600;
/** Time a connection has to authenticate. */
export const LOGIN_GRACE_MS = 30_000;
/** Refused authentication attempts (other than `none`) before the connection is dropped. */
export const MAX_AUTH_FAILURES = 10;
/** The subsystem name that serves MCP. */
export const MCP_SUBSYSTEM = "mcp";

const USAGE = `Usage: ssh-mcp serve-ssh --host-key PATH --authorized-keys PATH
                         [--listen HOST:PORT] [--allow-remote] [--idle-timeout SECONDS]

Serves this MCP server over SSH (public-key authentication only). Each SSH
session channel (subsystem "mcp", exec of any command, or shell) is one MCP
session speaking newline-delimited JSON-RPC on stdin/stdout.

  --host-key PATH         the server's private host key (unencrypted, mode 0600); create one
                          with: ssh-keygen -t ed25519 -N '' -C ssh-mcp-host -f PATH
  --authorized-keys PATH  OpenSSH authorized_keys of the clients (no options prefix);
                          re-read on change, so removing a line revokes the key
  --listen HOST:PORT      default ${DEFAULT_LISTEN}; a non-loopback address needs --allow-remote
  --allow-remote          allow listening on a non-loopback address
  --idle-timeout SECONDS  disconnect a connection idle that long (default ${DEFAULT_IDLE_TIMEOUT_S}, 0 = never)

Tool tiers, policies and the audit log come from the environment, as for "ssh-mcp serve".
Exit codes: 0 stopped cleanly, 1 cannot listen, 2 usage, 3 invalid configuration.`;

/** The I/O of the command. */
export interface ServeSshIo {
  out: (text: string) => void;
  err: (text: string) => void;
}

/** Options of {@link runServeSsh} (tests). */
export interface ServeSshOptions {
  /** environment of the configuration (default: the process environment) */
  env?: Record<string, string | undefined>;
  /** aborting it stops the server as SIGTERM does */
  signal?: AbortSignal;
  /** called once the listener is bound (the real port when `--listen` asked for port 0) */
  onListen?: (addr: { hostname: string; port: number }) => void;
}

/** Parsed command line. */
export interface ServeSshArgs {
  hostKey: string;
  authorizedKeys: string;
  hostname: string;
  port: number;
  allowRemote: boolean;
  /** seconds; 0 = no idle timeout */
  idleTimeoutS: number;
}

class UsageError extends Error {}

/** Splits `HOST:PORT` / `[V6]:PORT`. */
export function parseListen(text: string): { hostname: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(text) ?? /^([^:\[\]\s]+):(\d+)$/.exec(text);
  if (!m) {
    throw new UsageError(
      `--listen ${JSON.stringify(text)}: expected HOST:PORT (e.g. 127.0.0.1:8022 or [::1]:8022)`,
    );
  }
  const port = Number(m[2]);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new UsageError(`--listen ${JSON.stringify(text)}: the port must be 0..65535`);
  }
  return { hostname: m[1]!, port };
}

/** Parses the arguments after `serve-ssh`; throws {@link UsageError}. */
export function parseServeSshArgs(args: readonly string[]): ServeSshArgs {
  let hostKey: string | undefined;
  let authorizedKeys: string | undefined;
  let listen = DEFAULT_LISTEN;
  let allowRemote = false;
  let idle = DEFAULT_IDLE_TIMEOUT_S;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const eq = a.startsWith("--") ? a.indexOf("=") : -1;
    const name = eq > 0 ? a.slice(0, eq) : a;
    const value = (): string => {
      if (eq > 0) return a.slice(eq + 1);
      const v = args[++i];
      if (v === undefined || v === "") throw new UsageError(`${name} needs a value`);
      return v;
    };
    switch (name) {
      case "--host-key":
        hostKey = value();
        break;
      case "--authorized-keys":
        authorizedKeys = value();
        break;
      case "--listen":
        listen = value();
        break;
      case "--allow-remote":
        if (eq > 0) throw new UsageError("--allow-remote takes no value");
        allowRemote = true;
        break;
      case "--idle-timeout": {
        const v = value();
        const n = Number(v);
        if (!/^\d+$/.test(v) || !Number.isSafeInteger(n)) {
          throw new UsageError(
            `--idle-timeout ${JSON.stringify(v)}: expected whole seconds (0 = never)`,
          );
        }
        idle = n;
        break;
      }
      default:
        throw new UsageError(`unknown argument ${JSON.stringify(a)}`);
    }
  }
  if (!hostKey) throw new UsageError("--host-key PATH is required");
  if (!authorizedKeys) throw new UsageError("--authorized-keys PATH is required");
  const { hostname, port } = parseListen(listen);
  return { hostKey, authorizedKeys, hostname, port, allowRemote, idleTimeoutS: idle };
}

// ---------------------------------------------------------------------------
// host key

/** The loaded host key. */
export interface HostKey {
  pem: Buffer;
  type: string;
  fingerprint: string;
}

/** Reads and checks the host key file; throws {@link ConfigError}. */
export async function loadHostKey(path: string): Promise<HostKey> {
  const create = `ssh-keygen -t ed25519 -N '' -C ssh-mcp-host -f ${shellQuote(path)}`;
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new ConfigError(
        `the host key ${path} does not exist. Create one with: ${create}`,
      );
    }
    throw new ConfigError(`cannot read the host key ${path}: ${(e as Error).message}`);
  }
  if (!info.isFile) throw new ConfigError(`the host key ${path} is not a regular file`);
  if (info.mode !== null && (info.mode & 0o077) !== 0) {
    throw new ConfigError(
      `the host key ${path} is accessible by group or others (mode ${
        (info.mode & 0o777).toString(8).padStart(4, "0")
      }); a private key must be readable by its owner only. Fix: chmod 600 ${shellQuote(path)}`,
    );
  }
  let pem: Buffer;
  try {
    pem = Buffer.from(await Deno.readFile(path));
  } catch (e) {
    throw new ConfigError(`cannot read the host key ${path}: ${(e as Error).message}`);
  }
  const parsed = ssh2.utils.parseKey(pem);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key || key instanceof Error) {
    const why = key instanceof Error ? key.message : "no key in the file";
    throw new ConfigError(
      `the host key ${path} cannot be used: ${why}. An unencrypted OpenSSH or PEM private key ` +
        `is needed (no passphrase); create one with: ${create}`,
    );
  }
  if (!key.isPrivateKey()) {
    throw new ConfigError(
      `the host key ${path} is a public key; give the private key (create one with: ${create})`,
    );
  }
  return { pem, type: key.type, fingerprint: fingerprintSha256(key.getPublicSSH()) };
}

function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

// ---------------------------------------------------------------------------
// authorized_keys

/** One usable authorized key. */
export interface AuthorizedKey {
  /** key algorithm (`ssh-ed25519`, `ssh-rsa`, `ecdsa-sha2-nistp256`, ...) */
  type: string;
  /** the SSH wire blob */
  blob: Buffer;
  /** `SHA256:...` */
  fingerprint: string;
  /** 1-based line number in the file */
  line: number;
  key: ParsedKey;
}

const SUPPORTED_KEY_TYPES = new Set([
  "ssh-ed25519",
  "ssh-rsa",
  "ecdsa-sha2-nistp256",
  "ecdsa-sha2-nistp384",
  "ecdsa-sha2-nistp521",
]);
/** Tokens that look like an OpenSSH key type (supported or not). */
const KEY_TYPE_RE = /^(?:ssh-[a-z0-9-]+|ecdsa-sha2-[a-z0-9-]+|sk-[a-z0-9@.-]+)(?:@openssh\.com)?$/;

/**
 * Parses authorized_keys text. Unusable lines are skipped; `warn` gets one
 * message per skipped line, naming its number (never its content).
 */
export function parseAuthorizedKeys(
  text: string,
  warn: (message: string) => void,
): AuthorizedKey[] {
  const out: AuthorizedKey[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const n = i + 1;
    const line = lines[i]!.trim();
    if (!line || line.startsWith("#")) continue;
    const tokens = line.split(/\s+/);
    const type = tokens[0]!;
    if (!KEY_TYPE_RE.test(type)) {
      warn(
        tokens.slice(1).some((t) => KEY_TYPE_RE.test(t))
          ? `authorized_keys line ${n}: options before the key are not supported by serve-ssh; the line is skipped`
          : `authorized_keys line ${n}: not a public key; the line is skipped`,
      );
      continue;
    }
    if (!SUPPORTED_KEY_TYPES.has(type)) {
      warn(
        `authorized_keys line ${n}: key type ${
          type.slice(0, 60)
        } is not supported (ssh-ed25519, ssh-rsa, ecdsa-sha2-nistp256/384/521); the line is skipped`,
      );
      continue;
    }
    const b64 = tokens[1];
    const parsed = b64 ? ssh2.utils.parseKey(`${type} ${b64}`) : new Error("no key data");
    const key = Array.isArray(parsed) ? parsed[0] : parsed;
    if (!key || key instanceof Error || key.type !== type) {
      warn(`authorized_keys line ${n}: the ${type} key cannot be parsed; the line is skipped`);
      continue;
    }
    const blob = key.getPublicSSH();
    out.push({ type, blob, fingerprint: fingerprintSha256(blob), line: n, key });
  }
  return out;
}

/** The authorized_keys file, re-read whenever it changes. */
export class AuthorizedKeys {
  readonly path: string;
  #stamp: string | null = null;
  #keys: AuthorizedKey[] = [];
  #logger: Logger | null = null;
  #loading: Promise<AuthorizedKey[]> | null = null;

  constructor(path: string) {
    this.path = path;
  }

  /** Where warnings go once the server runs (before: thrown / returned). */
  set logger(l: Logger) {
    this.#logger = l;
  }

  /**
   * First load (start-up): throws {@link ConfigError} when the file is
   * missing or writable by others; returns the warnings of skipped lines.
   */
  async init(): Promise<{ keys: AuthorizedKey[]; warnings: string[] }> {
    const warnings: string[] = [];
    const r = await this.#read((m) => warnings.push(m));
    if (r.error) throw new ConfigError(r.error);
    return { keys: this.#keys, warnings };
  }

  /** The keys now (re-read when the file changed; none when it cannot be used). */
  current(): Promise<AuthorizedKey[]> {
    // one reload at a time; concurrent attempts share it
    this.#loading ??= this.#read((m) => this.#logger?.warn(m))
      .then(() => this.#keys)
      .finally(() => (this.#loading = null));
    return this.#loading;
  }

  async #read(warn: (m: string) => void): Promise<{ error?: string }> {
    let info: Deno.FileInfo;
    try {
      info = await Deno.stat(this.path);
    } catch (e) {
      return this.#fail(
        e instanceof Deno.errors.NotFound
          ? `the authorized_keys file ${this.path} does not exist`
          : `cannot read the authorized_keys file ${this.path}: ${(e as Error).message}`,
      );
    }
    const stamp = [
      info.mtime?.getTime(),
      info.ctime?.getTime?.(),
      info.size,
      info.ino,
      info.mode,
      info.isFile,
    ].join(":");
    if (stamp === this.#stamp) return {};
    if (!info.isFile) return this.#fail(`${this.path} is not a regular file`);
    if (info.mode !== null && (info.mode & 0o022) !== 0) {
      return this.#fail(
        `the authorized_keys file ${this.path} is writable by group or others (mode ${
          (info.mode & 0o777).toString(8).padStart(4, "0")
        }); anyone who can write it can log in. Fix: chmod 644 ${shellQuote(this.path)}`,
      );
    }
    let text: string;
    try {
      text = await Deno.readTextFile(this.path);
    } catch (e) {
      return this.#fail(
        `cannot read the authorized_keys file ${this.path}: ${(e as Error).message}`,
      );
    }
    const first = this.#stamp === null;
    this.#keys = parseAuthorizedKeys(text, warn);
    this.#stamp = stamp;
    if (!first) {
      this.#logger?.info("authorized_keys reloaded", {
        path: this.path,
        keys: this.#keys.length,
      });
    }
    return {};
  }

  #fail(error: string): { error: string } {
    if (this.#stamp !== "" && this.#logger) {
      this.#logger.error(`${error}; every SSH client is refused until it is fixed`);
    }
    this.#keys = [];
    this.#stamp = ""; // forces a re-read next time
    return { error };
  }
}

// ---------------------------------------------------------------------------
// one MCP session over one channel

/** `authInfo` of the MCP sessions of a key. */
export function sshKeyAuthInfo(fingerprint: string): AuthInfo {
  return { token: "", clientId: `ssh-key:${fingerprint}`, scopes: [] };
}

/**
 * Makes every message the instance receives carry `authInfo` (so handlers see
 * it as `ctx.http.authInfo`, as behind the HTTP gateway). `serveStdio` passes
 * no extra info, so this wraps the instance's side of the channel after it
 * connected.
 */
function withAuthInfo(mcp: McpServer, authInfo: AuthInfo): McpServer {
  const connect = mcp.connect.bind(mcp);
  mcp.connect = async (transport: Transport) => {
    await connect(transport);
    const deliver = transport.onmessage;
    if (!deliver) throw new Error("SDK changed: no onmessage after connect");
    transport.onmessage =
      ((message: JSONRPCMessage, extra?: Record<string, unknown>) =>
        deliver(message, { ...extra, authInfo })) as typeof transport.onmessage;
  };
  return mcp;
}

/**
 * The channel's {@link LineTransport}, noting which requests of the client are
 * still unanswered (an MCP session waiting on a long call is not idle).
 */
class TrackedTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: <T extends JSONRPCMessage>(message: T) => void;
  readonly pending = new Set<string | number>();
  readonly #inner: LineTransport;
  #waiters: (() => void)[] = [];
  /** answers being written */
  #writing = 0;

  constructor(inner: LineTransport) {
    this.#inner = inner;
    inner.onclose = () => {
      this.pending.clear();
      this.#writing = 0;
      this.#settle();
      this.onclose?.();
    };
    inner.onerror = (e) => this.onerror?.(e);
    inner.onmessage = (m) => {
      const o = m as Record<string, unknown>;
      const id = o.id;
      if (typeof o.method === "string") {
        if (typeof id === "string" || typeof id === "number") this.pending.add(id);
        else if (o.method === "notifications/cancelled") {
          const rid = (o.params as Record<string, unknown> | undefined)?.requestId;
          if (typeof rid === "string" || typeof rid === "number") this.pending.delete(rid);
          this.#settle();
        }
      }
      this.onmessage?.(m);
    };
  }

  get ended(): Promise<void> {
    return this.#inner.ended;
  }

  /** Resolves once no request of the client is unanswered (or the transport closed). */
  drained(): Promise<void> {
    if (!this.pending.size && !this.#writing) return Promise.resolve();
    const d = Promise.withResolvers<void>();
    this.#waiters.push(d.resolve);
    return d.promise;
  }

  #settle(): void {
    if (this.pending.size || this.#writing) return;
    const w = this.#waiters.splice(0);
    for (const fn of w) fn();
  }

  start(): Promise<void> {
    return this.#inner.start();
  }

  send(message: JSONRPCMessage): Promise<void> {
    const o = message as Record<string, unknown>;
    if (("result" in o || "error" in o) && (typeof o.id === "string" || typeof o.id === "number")) {
      this.pending.delete(o.id);
      // the answer is written first, then the drain may end the input
      this.#writing++;
      return this.#inner.send(message).finally(() => {
        this.#writing--;
        this.#settle();
      });
    }
    return this.#inner.send(message);
  }

  close(): Promise<void> {
    return this.#inner.close();
  }
}

/**
 * The channel's data as a byte stream, pulled one chunk at a time (the
 * channel is paused in between, so the SSH window gives backpressure).
 *
 * The client's EOF is passed on only once the reader has taken and handled
 * every chunk before it AND `drained()` resolved (every request of the
 * client answered): `printf '...' | ssh host -s mcp` gets its answers, where
 * the line transport alone would abort requests still in flight at EOF. A
 * closed channel ends the stream at once.
 */
function channelReadable(
  ch: ServerChannel,
  onData: () => void,
  drained: () => Promise<void>,
): ReadableStream<Uint8Array> {
  let ended = false;
  let done = false;
  /** data arrived since the last pull began */
  let fresh = false;
  let wake: (() => void) | null = null;
  const poke = () => {
    const w = wake;
    wake = null;
    w?.();
  };
  let controller: ReadableStreamDefaultController<Uint8Array>;
  const finish = () => {
    if (done) return;
    done = true;
    try {
      controller.close();
    } catch {
      // already closed or cancelled
    }
  };
  return new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
      ch.pause();
      ch.on("data", (d: Buffer) => {
        if (done) return;
        onData();
        fresh = true;
        c.enqueue(new Uint8Array(d.buffer, d.byteOffset, d.length));
        ch.pause();
        poke();
      });
      ch.once("end", () => {
        ended = true;
        poke();
      });
      ch.once("close", () => {
        ended = true;
        finish();
        poke();
      });
    },
    async pull() {
      // called only when the reader waits and nothing is queued (highWaterMark 0)
      fresh = false;
      if (!ended) {
        const next = new Promise<void>((r) => (wake = r));
        ch.resume();
        await next;
      }
      if (done || fresh) return;
      await drained();
      finish();
    },
    cancel() {
      done = true;
      poke();
    },
  }, { highWaterMark: 0 });
}

/** Writes all of `bytes` to the channel (waits for the window when it is full). */
function channelWriter(ch: ServerChannel, onData: () => void): (b: Uint8Array) => Promise<void> {
  let closed = false;
  ch.once("close", () => (closed = true));
  return (bytes) =>
    new Promise<void>((resolve, reject) => {
      if (closed || !ch.writable) {
        reject(new Error("the SSH channel is closed"));
        return;
      }
      onData();
      const ok = ch.write(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      if (ok) {
        resolve();
        return;
      }
      const cleanup = () => {
        ch.off("drain", onDrain);
        ch.off("close", onClose);
      };
      const onDrain = () => {
        cleanup();
        resolve();
      };
      const onClose = () => {
        cleanup();
        reject(new Error("the SSH channel closed"));
      };
      ch.once("drain", onDrain);
      ch.once("close", onClose);
    });
}

// ---------------------------------------------------------------------------
// the server

interface McpChannel {
  transport: TrackedTransport;
  handle: StdioServerHandle;
}

interface Conn {
  id: number;
  client: Connection;
  address: string;
  fingerprint: string | null;
  last: number;
  channels: Set<McpChannel>;
  closed: boolean;
}

/** Runs `ssh-mcp serve-ssh` (see module docs); returns the exit code. */
export async function runServeSsh(
  args: readonly string[],
  io: ServeSshIo,
  opts: ServeSshOptions = {},
): Promise<number> {
  if (args.includes("--help") || args.includes("-h")) {
    io.out(USAGE);
    return SERVE_SSH_EXIT.ok;
  }
  let a: ServeSshArgs;
  try {
    a = parseServeSshArgs(args);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    io.err(`ssh-mcp serve-ssh: ${e.message}\n\n${USAGE}`);
    return SERVE_SSH_EXIT.usage;
  }
  const configError = (message: string) => {
    io.err(`ssh-mcp serve-ssh: configuration error: ${message}`);
    return SERVE_SSH_EXIT.config;
  };
  if (!a.allowRemote && !isLoopbackHost(a.hostname)) {
    return configError(
      `--listen ${a.hostname}:${a.port} is not a loopback address: anyone who can reach it could ` +
        "try to log in. Listen on 127.0.0.1 or ::1 (the default is " + DEFAULT_LISTEN + "), or " +
        "add --allow-remote to serve other machines (public-key authentication only).",
    );
  }
  let hostKey: HostKey;
  const authorized = new AuthorizedKeys(a.authorizedKeys);
  let startWarnings: string[];
  try {
    hostKey = await loadHostKey(a.hostKey);
    const r = await authorized.init();
    startWarnings = r.warnings;
    if (!r.keys.length) {
      startWarnings.push(
        `the authorized_keys file ${a.authorizedKeys} has no usable key: every client is ` +
          "refused until one is added (no restart needed)",
      );
    }
  } catch (e) {
    if (e instanceof ConfigError) return configError(e.message);
    throw e;
  }

  // the same App, registry and MCP service as `ssh-mcp serve`
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(opts.env ?? Deno.env.toObject())) {
    if (v !== undefined) env[k] = v;
  }
  let app: App;
  let limit: number;
  try {
    const cfg = await loadConfig({ env, cwd: Deno.cwd() });
    checkInlineCaps(cfg.settings); // TRANS-9
    limit = messageLimit(cfg.settings);
    app = await App.create(cfg); // AUDIT-12: an audit sink that cannot be opened stops the start
  } catch (e) {
    if (e instanceof ConfigError) return configError(e.message);
    if (isToolError(e)) {
      io.err(`ssh-mcp serve-ssh: cannot start: ${e.message}`);
      return SERVE_SSH_EXIT.config;
    }
    throw e;
  }
  const log = app.logger;
  authorized.logger = log;
  app.logStartup();
  for (const w of startWarnings) log.warn(w);
  const telemetry = await initTelemetry(app.settings, env, log);
  app.onShutdown(() => telemetry.shutdown());
  const registry = new ToolRegistry(app);
  const service = new McpService(app, registry);
  app.pool.startReaper();
  await app.startHooks();
  // the server side's packets too leave in one write each (ssh/packet_writes.ts)
  await coalescePacketWrites();

  const conns = new Set<Conn>();
  const sockets = new Set<net.Socket>();
  let stopping = false;
  let connNo = 0;
  const idleMs = a.idleTimeoutS * 1000;

  const sshServer = new ssh2.Server({
    hostKeys: [hostKey.pem],
    ident: `ssh-mcp_${VERSION}`,
  }, (client: Connection, info: { ip: string; port: number }) => {
    const conn: Conn = {
      id: ++connNo,
      client,
      address: info.ip.includes(":") ? `[${info.ip}]:${info.port}` : `${info.ip}:${info.port}`,
      fingerprint: null,
      last: Date.now(),
      channels: new Set(),
      closed: false,
    };
    conns.add(conn);
    onConnection(conn);
  });

  const timers = new Set<ReturnType<typeof setTimeout>>();
  const later = (ms: number, fn: () => void) => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
    return t;
  };
  const cancel = (t: ReturnType<typeof setTimeout> | undefined) => {
    if (t === undefined) return;
    clearTimeout(t);
    timers.delete(t);
  };

  function disconnect(conn: Conn): void {
    if (conn.closed) return;
    try {
      conn.client.end();
    } catch {
      // gone
    }
  }

  function onConnection(conn: Conn): void {
    const { client } = conn;
    let failures = 0;
    const offered = new Set<string>();
    client.on("error", (e: Error) => {
      log.debug("SSH connection error", { conn: conn.id, error: e.message.slice(0, 300) });
    });
    const grace = later(LOGIN_GRACE_MS, () => {
      if (conn.fingerprint === null && !conn.closed) {
        log.warn("SSH client did not authenticate in time; disconnected", {
          client: conn.address,
        });
        disconnect(conn);
      }
    });
    // idle: no channel data either way and no request of the client unanswered
    let idleTimer: ReturnType<typeof setTimeout> | undefined;
    const armIdle = (ms: number) => {
      if (idleMs <= 0) return;
      idleTimer = later(ms, () => {
        if (conn.closed) return;
        const busy = [...conn.channels].some((c) => c.transport.pending.size > 0);
        const idleFor = Date.now() - conn.last;
        if (busy) {
          armIdle(idleMs);
        } else if (idleFor >= idleMs) {
          log.info("SSH connection idle; disconnected", {
            client: conn.address,
            idle_timeout_s: a.idleTimeoutS,
          });
          disconnect(conn);
        } else {
          armIdle(idleMs - idleFor);
        }
      });
    };
    armIdle(idleMs);
    client.on("close", () => {
      conn.closed = true;
      cancel(grace);
      cancel(idleTimer);
      conns.delete(conn);
      for (const c of conn.channels) void c.transport.close();
      if (conn.fingerprint === null) {
        log.warn("SSH connection closed without authentication", {
          client: conn.address,
          ...(offered.size ? { refused_keys: [...offered].slice(0, 5) } : {}),
        });
      } else {
        log.debug("SSH connection closed", { conn: conn.id, client: conn.address });
      }
    });

    const refuse = (ctx: { reject: (m?: ["publickey"]) => void }, counts: boolean) => {
      ctx.reject(["publickey"]);
      if (counts && ++failures >= MAX_AUTH_FAILURES) {
        log.warn("SSH client refused too many times; disconnected", { client: conn.address });
        disconnect(conn);
      }
    };
    client.on("authentication", (ctx) => {
      if (stopping) return refuse(ctx, false);
      if (ctx.method !== "publickey") return refuse(ctx, ctx.method !== "none");
      const fp = fingerprintSha256(ctx.key.data);
      void authorized.current().then((keys) => {
        const match = keys.find((k) => k.type === ctx.key.algo && k.blob.equals(ctx.key.data));
        if (!match) {
          offered.add(fp);
          return refuse(ctx, true);
        }
        // without a signature the client only asks whether this key would do (PK_OK);
        // it is authenticated only by a signature that verifies
        if (!ctx.signature || !ctx.blob) return ctx.accept();
        const ok = match.key.verify(ctx.blob, ctx.signature, ctx.hashAlgo);
        if (ok !== true) {
          log.warn("SSH public-key signature did not verify", {
            client: conn.address,
            fingerprint: fp,
          });
          return refuse(ctx, true);
        }
        conn.fingerprint = match.fingerprint;
        ctx.accept();
      }).catch((e) => {
        log.error("SSH authentication failed", { error: (e as Error).message });
        refuse(ctx, true);
      });
    });

    client.on("ready", () => {
      cancel(grace);
      conn.last = Date.now();
      const fingerprint = conn.fingerprint!;
      log.info("SSH client connected", {
        conn: conn.id,
        client: conn.address,
        fingerprint,
      });
      const authInfo = sshKeyAuthInfo(fingerprint);
      const refused = (what: string) => (_a: unknown, reject?: () => void) => {
        log.debug(`SSH ${what} request refused`, { conn: conn.id });
        reject?.();
      };
      client.on("session", (accept) => {
        const session = accept();
        session.on("pty", refused("pty (MCP is not a terminal)"));
        session.on("x11", refused("x11"));
        session.on("auth-agent", refused("agent forwarding"));
        session.on("env", refused("env"));
        session.on("subsystem", (acc, rej, info) => {
          if (info.name !== MCP_SUBSYSTEM) {
            log.info("SSH subsystem refused", {
              conn: conn.id,
              subsystem: info.name.slice(0, 64),
            });
            rej();
            return;
          }
          serve(conn, acc(), authInfo, { kind: "subsystem" });
        });
        session.on("exec", (acc, _rej, info) => {
          serve(conn, acc(), authInfo, { kind: "exec", command_hash: auditHash(info.command) });
        });
        session.on("shell", (acc) => {
          serve(conn, acc(), authInfo, { kind: "shell" });
        });
      });
      client.on("tcpip", refused("port forwarding (direct-tcpip)"));
      client.on("openssh.streamlocal", refused("unix socket forwarding"));
      client.on("request", refused("forwarding (global request)"));
    });
  }

  function serve(
    conn: Conn,
    channel: ServerChannel,
    authInfo: AuthInfo,
    how: Record<string, string>,
  ): void {
    if (stopping || conn.closed) {
      channel.close();
      return;
    }
    const touch = () => (conn.last = Date.now());
    channel.on("error", () => {});
    channel.stderr.on("error", () => {});
    let tracked: TrackedTransport | null = null;
    const line = new LineTransport({
      input: channelReadable(channel, touch, () => tracked?.drained() ?? Promise.resolve()),
      write: channelWriter(channel, touch),
      maxMessageBytes: limit,
      logger: log,
      parse: parseJSONRPCMessage,
    });
    const transport = new TrackedTransport(line);
    tracked = transport;
    const handle = serveStdio(() => withAuthInfo(service.create({ authInfo }), authInfo), {
      transport,
      onerror: (e) => log.debug("MCP protocol error", { error: e.message.slice(0, 500) }),
    });
    const mc: McpChannel = { transport, handle };
    conn.channels.add(mc);
    log.info("MCP session over SSH", { conn: conn.id, ...how });
    channel.once("close", () => void line.close());
    void line.ended.then(async () => {
      conn.channels.delete(mc);
      await handle.close().catch(() => {});
      try {
        // the client's input ended or the session closed: end the channel as a process exit would
        channel.exit(0);
        channel.end();
      } catch {
        // already closed
      }
    });
  }

  const tcp = net.createServer((sock: net.Socket) => {
    if (stopping) {
      sock.destroy();
      return;
    }
    sockets.add(sock);
    sock.once("close", () => sockets.delete(sock));
    sock.on("error", () => {});
    sock.setNoDelay(true);
    sshServer.injectSocket(sock);
  });
  try {
    await new Promise<void>((resolve, reject) => {
      tcp.once("error", reject);
      tcp.listen(a.port, a.hostname, () => {
        tcp.off("error", reject);
        resolve();
      });
    });
  } catch (e) {
    io.err(`ssh-mcp serve-ssh: cannot listen on ${a.hostname}:${a.port}: ${(e as Error).message}`);
    await app.close();
    return SERVE_SSH_EXIT.failure;
  }
  tcp.on("error", (e: Error) => log.error("SSH listener error", { error: e.message }));
  const bound = tcp.address() as net.AddressInfo;
  const where = bound.family === "IPv6" || bound.address.includes(":")
    ? `[${bound.address}]:${bound.port}`
    : `${bound.address}:${bound.port}`;
  if (!isLoopbackHost(bound.address)) {
    log.warn(
      `serving MCP over SSH on the non-loopback address ${where} (--allow-remote): only keys in ${a.authorizedKeys} can log in`,
    );
  }
  log.info(`ssh-mcp ${VERSION} serving MCP over SSH`, {
    listen: where,
    host_key: hostKey.fingerprint,
    host_key_type: hostKey.type,
    authorized_keys: a.authorizedKeys,
    idle_timeout_s: a.idleTimeoutS,
    max_message_bytes: limit,
  });
  io.out(
    `ssh-mcp serve-ssh listening on ${where} (host key ${hostKey.type} ${hostKey.fingerprint})`,
  );
  void app.checkPinnedAgentKeys();
  opts.onListen?.({ hostname: bound.address, port: bound.port });

  // until SIGINT/SIGTERM or opts.signal; SIGHUP reloads the configuration
  const stop = Promise.withResolvers<void>();
  const onStop = () => stop.resolve();
  const onHup = () => {
    app.reload({ invalidateChanged: false }).catch((e) => {
      log.error("SIGHUP reload failed; the previous configuration stays active", {
        error: isToolError(e) ? e.message : String(e),
      });
    });
  };
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? [] : ["SIGINT", "SIGTERM"];
  for (const s of signals) Deno.addSignalListener(s, onStop);
  if (Deno.build.os !== "windows") Deno.addSignalListener("SIGHUP", onHup);
  if (opts.signal?.aborted) stop.resolve();
  opts.signal?.addEventListener("abort", onStop, { once: true });
  await stop.promise;
  stopping = true;
  for (const s of signals) Deno.removeSignalListener(s, onStop);
  if (Deno.build.os !== "windows") Deno.removeSignalListener("SIGHUP", onHup);
  opts.signal?.removeEventListener("abort", onStop);

  log.info("serve-ssh stopping", { connections: conns.size });
  const listenerClosed = new Promise<void>((r) => tcp.close(() => r()));
  const sessions = [...conns].flatMap((c) => [...c.channels]);
  await Promise.allSettled(sessions.map((s) => s.handle.close()));
  for (const c of conns) disconnect(c);
  for (const s of sockets) s.destroy();
  for (const t of timers) clearTimeout(t);
  timers.clear();
  await listenerClosed;
  await app.close();
  return SERVE_SSH_EXIT.ok;
}
