/**
 * Shared parts of the bridge tools (TOOLS.md §15, SECURITY.md BRIDGE-5):
 * the host's `remote_mcp` table, the `allow_tools` gate, the pool of remote
 * MCP sessions and the OUT-5 scan of remote data.
 *
 * - The remote server runs as `sh -c <command>` (the operator's
 *   `remote_mcp.command`, quoted as ONE word) over `ctx.execOn`: the same
 *   door as every exec (pooled connection, strict host keys, auth, jump
 *   hosts, network policy, the TIMEOUT-3 kill procedure on close). Nothing
 *   the caller sends reaches a shell: arguments travel as JSON on stdin.
 *   With only `remote_mcp.subsystem` set, the server is the SSH subsystem of
 *   that name (sshd starts it) on the same pooled connection.
 * - Sessions are pooled per server instance, per MCP session and per host
 *   (alias, address, user, command): `initialize` once, then reused. A
 *   session that died (remote exit, oversize message, connection loss) is
 *   replaced on the next call. Idle sessions end after
 *   {@link IDLE_CLOSE_MS}; at most {@link MAX_SESSIONS} live per server and
 *   {@link MAX_SESSIONS_PER_CONNECTION} per SSH connection (the least
 *   recently used one is closed first); each lives at most
 *   {@link MAX_LIFETIME_MS}.
 *
 * @module
 */

import { sh } from "../../checked.ts";
import { ToolError } from "../../errors.ts";
import type { RemoteMcpConfig } from "../../config/types.ts";
import { globToRegExp } from "../../policy/command_match.ts";
import { effectivePolicy } from "../../policy/effective.ts";
import { mergeWarnings, scan } from "../../policy/sanitize.ts";
import {
  type ChannelHandlers,
  type RemoteChannel,
  RemoteMcpSession,
} from "../../bridge/remote_session.ts";
import type { Host, SubsystemChannel, ToolContext } from "../context.ts";

/** Idle time after which a pooled remote session is closed. */
export const IDLE_CLOSE_MS = 5 * 60 * 1000;
/** Live remote sessions per server instance. */
export const MAX_SESSIONS = 16;
/**
 * Most sessions on one SSH connection (user, address, port): each holds a
 * channel slot for its whole life, and the connection has 8, so without this
 * cap long-lived sessions would starve every other tool on that host.
 */
export const MAX_SESSIONS_PER_CONNECTION = 3;
/** Longest life of one remote session (the exec deadline). */
export const MAX_LIFETIME_MS = 12 * 60 * 60 * 1000;
/** A remote tool name this server forwards (MCP's tool-name characters). */
export const R_REMOTE_TOOL = /^[A-Za-z0-9_.\/-]{1,128}$/;
/** Shortest deadline of `initialize` (the remote server starts first). */
export const INIT_MIN_MS = 30_000;
/** Deepest nesting walked when scanning remote data. */
const SCAN_DEPTH = 64;

/** How the remote server is reached: a command (exec channel) or an SSH subsystem. */
export type RemoteEndpoint = { command: string } | { subsystem: string };

/** The host's remote MCP configuration, or a clear error. */
export function remoteConfig(host: Host): RemoteMcpConfig & { endpoint: RemoteEndpoint } {
  const p = host.policy;
  const rm = p.remote_mcp;
  if (!rm || (rm.command === null && rm.subsystem === null)) {
    throw new ToolError(
      "ValueError",
      `host ${p.alias} has no remote MCP server configured; ask the operator to add ` +
        `[hosts.${p.alias}.remote_mcp] with command = "..." and allow_tools = [...] to hosts.toml`,
    );
  }
  // command wins when both are set, as in the bridge CLI
  const endpoint: RemoteEndpoint = rm.command !== null
    ? { command: rm.command }
    : { subsystem: rm.subsystem! };
  return { ...rm, endpoint };
}

/** True when `name` matches one of the `allow_tools` globs (empty list: nothing). */
export function toolAllowed(allow: readonly string[], name: string): boolean {
  return allow.some((g) => globToRegExp(g, "whole").test(name));
}

/** Refuses before any contact with the host when `allow_tools` is empty. */
export function requireAllowList(host: Host, cfg: RemoteMcpConfig): void {
  if (cfg.allow_tools.length === 0) {
    const a = host.policy.alias;
    throw new ToolError(
      "ValueError",
      `remote MCP tools on ${a} are all denied: [hosts.${a}.remote_mcp] allow_tools is empty ` +
        `(empty = deny all); ask the operator to list the allowed tool names or globs, ` +
        `e.g. allow_tools = ["read_*"]`,
    );
  }
}

/**
 * OUT-5 flags of every string in `value` (keys included), each warning
 * prefixed with `where`. The value is not modified.
 */
export function scanDeep(value: unknown, where: string): string[] {
  const texts: string[] = [];
  const walk = (v: unknown, depth: number) => {
    if (typeof v === "string") texts.push(v);
    else if (depth < SCAN_DEPTH && Array.isArray(v)) { for (const x of v) walk(x, depth + 1); }
    else if (depth < SCAN_DEPTH && typeof v === "object" && v !== null) {
      for (const [k, x] of Object.entries(v)) {
        texts.push(k);
        walk(x, depth + 1);
      }
    }
  };
  walk(value, 0);
  return mergeWarnings(...texts.map(scan)).map((w) => `${where}: ${w}`);
}

/** Size in bytes of `value` as JSON. */
export function jsonBytes(value: unknown): number {
  return new TextEncoder().encode(JSON.stringify(value) ?? "").length;
}

/** Refuses a remote answer larger than the host's stdout cap (OUT-1 applied to the bridge). */
export function capResult(ctx: ToolContext, value: unknown, what: string): void {
  const cap = effectivePolicy(ctx.host.policy, ctx.settings).stdout_cap_bytes;
  const n = jsonBytes(value);
  if (n > cap) {
    throw new ToolError(
      "RuntimeError",
      `the remote ${what} is ${n} bytes as JSON, over this host's output cap of ${cap} bytes ` +
        `(stdout_cap_bytes); ask the remote tool for less, or ask the operator to raise the cap`,
    );
  }
}

/** An async byte queue: the remote's stdin. */
class StdinQueue implements AsyncIterable<Uint8Array> {
  #items: Uint8Array[] = [];
  #wake: (() => void) | null = null;
  #ended = false;

  push(b: Uint8Array): void {
    if (this.#ended) return;
    this.#items.push(b);
    this.#wake?.();
  }

  end(): void {
    this.#ended = true;
    this.#wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    for (;;) {
      const b = this.#items.shift();
      if (b) {
        yield b;
        continue;
      }
      if (this.#ended) return;
      // one waiter at a time: the exec engine is the only reader
      // deno-lint-ignore no-await-in-loop
      await new Promise<void>((r) => (this.#wake = r));
      this.#wake = null;
    }
  }
}

interface Entry {
  session: RemoteMcpSession;
  key: string;
  /** the SSH connection it occupies (user, address, port) */
  conn: string;
  lastUsed: number;
  idle: ReturnType<typeof setTimeout> | undefined;
}

/** The sessions of one server instance (keyed by its task manager, one per app). */
const POOLS = new WeakMap<object, Map<string, Entry>>();

function poolOf(ctx: ToolContext): Map<string, Entry> {
  let m = POOLS.get(ctx.tasks);
  if (!m) {
    m = new Map();
    POOLS.set(ctx.tasks, m);
  }
  return m;
}

function drop(pool: Map<string, Entry>, e: Entry): void {
  clearTimeout(e.idle);
  if (pool.get(e.key) === e) pool.delete(e.key);
  e.session.close();
}

/** Opens the remote server's channel through the tool context (see module docs). */
function openSession(ctx: ToolContext, host: Host, endpoint: RemoteEndpoint): RemoteMcpSession {
  const logger = ctx.logger;
  const alias = host.policy.alias;
  return new RemoteMcpSession((h): RemoteChannel => {
    if ("subsystem" in endpoint) return openSubsystem(ctx, host, endpoint.subsystem, h);
    const command = endpoint.command;
    const stdin = new StdinQueue();
    const abort = new AbortController();
    ctx.execOn(host, sh`sh -c ${command}`, {
      stdin,
      signal: abort.signal,
      timeoutMs: MAX_LIFETIME_MS,
      // the exec engine keeps only these few bytes; every byte goes to onData
      stdoutCap: 4096,
      stderrCap: 4096,
      onData: (stream, chunk) => (stream === "stdout" ? h.stdout(chunk) : h.stderr(chunk)),
    }).then((r) => {
      stdin.end();
      const how = r.timedOut
        ? `reached its ${MAX_LIFETIME_MS / 3600000} h session limit`
        : r.cancelled
        ? "was stopped"
        : r.signal
        ? `exited on signal ${r.signal}`
        : `exited with code ${r.exitCode}`;
      h.closed(
        new ToolError(
          "RuntimeError",
          `the remote MCP server on ${alias} ${how}; requests in flight were not retried ` +
            `(the next call starts a new session)`,
        ),
      );
    }, (e: unknown) => {
      stdin.end();
      h.closed(
        e instanceof Error ? e : new ToolError("ConnectError", `the channel failed: ${String(e)}`),
      );
    });
    return {
      write: (b) => stdin.push(b),
      end: () => stdin.end(),
      kill: () => abort.abort(),
    };
  }, {
    label: alias,
    log: (level, msg) => (level === "warn" ? logger.warn(msg) : logger.debug(msg)),
  });
}

/**
 * The remote server as the SSH subsystem `name` (sshd's `Subsystem` line
 * starts it; nothing passes through a login shell). Bytes written before the
 * channel is open are queued.
 */
function openSubsystem(
  ctx: ToolContext,
  host: Host,
  name: string,
  h: ChannelHandlers,
): RemoteChannel {
  const alias = host.policy.alias;
  const abort = new AbortController();
  let ch: SubsystemChannel | null = null;
  let pending: Uint8Array[] = [];
  let ended = false;
  let killed = false;
  ctx.openSubsystem(host, name, abort.signal).then((c) => {
    if (killed) {
      c.close();
      return;
    }
    ch = c;
    c.on("data", (b: Uint8Array) => h.stdout(b));
    c.stderr.on("data", (b: Uint8Array) => h.stderr(b));
    c.on("close", () =>
      h.closed(
        new ToolError(
          "RuntimeError",
          `the remote MCP server on ${alias} (subsystem ${
            JSON.stringify(name)
          }) closed its channel; requests in flight were not retried (the next call starts a ` +
            `new session)`,
        ),
      ));
    for (const b of pending) c.write(b);
    pending = [];
    if (ended) c.end();
  }, (e: unknown) => {
    h.closed(
      e instanceof Error ? e : new ToolError("ConnectError", `the channel failed: ${String(e)}`),
    );
  });
  return {
    write: (b) => {
      if (ch) ch.write(b);
      else pending.push(b);
    },
    end: () => {
      ended = true;
      ch?.end();
    },
    kill: () => {
      killed = true;
      abort.abort();
      ch?.close();
    },
  };
}

/**
 * The initialized session of this MCP session with `host`'s remote server
 * (started when absent or dead).
 */
export async function remoteSession(
  ctx: ToolContext,
  endpoint: RemoteEndpoint,
): Promise<RemoteMcpSession> {
  const host = ctx.host;
  const p = host.policy;
  const pool = poolOf(ctx);
  const key = JSON.stringify([ctx.sessionKey, p.alias, p.hostname, p.port, p.user, endpoint]);
  let e = pool.get(key);
  if (e && !e.session.alive) {
    drop(pool, e);
    e = undefined;
  }
  if (!e) {
    const conn = JSON.stringify([p.user, p.hostname, p.port]);
    const lru = (es: Entry[]) => es.sort((a, b) => a.lastUsed - b.lastUsed)[0]!;
    while (pool.size >= MAX_SESSIONS) drop(pool, lru([...pool.values()]));
    for (;;) {
      const same = [...pool.values()].filter((x) => x.conn === conn);
      if (same.length < MAX_SESSIONS_PER_CONNECTION) break;
      drop(pool, lru(same));
    }
    e = {
      session: openSession(ctx, host, endpoint),
      key,
      conn,
      lastUsed: Date.now(),
      idle: undefined,
    };
    pool.set(key, e);
  }
  const entry = e;
  entry.lastUsed = Date.now();
  clearTimeout(entry.idle);
  entry.idle = setTimeout(() => drop(pool, entry), IDLE_CLOSE_MS);
  Deno.unrefTimer(entry.idle);
  const opts = requestOptions(ctx);
  // starting the remote server may take longer than one request is allowed
  await entry.session.initialize({ ...opts, timeoutMs: Math.max(opts.timeoutMs, INIT_MIN_MS) });
  return entry.session;
}

/** Deadline (the host's command timeout) and cancellation of one remote request. */
export function requestOptions(ctx: ToolContext): { timeoutMs: number; signal: AbortSignal } {
  const eff = effectivePolicy(ctx.host.policy, ctx.settings);
  return { timeoutMs: eff.command_timeout_s * 1000, signal: ctx.signal };
}
