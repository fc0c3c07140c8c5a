/**
 * Whole writes to the process's own stdout and stderr, also when the
 * descriptor it inherited is non-blocking.
 *
 * `O_NONBLOCK` belongs to the open file description, which a process shares
 * with whoever handed it the descriptor: a launcher that passes on its own
 * non-blocking pipe, or a terminal an earlier program left non-blocking,
 * gives the server a stdout or stderr on which `write(2)` fails with
 * `EAGAIN` as soon as the reader falls behind. Deno reports that as
 * `Deno.errors.WouldBlock`. Left alone, that ends the MCP transport (the
 * server exits, a response cut in half on the wire) or cuts a log or audit
 * line in two.
 *
 * Here a full non-blocking descriptor is waited on, as `write(2)` waits on a
 * blocking one. Deno has no readiness API for its own stdio, so the wait is a
 * short sleep, doubled up to {@link MAX_WAIT_MS} while the reader stays
 * behind; only a full non-blocking descriptor ever takes that path.
 *
 * Retrying is only correct if a failed write wrote nothing, and that differs
 * between the two streams. Deno writes stderr through Rust's unbuffered
 * `Stderr`: a call writes some bytes and says how many, or fails having
 * written none. It writes stdout through Rust's `Stdout`, a `LineWriter`
 * (1 KiB buffer) that Deno flushes after each call: a slice without a newline
 * of at least 1 KiB, or a slice that ends in the only newline, goes straight
 * to one `write(2)`; after a partial write of a slice ending in a newline, the
 * `LineWriter` keeps up to 1 KiB of the rest in its buffer and the flush that
 * follows fails, so the caller sees an error for bytes that are in fact
 * queued (measured: repeated bytes on the wire). {@link stdoutSlice} cuts
 * each message so that never happens on a pipe: the slice with the newline is
 * at most `PIPE_BUF` (4 KiB) long, which a pipe writes whole or not at all.
 * On a non-blocking socket (not a pipe) that last slice can still be written
 * in part; this module cannot tell the two apart.
 *
 * @module
 */

/** Longest single sleep while the descriptor stays full, in ms. */
export const MAX_WAIT_MS = 20;

/** `PIPE_BUF` on Linux and macOS: a pipe write up to this size is all or nothing. */
export const PIPE_ATOMIC = 4096;

/** Rust's `LineWriter` buffer for stdout: a slice without a newline at least this long bypasses it. */
const LINE_BUFFER = 1024;

/** What {@link writeAllSync} writes to. */
export interface SyncWriter {
  writeSync(p: Uint8Array): number;
}

/** What {@link writeAll} writes to. */
export interface AsyncWriter {
  write(p: Uint8Array): Promise<number>;
}

/** Picks the part of `bytes` from `off` to hand to one write call. */
export type Slicer = (bytes: Uint8Array, off: number) => Uint8Array;

/** The default {@link Slicer}: everything left. */
const rest: Slicer = (b, off) => b.subarray(off);

/** The next wait while a descriptor stays full: doubled, up to {@link MAX_WAIT_MS}. */
function longer(wait: number): number {
  return Math.min(wait * 2, MAX_WAIT_MS);
}

/** Whether `e` is a write refused by a full non-blocking descriptor (EAGAIN). */
export function isWouldBlock(e: unknown): boolean {
  return e instanceof Deno.errors.WouldBlock;
}

/**
 * The next slice of a newline-terminated `message` to hand to stdout from
 * offset `off`: the rest if it fits in {@link PIPE_ATOMIC} bytes, else all
 * but its last {@link LINE_BUFFER} bytes (so every slice without the newline
 * is long enough to bypass the `LineWriter`, and the slice with it is short
 * enough to be written whole). For a message with no newline the rest is
 * returned.
 */
export function stdoutSlice(message: Uint8Array, off: number): Uint8Array {
  return message.length - off <= PIPE_ATOMIC
    ? message.subarray(off)
    : message.subarray(off, message.length - LINE_BUFFER);
}

let sleeper: Int32Array | null = null;

/** Blocks this thread for `ms` (the synchronous writer's wait). */
function sleepSync(ms: number): void {
  sleeper ??= new Int32Array(new SharedArrayBuffer(4));
  Atomics.wait(sleeper, 0, 0, ms);
}

/**
 * Writes all of `bytes` synchronously, handing `file` one `slice(bytes, off)`
 * at a time ({@link stdoutSlice} for stdout, one line per call) and waiting
 * while a non-blocking descriptor is full. Any error other than `WouldBlock`
 * is thrown.
 */
export function writeAllSync(
  file: SyncWriter,
  bytes: Uint8Array,
  slice: Slicer = rest,
): void {
  let off = 0;
  let wait = 1;
  while (off < bytes.length) {
    try {
      off += file.writeSync(slice(bytes, off));
      wait = 1;
    } catch (e) {
      if (!isWouldBlock(e)) throw e;
      sleepSync(wait);
      wait = longer(wait);
    }
  }
}

/**
 * Writes all of `bytes` from offset `from` asynchronously (the event loop
 * runs meanwhile), handing `file` one `slice(bytes, off)` at a time and
 * waiting while a non-blocking descriptor is full. Any error other than
 * `WouldBlock` rejects.
 */
export async function writeAll(
  file: AsyncWriter,
  bytes: Uint8Array,
  from = 0,
  slice: Slicer = rest,
): Promise<void> {
  let off = from;
  let wait = 1;
  while (off < bytes.length) {
    try {
      off += await file.write(slice(bytes, off));
      wait = 1;
    } catch (e) {
      if (!isWouldBlock(e)) throw e;
      // a real timer: it keeps the process alive until the last bytes are out
      await new Promise<void>((r) => setTimeout(r, wait));
      wait = longer(wait);
    }
  }
}
