/**
 * Typed SFTP operations on {@link CheckedPath} values (SECURITY.md §PATH).
 *
 * - Every operation is a promise that also settles when the SFTP channel or
 *   the SSH connection dies, or when the caller's signal aborts (ssh2 would
 *   otherwise leave a request on a closed channel pending forever).
 * - Errors keep the protocol status as a named constant ({@link SFTP_STATUS},
 *   AC-014) so callers branch on codes, never on message text.
 * - Bulk reads and writes are pipelined: up to {@link PIPELINE_DEPTH} requests
 *   of at most {@link CHUNK_BYTES} in flight, delivered in file order, so
 *   memory stays bounded (about depth x chunk) whatever the file size.
 * - {@link atomicWrite}: data goes to `<final>.ssh-mcp-tmp.<16 hex>` in the
 *   same directory (created exclusively, mode 0600), then owner and mode are
 *   set, then `posix-rename@openssh.com` replaces the final path. On ANY
 *   failure -- SFTP error, cancellation, a cut connection -- the temp file is
 *   removed (over a fresh connection when the old one is gone) and the
 *   original file is untouched (PATH-28, AC-039).
 * - {@link recheckPath}: the PATH-30 re-check before destructive operations.
 *
 * @module
 */

// @ts-types="npm:@types/ssh2@1.15.5"
import type ssh2 from "ssh2";
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import { posix as pposix } from "node:path";
import { ToolError } from "../errors.ts";
import { randomHex } from "../util/random.ts";
import type { CheckedPath } from "../checked.ts";
import type { Connection } from "./connection.ts";

/** SFTP status codes (draft-ietf-secsh-filexfer; OpenSSH speaks v3, 0..8). */
export const SFTP_STATUS = {
  OK: 0,
  EOF: 1,
  NO_SUCH_FILE: 2,
  PERMISSION_DENIED: 3,
  FAILURE: 4,
  BAD_MESSAGE: 5,
  NO_CONNECTION: 6,
  CONNECTION_LOST: 7,
  OP_UNSUPPORTED: 8,
  /** filexfer v6+; never sent by OpenSSH but handled (AC-014) */
  LINK_LOOP: 21,
} as const;

/** Name of one status code. */
export type SftpStatusName = keyof typeof SFTP_STATUS;

const STATUS_NAME = new Map<number, SftpStatusName>(
  Object.entries(SFTP_STATUS).map(([k, v]) => [v, k as SftpStatusName]),
);

/** Largest request we send (OpenSSH limits reads/writes to 256 KiB minus headers). */
export const CHUNK_BYTES = 255 * 1024;
/** Requests in flight per bulk transfer (measured: 16 saturates loopback). */
export const PIPELINE_DEPTH = 16;
/** Local file I/O block for `local_path` streams (TOOLS.md §6: 256 KiB chunks). */
export const LOCAL_CHUNK_BYTES = 256 * 1024;

/** POSIX file-type bits. */
const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;

/** Kind of a directory entry (TOOLS.md §2.2 SftpEntry). */
export type EntryKind = "file" | "dir" | "symlink" | "other";

/** File attributes as returned by stat/lstat. */
export interface RemoteStat {
  kind: EntryKind;
  /** full st_mode including the type bits */
  mode: number;
  /** `mode & 0o7777` */
  perm: number;
  size: number;
  uid: number;
  gid: number;
  /** seconds since the epoch (0 when unknown) */
  mtime: number;
  atime: number;
}

/** One `readdir` entry. */
export interface RemoteDirEntry {
  name: string;
  stat: RemoteStat;
}

/** An SFTP failure with its protocol status (AC-014). */
export class SftpError extends Error {
  /** numeric status, or null for a transport failure */
  readonly status: number | null;
  readonly statusName: SftpStatusName | "TRANSPORT";
  readonly op: string;
  readonly path: string;

  constructor(op: string, path: string, status: number | null, message: string) {
    const name = status === null ? "TRANSPORT" : STATUS_NAME.get(status) ?? "FAILURE";
    super(`SFTP ${op} ${JSON.stringify(path)} failed: ${message} (${name})`);
    this.name = "SftpError";
    this.status = status;
    this.statusName = name;
    this.op = op;
    this.path = path;
  }

  /** True when the status is one of `names`. */
  is(...names: SftpStatusName[]): boolean {
    return this.status !== null && names.some((n) => SFTP_STATUS[n] === this.status);
  }
}

/** Status of an SFTP failure, or null for anything else. */
export function sftpStatus(e: unknown): number | null {
  return e instanceof SftpError ? e.status : null;
}

/** Maps file-type bits to a kind. */
export function kindOf(mode: number): EntryKind {
  switch (mode & S_IFMT) {
    case S_IFDIR:
      return "dir";
    case S_IFREG:
      return "file";
    case S_IFLNK:
      return "symlink";
    default:
      return "other";
  }
}

/** `0644`-style 4-digit octal of `perm & 0o7777`. */
export function modeString(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, "0");
}

/** ISO-8601 UTC with `+00:00` (TOOLS.md §2.2), `""` when unknown. */
export function isoTime(epochSeconds: number): string {
  if (!Number.isFinite(epochSeconds) || epochSeconds <= 0) return "";
  return new Date(epochSeconds * 1000).toISOString().replace(/\.\d{3}Z$/, "+00:00");
}

function toStat(a: ssh2.Stats | ssh2.Attributes): RemoteStat {
  const mode = typeof a.mode === "number" ? a.mode : 0;
  return {
    kind: kindOf(mode),
    mode,
    perm: mode & 0o7777,
    size: typeof a.size === "number" ? a.size : 0,
    uid: typeof a.uid === "number" ? a.uid : -1,
    gid: typeof a.gid === "number" ? a.gid : -1,
    mtime: typeof a.mtime === "number" ? a.mtime : 0,
    atime: typeof a.atime === "number" ? a.atime : 0,
  };
}

/** `<final>.ssh-mcp-tmp.<16 lowercase hex>` in the same directory (PATH-28). */
export function tempPathFor(final: string): string {
  return `${final}.ssh-mcp-tmp.${randomHex(8)}`;
}

/** Matches names produced by {@link tempPathFor}. */
export const TEMP_NAME_RE = /\.ssh-mcp-tmp\.[0-9a-f]{16}$/;

function cancelled(): ToolError {
  return new ToolError("Cancelled", "The request was cancelled.");
}

type Cb<T> = (err: (Error & { code?: unknown }) | null | undefined, value?: T) => void;

const VIEWS = new WeakMap<ssh2.SFTPWrapper, RemoteFs>();

/**
 * The SFTP channel of one connection, with liveness-aware promises. Create
 * with {@link RemoteFs.open}; cheap (the channel is shared per connection).
 */
export class RemoteFs {
  readonly sftp: ssh2.SFTPWrapper;
  readonly conn: Connection;
  readonly platform: "posix" | "windows";
  #closed = false;
  #closeWaiters = new Set<() => void>();

  private constructor(sftp: ssh2.SFTPWrapper, conn: Connection) {
    this.sftp = sftp;
    this.conn = conn;
    this.platform = conn.target.policy.platform;
    const onGone = () => {
      if (this.#closed) return;
      this.#closed = true;
      for (const w of this.#closeWaiters) w();
      this.#closeWaiters.clear();
    };
    sftp.once("close", onGone);
    sftp.once("end", onGone);
    conn.onClose(onGone);
  }

  /**
   * The view of `conn`'s shared SFTP channel: one instance per channel, so
   * its close listeners are registered once, not once per call.
   */
  static async open(conn: Connection): Promise<RemoteFs> {
    const sftp = await conn.sftp();
    let fs = VIEWS.get(sftp);
    if (!fs) {
      fs = new RemoteFs(sftp, conn);
      VIEWS.set(sftp, fs);
    }
    return fs;
  }

  /** False once the channel or the connection is gone. */
  get alive(): boolean {
    return !this.#closed && this.conn.alive;
  }

  /** `limits@openssh.com` max read length, bounded by {@link CHUNK_BYTES}. */
  get readChunk(): number {
    const n = (this.sftp as unknown as { _maxReadLen?: number })._maxReadLen;
    return typeof n === "number" && n > 4096 ? Math.min(n, CHUNK_BYTES) : 32 * 1024;
  }

  /** `limits@openssh.com` max write length, bounded by {@link CHUNK_BYTES}. */
  get writeChunk(): number {
    const n = (this.sftp as unknown as { _maxWriteLen?: number })._maxWriteLen;
    return typeof n === "number" && n > 4096 ? Math.min(n, CHUNK_BYTES) : 32 * 1024;
  }

  #lost(op: string, path: string): SftpError {
    return new SftpError(
      op,
      path,
      null,
      `the SFTP channel to ${this.conn.target.policy.alias} closed`,
    );
  }

  /**
   * Runs one request. Settles on the server's answer, on channel/connection
   * loss, or on `signal` abort (the request itself cannot be recalled).
   */
  call<T>(op: string, path: string, fn: (cb: Cb<T>) => void, signal?: AbortSignal): Promise<T> {
    if (signal?.aborted) return Promise.reject(cancelled());
    if (!this.alive) return Promise.reject(this.#lost(op, path));
    return new Promise<T>((resolve, reject) => {
      let done = false;
      const finish = () => {
        done = true;
        this.#closeWaiters.delete(onClose);
        signal?.removeEventListener("abort", onAbort);
      };
      const onClose = () => {
        if (done) return;
        finish();
        reject(this.#lost(op, path));
      };
      const onAbort = () => {
        if (done) return;
        finish();
        reject(cancelled());
      };
      this.#closeWaiters.add(onClose);
      signal?.addEventListener("abort", onAbort, { once: true });
      try {
        fn((err, value) => {
          if (done) return;
          finish();
          if (err) {
            const code = typeof err.code === "number" ? err.code : null;
            // ssh2 reports requests dropped by a closing channel without a status
            reject(
              code === null && !this.alive
                ? this.#lost(op, path)
                : new SftpError(op, path, code, err.message),
            );
          } else {
            resolve(value as T);
          }
        });
      } catch (e) {
        // ssh2 throws synchronously for unsupported extensions
        finish();
        reject(
          new SftpError(op, path, SFTP_STATUS.OP_UNSUPPORTED, (e as Error).message),
        );
      }
    });
  }

  /** SFTP `stat` (follows symlinks). */
  async stat(path: string, signal?: AbortSignal): Promise<RemoteStat> {
    return toStat(
      await this.call<ssh2.Stats>("stat", path, (cb) => this.sftp.stat(path, cb), signal),
    );
  }

  /** SFTP `lstat` (does not follow a final symlink). */
  async lstat(path: string, signal?: AbortSignal): Promise<RemoteStat> {
    return toStat(
      await this.call<ssh2.Stats>("lstat", path, (cb) => this.sftp.lstat(path, cb), signal),
    );
  }

  /** `lstat`, or null when the path does not exist. */
  async lstatOrNull(path: string, signal?: AbortSignal): Promise<RemoteStat | null> {
    try {
      return await this.lstat(path, signal);
    } catch (e) {
      if (e instanceof SftpError && e.is("NO_SUCH_FILE")) return null;
      throw e;
    }
  }

  /** `stat`, or null when the path does not exist. */
  async statOrNull(path: string, signal?: AbortSignal): Promise<RemoteStat | null> {
    try {
      return await this.stat(path, signal);
    } catch (e) {
      if (e instanceof SftpError && e.is("NO_SUCH_FILE")) return null;
      throw e;
    }
  }

  /** Directory listing without `.` and `..` (attributes as the server sent them). */
  async readdir(path: string, signal?: AbortSignal): Promise<RemoteDirEntry[]> {
    const list = await this.call<ssh2.FileEntry[]>(
      "readdir",
      path,
      (cb) => this.sftp.readdir(path, cb as never),
      signal,
    );
    return list
      .filter((e) => e.filename !== "." && e.filename !== "..")
      .map((e) => ({ name: e.filename, stat: toStat(e.attrs) }));
  }

  /** Target text of a symlink. */
  readlink(path: string, signal?: AbortSignal): Promise<string> {
    return this.call<string>("readlink", path, (cb) => this.sftp.readlink(path, cb), signal);
  }

  /** SFTP `REALPATH` (OpenSSH resolves symlinks). */
  realpath(path: string, signal?: AbortSignal): Promise<string> {
    return this.call<string>("realpath", path, (cb) => this.sftp.realpath(path, cb), signal);
  }

  /** SFTP `mkdir` with a mode (the server's umask applies). */
  mkdir(path: CheckedPath, mode: number, signal?: AbortSignal): Promise<void> {
    return this.call<void>("mkdir", path, (cb) => this.sftp.mkdir(path, { mode }, cb), signal);
  }

  /** SFTP `rmdir` (directory must be empty). */
  rmdir(path: CheckedPath, signal?: AbortSignal): Promise<void> {
    return this.call<void>("rmdir", path, (cb) => this.sftp.rmdir(path, cb), signal);
  }

  /** SFTP `remove`. */
  unlink(path: CheckedPath, signal?: AbortSignal): Promise<void> {
    return this.call<void>("remove", path, (cb) => this.sftp.unlink(path, cb), signal);
  }

  /** Removes a temp file this module created (not a policy-checked path). */
  unlinkTemp(path: string): Promise<void> {
    if (!TEMP_NAME_RE.test(path)) throw new Error(`not a temp path: ${path}`);
    return this.call<void>("remove", path, (cb) => this.sftp.unlink(path, cb));
  }

  /**
   * `posix-rename@openssh.com` (replaces an existing target atomically); plain
   * SFTP `rename` when the server lacks the extension.
   */
  rename(from: string, to: CheckedPath, signal?: AbortSignal): Promise<void> {
    const ext = (this.sftp as unknown as { _extensions?: Record<string, string> })._extensions;
    if (ext && ext["posix-rename@openssh.com"] === "1") {
      return this.call<void>(
        "posix-rename",
        to,
        (cb) => this.sftp.ext_openssh_rename(from, to, cb),
        signal,
      );
    }
    return this.call<void>("rename", to, (cb) => this.sftp.rename(from, to, cb), signal);
  }

  /**
   * Plain SFTP `rename`: fails when `to` exists (OpenSSH implements it with
   * link + unlink for regular files, so it never clobbers).
   */
  renameNoReplace(from: string, to: CheckedPath, signal?: AbortSignal): Promise<void> {
    return this.call<void>("rename", to, (cb) => this.sftp.rename(from, to, cb), signal);
  }

  /** `hardlink@openssh.com`. */
  hardlink(from: CheckedPath, to: CheckedPath, signal?: AbortSignal): Promise<void> {
    return this.call<void>(
      "hardlink",
      to,
      (cb) => this.sftp.ext_openssh_hardlink(from, to, cb),
      signal,
    );
  }

  /** SFTP `symlink`; `target` is stored verbatim (ssh2 handles OpenSSH's argument order). */
  symlink(target: string, link: CheckedPath, signal?: AbortSignal): Promise<void> {
    return this.call<void>("symlink", link, (cb) => this.sftp.symlink(target, link, cb), signal);
  }

  /** SFTP `setstat` (mode and/or owner). */
  setstat(
    path: string,
    attrs: { mode?: number; uid?: number; gid?: number },
    signal?: AbortSignal,
  ): Promise<void> {
    return this.call<void>("setstat", path, (cb) => this.sftp.setstat(path, attrs, cb), signal);
  }

  /** Opens a file; `flags` as ssh2 (`r`, `wx`, ...). */
  openHandle(
    path: string,
    flags: "r" | "wx",
    mode?: number,
    signal?: AbortSignal,
  ): Promise<Buffer> {
    return this.call<Buffer>(
      "open",
      path,
      (cb) =>
        mode === undefined
          ? this.sftp.open(path, flags, cb)
          : this.sftp.open(path, flags, { mode }, cb),
      signal,
    );
  }

  /** Closes a handle. */
  closeHandle(handle: Buffer, path: string): Promise<void> {
    return this.call<void>("close", path, (cb) => this.sftp.close(handle, cb));
  }

  /** `fstat` on a handle. */
  async fstat(handle: Buffer, path: string): Promise<RemoteStat> {
    return toStat(await this.call<ssh2.Stats>("fstat", path, (cb) => this.sftp.fstat(handle, cb)));
  }

  /** `fsetstat` on a handle. */
  fsetstat(
    handle: Buffer,
    path: string,
    attrs: { mode?: number; uid?: number; gid?: number },
  ): Promise<void> {
    return this.call<void>("fsetstat", path, (cb) => this.sftp.fsetstat(handle, attrs, cb));
  }

  /** One read; resolves with the bytes read (empty at EOF). */
  readAt(
    handle: Buffer,
    path: string,
    position: number,
    length: number,
    signal?: AbortSignal,
  ): Promise<Uint8Array> {
    const buf = Buffer.allocUnsafe(length);
    return this.call<number>(
      "read",
      path,
      (cb) =>
        this.sftp.read(handle, buf, 0, length, position, (err, n) => {
          if (err && (err as { code?: unknown }).code === SFTP_STATUS.EOF) cb(null, 0);
          else cb(err, n);
        }),
      signal,
    ).then((n) => (n === length ? buf : buf.subarray(0, n)));
  }

  /** One write of all of `data` at `position`. */
  writeAt(
    handle: Buffer,
    path: string,
    position: number,
    data: Uint8Array,
    signal?: AbortSignal,
  ): Promise<void> {
    const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    return this.call<void>(
      "write",
      path,
      (cb) => this.sftp.write(handle, buf, 0, buf.length, position, (err) => cb(err)),
      signal,
    );
  }

  /**
   * Pipelined read of `[0, size)` (or until EOF when the file shrank),
   * delivered in order. At most {@link PIPELINE_DEPTH} requests in flight
   * (plus the chunk the consumer holds).
   */
  async *readRange(
    handle: Buffer,
    path: string,
    size: number,
    signal?: AbortSignal,
  ): AsyncGenerator<Uint8Array> {
    const chunk = this.readChunk;
    const queue: { len: number; p: Promise<Uint8Array> }[] = [];
    let next = 0;
    const readFull = async (pos: number, len: number): Promise<Uint8Array> => {
      // a server may answer short reads; fill the slot or stop at EOF
      const first = await this.readAt(handle, path, pos, len, signal);
      if (first.length === len || first.length === 0) return first;
      const parts: Uint8Array[] = [first];
      let got = first.length;
      while (got < len) {
        const more = await this.readAt(handle, path, pos + got, len - got, signal);
        if (more.length === 0) break;
        parts.push(more);
        got += more.length;
      }
      return Buffer.concat(parts);
    };
    const issue = () => {
      while (queue.length < PIPELINE_DEPTH && next < size) {
        const len = Math.min(chunk, size - next);
        const p = readFull(next, len);
        p.catch(() => {}); // settled by the consumer; never an unhandled rejection
        queue.push({ len, p });
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
  async writeFrom(
    handle: Buffer,
    path: string,
    source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
    signal?: AbortSignal,
    onChunk?: (chunk: Uint8Array) => void,
  ): Promise<number> {
    const chunk = this.writeChunk;
    const inflight = new Set<Promise<void>>();
    let failure: unknown = null;
    let pos = 0;
    const send = async (data: Uint8Array) => {
      while (inflight.size >= PIPELINE_DEPTH && failure === null) await Promise.race(inflight);
      if (failure !== null) throw failure;
      if (signal?.aborted) throw cancelled();
      const p = this.writeAt(handle, path, pos, data, signal).catch((e) => {
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

  /** Reads a whole file of at most `cap` bytes (caller checked the size). */
  async readFile(path: CheckedPath, cap: number, signal?: AbortSignal): Promise<Uint8Array> {
    const handle = await this.openHandle(path, "r", undefined, signal);
    try {
      const st = await this.fstat(handle, path);
      const size = Math.min(st.size, cap);
      const parts: Uint8Array[] = [];
      for await (const c of this.readRange(handle, path, size, signal)) parts.push(c);
      return Buffer.concat(parts);
    } finally {
      await this.closeHandle(handle, path).catch(() => {});
    }
  }

  /** sha256 (lowercase hex) of a remote file, streamed over SFTP. */
  async sha256(path: CheckedPath, signal?: AbortSignal): Promise<string> {
    const handle = await this.openHandle(path, "r", undefined, signal);
    try {
      const st = await this.fstat(handle, path);
      const h = createHash("sha256");
      for await (const c of this.readRange(handle, path, st.size, signal)) h.update(c);
      return h.digest("hex");
    } finally {
      await this.closeHandle(handle, path).catch(() => {});
    }
  }
}

/** Options of {@link atomicWrite}. */
export interface AtomicWriteOptions {
  /** permission bits of the final file */
  mode: number;
  /** restore this owner on the temp file before the rename (when allowed) */
  owner?: { uid: number; gid: number } | null;
  signal?: AbortSignal;
  /**
   * A live RemoteFs for cleanup when the original connection died mid-write
   * (the pool reconnects). Called only when needed.
   */
  reconnect?: () => Promise<RemoteFs>;
  /** last check before the rename (PATH-30 re-check, stale-content check) */
  beforeRename?: (fs: RemoteFs) => Promise<void>;
  /** called for every source block (hashing, progress) */
  onChunk?: (chunk: Uint8Array) => void;
  /**
   * Instead of renaming onto the final path, hands the finished temp file to
   * this function (ssh_deploy: backup + rename). It must rename `tmp` away or
   * throw; on throw the temp file is removed.
   */
  commit?: (fs: RemoteFs, tmp: string) => Promise<void>;
}

/** Outcome of {@link atomicWrite}. */
export interface AtomicWriteResult {
  bytes: number;
  /** non-fatal findings (owner not restored, ...) */
  warnings: string[];
}

/**
 * Best-effort removal of a temp file: on `fs` when it is alive, else over a
 * fresh connection from `reconnect` (a few attempts). Returns an error text
 * when the file could not be removed.
 */
export async function removeTemp(
  fs: RemoteFs,
  tmp: string,
  reconnect?: () => Promise<RemoteFs>,
): Promise<string | null> {
  let last = "";
  for (let attempt = 0; attempt < 4; attempt++) {
    let target: RemoteFs | null = fs.alive ? fs : null;
    if (!target && reconnect) {
      try {
        target = await reconnect();
      } catch (e) {
        last = (e as Error).message;
      }
    }
    if (target) {
      try {
        await target.unlinkTemp(tmp);
        return null;
      } catch (e) {
        if (e instanceof SftpError && e.is("NO_SUCH_FILE")) return null;
        last = (e as Error).message;
        if (target.alive && !(e instanceof SftpError && e.status === null)) break;
      }
    } else if (!reconnect) {
      last ||= "connection lost and no way to reconnect";
      break;
    }
    await new Promise((r) => setTimeout(r, 200 * (attempt + 1)));
  }
  return last || "unknown error";
}

/**
 * Writes `source` to `final` atomically (see module docs). The temp file is
 * created exclusively with mode 0600, then chown (when an owner is given and
 * differs; failure is a warning), chmod to `mode`, close, `beforeRename`, and
 * `posix-rename` onto `final`.
 */
export async function atomicWrite(
  fs: RemoteFs,
  final: CheckedPath,
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  opts: AtomicWriteOptions,
): Promise<AtomicWriteResult> {
  const { signal } = opts;
  if (signal?.aborted) throw cancelled();
  const tmp = tempPathFor(final);
  const warnings: string[] = [];
  let handle: Buffer | null = null;
  let created = false;
  try {
    // no signal on open and rename: a request the server may still carry out
    // must not be abandoned half-way (a created temp file must be known, a
    // rename that happened must be reported as success)
    handle = await fs.openHandle(tmp, "wx", 0o600);
    created = true;
    if (signal?.aborted) throw cancelled();
    const bytes = await fs.writeFrom(handle, tmp, source, signal, opts.onChunk);
    if (opts.owner && opts.owner.uid >= 0 && opts.owner.gid >= 0) {
      const cur = await fs.fstat(handle, tmp);
      if (cur.uid !== opts.owner.uid || cur.gid !== opts.owner.gid) {
        try {
          await fs.fsetstat(handle, tmp, { uid: opts.owner.uid, gid: opts.owner.gid });
        } catch (e) {
          if (!(e instanceof SftpError) || e.status === null) throw e;
          warnings.push(
            `owner not preserved: ${final} was owned by uid ${opts.owner.uid} gid ${opts.owner.gid}; the new file is owned by the SSH user (uid ${cur.uid} gid ${cur.gid}) because it may not chown`,
          );
        }
      }
    }
    // chmod after chown: chown by a non-root user clears setuid/setgid bits
    await fs.fsetstat(handle, tmp, { mode: opts.mode });
    const h = handle;
    handle = null;
    await fs.closeHandle(h, tmp);
    if (signal?.aborted) throw cancelled();
    await opts.beforeRename?.(fs);
    if (opts.commit) await opts.commit(fs, tmp);
    else await fs.rename(tmp, final);
    created = false;
    return { bytes, warnings };
  } catch (e) {
    if (handle && fs.alive) await fs.closeHandle(handle, tmp).catch(() => {});
    if (created) {
      const err = await removeTemp(fs, tmp, opts.reconnect);
      if (err) {
        throw new ToolError(
          "WriteError",
          `${
            describeFailure(e)
          } The temporary file ${tmp} could not be removed (${err}); delete it by hand.`,
          { temp_path: tmp },
        );
      }
    }
    throw e;
  }
}

function describeFailure(e: unknown): string {
  if (e instanceof ToolError) return `${e.code}: ${e.message}`;
  if (e instanceof Error) return e.message;
  return String(e);
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
export async function recheckPath(
  fs: RemoteFs,
  path: CheckedPath,
  mode: "resolved" | "leaf",
  signal?: AbortSignal,
): Promise<void> {
  const changed = (detail: string) =>
    new ToolError(
      "WriteError",
      `Refusing to modify ${path}: it changed since it was checked (${detail}). Nothing was changed; check the path and call again.`,
      { reason: "path_changed" },
    );
  if (fs.platform === "windows") {
    if (mode === "resolved") {
      const st = await fs.lstatOrNull(path, signal);
      if (st?.kind === "symlink") throw changed("it is now a symbolic link");
    }
    return;
  }
  const parent = pposix.dirname(path);
  if (mode === "resolved") {
    const st = await fs.lstatOrNull(path, signal);
    if (st?.kind === "symlink") throw changed("it is now a symbolic link");
    if (st) {
      const real = await fs.realpath(path, signal).catch(() => null);
      if (real !== null && real !== path) throw changed(`it now resolves to ${real}`);
      return;
    }
  }
  if (parent === path) return;
  const realParent = await fs.realpath(parent, signal).catch(() => null);
  if (realParent !== null && realParent !== parent) {
    throw changed(`its directory now resolves to ${realParent}`);
  }
}

/**
 * Reads a local file in {@link LOCAL_CHUNK_BYTES} blocks. With `reuse` the
 * blocks cycle through two buffers, so a yielded block is valid only until the
 * consumer asks for the block after next -- enough for
 * {@link RemoteFs.writeFrom}, whose SFTP writes copy the bytes before the next
 * block is requested, and it keeps a multi-GiB stream from churning garbage.
 * Without `reuse` every block is a fresh buffer the consumer may keep.
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

/**
 * Streams a remote file to a local handle; returns bytes written. A file that
 * grew past `maxBytes` since it was checked is refused before any byte is
 * written (`SftpDownloadError`).
 */
export async function downloadTo(
  fs: RemoteFs,
  path: CheckedPath,
  file: Deno.FsFile,
  signal?: AbortSignal,
  maxBytes = Number.MAX_SAFE_INTEGER,
  onChunk?: (chunk: Uint8Array) => void,
): Promise<number> {
  const handle = await fs.openHandle(path, "r", undefined, signal);
  let total = 0;
  try {
    const st = await fs.fstat(handle, path);
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
    try {
      for await (const c of fs.readRange(handle, path, st.size, signal)) {
        await pending;
        pending = writeAll(c);
        total += c.length;
        onChunk?.(c);
      }
    } finally {
      await pending.catch(() => {});
    }
    await pending;
  } finally {
    if (fs.alive) await fs.closeHandle(handle, path).catch(() => {});
  }
  return total;
}

/** Streams a remote file's bytes (pipelined, bounded memory). */
export async function* remoteChunks(
  fs: RemoteFs,
  path: CheckedPath,
  signal?: AbortSignal,
): AsyncGenerator<Uint8Array> {
  const handle = await fs.openHandle(path, "r", undefined, signal);
  try {
    const st = await fs.fstat(handle, path);
    yield* fs.readRange(handle, path, st.size, signal);
  } finally {
    if (fs.alive) await fs.closeHandle(handle, path).catch(() => {});
  }
}
