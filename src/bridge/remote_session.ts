/**
 * A small MCP client for one remote MCP server reached over an SSH channel,
 * used by the bridge tools (`ssh_remote_mcp_list`, `ssh_remote_mcp_call`;
 * SECURITY.md BRIDGE-4/BRIDGE-5).
 *
 * The channel itself is opened by the caller (the tools open it through the
 * tool context, so the whole host policy applies); this module only speaks
 * newline-delimited JSON-RPC 2.0 over it:
 *
 * - `initialize` once (then `notifications/initialized`); the session is then
 *   reused for every request until it dies or is closed.
 * - Every line is cut by the bridge's {@link LineSplitter}: a message over
 *   the cap (16 MiB) is never buffered whole; it ends the session with an
 *   error for every request in flight (BRIDGE-4: the connection is dropped),
 *   and the next request needs a new session.
 * - Lines that are not a JSON object are dropped with a WARNING log line;
 *   remote stderr goes to the log (DEBUG), never into a result.
 * - Requests from the remote server: `ping` is answered, anything else gets
 *   "method not found" (this client offers no sampling, roots or
 *   elicitation). Notifications are ignored.
 * - Each request has a deadline and an optional abort signal; both send
 *   `notifications/cancelled` for it and reject with a clear error.
 * - When the channel closes, every request in flight is rejected with the
 *   reason (exit code / signal), nothing is replayed.
 *
 * Nothing the remote sends can throw out of the line handler: malformed
 * JSON, wrong shapes, unknown ids are dropped (logged).
 *
 * @module
 */

import { ToolError } from "../errors.ts";
import { sanitize } from "../policy/sanitize.ts";
import { BRIDGE_MAX_MESSAGE_BYTES, LineSplitter, TextLines } from "./lines.ts";

/** The protocol revision this client asks for (servers negotiate down or answer theirs). */
export const REMOTE_PROTOCOL_VERSION = "2025-06-18";

/** The open channel, as the session sees it. */
export interface RemoteChannel {
  /** queues bytes for the remote's stdin */
  write(bytes: Uint8Array): void;
  /** ends the remote's stdin (the server should exit) */
  end(): void;
  /** stops the remote process now */
  kill(): void;
}

/** What the session hands to the opener. */
export interface ChannelHandlers {
  stdout(chunk: Uint8Array): void;
  stderr(chunk: Uint8Array): void;
  /** the channel is gone; `reason` says why (a ToolError from connecting keeps its code) */
  closed(reason: Error): void;
}

/** Opens the channel (synchronously returns the writer; failures arrive as `closed`). */
export type ChannelOpener = (h: ChannelHandlers) => RemoteChannel;

/** Options of {@link RemoteMcpSession}. */
export interface RemoteSessionOptions {
  /** names the remote in errors and logs, e.g. `h1` */
  label: string;
  /** per-message cap in bytes (default 16 MiB) */
  maxMessageBytes?: number;
  /** one log line (level, message) */
  log: (level: "debug" | "warn", msg: string) => void;
}

/** Per-request options. */
export interface RequestOptions {
  timeoutMs: number;
  signal?: AbortSignal;
}

interface Pending {
  method: string;
  resolve: (v: Record<string, unknown>) => void;
  reject: (e: Error) => void;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: false });
/** remote text placed in our error messages is sanitized and cut to this length */
const REMOTE_TEXT_MAX = 300;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Remote text fit for an error message: sanitized, one line, bounded, flags named. */
export function remoteText(v: unknown): string {
  const s = sanitize(typeof v === "string" ? v : JSON.stringify(v) ?? String(v));
  // deno-lint-ignore no-control-regex
  let t = s.text.replace(/[\x00-\x1f\x7f]+/g, " ").trim();
  if (t.length > REMOTE_TEXT_MAX) t = `${t.slice(0, REMOTE_TEXT_MAX)}... (cut)`;
  return s.warnings.length ? `${t} [flagged: ${s.warnings.join("; ")}]` : t;
}

function sizeText(n: number): string {
  const mib = 1024 * 1024;
  return n >= mib ? `${(n / mib).toFixed(1)} MiB (${n} bytes)` : `${n} bytes`;
}

/** One remote MCP session (see module docs). */
export class RemoteMcpSession {
  readonly #o: RemoteSessionOptions;
  readonly #max: number;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #channel: RemoteChannel | null = null;
  #closedReason: Error | null = null;
  #initialized: Promise<Record<string, unknown>> | null = null;
  readonly #splitter: LineSplitter;
  readonly #stderr: TextLines;

  constructor(open: ChannelOpener, opts: RemoteSessionOptions) {
    this.#o = opts;
    this.#max = opts.maxMessageBytes ?? BRIDGE_MAX_MESSAGE_BYTES;
    this.#splitter = new LineSplitter(
      this.#max,
      (line) => this.#onLine(line),
      (size) => this.#onOversize(size),
    );
    this.#stderr = new TextLines(
      2000,
      (line) => opts.log("debug", `remote MCP server ${opts.label} stderr: ${line}`),
    );
    this.#channel = open({
      stdout: (c) => {
        if (this.#closedReason) return;
        try {
          this.#splitter.push(c);
        } catch (e) {
          this.#fail(new ToolError("RuntimeError", `reading the remote MCP server failed: ${e}`));
        }
      },
      stderr: (c) => this.#stderr.push(c),
      closed: (reason) => {
        try {
          this.#splitter.end();
        } catch {
          // the last partial line is dropped
        }
        this.#stderr.end();
        this.#fail(reason);
      },
    });
  }

  /** False once the channel closed or the session was dropped. */
  get alive(): boolean {
    return this.#closedReason === null;
  }

  /** Sends `initialize` once (shared by concurrent callers); returns the server's answer. */
  initialize(opts: RequestOptions): Promise<Record<string, unknown>> {
    this.#initialized ??= (async () => {
      const r = await this.request("initialize", {
        protocolVersion: REMOTE_PROTOCOL_VERSION,
        capabilities: {},
        clientInfo: { name: "ssh-mcp-bridge-tools", version: "1" },
      }, opts);
      this.#notify("notifications/initialized", {});
      return r;
    })();
    // a failed initialize leaves a dead session: the caller's pool starts a new one
    this.#initialized.catch(() => this.close(new ToolError("RuntimeError", "initialize failed")));
    return this.#initialized;
  }

  /** Sends a request; resolves with its `result` object. */
  request(
    method: string,
    params: Record<string, unknown>,
    opts: RequestOptions,
  ): Promise<Record<string, unknown>> {
    if (this.#closedReason) return Promise.reject(this.#closedReason);
    if (opts.signal?.aborted) {
      return Promise.reject(new ToolError("Cancelled", "The request was cancelled."));
    }
    const id = this.#nextId++;
    const line = encoder.encode(JSON.stringify({ jsonrpc: "2.0", id, method, params }) + "\n");
    if (line.length > this.#max) {
      return Promise.reject(
        new ToolError(
          "ValueError",
          `the ${method} message would be ${
            sizeText(line.length)
          }, over the ${this.#max}-byte message cap; send smaller arguments`,
        ),
      );
    }
    return new Promise<Record<string, unknown>>((resolve, reject) => {
      const cleanup = () => {
        clearTimeout(timer);
        opts.signal?.removeEventListener("abort", onAbort);
        this.#pending.delete(id);
      };
      const giveUp = (e: Error, reason: string) => {
        if (!this.#pending.has(id)) return;
        cleanup();
        this.#notify("notifications/cancelled", { requestId: id, reason });
        reject(e);
      };
      const onAbort = () =>
        giveUp(new ToolError("Cancelled", "The request was cancelled."), "cancelled by the client");
      const timer = setTimeout(
        () =>
          giveUp(
            new ToolError(
              "RuntimeError",
              `the remote MCP server ${this.#o.label} did not answer ${method} within ${
                Math.round(opts.timeoutMs / 1000)
              } s (the host's command timeout); it was asked to cancel the request`,
            ),
            "timeout",
          ),
        opts.timeoutMs,
      );
      opts.signal?.addEventListener("abort", onAbort, { once: true });
      this.#pending.set(id, {
        method,
        resolve: (v) => {
          cleanup();
          resolve(v);
        },
        reject: (e) => {
          cleanup();
          reject(e);
        },
      });
      this.#channel?.write(line);
    });
  }

  /** Ends the session: stdin EOF, then the channel is stopped; requests in flight fail. */
  close(reason?: Error): void {
    if (this.#closedReason) return;
    this.#fail(
      reason ??
        new ToolError("RuntimeError", `the session with the remote MCP server was closed`),
    );
    try {
      this.#channel?.end();
      this.#channel?.kill();
    } catch {
      // already gone
    }
  }

  #notify(method: string, params: Record<string, unknown>): void {
    if (this.#closedReason) return;
    this.#channel?.write(encoder.encode(JSON.stringify({ jsonrpc: "2.0", method, params }) + "\n"));
  }

  #fail(reason: Error): void {
    if (!this.#closedReason) this.#closedReason = reason;
    const ps = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of ps) p.reject(reason);
  }

  #onOversize(size: number): void {
    const e = new ToolError(
      "RuntimeError",
      `the remote MCP server ${this.#o.label} sent a message of ${sizeText(size)}, over the ${
        sizeText(this.#max)
      } cap; the message was discarded and the session closed (the next call starts a new one)`,
    );
    this.#o.log("warn", e.message);
    this.close(e);
  }

  #onLine(bytes: Uint8Array): void {
    let msg: unknown;
    try {
      msg = JSON.parse(decoder.decode(bytes));
    } catch {
      msg = undefined;
    }
    if (!isObject(msg)) {
      this.#o.log(
        "warn",
        `remote MCP server ${this.#o.label}: dropped a stdout line that is not a JSON-RPC message (${bytes.length} bytes)`,
      );
      return;
    }
    const id = msg.id;
    if (typeof msg.method === "string") {
      if (id === undefined || id === null) return; // a notification: nothing to do
      if (typeof id !== "string" && typeof id !== "number") return;
      const answer = msg.method === "ping" ? { jsonrpc: "2.0", id, result: {} } : {
        jsonrpc: "2.0",
        id,
        error: { code: -32601, message: "Method not found (ssh-mcp bridge tools client)" },
      };
      if (!this.#closedReason) {
        this.#channel?.write(encoder.encode(JSON.stringify(answer) + "\n"));
      }
      return;
    }
    if (typeof id !== "number") return;
    const p = this.#pending.get(id);
    if (!p) return; // late answer to a cancelled / timed-out request
    if (isObject(msg.error)) {
      const code = typeof msg.error.code === "number" ? msg.error.code : "?";
      p.reject(
        new ToolError(
          "RuntimeError",
          `the remote MCP server ${this.#o.label} answered ${p.method} with error ${code}: ${
            remoteText(msg.error.message ?? "")
          }`,
        ),
      );
      return;
    }
    if (!isObject(msg.result)) {
      p.reject(
        new ToolError(
          "RuntimeError",
          `the remote MCP server ${this.#o.label} answered ${p.method} without a result object`,
        ),
      );
      return;
    }
    p.resolve(msg.result);
  }
}
