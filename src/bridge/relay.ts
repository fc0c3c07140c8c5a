/**
 * The bridge's relay: newline-delimited JSON-RPC between the local MCP client
 * (stdin/stdout) and one remote stream (an SSH channel), relayed unchanged.
 *
 * Nothing is parsed beyond line splitting: each line's top-level `id` and
 * `method` are read by a byte scanner (`lines.ts`) to keep track of the
 * client's requests in flight and to answer what the bridge itself refuses.
 *
 * - A line over the cap (16 MiB) from the client is discarded and, when it is
 *   a request, answered with a JSON-RPC error for its id (a response from the
 *   client, i.e. an answer to a server request, is answered towards the
 *   remote); a line over the cap from the remote is discarded and, when it is
 *   a response, the client gets an error for that id instead.
 * - Remote stderr goes to our stderr, each line prefixed; never to stdout.
 * - When the remote stream closes, every request of the client still in
 *   flight gets a JSON-RPC error ("the remote MCP server's connection was
 *   lost; retry"); nothing is replayed. The next message from the client
 *   reconnects (lazily, so only between messages), with backoff 0.5, 1, 2,
 *   4 s and at most 5 consecutive failed tries (a connection that closes
 *   before the remote wrote a single line counts as a failed try). The new
 *   remote session is first initialized with the client's own `initialize`
 *   request (under a bridge id, its answer is swallowed) and `initialized`
 *   notification, so the client's session goes on.
 * - A failure that retrying cannot fix (unknown or changed host key,
 *   authentication) ends the bridge at once; so do 5 failed tries. Requests
 *   waiting for the connection get an error, the reason goes to stderr, exit
 *   code 1.
 * - Local stdin EOF: the bridge waits (bounded) for the answers still in
 *   flight, closes the channel and exits 0.
 *
 * @module
 */

import {
  BRIDGE_MAX_MESSAGE_BYTES,
  type LineInfo,
  lineInfo,
  LineSplitter,
  TextLines,
} from "./lines.ts";

/** One open remote stream (an SSH channel running the remote MCP server). */
export interface RemoteStream {
  /** Writes all of `bytes` (resolves once accepted; rejects when the stream is gone). */
  write(bytes: Uint8Array): Promise<void>;
  /** Sends EOF (the remote server's stdin closes). */
  end(): void;
  /** Closes the stream (and, for the bridge's own connection, the transport) now. */
  close(): void;
  /** Stops / resumes delivering data (backpressure from our stdout). */
  pause(): void;
  resume(): void;
  /** Registers the handlers; called once, right after the stream is opened. */
  listen(handlers: {
    data: (chunk: Uint8Array) => void;
    stderr: (chunk: Uint8Array) => void;
    close: (detail: string) => void;
  }): void;
}

/** A failure to open the remote stream. */
export interface ConnectFailure {
  /** true: retrying cannot help (host key refused, authentication failed, bad options) */
  permanent: boolean;
  message: string;
}

/** Options of {@link Relay}. */
export interface RelayOptions {
  /** opens a new remote stream; throws (see `classify`) on failure */
  connect: () => Promise<RemoteStream>;
  /** maps a connect error to a {@link ConnectFailure} */
  classify: (e: unknown) => ConnectFailure;
  /** the local client's bytes (stdin) */
  input: ReadableStream<Uint8Array>;
  /** writes all of `bytes` to the local client (stdout) */
  writeLocal: (bytes: Uint8Array) => Promise<void>;
  /** one line to our stderr */
  log: (line: string) => void;
  /** names the remote in log lines, e.g. `mcp@db1:22 subsystem mcp` */
  label: string;
  /** backoff before the 2nd..5th consecutive try, ms (default 500, 1000, 2000, 4000) */
  backoffMs?: readonly number[];
  /** consecutive failed tries before giving up (default 5) */
  maxTries?: number;
  /** message cap in bytes (default 16 MiB) */
  maxMessageBytes?: number;
  /** how long local EOF waits for answers in flight (default 10 s) */
  drainMs?: number;
  signal?: AbortSignal;
}

/** JSON-RPC error codes the bridge answers with. */
export const BRIDGE_ERRORS = {
  /** the SDK's ConnectionClosed */
  connectionLost: -32000,
  invalidRequest: -32600,
  internal: -32603,
} as const;

/** The text a request in flight gets when the remote connection dies. */
export const CONNECTION_LOST =
  "the remote MCP server's connection was lost; retry (the bridge reconnects for the next message)";

const MIB = 1024 * 1024;
/** our stdout backlog above which the remote stream is paused */
const LOCAL_BACKLOG_BYTES = 8 * MIB;

function sizeText(n: number): string {
  return n >= MIB ? `${(n / MIB).toFixed(1)} MiB (${n} bytes)` : `${n} bytes`;
}

function idKey(id: string | number): string {
  return `${typeof id}:${id}`;
}

interface Outgoing {
  bytes: Uint8Array;
  info: LineInfo;
}

interface Live {
  stream: RemoteStream;
  gotOutput: boolean;
  closed: boolean;
}

const encoder = new TextEncoder();

/** The relay (see module docs). */
export class Relay {
  readonly #o: RelayOptions;
  readonly #max: number;
  readonly #backoff: readonly number[];
  readonly #maxTries: number;
  /** the current remote stream, or null (not connected yet, or lost) */
  #live: Live | null = null;
  /** client requests sent on the current stream and not answered yet */
  readonly #inflight = new Map<string, string | number>();
  /** lines from the client not sent yet */
  #outbox: Outgoing[] = [];
  /** consecutive failed tries (reset by a line from the remote) */
  #streak = 0;
  /** the client's own initialize request and initialized notification (for re-initialization) */
  #initLine: Uint8Array | null = null;
  #initializedLine: Uint8Array | null = null;
  #reinit: { id: string; done: PromiseWithResolvers<void> } | null = null;
  #reinitCount = 0;
  #writing: Promise<void> = Promise.resolve();
  #localBacklog = 0;
  #localGone = false;
  #shuttingDown = false;
  #drained: PromiseWithResolvers<void> | null = null;
  #wake = Promise.withResolvers<void>();

  constructor(opts: RelayOptions) {
    this.#o = opts;
    this.#max = opts.maxMessageBytes ?? BRIDGE_MAX_MESSAGE_BYTES;
    this.#backoff = opts.backoffMs ?? [500, 1000, 2000, 4000];
    this.#maxTries = opts.maxTries ?? 5;
  }

  /** Runs until the client goes away (0) or the remote cannot be reached (1). */
  async run(): Promise<number> {
    const first = await this.#connect();
    if (first !== null) return await this.#fatal(first);
    const reader = this.#o.input.getReader();
    const onAbort = () => void reader.cancel().catch(() => {});
    this.#o.signal?.addEventListener("abort", onAbort, { once: true });
    const local = new LineSplitter(
      this.#max,
      (line) => this.#fromLocal(line),
      (size, info) => this.#localOversize(size, info),
    );
    try {
      for (;;) {
        if (this.#o.signal?.aborted || this.#localGone) break;
        let r: ReadableStreamReadResult<Uint8Array>;
        try {
          // one read at a time from the client's stream
          // deno-lint-ignore no-await-in-loop
          r = await reader.read();
        } catch {
          break;
        }
        if (r.done) {
          local.end();
        } else {
          local.push(r.value);
        }
        // deno-lint-ignore no-await-in-loop
        const failure = await this.#flush();
        if (failure !== null) return await this.#fatal(failure);
        if (r.done) break;
      }
    } finally {
      this.#o.signal?.removeEventListener("abort", onAbort);
      reader.releaseLock();
    }
    await this.#shutdown();
    return 0;
  }

  // ---------------------------------------------------------------- client -> remote

  #fromLocal(bytes: Uint8Array): void {
    const info = lineInfo(bytes);
    if (info.method === "initialize" && info.id !== undefined) this.#initLine = bytes;
    if (info.method === "notifications/initialized" && info.id === undefined) {
      this.#initializedLine = bytes;
    }
    this.#outbox.push({ bytes, info });
  }

  #localOversize(size: number, info: LineInfo): void {
    const what = `a message from the local MCP client of ${sizeText(size)}, over the bridge's ` +
      `limit of ${sizeText(this.#max)} for one JSON-RPC message`;
    if (info.id !== undefined && info.method !== undefined) {
      this.#o.log(
        `ssh-mcp bridge: refused ${what} (request ${info.method}); answered with an error`,
      );
      this.#answerLocal(
        info.id,
        BRIDGE_ERRORS.invalidRequest,
        `Request too large: the message is ${sizeText(size)}, over the ssh-mcp bridge's limit of ` +
          `${sizeText(this.#max)} for one JSON-RPC message; it was discarded and not sent to the ` +
          `remote MCP server.`,
      );
    } else if (info.id !== undefined) {
      // the client's answer to a request of the remote server: tell the remote
      this.#o.log(`ssh-mcp bridge: refused ${what} (a response); the remote gets an error`);
      const err = {
        jsonrpc: "2.0",
        id: info.id,
        error: {
          code: BRIDGE_ERRORS.internal,
          message: `The client's response was ${sizeText(size)}, over the ssh-mcp bridge's limit ` +
            `of ${sizeText(this.#max)}; it was discarded.`,
        },
      };
      this.#outbox.push({
        bytes: encoder.encode(JSON.stringify(err)),
        info: { id: info.id, method: undefined },
      });
    } else {
      this.#o.log(`ssh-mcp bridge: dropped ${what} (no request id)`);
    }
  }

  /** Sends the outbox; returns a failure when the remote cannot be reached any more. */
  async #flush(): Promise<string | null> {
    while (this.#outbox.length) {
      if (!this.#live) {
        // deno-lint-ignore no-await-in-loop
        const failure = await this.#connect();
        if (failure !== null) return failure;
        continue;
      }
      const live = this.#live;
      const msg = this.#outbox.shift()!;
      const { id, method } = msg.info;
      if (id !== undefined && method !== undefined) this.#inflight.set(idKey(id), id);
      try {
        // messages go out one at a time, in order
        // deno-lint-ignore no-await-in-loop
        await live.stream.write(withNewline(msg.bytes));
      } catch {
        // the close handler answers what was in flight (this request included)
        this.#lost(live, "write failed");
      }
    }
    return null;
  }

  // ---------------------------------------------------------------- connecting

  /** (Re)connects with backoff; null on success, else the reason it cannot. */
  async #connect(): Promise<string | null> {
    let last = "";
    while (this.#streak < this.#maxTries) {
      if (this.#o.signal?.aborted) return "cancelled";
      if (this.#streak > 0) {
        const ms = this.#backoff[Math.min(this.#streak - 1, this.#backoff.length - 1)] ?? 0;
        // deno-lint-ignore no-await-in-loop
        await new Promise((r) => setTimeout(r, ms));
      }
      let stream: RemoteStream;
      try {
        // tries are sequential by design (backoff)
        // deno-lint-ignore no-await-in-loop
        stream = await this.#o.connect();
      } catch (e) {
        const f = this.#o.classify(e);
        this.#streak++;
        last = f.message;
        if (f.permanent) return f.message;
        this.#o.log(
          `ssh-mcp bridge: connecting to ${this.#o.label} failed (try ${this.#streak} of ${this.#maxTries}): ${f.message}`,
        );
        continue;
      }
      const live: Live = { stream, gotOutput: false, closed: false };
      this.#attach(live);
      this.#live = live;
      if (this.#initLine) {
        // deno-lint-ignore no-await-in-loop
        const ok = await this.#reinitialize(live);
        if (!ok) {
          last = "the remote MCP server closed during re-initialization";
          continue;
        }
      }
      return null;
    }
    return `${this.#maxTries} tries in a row failed${last ? `; last: ${last}` : ""}`;
  }

  /** Replays the client's initialize (under a bridge id) on a new remote session. */
  async #reinitialize(live: Live): Promise<boolean> {
    const init = JSON.parse(new TextDecoder().decode(this.#initLine!)) as Record<string, unknown>;
    const id = `ssh-mcp-bridge-reinit-${++this.#reinitCount}`;
    init.id = id;
    const done = Promise.withResolvers<void>();
    this.#reinit = { id, done };
    const timer = setTimeout(
      () => done.reject(new Error("no answer to initialize within 30 s")),
      30_000,
    );
    try {
      await live.stream.write(withNewline(encoder.encode(JSON.stringify(init))));
      await done.promise;
      if (this.#initializedLine) await live.stream.write(withNewline(this.#initializedLine));
      this.#o.log(`ssh-mcp bridge: reconnected to ${this.#o.label}; session re-initialized`);
      return true;
    } catch (e) {
      this.#o.log(
        `ssh-mcp bridge: re-initializing the remote MCP server failed: ${(e as Error).message}`,
      );
      this.#lost(live, "re-initialization failed");
      return false;
    } finally {
      clearTimeout(timer);
      this.#reinit = null;
    }
  }

  #attach(live: Live): void {
    const remote = new LineSplitter(
      this.#max,
      (line) => this.#fromRemote(live, line),
      (size, info) => this.#remoteOversize(live, size, info),
    );
    const stderr = new TextLines(
      64 * 1024,
      (line) => this.#o.log(`[remote ${this.#o.label}] ${line}`),
    );
    live.stream.listen({
      data: (chunk) => remote.push(chunk),
      stderr: (chunk) => stderr.push(chunk),
      close: (detail) => {
        remote.end();
        stderr.end();
        this.#lost(live, detail);
      },
    });
  }

  // ---------------------------------------------------------------- remote -> client

  #fromRemote(live: Live, bytes: Uint8Array): void {
    if (live.closed) return;
    live.gotOutput = true;
    this.#streak = 0;
    const info = lineInfo(bytes);
    if (info.id !== undefined && info.method === undefined) {
      if (this.#reinit && info.id === this.#reinit.id) {
        this.#reinit.done.resolve();
        return;
      }
      this.#inflight.delete(idKey(info.id));
      this.#checkDrained();
    }
    this.#toLocal(withNewline(bytes));
  }

  #remoteOversize(live: Live, size: number, info: LineInfo): void {
    if (live.closed) return;
    live.gotOutput = true;
    this.#streak = 0;
    const what = `a message from the remote MCP server of ${sizeText(size)}, over the bridge's ` +
      `limit of ${sizeText(this.#max)} for one JSON-RPC message`;
    if (info.id !== undefined && info.method === undefined) {
      this.#o.log(`ssh-mcp bridge: discarded ${what} (a response); the client gets an error`);
      this.#inflight.delete(idKey(info.id));
      this.#answerLocal(
        info.id,
        BRIDGE_ERRORS.internal,
        `The remote MCP server's answer was ${
          sizeText(size)
        }, over the ssh-mcp bridge's limit of ` +
          `${sizeText(this.#max)} for one JSON-RPC message; it was discarded. Ask for less.`,
      );
      this.#checkDrained();
    } else if (info.id !== undefined) {
      this.#o.log(
        `ssh-mcp bridge: refused ${what} (request ${info.method}); the remote gets an error`,
      );
      const err = {
        jsonrpc: "2.0",
        id: info.id,
        error: {
          code: BRIDGE_ERRORS.invalidRequest,
          message: `Request too large: ${sizeText(size)}, over the ssh-mcp bridge's limit of ` +
            `${sizeText(this.#max)}; it was discarded.`,
        },
      };
      void live.stream.write(withNewline(encoder.encode(JSON.stringify(err)))).catch(() => {});
    } else {
      this.#o.log(`ssh-mcp bridge: dropped ${what} (no request id)`);
    }
  }

  #answerLocal(id: string | number, code: number, message: string): void {
    this.#toLocal(withNewline(encoder.encode(JSON.stringify({
      jsonrpc: "2.0",
      id,
      error: { code, message },
    }))));
  }

  #toLocal(bytes: Uint8Array): void {
    if (this.#localGone) return;
    this.#localBacklog += bytes.length;
    if (this.#localBacklog > LOCAL_BACKLOG_BYTES) this.#live?.stream.pause();
    this.#writing = this.#writing.then(async () => {
      if (this.#localGone) return;
      try {
        await this.#o.writeLocal(bytes);
      } catch {
        // the client went away: stop (exit 0, like stdin EOF)
        this.#localGone = true;
        this.#wake.resolve();
      } finally {
        this.#localBacklog -= bytes.length;
        if (this.#localBacklog <= LOCAL_BACKLOG_BYTES / 2) this.#live?.stream.resume();
      }
    });
  }

  /** The stream `live` is gone: answer what was in flight; the next message reconnects. */
  #lost(live: Live, detail: string): void {
    if (live.closed) return;
    live.closed = true;
    if (!live.gotOutput) this.#streak++;
    if (this.#live === live) this.#live = null;
    try {
      live.stream.close();
    } catch {
      // already closed
    }
    this.#reinit?.done.reject(new Error(`the remote closed (${detail})`));
    if (this.#shuttingDown) {
      this.#failInflight();
      this.#checkDrained();
      return;
    }
    const n = this.#inflight.size;
    this.#o.log(
      `ssh-mcp bridge: the remote MCP server on ${this.#o.label} closed (${detail})` +
        (n ? `; ${n} request${n === 1 ? "" : "s"} in flight answered with an error` : ""),
    );
    this.#failInflight();
  }

  #failInflight(): void {
    for (const id of this.#inflight.values()) {
      this.#answerLocal(id, BRIDGE_ERRORS.connectionLost, CONNECTION_LOST);
    }
    this.#inflight.clear();
  }

  #checkDrained(): void {
    if (this.#drained && (this.#inflight.size === 0 || !this.#live)) this.#drained.resolve();
  }

  // ---------------------------------------------------------------- ending

  /** stdin EOF (or abort): wait (bounded) for answers in flight, then close. */
  async #shutdown(): Promise<void> {
    const live = this.#live;
    if (live && this.#inflight.size && !this.#localGone && !this.#o.signal?.aborted) {
      this.#drained = Promise.withResolvers<void>();
      this.#checkDrained();
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        this.#drained.promise,
        this.#wake.promise,
        new Promise<void>((r) => {
          timer = setTimeout(r, this.#o.drainMs ?? 10_000);
        }),
      ]);
      clearTimeout(timer);
    }
    this.#shuttingDown = true;
    if (this.#live) {
      const l = this.#live;
      try {
        l.stream.end();
      } catch {
        // gone
      }
      this.#lost(l, "local client closed");
    }
    await this.#writing;
  }

  /** The remote cannot be reached: answer everything waiting, say why, exit 1. */
  async #fatal(reason: string): Promise<number> {
    const message =
      `ssh-mcp bridge: cannot reach the remote MCP server on ${this.#o.label}: ${reason}`;
    for (const m of this.#outbox) {
      if (m.info.id !== undefined && m.info.method !== undefined) {
        this.#answerLocal(m.info.id, BRIDGE_ERRORS.connectionLost, message);
      }
    }
    this.#outbox = [];
    this.#failInflight();
    if (this.#live) this.#lost(this.#live, "giving up");
    await this.#writing;
    this.#o.log(message);
    return 1;
  }
}

function withNewline(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.length + 1);
  out.set(bytes);
  out[bytes.length] = 10;
  return out;
}
