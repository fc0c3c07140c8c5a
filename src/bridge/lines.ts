/**
 * Newline splitting with a size cap for the bridge (both directions).
 *
 * A line within the cap is handed over whole (its bytes, without the `\n`).
 * A line over the cap is never buffered: from the moment it crosses the cap
 * its bytes only go through `TopLevelScanner` (the same scanner the stdio
 * transport uses, `src/mcp/stdio.ts`), which finds the top-level `id` and
 * `method` so the caller can answer it; the rest is discarded.
 *
 * @module
 */

import { TopLevelScanner } from "../mcp/stdio.ts";

/** The bridge's limit for one JSON-RPC message (either direction), in bytes. */
export const BRIDGE_MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

/** What a line reveals about itself (top-level `id` and `method`, when readable). */
export interface LineInfo {
  id: string | number | undefined;
  method: string | undefined;
}

/** printable ASCII but `"` and `\\` (anything else goes to the scanner) */
const PLAIN = String.raw`[\x20\x21\x23-\x5b\x5d-\x7e]`;
const ID = String.raw`(-?[0-9]{1,17}|"${PLAIN}{0,256}")`;
/** `{"method":"m",` / `{"result":` / `{"error":` as the first member */
const HEAD_FIRST = new RegExp(
  String.raw`^\s*\{\s*"(method|result|error)"\s*:\s*(?:"(${PLAIN}{1,256})"\s*,)?`,
);
/** `{"jsonrpc":"2.0","id":X,"result"|"error"|"method":` */
const HEAD_ID = new RegExp(
  String
    .raw`^\s*\{\s*"jsonrpc"\s*:\s*"2\.0"\s*,\s*"id"\s*:\s*${ID}\s*,\s*"(result|error|method)"\s*:\s*(?:"(${PLAIN}{1,256})")?`,
);
/** `,"id":X}` closing the message: the last member of the top-level object */
const TAIL_ID = new RegExp(String.raw`[{,]\s*"id"\s*:\s*${ID}\s*\}\s*$`);
const latin1 = new TextDecoder("latin1");

/**
 * The common shapes of SDK-serialized messages, read from the first and last
 * few hundred bytes only (`{"method":…,"id":N}`, `{"result":…,"id":N}`,
 * `{"jsonrpc":"2.0","id":N,"result":…}`): a member just before the final
 * `}` is a member of the top-level object, as is the first one. Null when
 * the line has another shape (then the full scanner decides).
 */
function fastInfo(bytes: Uint8Array): LineInfo | null {
  const head = latin1.decode(bytes.subarray(0, 512));
  const first = HEAD_FIRST.exec(head);
  if (first) {
    if (first[1] === "method" && first[2] === undefined) return null;
    const tail = TAIL_ID.exec(latin1.decode(bytes.subarray(Math.max(0, bytes.length - 300))));
    if (!tail) return null; // a notification, or the id elsewhere
    return { id: JSON.parse(tail[1]!), method: first[1] === "method" ? first[2] : undefined };
  }
  const withId = HEAD_ID.exec(head);
  if (withId) {
    if (withId[2] === "method" && withId[3] === undefined) return null;
    return { id: JSON.parse(withId[1]!), method: withId[2] === "method" ? withId[3] : undefined };
  }
  return null;
}

/**
 * The top-level `id` / `method` of one complete line, without parsing it:
 * the common shapes from its ends, anything else through the byte scanner.
 */
export function lineInfo(bytes: Uint8Array): LineInfo {
  if (bytes.length > 1024) {
    const fast = fastInfo(bytes);
    if (fast) return fast;
  }
  const sc = new TopLevelScanner();
  sc.feed(bytes);
  return { id: sc.id(), method: sc.method() };
}

/** Splits a byte stream into lines (see module docs). */
export class LineSplitter {
  #parts: Uint8Array[] = [];
  #size = 0;
  #over: TopLevelScanner | null = null;
  readonly #max: number;
  readonly #onLine: (bytes: Uint8Array) => void;
  readonly #onOversize: (size: number, info: LineInfo) => void;

  constructor(
    max: number,
    onLine: (bytes: Uint8Array) => void,
    onOversize: (size: number, info: LineInfo) => void,
  ) {
    this.#max = max;
    this.#onLine = onLine;
    this.#onOversize = onOversize;
  }

  /** Feeds the next chunk of the stream. */
  push(chunk: Uint8Array): void {
    while (chunk.length) {
      const nl = chunk.indexOf(10);
      const piece = nl < 0 ? chunk : chunk.subarray(0, nl);
      if (this.#over) {
        this.#over.feed(piece);
      } else if (this.#size + piece.length > this.#max) {
        const sc = new TopLevelScanner();
        for (const p of this.#parts) sc.feed(p);
        sc.feed(piece);
        this.#over = sc;
        this.#parts = [];
        this.#size = 0;
      } else if (piece.length) {
        this.#parts.push(piece.slice());
        this.#size += piece.length;
      }
      if (nl < 0) return;
      this.#endLine();
      chunk = chunk.subarray(nl + 1);
    }
  }

  /** End of stream: an unterminated last line counts as a line. */
  end(): void {
    if (this.#over || this.#size) this.#endLine();
  }

  #endLine(): void {
    const over = this.#over;
    const parts = this.#parts;
    const size = this.#size;
    this.#over = null;
    this.#parts = [];
    this.#size = 0;
    if (over) {
      this.#onOversize(over.size, { id: over.id(), method: over.method() });
      return;
    }
    if (!size) return;
    let line: Uint8Array;
    if (parts.length === 1) line = parts[0]!;
    else {
      line = new Uint8Array(size);
      let off = 0;
      for (const p of parts) {
        line.set(p, off);
        off += p.length;
      }
    }
    this.#onLine(line);
  }
}

/** Splits text output (remote stderr) into lines of at most `max` bytes (longer ones are cut). */
export class TextLines {
  #buf = "";
  readonly #decoder = new TextDecoder();
  readonly #max: number;
  readonly #onLine: (line: string) => void;

  constructor(max: number, onLine: (line: string) => void) {
    this.#max = max;
    this.#onLine = onLine;
  }

  /** Feeds bytes. */
  push(chunk: Uint8Array): void {
    this.#buf += this.#decoder.decode(chunk, { stream: true });
    for (;;) {
      const nl = this.#buf.indexOf("\n");
      if (nl < 0) break;
      this.#emit(this.#buf.slice(0, nl));
      this.#buf = this.#buf.slice(nl + 1);
    }
    if (this.#buf.length > this.#max) {
      this.#emit(this.#buf);
      this.#buf = "";
    }
  }

  /** Flushes a last unterminated line. */
  end(): void {
    this.#buf += this.#decoder.decode();
    if (this.#buf) this.#emit(this.#buf);
    this.#buf = "";
  }

  #emit(line: string): void {
    const l = line.replace(/\r$/, "");
    this.#onLine(l.length > this.#max ? `${l.slice(0, this.#max)}… (cut)` : l);
  }
}
