/**
 * The remote file system a tool sees (the "one door" for files): every method
 * takes a {@link CheckedPath} (a path the path policy admitted), or for
 * metadata reads an {@link EntryPath} found by listing a checked directory.
 * There is no method that takes caller text, and no way to reach the raw
 * SFTP channel from here.
 *
 * - Every operation is a promise that also settles when the SFTP channel or
 *   the SSH connection dies, or when the caller's signal aborts.
 * - Errors keep the protocol status as a named constant ({@link SFTP_STATUS},
 *   AC-014) so callers branch on codes, never on message text.
 * - {@link RemoteFs.atomicWrite}: data goes to `<final>.ssh-mcp-tmp.<16 hex>`
 *   in the same directory (created exclusively, mode 0600), then owner and
 *   mode are set, then `posix-rename@openssh.com` replaces the final path. On
 *   ANY failure -- SFTP error, cancellation, a cut connection -- the temp file
 *   is removed (over a fresh connection when the old one is gone) and the
 *   original file is untouched (PATH-28, AC-039).
 * - {@link RemoteFs.recheck}: the PATH-30 re-check before destructive
 *   operations.
 *
 * @module
 */

import type { CheckedPath, EntryPath } from "../checked.ts";
import { ToolError } from "../errors.ts";
import type { Connection } from "./connection.ts";
import {
  type RemoteStat,
  SftpChannel,
  SftpError,
  type TempPath,
  tempPathFor,
} from "./sftp_channel.ts";
import {
  downloadTo,
  localChunks,
  readFile,
  recheckOn,
  remoteChunks,
  sha256Of,
  writeTemp,
} from "./transfer.ts";

export {
  type EntryKind,
  isoTime,
  modeString,
  type RemoteStat,
  SFTP_STATUS,
  SftpError,
  type SftpStatusName,
  type TempPath,
} from "./sftp_channel.ts";
export { localChunks };

/** One `readdir` entry: its name, attributes as the server sent them, and its path. */
export interface RemoteDirEntry {
  name: string;
  path: EntryPath;
  stat: RemoteStat;
}

/** Options of {@link RemoteFs.atomicWrite}. */
export interface AtomicWriteOptions {
  /** permission bits of the final file */
  mode: number;
  /** restore this owner on the temp file before the rename (when allowed) */
  owner?: { uid: number; gid: number } | null;
  signal?: AbortSignal;
  /**
   * A live file system for cleanup when the original connection died
   * mid-write (the pool reconnects). Called only when needed.
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
  commit?: (fs: RemoteFs, tmp: TempPath) => Promise<void>;
}

/** Outcome of {@link RemoteFs.atomicWrite}. */
export interface AtomicWriteResult {
  bytes: number;
  /** non-fatal findings (owner not restored, ...) */
  warnings: string[];
}

type Readable = CheckedPath | EntryPath;

/** `<dir>/<name>` without a double slash at `/` (POSIX) or a trailing separator. */
export function childPath(dir: string, name: string): string {
  return dir.endsWith("/") || dir.endsWith("\\") ? dir + name : `${dir}/${name}`;
}

function describeFailure(e: unknown): string {
  if (e instanceof ToolError) return `${e.code}: ${e.message}`;
  if (e instanceof Error) return e.message;
  return String(e);
}

const VIEWS = new WeakMap<SftpChannel, RemoteFs>();

/** The files of one host, reached only through checked paths (see module docs). */
export class RemoteFs {
  readonly #ch: SftpChannel;

  private constructor(ch: SftpChannel) {
    this.#ch = ch;
  }

  /**
   * The view of a connection's shared SFTP channel (one per channel). Only
   * the registry calls this, for a host it admitted.
   */
  static async open(conn: Connection): Promise<RemoteFs> {
    const ch = await SftpChannel.open(conn);
    let fs = VIEWS.get(ch);
    if (!fs) {
      fs = new RemoteFs(ch);
      VIEWS.set(ch, fs);
    }
    return fs;
  }

  /** `posix` or `windows`, from the host's policy. */
  get platform(): "posix" | "windows" {
    return this.#ch.platform;
  }

  /** True when the host's login shell is POSIX (sha256sum and friends can run). */
  get posixShell(): boolean {
    return this.#ch.conn.posixShell;
  }

  /** False once the channel or the connection is gone. */
  get alive(): boolean {
    return this.#ch.alive;
  }

  /** SFTP `stat` (follows symlinks). */
  stat(path: CheckedPath, signal?: AbortSignal): Promise<RemoteStat> {
    return this.#ch.stat(path, signal);
  }

  /** `stat`, or null when the path does not exist. */
  statOrNull(path: CheckedPath, signal?: AbortSignal): Promise<RemoteStat | null> {
    return this.#ch.statOrNull(path, signal);
  }

  /** SFTP `lstat` (does not follow a final symlink). */
  lstat(path: Readable, signal?: AbortSignal): Promise<RemoteStat> {
    return this.#ch.lstat(path, signal);
  }

  /** `lstat`, or null when the path does not exist. */
  lstatOrNull(path: Readable, signal?: AbortSignal): Promise<RemoteStat | null> {
    return this.#ch.lstatOrNull(path, signal);
  }

  /** Directory listing without `.` and `..`; each entry carries its {@link EntryPath}. */
  async readdir(dir: Readable, signal?: AbortSignal): Promise<RemoteDirEntry[]> {
    const list = await this.#ch.readdir(dir, signal);
    const out: RemoteDirEntry[] = [];
    for (const e of list) {
      // a server that sends a name with a separator or a dot entry gets it skipped, never joined
      if (e.name === "" || e.name === "." || e.name === ".." || e.name.includes("/")) continue;
      if (this.platform === "windows" && e.name.includes("\\")) continue;
      out.push({ name: e.name, path: childPath(dir, e.name) as EntryPath, stat: e.stat });
    }
    return out;
  }

  /** Target text of a symlink. */
  readlink(path: Readable, signal?: AbortSignal): Promise<string> {
    return this.#ch.readlink(path, signal);
  }

  /** SFTP `mkdir` with a mode (the server's umask applies). */
  mkdir(path: CheckedPath, mode: number, signal?: AbortSignal): Promise<void> {
    return this.#ch.mkdir(path, mode, signal);
  }

  /** SFTP `rmdir` (directory must be empty). */
  rmdir(path: CheckedPath, signal?: AbortSignal): Promise<void> {
    return this.#ch.rmdir(path, signal);
  }

  /** SFTP `remove`. */
  unlink(path: CheckedPath, signal?: AbortSignal): Promise<void> {
    return this.#ch.unlink(path, signal);
  }

  /**
   * `posix-rename@openssh.com` (replaces an existing target atomically); plain
   * SFTP `rename` when the server lacks the extension.
   */
  rename(from: CheckedPath | TempPath, to: CheckedPath, signal?: AbortSignal): Promise<void> {
    return this.#ch.rename(from, to, signal);
  }

  /**
   * Plain SFTP `rename`: fails when `to` exists (OpenSSH implements it with
   * link + unlink for regular files, so it never clobbers).
   */
  renameNoReplace(
    from: CheckedPath | TempPath,
    to: CheckedPath,
    signal?: AbortSignal,
  ): Promise<void> {
    return this.#ch.renameNoReplace(from, to, signal);
  }

  /** `hardlink@openssh.com`. */
  hardlink(from: CheckedPath, to: CheckedPath, signal?: AbortSignal): Promise<void> {
    return this.#ch.hardlink(from, to, signal);
  }

  /**
   * SFTP `symlink` at `link`; `target` is stored verbatim as the link's text
   * (the caller checks where it points, ssh_link).
   */
  symlink(target: string, link: CheckedPath, signal?: AbortSignal): Promise<void> {
    return this.#ch.symlink(target, link, signal);
  }

  /** Reads a whole file of at most `cap` bytes (caller checked the size). */
  readFile(path: CheckedPath, cap: number, signal?: AbortSignal): Promise<Uint8Array> {
    return readFile(this.#ch, path, cap, signal);
  }

  /** sha256 (lowercase hex) of a remote file, streamed over SFTP. */
  sha256(path: CheckedPath, signal?: AbortSignal): Promise<string> {
    return sha256Of(this.#ch, path, signal);
  }

  /** Streams a remote file's bytes (pipelined, bounded memory). */
  chunks(path: CheckedPath, signal?: AbortSignal): AsyncGenerator<Uint8Array> {
    return remoteChunks(this.#ch, path, signal);
  }

  /**
   * Streams a remote file to a local handle; returns bytes written. A file
   * that grew past `maxBytes` since it was checked is refused before any byte
   * is written (`SftpDownloadError`).
   */
  downloadTo(
    path: CheckedPath,
    file: Deno.FsFile,
    signal?: AbortSignal,
    maxBytes?: number,
    onChunk?: (chunk: Uint8Array) => void,
  ): Promise<number> {
    return downloadTo(this.#ch, path, file, signal, maxBytes, onChunk);
  }

  /** The PATH-30 re-check before a destructive operation (see `transfer.ts`). */
  recheck(path: CheckedPath, mode: "resolved" | "leaf", signal?: AbortSignal): Promise<void> {
    return recheckOn(this.#ch, path, mode, signal);
  }

  /**
   * Writes `source` to `final` atomically (see module docs): temp file, owner
   * and mode, `beforeRename`, then `posix-rename` onto `final` (or `commit`).
   */
  async atomicWrite(
    final: CheckedPath,
    source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
    opts: AtomicWriteOptions,
  ): Promise<AtomicWriteResult> {
    const { signal } = opts;
    if (signal?.aborted) throw new ToolError("Cancelled", "The request was cancelled.");
    const tmp = tempPathFor(final);
    let created = false;
    try {
      const r = await writeTemp(this.#ch, tmp, source, { ...opts, final }, () => created = true);
      if (signal?.aborted) throw new ToolError("Cancelled", "The request was cancelled.");
      // no signal on the rename: one the server carried out must be reported as success
      await opts.beforeRename?.(this);
      if (opts.commit) await opts.commit(this, tmp);
      else await this.rename(tmp, final);
      created = false;
      return r;
    } catch (e) {
      if (created) {
        const err = await this.removeTemp(tmp, opts.reconnect);
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

  /**
   * Best-effort removal of a temp file: here when the channel is alive, else
   * over a fresh connection from `reconnect` (a few attempts). Returns an
   * error text when the file could not be removed.
   */
  async removeTemp(tmp: TempPath, reconnect?: () => Promise<RemoteFs>): Promise<string | null> {
    let last = "";
    for (let attempt = 0; attempt < 4; attempt++) {
      let target: RemoteFs | null = this.alive ? this : null;
      if (!target && reconnect) {
        try {
          target = await reconnect();
        } catch (e) {
          last = (e as Error).message;
        }
      }
      if (target) {
        try {
          await target.#ch.unlinkTemp(tmp);
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
}
