/**
 * The stdio transport of the server: newline-delimited JSON-RPC on stdin and
 * stdout, like the SDK's `StdioServerTransport`, but bad input never ends the
 * connection (TRANS-7..TRANS-11).
 *
 * The SDK transport keeps one buffer for stdin and, when it grows past 10
 * MiB, throws inside its `data` handler and closes itself: the server then
 * exits (code 0), killing every call and task in flight. Here:
 *
 * - a line over the limit is never buffered: its bytes are streamed through a
 *   small scanner that finds the top-level `id` and `method`, the rest is
 *   discarded; a request gets a JSON-RPC error answer (`-32600`, naming the
 *   limit and `local_path`), anything without an id is dropped with one
 *   logged ERROR (TRANS-7);
 * - a line that is not JSON, or not a JSON-RPC message, gets `-32700` /
 *   `-32600` when an id can be read, else is dropped with a logged error;
 * - a result over the limit (or one that cannot be serialized) is replaced by
 *   a JSON-RPC error for the same id, so the caller is never left waiting
 *   (TRANS-10);
 * - stdin EOF closes the transport (the server then exits cleanly); a write
 *   error on stdout (the client went away) does the same.
 *
 * Messages are written one at a time, in order, each completely.
 *
 * The transport can start reading before the server exists
 * ({@link LineTransport.listenEarly}, used by early.ts while the SDK and the
 * server's modules load): an early reader may answer a message itself, and
 * every message reaches the server in arrival order once it starts. The
 * module needs no SDK at run time (the JSON-RPC validator is passed in).
 *
 * @module
 */

import type { JSONRPCMessage, Transport } from "./sdk.ts";
import type { Logger } from "../log.ts";
import { isWouldBlock, stdoutSlice, writeAll } from "../util/fd_write.ts";

/**
 * The JSON-RPC error codes this transport answers with (the SDK's
 * `ProtocolErrorCode` values; tests/e2e/early_answers_test.ts checks them).
 */
export const ErrorCode = {
  ParseError: -32700,
  InvalidRequest: -32600,
  InternalError: -32603,
} as const;

/**
 * What an early reader did with one parsed line: `null` leaves the message
 * for the server; otherwise the reader answered it, the server gets `replay`
 * in its place (the same request under the private id `id`) and its answer
 * to it is not sent: its `result` must serialize to `result` (the text the
 * reader sent), else the difference is logged as an error.
 */
export type EarlyVerdict = {
  replay: Record<string, unknown>;
  id: string;
  result: string;
} | null;

/** Options of {@link LineTransport}. */
export interface LineTransportOptions {
  /** bytes from the client (stdin) */
  input: ReadableStream<Uint8Array>;
  /** writes all of `bytes` to the client (stdout) */
  write: (bytes: Uint8Array) => Promise<void>;
  /** largest message accepted or sent, in bytes (see `limits.ts`) */
  maxMessageBytes: number;
  logger: Logger;
  /**
   * Validates a parsed line as a JSON-RPC message and returns it, or throws
   * (the SDK's `parseJSONRPCMessage`); required by `start()`, settable later
   * with {@link LineTransport.setParser}.
   */
  parse?: (value: unknown) => JSONRPCMessage;
}

/** Longest id / method text the scanner keeps. */
const CAPTURE_MAX = 256;

/**
 * Finds the top-level `id` and `method` of a JSON object fed to it in pieces,
 * without keeping the message: a byte-level state machine over strings,
 * escapes and nesting depth. Values that are objects or arrays, or longer
 * than {@link CAPTURE_MAX}, are not captured.
 */
export class TopLevelScanner {
  /** bytes seen */
  size = 0;
  #depth = 0;
  #inString = false;
  #escape = false;
  /** at depth 1, a string now is a key */
  #expectKey = false;
  #key: number[] | null = null;
  #pendingKey: string | null = null;
  #valueKey: string | null = null;
  #value: number[] | null = null;
  readonly #found = new Map<string, string>();

  /** Feeds the next bytes of the line. */
  feed(b: Uint8Array): void {
    this.size += b.length;
    // next quote / backslash at or after i (-2: not searched yet, -1: none);
    // each search starts past the previous hit, so a chunk costs O(length)
    let q = -2;
    let bs = -2;
    for (let i = 0; i < b.length; i++) {
      if (this.#inString && !this.#escape && !this.#key && !this.#value) {
        // fast path through string content nobody captures (the bulk of a
        // large payload): jump to the next quote or backslash
        if (q !== -1 && q < i) q = b.indexOf(0x22, i);
        if (bs !== -1 && bs < i) bs = b.indexOf(0x5c, i);
        const next = q < 0 ? bs : bs < 0 ? q : Math.min(q, bs);
        if (next < 0) return;
        i = next;
      }
      this.#byte(b[i]!);
    }
  }

  #byte(c: number): void {
    if (this.#inString) {
      if (this.#key) this.#push(this.#key, c);
      if (this.#value) this.#push(this.#value, c);
      if (this.#escape) this.#escape = false;
      else if (c === 0x5c) this.#escape = true;
      else if (c === 0x22) {
        this.#inString = false;
        if (this.#key) {
          this.#pendingKey = new TextDecoder().decode(Uint8Array.from(this.#key.slice(0, -1)));
          this.#key = null;
        }
      }
      return;
    }
    const atTop = this.#depth === 1;
    switch (c) {
      case 0x22: // "
        this.#inString = true;
        if (atTop && this.#expectKey) {
          this.#key = [];
          this.#expectKey = false;
        } else if (this.#value) this.#push(this.#value, c);
        return;
      case 0x3a: // :
        if (atTop && this.#pendingKey !== null) {
          this.#valueKey = this.#pendingKey;
          this.#pendingKey = null;
          this.#value = this.#found.has(this.#valueKey) ? null : [];
        }
        return;
      case 0x2c: // ,
        if (atTop) {
          this.#endValue();
          this.#expectKey = true;
        }
        return;
      case 0x7b: // {
      case 0x5b: // [
        if (this.#depth === 0 && c === 0x7b) this.#expectKey = true;
        if (atTop) this.#value = null; // nested values are not captured
        this.#depth++;
        return;
      case 0x7d: // }
      case 0x5d: // ]
        if (atTop) this.#endValue();
        this.#depth = Math.max(0, this.#depth - 1);
        return;
      case 0x20:
      case 0x09:
      case 0x0a:
      case 0x0d:
        return;
      default:
        if (this.#value) this.#push(this.#value, c);
    }
  }

  #push(buf: number[], c: number): void {
    if (buf.length <= CAPTURE_MAX) buf.push(c);
  }

  #endValue(): void {
    if (this.#valueKey !== null && this.#value && this.#value.length <= CAPTURE_MAX) {
      this.#found.set(this.#valueKey, new TextDecoder().decode(Uint8Array.from(this.#value)));
    }
    this.#valueKey = null;
    this.#value = null;
  }

  /** The top-level `id` when it is a string or a number, else undefined. */
  id(): string | number | undefined {
    const raw = this.#found.get("id");
    if (raw === undefined) return undefined;
    try {
      const v = JSON.parse(raw);
      return typeof v === "string" || (typeof v === "number" && Number.isFinite(v)) ? v : undefined;
    } catch {
      return undefined;
    }
  }

  /** The top-level `method` when it is a string, else undefined. */
  method(): string | undefined {
    const raw = this.#found.get("method");
    if (raw === undefined) return undefined;
    try {
      const v = JSON.parse(raw);
      return typeof v === "string" ? v : undefined;
    } catch {
      return undefined;
    }
  }
}

function concatParts(parts: Uint8Array[], size: number): Uint8Array {
  const out = new Uint8Array(size);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

const MIB = 1024 * 1024;

function sizeText(n: number): string {
  return n >= MIB ? `${(n / MIB).toFixed(1)} MiB (${n} bytes)` : `${n} bytes`;
}

/** The stdio transport (see module docs). */
export class LineTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: <T extends JSONRPCMessage>(message: T) => void;
  readonly #opts: LineTransportOptions;
  readonly #encoder = new TextEncoder();
  #reader: ReadableStreamDefaultReader<Uint8Array> | null = null;
  #writing: Promise<void> = Promise.resolve();
  #closed = false;
  #started = false;
  readonly #ended = Promise.withResolvers<void>();
  #logger: Logger;
  #parse: ((value: unknown) => JSONRPCMessage) | null;
  /** while reading early: the reader's hook, and the lines it left, in arrival order */
  #early: ((value: unknown) => EarlyVerdict) | null = null;
  #pending: unknown[] = [];
  /** set by pauseEarly(): reading waits for start() (stdin's own back-pressure meanwhile) */
  #paused: PromiseWithResolvers<void> | null = null;
  /** private id of a replayed request -> the result text the early reader sent */
  readonly #answered = new Map<string, string>();

  /**
   * Resolves once the transport closed (stdin EOF, a failed write, or
   * `close()`): the connection's owner (`serveStdio`) replaces `onclose`, so
   * the process waits on this instead.
   */
  get ended(): Promise<void> {
    return this.#ended.promise;
  }

  constructor(opts: LineTransportOptions) {
    this.#opts = opts;
    this.#logger = opts.logger;
    this.#parse = opts.parse ?? null;
  }

  /** Sets the JSON-RPC validator (before `start()`). */
  setParser(parse: (value: unknown) => JSONRPCMessage): void {
    this.#parse = parse;
  }

  /**
   * Starts reading before the server exists: each line that parses as JSON
   * goes to `hook` first (see {@link EarlyVerdict}); what it leaves waits, in
   * arrival order, for `start()`. Lines that are not JSON or over the limit
   * are answered as always. `send` works meanwhile.
   */
  listenEarly(hook: (value: unknown) => EarlyVerdict): void {
    if (this.#started) throw new Error("LineTransport already started");
    this.#early = hook;
    this.#read();
  }

  /**
   * Stops reading until `start()`: what the early reader left waits in
   * stdin's pipe, not in memory, while the server loads (the lines of the
   * chunk at hand are still read).
   */
  pauseEarly(): void {
    if (this.#early) this.#paused ??= Promise.withResolvers<void>();
  }

  /**
   * Starts reading stdin (the SDK calls this from `connect`, after setting
   * `onmessage`); after {@link listenEarly}, hands the server every message
   * read so far and ends the early phase.
   */
  start(): Promise<void> {
    if (!this.#parse) throw new Error("LineTransport: no JSON-RPC parser (setParser)");
    if (this.#early) {
      this.#early = null;
      const pending = this.#pending;
      this.#pending = [];
      for (const value of pending) this.#deliver(value);
      this.#paused?.resolve();
      this.#paused = null;
      return Promise.resolve();
    }
    if (this.#started) throw new Error("LineTransport already started");
    this.#read();
    return Promise.resolve();
  }

  #read(): void {
    this.#started = true;
    this.#reader = this.#opts.input.getReader();
    void this.#readLoop().catch((e) => {
      this.onerror?.(e instanceof Error ? e : new Error(String(e)));
    }).finally(() => void this.close());
  }

  async #readLoop(): Promise<void> {
    const max = this.#opts.maxMessageBytes;
    let parts: Uint8Array[] = [];
    let size = 0;
    let over: TopLevelScanner | null = null;
    for (;;) {
      if (this.#paused) await this.#paused.promise;
      const { value, done } = await this.#reader!.read();
      if (done || this.#closed) return;
      let chunk = value;
      while (chunk.length) {
        const nl = chunk.indexOf(10);
        const piece = nl < 0 ? chunk : chunk.subarray(0, nl);
        if (over) {
          over.feed(piece);
        } else if (size + piece.length > max) {
          // TRANS-7: stop buffering; scan what we have and the rest as it comes
          over = new TopLevelScanner();
          for (const p of parts) over.feed(p);
          over.feed(piece);
          parts = [];
        } else if (piece.length) {
          parts.push(piece.slice());
          size += piece.length;
        }
        if (nl < 0) break;
        if (over) this.#tooLarge(over);
        else if (size) this.#line(concatParts(parts, size));
        over = null;
        parts = [];
        size = 0;
        chunk = chunk.subarray(nl + 1);
      }
    }
  }

  /** One complete line within the limit. */
  #line(bytes: Uint8Array): void {
    const text = new TextDecoder().decode(bytes).replace(/\r$/, "");
    if (!text.trim()) return;
    let obj: unknown;
    try {
      obj = JSON.parse(text);
    } catch {
      const sc = new TopLevelScanner();
      sc.feed(bytes);
      this.#reject(
        sc.id(),
        sc.method(),
        ErrorCode.ParseError,
        "Parse error: the line is not JSON.",
      );
      return;
    }
    if (this.#early) {
      const verdict = this.#early(obj);
      if (verdict) this.#answered.set(verdict.id, verdict.result);
      this.#pending.push(verdict ? verdict.replay : obj);
      return;
    }
    this.#deliver(obj);
  }

  /** A parsed line to the server: validated, then `onmessage`, or answered as invalid. */
  #deliver(obj: unknown): void {
    let message: JSONRPCMessage;
    try {
      message = this.#parse!(obj);
    } catch {
      const o = (obj !== null && typeof obj === "object" ? obj : {}) as Record<string, unknown>;
      const id = typeof o.id === "string" || typeof o.id === "number" ? o.id : undefined;
      this.#reject(
        id,
        typeof o.method === "string" ? o.method : undefined,
        ErrorCode.InvalidRequest,
        "Invalid Request: not a JSON-RPC 2.0 message.",
      );
      return;
    }
    this.onmessage?.(message);
  }

  /** TRANS-7: a line over the limit, already discarded; answer it when it has an id. */
  #tooLarge(sc: TopLevelScanner): void {
    const max = this.#opts.maxMessageBytes;
    this.#reject(
      sc.id(),
      sc.method(),
      ErrorCode.InvalidRequest,
      `Request too large: the message is ${sizeText(sc.size)}, over this server's limit of ${
        sizeText(max)
      } for one JSON-RPC message; it was discarded. Send large files with local_path ` +
        "(inside SSH_LOCAL_TRANSFER_ROOTS) instead of inline content, or ask the operator.",
    );
  }

  /** Answers a bad message with an error when it is a request with an id; else logs and drops it. */
  #reject(
    id: string | number | undefined,
    method: string | undefined,
    code: number,
    message: string,
  ): void {
    if (id !== undefined && method !== undefined) {
      this.#logger.warn("refused a bad JSON-RPC request", {
        code,
        id: String(id).slice(0, 64),
      });
      void this.#write({ jsonrpc: "2.0", id, error: { code, message } });
      return;
    }
    this.#logger.error("dropped a bad JSON-RPC message without a request id", {
      code,
      reason: message.slice(0, 200),
    });
  }

  /**
   * Sends one message. A message that cannot be serialized or is over the
   * limit is replaced by an error response for the same id (TRANS-10), or
   * dropped with a logged error when it is not a response.
   */
  send(message: JSONRPCMessage): Promise<void> {
    if (this.#closed) return Promise.resolve();
    const early = this.#answered.size ? this.#replayAnswer(message) : false;
    if (early) return Promise.resolve();
    let bytes: Uint8Array | null = null;
    let size = -1;
    try {
      bytes = this.#encoder.encode(JSON.stringify(message) + "\n");
      size = bytes.length;
    } catch {
      bytes = null;
    }
    if (bytes && bytes.length - 1 <= this.#opts.maxMessageBytes) return this.#enqueue(bytes);
    const m = message as Record<string, unknown>;
    const isResponse = ("result" in m || "error" in m) &&
      (typeof m.id === "string" || typeof m.id === "number");
    const what = size < 0 ? "could not be serialized (too large)" : `is ${sizeText(size - 1)}`;
    if (!isResponse) {
      this.#logger.error("dropped an outgoing MCP message over the size limit", {
        method: typeof m.method === "string" ? m.method : null,
        size: size < 0 ? null : size - 1,
      });
      return Promise.resolve();
    }
    this.#logger.warn("a result over the MCP message limit was replaced by an error", {
      id: String(m.id).slice(0, 64),
      size: size < 0 ? null : size - 1,
    });
    return this.#write({
      jsonrpc: "2.0",
      id: m.id as string | number,
      error: {
        code: ErrorCode.InternalError,
        message:
          `The result ${what}, over this server's limit of ${
            sizeText(this.#opts.maxMessageBytes)
          } for one MCP message; nothing was sent. Ask for less: a smaller max_bytes or top, ` +
          "a narrower path, or local_path to write a file on the MCP host.",
      },
    });
  }

  /**
   * True when `message` is the server's answer to a request the early reader
   * answered (a replay): it is not sent, only compared with what was.
   */
  #replayAnswer(message: JSONRPCMessage): boolean {
    const m = message as Record<string, unknown>;
    if (typeof m.id !== "string" || !("result" in m || "error" in m)) return false;
    const sent = this.#answered.get(m.id);
    if (sent === undefined) return false;
    this.#answered.delete(m.id);
    const method = m.id.split(":")[2] ?? "?";
    if ("result" in m && JSON.stringify(m.result) === sent) {
      this.#logger.debug("early answer confirmed by the server", { method });
    } else {
      // the early reader and the server disagree: a bug (tests/e2e/early_answers_test.ts); the client
      // got the early answer, so say what the server would have sent instead
      this.#logger.error("an early answer differed from the server's", {
        method,
        server: JSON.stringify("result" in m ? m.result : m.error).slice(0, 300),
        early: sent.slice(0, 300),
      });
    }
    return true;
  }

  #write(obj: Record<string, unknown>): Promise<void> {
    return this.#enqueue(this.#encoder.encode(JSON.stringify(obj) + "\n"));
  }

  #enqueue(bytes: Uint8Array): Promise<void> {
    const job = this.#writing.then(async () => {
      if (this.#closed) return;
      try {
        await this.#opts.write(bytes);
      } catch (e) {
        this.onerror?.(e instanceof Error ? e : new Error(String(e)));
        await this.close();
      }
    });
    this.#writing = job;
    return job;
  }

  /** Stops reading and reports the close once. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#ended.resolve();
    this.#paused?.resolve(); // a paused read loop sees the close and ends
    try {
      await this.#reader?.cancel();
    } catch {
      // already released
    }
    this.onclose?.();
  }
}

/**
 * Largest message {@link writeStdout} writes synchronously. Deno runs an
 * asynchronous write to a pipe on a pool thread, so each message waits for
 * one more thread to wake before its bytes reach the client: 0.1-0.16 ms of
 * every `tools/call` round trip (issue 17, bench/README.md "Where a call's
 * time goes"). Node writes to pipes synchronously on Linux as well. A
 * synchronous write waits only while the client leaves the pipe's buffer
 * (64 KiB on Linux) nearly full, i.e. does not read: then a small message
 * waits there, as it would in Node. A larger message keeps the asynchronous
 * write, so it never holds the event loop (timeouts, keepalives and tasks
 * go on) while the client reads it slowly.
 */
export const SYNC_WRITE_MAX = 16 * 1024;

/**
 * Writes all of `bytes` to the process's stdout: synchronously up to
 * {@link SYNC_WRITE_MAX}, else asynchronously. The transport calls it for
 * one message at a time, so the order on the pipe is the order of `send`.
 * A stdout left non-blocking is waited on when full, never failed
 * (`util/fd_write.ts`, which also says how each message is cut so that a
 * refused write wrote nothing): a small message that does not fit goes on
 * asynchronously from where the synchronous write stopped.
 */
export async function writeStdout(bytes: Uint8Array): Promise<void> {
  let off = 0;
  if (bytes.length <= SYNC_WRITE_MAX) {
    try {
      while (off < bytes.length) off += Deno.stdout.writeSync(stdoutSlice(bytes, off));
      return;
    } catch (e) {
      if (!isWouldBlock(e)) throw e;
    }
  }
  await writeAll(Deno.stdout, bytes, off, stdoutSlice);
}
