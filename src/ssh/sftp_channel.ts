/**
 * The SFTP channel of one connection as promises (internal to the ssh layer:
 * tools reach files only through {@link RemoteFs} in `fs.ts`, whose methods
 * take checked paths).
 *
 * - Every operation is a promise that also settles when the SFTP channel or
 *   the SSH connection dies, or when the caller's signal aborts (ssh2 would
 *   otherwise leave a request on a closed channel pending forever).
 * - Errors keep the protocol status as a named constant ({@link SFTP_STATUS},
 *   AC-014) so callers branch on codes, never on message text.
 * - Bulk reads and writes are pipelined: up to {@link PIPELINE_DEPTH} requests
 *   of at most {@link CHUNK_BYTES} in flight, delivered in file order, so
 *   memory stays bounded (about depth x chunk) whatever the file size.
 *
 * @module
 */

// @ts-types="npm:@types/ssh2@1.15.5"
import type ssh2 from "ssh2";
import { Buffer } from "node:buffer";
import { ToolError } from "../errors.ts";
import { randomHex } from "../util/random.ts";
import type { Connection } from "./connection.ts";
import { errorClass, startSpan, tracing } from "../telemetry/otel.ts";

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

declare const tempBrand: unique symbol;

/** A temp file name next to a checked path, made by {@link tempPathFor} (never caller input). */
export type TempPath = string & { readonly [tempBrand]: true };

/** `<final>.ssh-mcp-tmp.<16 lowercase hex>` in the same directory (PATH-28). */
export function tempPathFor(final: string): TempPath {
  return `${final}.ssh-mcp-tmp.${randomHex(8)}` as TempPath;
}

/** Matches names produced by {@link tempPathFor}. */
export const TEMP_NAME_RE = /\.ssh-mcp-tmp\.[0-9a-f]{16}$/;

/** The error of an aborted request. */
export function cancelled(): ToolError {
  return new ToolError("Cancelled", "The request was cancelled.");
}

type Cb<T> = (err: (Error & { code?: unknown }) | null | undefined, value?: T) => void;

const CHANNELS = new WeakMap<ssh2.SFTPWrapper, SftpChannel>();

/**
 * The SFTP channel of one connection, with liveness-aware promises. Create
 * with {@link SftpChannel.open}; cheap (the channel is shared per connection).
 * Paths are plain strings here: the path policy canonicalizes through it, and
 * {@link RemoteFs} narrows it to checked paths for tools.
 */
export class SftpChannel {
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
  static async open(conn: Connection): Promise<SftpChannel> {
    const sftp = await conn.sftp();
    let ch = CHANNELS.get(sftp);
    if (!ch) {
      ch = new SftpChannel(sftp, conn);
      CHANNELS.set(sftp, ch);
    }
    return ch;
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
    const p = this.#request(op, path, fn, signal);
    // one `sftp.<op>` span per request (never the path, TELEM-1); the pipelined
    // read/write chunks are counted by the `sftp.read` / `sftp.write` span of
    // their transfer instead (transfer.ts)
    if (tracing() && op !== "read" && op !== "write") {
      const span = startSpan(`sftp.${op}`, { "ssh.host": this.conn.target.policy.alias }, "client");
      p.then(() => span.end(), (e) => {
        if (e instanceof SftpError) span.set({ "sftp.status": e.statusName });
        span.fail(errorClass(e));
        span.end();
      });
    }
    return p;
  }

  #request<T>(
    op: string,
    path: string,
    fn: (cb: Cb<T>) => void,
    signal?: AbortSignal,
  ): Promise<T> {
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
  mkdir(path: string, mode: number, signal?: AbortSignal): Promise<void> {
    return this.call<void>("mkdir", path, (cb) => this.sftp.mkdir(path, { mode }, cb), signal);
  }

  /** SFTP `rmdir` (directory must be empty). */
  rmdir(path: string, signal?: AbortSignal): Promise<void> {
    return this.call<void>("rmdir", path, (cb) => this.sftp.rmdir(path, cb), signal);
  }

  /** SFTP `remove`. */
  unlink(path: string, signal?: AbortSignal): Promise<void> {
    return this.call<void>("remove", path, (cb) => this.sftp.unlink(path, cb), signal);
  }

  /** Removes a temp file made by {@link tempPathFor} (not a policy-checked path). */
  unlinkTemp(path: TempPath): Promise<void> {
    if (!TEMP_NAME_RE.test(path)) throw new Error(`not a temp path: ${path}`);
    return this.call<void>("remove", path, (cb) => this.sftp.unlink(path, cb));
  }

  /**
   * `posix-rename@openssh.com` (replaces an existing target atomically); plain
   * SFTP `rename` when the server lacks the extension.
   */
  rename(from: string, to: string, signal?: AbortSignal): Promise<void> {
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
  renameNoReplace(from: string, to: string, signal?: AbortSignal): Promise<void> {
    return this.call<void>("rename", to, (cb) => this.sftp.rename(from, to, cb), signal);
  }

  /** `hardlink@openssh.com`. */
  hardlink(from: string, to: string, signal?: AbortSignal): Promise<void> {
    return this.call<void>(
      "hardlink",
      to,
      (cb) => this.sftp.ext_openssh_hardlink(from, to, cb),
      signal,
    );
  }

  /** SFTP `symlink`; `target` is stored verbatim (ssh2 handles OpenSSH's argument order). */
  symlink(target: string, link: string, signal?: AbortSignal): Promise<void> {
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

  /** Opens a file; `flags` as ssh2 (`r`, `wx`, `r+`: read-write, never created). */
  openHandle(
    path: string,
    flags: "r" | "wx" | "r+",
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

  /**
   * One read; resolves with the bytes read (empty at EOF). With `into` (at
   * least `length` bytes) the bytes land there and the result is a view of
   * it, so a bulk transfer can recycle its buffers instead of allocating one
   * per request (allocation, not copying, is what costs in Deno).
   */
  readAt(
    handle: Buffer,
    path: string,
    position: number,
    length: number,
    signal?: AbortSignal,
    into?: Buffer,
  ): Promise<Uint8Array> {
    if (into && into.length < length) throw new RangeError("readAt: target buffer too small");
    const buf = into ?? Buffer.allocUnsafe(length);
    return this.call<number>(
      "read",
      path,
      (cb) =>
        this.sftp.read(handle, buf, 0, length, position, (err, n) => {
          if (err && (err as { code?: unknown }).code === SFTP_STATUS.EOF) cb(null, 0);
          else cb(err, n);
        }),
      signal,
    ).then((n) => (n === buf.length ? buf : buf.subarray(0, n)));
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
}
