/**
 * Bulk SFTP transfers on one {@link SftpChannel} (internal to the ssh layer;
 * tools call them through {@link RemoteFs} methods on checked paths).
 *
 * - Reads and writes are pipelined: up to {@link PIPELINE_DEPTH} requests of
 *   at most the server's chunk size in flight, delivered in file order, so
 *   memory stays bounded (about depth x chunk) whatever the file size.
 * - {@link writeTemp}: data goes to a temp file next to the final path
 *   (created exclusively, mode 0600), then owner and mode are set. The
 *   atomic replace and the cleanup around it live in `fs.ts`.
 * - {@link recheckOn}: the PATH-30 re-check before destructive operations.
 * - Reads take a `verify` hook that sees the opened handle's attributes
 *   before any byte is read (PATH-51: the handle must be the checked file),
 *   and {@link writeTemp} a `placed` hook that sees the new temp file's
 *   attributes before any byte is written (PATH-52).
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import { posix as pposix } from "node:path";
import { ToolError } from "../errors.ts";
import {
  cancelled,
  LOCAL_CHUNK_BYTES,
  PIPELINE_DEPTH,
  type RemoteStat,
  type SftpChannel,
  SftpError,
  type TempPath,
} from "./sftp_channel.ts";
import { errorClass, startSpan, withSpan } from "../telemetry/otel.ts";

/** Options of {@link readRange}. */
export interface ReadRangeOptions {
  /**
   * Recycle the chunk buffers: a yielded chunk is valid only until the
   * consumer asks for the chunk after next (enough for {@link downloadTo},
   * which has finished writing chunk k before it asks for chunk k+2). Without
   * it every chunk is a fresh buffer the consumer may keep.
   */
  reuse?: boolean;
}

/**
 * Pipelined read of `[0, size)` (or until EOF when the file shrank),
 * delivered in order. At most {@link PIPELINE_DEPTH} requests in flight
 * (plus the chunk the consumer holds).
 */
export async function* readRange(
  ch: SftpChannel,
  handle: Buffer,
  path: string,
  size: number,
  signal?: AbortSignal,
  opts: ReadRangeOptions = {},
): AsyncGenerator<Uint8Array> {
  // one `sftp.read` span per transfer: bytes delivered, never the path (TELEM-1)
  const span = startSpan("sftp.read", { "ssh.host": ch.conn.target.policy.alias }, "client");
  let bytes = 0;
  try {
    for await (const data of readRangeIn(ch, handle, path, size, signal, opts.reuse === true)) {
      bytes += data.length;
      yield data;
    }
  } catch (e) {
    span.fail(errorClass(e));
    throw e;
  } finally {
    span.set({ "sftp.bytes": bytes });
    span.end();
  }
}

async function* readRangeIn(
  ch: SftpChannel,
  handle: Buffer,
  path: string,
  size: number,
  signal: AbortSignal | undefined,
  reuse: boolean,
): AsyncGenerator<Uint8Array> {
  const chunk = ch.readChunk;
  const queue: { len: number; buf: Buffer; p: Promise<Uint8Array> }[] = [];
  // recycled buffers (reuse only): a 255 KiB allocation per request costs more
  // in Deno (zeroing, page faults, GC of external memory) than the copy into it
  const free: Buffer[] = [];
  const lent: Buffer[] = [];
  let next = 0;
  const readFull = async (buf: Buffer, pos: number, len: number): Promise<Uint8Array> => {
    // a server may answer short reads; fill the slot or stop at EOF
    let got = 0;
    while (got < len) {
      const part = await ch.readAt(handle, path, pos + got, len - got, signal, buf.subarray(got));
      if (part.length === 0) break;
      got += part.length;
    }
    return got === buf.length ? buf : buf.subarray(0, got);
  };
  const issue = () => {
    while (queue.length < PIPELINE_DEPTH && next < size) {
      const len = Math.min(chunk, size - next);
      const pooled = reuse ? free.pop() : undefined;
      const buf = pooled ? pooled.subarray(0, len) : Buffer.allocUnsafe(reuse ? chunk : len);
      const p = readFull(buf.subarray(0, len), next, len);
      p.catch(() => {}); // settled by the consumer; never an unhandled rejection
      queue.push({ len, buf: pooled ?? buf, p });
      next += len;
    }
  };
  try {
    issue();
    while (queue.length) {
      const head = queue.shift()!;
      const data = await head.p;
      if (data.length < head.len) {
        // EOF before the size seen at open (the file shrank)
        if (data.length) yield data;
        return;
      }
      // refill before handing the chunk out: the pipe stays full while the consumer works
      issue();
      if (data.length) yield data;
      if (reuse) {
        // the consumer asked for the next chunk: the one before this is free again
        lent.push(head.buf);
        if (lent.length > 1) free.push(lent.shift()!);
      }
    }
  } finally {
    // drain what is still in flight so nothing references a closed handle later
    await Promise.allSettled(queue.map((q) => q.p));
  }
}

/**
 * Pipelined write of `source` from offset 0; returns the bytes written. At
 * most {@link PIPELINE_DEPTH} requests in flight; the source is not pulled
 * while the pipeline is full (backpressure).
 */
export async function writeFrom(
  ch: SftpChannel,
  handle: Buffer,
  path: string,
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  signal?: AbortSignal,
  onChunk?: (chunk: Uint8Array) => void,
): Promise<number> {
  // one `sftp.write` span per transfer: bytes written, never the path (TELEM-1)
  return await withSpan("sftp.write", { "ssh.host": ch.conn.target.policy.alias }, async (span) => {
    const n = await writeFromIn(ch, handle, path, source, signal, onChunk);
    span.set({ "sftp.bytes": n });
    return n;
  }, "client");
}

async function writeFromIn(
  ch: SftpChannel,
  handle: Buffer,
  path: string,
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  signal?: AbortSignal,
  onChunk?: (chunk: Uint8Array) => void,
): Promise<number> {
  const chunk = ch.writeChunk;
  const inflight = new Set<Promise<void>>();
  let failure: unknown = null;
  let pos = 0;
  const send = async (data: Uint8Array) => {
    while (inflight.size >= PIPELINE_DEPTH && failure === null) await Promise.race(inflight);
    if (failure !== null) throw failure;
    if (signal?.aborted) throw cancelled();
    const p = ch.writeAt(handle, path, pos, data, signal).catch((e) => {
      if (failure === null) failure = e;
    });
    pos += data.length;
    inflight.add(p);
    p.finally(() => inflight.delete(p));
  };
  try {
    for await (const block of source) {
      onChunk?.(block);
      for (let o = 0; o < block.length; o += chunk) {
        await send(block.subarray(o, Math.min(block.length, o + chunk)));
      }
    }
    await Promise.all(inflight);
    if (failure !== null) throw failure;
  } finally {
    await Promise.allSettled(inflight);
  }
  if (signal?.aborted) throw cancelled();
  return pos;
}

/**
 * Checks an opened handle's attributes before anything is read (PATH-51);
 * `reading` is the number of bytes the reader is about to ask for.
 */
export type VerifyOpened = (st: RemoteStat, reading: number) => Promise<void>;

/** Streams a remote file's bytes (pipelined, bounded memory). */
export async function* remoteChunks(
  ch: SftpChannel,
  path: string,
  signal?: AbortSignal,
  verify?: VerifyOpened,
): AsyncGenerator<Uint8Array> {
  const handle = await ch.openHandle(path, "r", undefined, signal);
  try {
    const st = await ch.fstat(handle, path);
    await verify?.(st, st.size);
    yield* readRange(ch, handle, path, st.size, signal);
  } finally {
    if (ch.alive) await ch.closeHandle(handle, path).catch(() => {});
  }
}

/** Reads a whole file of at most `cap` bytes (caller checked the size). */
export async function readFile(
  ch: SftpChannel,
  path: string,
  cap: number,
  signal?: AbortSignal,
  verify?: VerifyOpened,
): Promise<Uint8Array> {
  const handle = await ch.openHandle(path, "r", undefined, signal);
  try {
    const st = await ch.fstat(handle, path);
    const size = Math.min(st.size, cap);
    await verify?.(st, size);
    const parts: Uint8Array[] = [];
    for await (const c of readRange(ch, handle, path, size, signal)) parts.push(c);
    return Buffer.concat(parts);
  } finally {
    await ch.closeHandle(handle, path).catch(() => {});
  }
}

/** sha256 (lowercase hex) of a remote file, streamed over SFTP. */
export async function sha256Of(
  ch: SftpChannel,
  path: string,
  signal?: AbortSignal,
  verify?: VerifyOpened,
): Promise<string> {
  const h = createHash("sha256");
  for await (const c of remoteChunks(ch, path, signal, verify)) h.update(c);
  return h.digest("hex");
}

/**
 * Bytes written to a local file between two background `fdatasync` calls
 * during a download. The commit flushes the file before its rename (LOCAL-8);
 * flushing as the bytes arrive lets the disk write them while the network
 * delivers the rest, so the final flush has at most this much left instead
 * of the whole file (512 MiB took 0.4-0.5 s on the bench machine's disk).
 */
export const FLUSH_EVERY_BYTES = 32 * 1024 * 1024;

/**
 * Streams a remote file to a local handle; returns bytes written. A file that
 * grew past `maxBytes` since it was checked is refused before any byte is
 * written (`SftpDownloadError`). Every {@link FLUSH_EVERY_BYTES} the written
 * bytes are flushed in the background (one flush at a time); a failed flush
 * fails the download (an I/O error is reported once, so a later flush could
 * not be trusted to report it again).
 */
export async function downloadTo(
  ch: SftpChannel,
  path: string,
  file: Deno.FsFile,
  signal?: AbortSignal,
  maxBytes = Number.MAX_SAFE_INTEGER,
  onChunk?: (chunk: Uint8Array) => void,
  verify?: VerifyOpened,
): Promise<number> {
  const handle = await ch.openHandle(path, "r", undefined, signal);
  let total = 0;
  try {
    const st = await ch.fstat(handle, path);
    await verify?.(st, st.size);
    if (st.size > maxBytes) {
      throw new ToolError(
        "SftpDownloadError",
        `${path} is ${st.size} bytes, over the ${maxBytes}-byte cap; nothing was written.`,
      );
    }
    // one local write in flight while the next chunk arrives
    let pending: Promise<void> = Promise.resolve();
    const writeAll = async (c: Uint8Array) => {
      let o = 0;
      while (o < c.length) o += await file.write(c.subarray(o));
    };
    // one background flush at a time, started once FLUSH_EVERY_BYTES more were written
    let flushing: Promise<void> | null = null;
    let flushFailed: unknown = null;
    let unflushed = 0;
    const flush = () => {
      unflushed = 0;
      flushing = file.syncData().catch((e) => {
        flushFailed ??= e;
      }).finally(() => {
        flushing = null;
      });
    };
    try {
      // recycled buffers: chunk k is written before chunk k+2 is asked for
      for await (const c of readRange(ch, handle, path, st.size, signal, { reuse: true })) {
        await pending;
        if (flushFailed) throw flushFailed;
        pending = writeAll(c);
        total += c.length;
        unflushed += c.length;
        // the flush starts once this chunk is written
        if (unflushed >= FLUSH_EVERY_BYTES && !flushing) pending = pending.then(flush);
        onChunk?.(c);
      }
    } finally {
      await pending.catch(() => {});
      await (flushing as Promise<void> | null);
    }
    await pending;
    if (flushFailed) throw flushFailed;
  } finally {
    if (ch.alive) await ch.closeHandle(handle, path).catch(() => {});
  }
  return total;
}

/**
 * Reads a local file in {@link LOCAL_CHUNK_BYTES} blocks. With `reuse` the
 * blocks cycle through two buffers, so a yielded block is valid only until the
 * consumer asks for the block after next -- enough for {@link writeFrom},
 * whose SFTP writes copy the bytes before the next block is requested, and it
 * keeps a multi-GiB stream from churning garbage. Without `reuse` every block
 * is a fresh buffer the consumer may keep.
 */
export async function* localChunks(
  file: Deno.FsFile,
  signal?: AbortSignal,
  opts: { reuse?: boolean } = {},
): AsyncGenerator<Uint8Array> {
  const ring = opts.reuse
    ? [new Uint8Array(LOCAL_CHUNK_BYTES), new Uint8Array(LOCAL_CHUNK_BYTES)]
    : null;
  for (let i = 0;; i++) {
    if (signal?.aborted) throw cancelled();
    const buf = ring ? ring[i % 2]! : new Uint8Array(LOCAL_CHUNK_BYTES);
    let filled = 0;
    while (filled < buf.length) {
      const n = await file.read(buf.subarray(filled));
      if (n === null) break;
      filled += n;
    }
    if (filled === 0) return;
    yield filled === buf.length ? buf : buf.subarray(0, filled);
    if (filled < buf.length) return;
  }
}

/** Options of {@link writeTemp}. */
export interface WriteTempOptions {
  /** permission bits of the final file */
  mode: number;
  /** restore this owner on the temp file (when allowed) */
  owner?: { uid: number; gid: number } | null;
  signal?: AbortSignal;
  /** called for every source block (hashing, progress) */
  onChunk?: (chunk: Uint8Array) => void;
  /** names the final path in the owner warning */
  final: string;
  /** sees the new temp file's attributes before any byte is written (PATH-52) */
  placed?: (st: RemoteStat) => Promise<void>;
  /**
   * the temp file was already created (exclusively, 0600, in its pinned
   * directory); it is opened without O_CREAT, so a swapped directory makes
   * the open fail instead of creating a file elsewhere (PATH-52)
   */
  precreated?: boolean;
}

/**
 * Creates `tmp` exclusively (mode 0600), writes `source`, restores the owner
 * (failure is a warning), sets `mode` and closes it. `created` is called as
 * soon as the file exists, so the caller can clean it up on any later
 * failure.
 */
export async function writeTemp(
  ch: SftpChannel,
  tmp: TempPath,
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  opts: WriteTempOptions,
  created: () => void,
): Promise<{ bytes: number; warnings: string[] }> {
  const { signal } = opts;
  const warnings: string[] = [];
  // no signal on open: a temp file the server may still create must be known
  let handle: Buffer | null = opts.precreated
    ? await ch.openHandle(tmp, "r+")
    : await ch.openHandle(tmp, "wx", 0o600);
  created();
  try {
    if (opts.placed) await opts.placed(await ch.fstat(handle, tmp));
    if (signal?.aborted) throw cancelled();
    const bytes = await writeFrom(ch, handle, tmp, source, signal, opts.onChunk);
    if (opts.owner && opts.owner.uid >= 0 && opts.owner.gid >= 0) {
      const cur = await ch.fstat(handle, tmp);
      if (cur.uid !== opts.owner.uid || cur.gid !== opts.owner.gid) {
        try {
          await ch.fsetstat(handle, tmp, { uid: opts.owner.uid, gid: opts.owner.gid });
        } catch (e) {
          if (!(e instanceof SftpError) || e.status === null) throw e;
          warnings.push(
            `owner not preserved: ${opts.final} was owned by uid ${opts.owner.uid} gid ${opts.owner.gid}; the new file is owned by the SSH user (uid ${cur.uid} gid ${cur.gid}) because it may not chown`,
          );
        }
      }
    }
    // chmod after chown: chown by a non-root user clears setuid/setgid bits
    await ch.fsetstat(handle, tmp, { mode: opts.mode });
    const h = handle;
    handle = null;
    await ch.closeHandle(h, tmp);
    return { bytes, warnings };
  } finally {
    if (handle && ch.alive) await ch.closeHandle(handle, tmp).catch(() => {});
  }
}

/**
 * PATH-30 re-check before a destructive operation on `path`:
 * - `resolved` (the path came from a symlink-resolving canonicalization):
 *   the server's REALPATH of the path (or of its parent when the path does
 *   not exist) must still equal it, so no component became a symlink;
 * - `leaf` (follow_symlinks=false: the leaf itself may be a symlink): the
 *   parent's REALPATH must still equal the parent.
 * Windows hosts get an `lstat` check only (weaker, documented).
 */
export async function recheckOn(
  ch: SftpChannel,
  path: string,
  mode: "resolved" | "leaf",
  signal?: AbortSignal,
): Promise<void> {
  const changed = (detail: string) =>
    new ToolError(
      "WriteError",
      `Refusing to modify ${path}: it changed since it was checked (${detail}). Nothing was changed; check the path and call again.`,
      { reason: "path_changed" },
    );
  if (ch.platform === "windows") {
    if (mode === "resolved") {
      const st = await ch.lstatOrNull(path, signal);
      if (st?.kind === "symlink") throw changed("it is now a symbolic link");
    }
    return;
  }
  const parent = pposix.dirname(path);
  if (mode === "resolved") {
    const st = await ch.lstatOrNull(path, signal);
    if (st?.kind === "symlink") throw changed("it is now a symbolic link");
    if (st) {
      const real = await ch.realpath(path, signal).catch(() => null);
      if (real !== null && real !== path) throw changed(`it now resolves to ${real}`);
      return;
    }
  }
  if (parent === path) return;
  const realParent = await ch.realpath(parent, signal).catch(() => null);
  if (realParent !== null && realParent !== parent) {
    throw changed(`its directory now resolves to ${realParent}`);
  }
}
