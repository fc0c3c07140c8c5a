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
 * - Race defence (PATH-50..PATH-56): on hosts with GNU coreutils every
 *   change (mkdir, remove, rename, link, copy, rm -rf) runs from the checked
 *   parent directory pinned by `pinned.ts`, never re-resolving an ancestor;
 *   reads compare the opened handle with the pinned `lstat` of the checked
 *   path before reading a byte; a new temp file must appear in the pinned
 *   directory before any byte is written. Other hosts fall back to
 *   path-based SFTP with the PATH-30 re-checks.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { sh } from "../checked.ts";
import type { CheckedPath, EntryPath } from "../checked.ts";
import { ToolError } from "../errors.ts";
import type { Connection } from "./connection.ts";
import type { RawExecResult } from "./exec.ts";
import { childPath, type Readable, RemoteFsCore, type RemoteFsOptions } from "./fs_core.ts";
import { sftpWalk } from "./fs_walk.ts";
import { readMoved, writeMoved } from "./fs_verify.ts";
import { PathMovedError, type PinExec, splitPath } from "./pinned.ts";
import {
  type EntryKind,
  type RemoteStat,
  SftpChannel,
  SftpError,
  type TempPath,
  tempPathFor,
} from "./sftp_channel.ts";
import { downloadTo, localChunks, readFile, remoteChunks, writeTemp } from "./transfer.ts";

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
export { PathMovedError, type PinExec } from "./pinned.ts";
export { childPath, type RemoteFsOptions } from "./fs_core.ts";

/** One entry of {@link RemoteFs.walk}. */
export interface WalkEntry {
  /** path relative to the root ("" for the root) */
  rel: string;
  /** the entry's path on the host */
  path: EntryPath;
  kind: EntryKind;
  /** a symbolic link's text (when links were read) */
  link: string | null;
}

/** What {@link RemoteFs.walk} found. */
export interface Walk {
  entries: WalkEntry[];
  /** false: more than `cap` entries */
  complete: boolean;
  /** directories that could not be read */
  unreadable: string[];
}

/** A copy made beside its destination by {@link RemoteFs.stageCopy}, not yet in place. */
export interface StagedCopy {
  /** the staged copy on the host (inside a fresh 0700 directory next to the destination) */
  readonly path: string;
  /** renames the copy onto the destination (`replace`: over an existing file) */
  commit(replace: boolean, signal?: AbortSignal): Promise<void>;
  /** removes the stage; returns an error text when it could not */
  discard(): Promise<string | null>;
}

/** A directory listing of {@link RemoteFs.list}. */
export interface DirListing {
  entries: RemoteDirEntry[];
  /** the entries with the attributes of `lstat` and their link texts */
  details(some: RemoteDirEntry[]): Promise<(RemoteDirEntry & { link: string | null })[]>;
}

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

function describeFailure(e: unknown): string {
  if (e instanceof ToolError) return `${e.code}: ${e.message}`;
  if (e instanceof Error) return e.message;
  return String(e);
}

/** The files of one host, reached only through checked paths (see module docs). */
export class RemoteFs extends RemoteFsCore {
  private constructor(ch: SftpChannel, exec: PinExec, opts: RemoteFsOptions) {
    super(ch, exec, opts);
  }

  /**
   * A view of a connection's shared SFTP channel. Only the registry calls
   * this, for a host it admitted (and tests).
   */
  static async open(conn: Connection, opts: RemoteFsOptions = {}): Promise<RemoteFs> {
    const ch = await SftpChannel.open(conn);
    const exec: PinExec = opts.exec ??
      ((cmd, o) =>
        conn.exec(cmd, { timeoutMs: 60_000, stdoutCap: 1 << 20, stderrCap: 64 << 10, ...o }));
    return new RemoteFs(ch, exec, opts);
  }

  /**
   * The entries of a checked directory (`ssh_sftp_list`): read from inside
   * the pinned directory on hardened hosts, with attributes and link texts
   * (PATH-51: a swapped directory is never listed); else `readdir`, and
   * `details` reads an `lstat` and `readlink` for the entries asked for (a
   * page).
   */
  async list(dir: CheckedPath, signal?: AbortSignal): Promise<DirListing> {
    const pin = await this.pinned();
    if (pin) {
      let raw;
      try {
        raw = await pin.list(dir, signal);
      } catch (e) {
        if (e instanceof PathMovedError) throw readMoved(dir, e.detail);
        throw e;
      }
      const links = new Map<string, string | null>();
      const entries: RemoteDirEntry[] = [];
      for (const e of raw) {
        if (e.name === "" || e.name === "." || e.name === ".." || e.name.includes("/")) continue;
        links.set(e.name, e.link);
        entries.push({
          name: e.name,
          path: childPath(dir, e.name) as EntryPath,
          stat: { ...e.stat },
        });
      }
      return {
        entries,
        details: (some) =>
          Promise.resolve(some.map((e) => ({ ...e, link: links.get(e.name) ?? null }))),
      };
    }
    const entries = await this.readdir(dir, signal);
    return {
      entries,
      details: (some) =>
        Promise.all(some.map(async (e) => {
          let st: RemoteStat = e.stat;
          try {
            st = await this.ch.lstat(e.path, signal);
          } catch {
            // vanished or unreadable since readdir: keep the readdir attributes
          }
          const link = st.kind === "symlink"
            ? await this.ch.readlink(e.path, signal).catch(() => null)
            : null;
          return { ...e, stat: st, link };
        })),
    };
  }

  /** Directory listing without `.` and `..`; each entry carries its {@link EntryPath}. */
  async readdir(dir: Readable, signal?: AbortSignal): Promise<RemoteDirEntry[]> {
    const list = await this.ch.readdir(dir, signal);
    const out: RemoteDirEntry[] = [];
    for (const e of list) {
      // a server that sends a name with a separator or a dot entry gets it skipped, never joined
      if (e.name === "" || e.name === "." || e.name === ".." || e.name.includes("/")) continue;
      if (this.platform === "windows" && e.name.includes("\\")) continue;
      out.push({ name: e.name, path: childPath(dir, e.name) as EntryPath, stat: e.stat });
    }
    return out;
  }

  /**
   * Copies `src` (`cp -a`) into a fresh 0700 directory next to `target`
   * (PATH-40): nothing planted can be in it, so the copy never writes through
   * an existing link. {@link StagedCopy.commit} renames it onto `target`.
   */
  async stageCopy(
    src: CheckedPath,
    target: CheckedPath,
    signal?: AbortSignal,
  ): Promise<StagedCopy> {
    this.assertSubtree("cp -a", src, target);
    const tmp = tempPathFor(target);
    const { dir, leaf } = splitPath(tmp);
    const { leaf: name } = splitPath(target);
    const pin = await this.pinnedFor(src, target);
    if (pin) {
      await this.change(target, () => pin.stageCopy(src, dir, leaf, signal));
      return {
        path: `${tmp}/x`,
        commit: (replace, sig) =>
          this.change(target, () => pin.commitCopy(dir, leaf, name, replace, sig)),
        discard: () => pin.discard(dir, leaf).then(() => null, (e) => (e as Error).message),
      };
    }
    await this.ch.mkdir(tmp, 0o700, signal);
    const r = await this.execOn(sh`cp -a -- ${src} ${`${tmp}/x`}`, { signal });
    const discard = async () => {
      const d = await this.execOn(sh`rm -rf -- ${tmp}`, { signal: new AbortController().signal });
      return d.exitCode === 0 ? null : d.stderr.trim().slice(0, 300) || `exit ${d.exitCode}`;
    };
    if (r.exitCode !== 0) {
      await discard();
      throw new ToolError(
        "WriteError",
        `cp -a ${src} ${target} failed (exit ${r.exitCode}): ${r.stderr.trim().slice(0, 1000)}`,
      );
    }
    const staged = `${tmp}/x`;
    return {
      path: staged,
      commit: async (replace, sig) => {
        if (replace) await this.ch.rename(staged, target, sig);
        else await this.ch.renameNoReplace(staged, target, sig);
        await this.ch.rmdir(tmp).catch(() => {});
      },
      discard,
    };
  }

  /**
   * `find` below the checked directory `root` (POSIX); `args` gets the
   * prefix found paths will carry (for `-path` patterns): `.` when pinned
   * (run from inside `root`, PATH-51), else `root` itself. Found paths are
   * returned as the host printed them, with that prefix.
   */
  async find(
    root: CheckedPath,
    args: (base: string) => string[],
    opts: { stdoutCap?: number; signal?: AbortSignal } = {},
  ): Promise<{ result: RawExecResult; base: string }> {
    const pin = await this.pinned();
    if (!pin) {
      const r = await this.execOn(sh`find ${root} ${args(root)} 2>/dev/null`, opts);
      return { result: r, base: root };
    }
    try {
      return { result: await pin.find(root, args("."), { ...opts, stderrCap: 4096 }), base: "." };
    } catch (e) {
      if (e instanceof PathMovedError) throw readMoved(root, e.detail);
      throw e;
    }
  }

  /**
   * The tree at `root` (root first), never following links, capped at `cap`
   * entries (`linksOnly`: only symbolic links count and are listed when the
   * walk is pinned). Link texts are read when `readLinks`.
   */
  async walk(
    root: CheckedPath,
    opts: { cap: number; linksOnly?: boolean; readLinks?: boolean; signal?: AbortSignal },
  ): Promise<Walk> {
    const pin = await this.pinned();
    const raw = pin
      ? await (async () => {
        try {
          return await pin.walk(root, opts.cap, { linksOnly: opts.linksOnly, signal: opts.signal });
        } catch (e) {
          if (e instanceof PathMovedError) throw readMoved(root, e.detail);
          throw e;
        }
      })()
      : await sftpWalk(this.ch, root, opts.cap, {
        readLinks: opts.readLinks === true || opts.linksOnly === true,
        signal: opts.signal,
      });
    return {
      complete: raw.complete,
      unreadable: raw.unreadable,
      entries: raw.entries.map((e) => ({
        rel: e.rel,
        path: (e.rel === "" ? root : childPath(root, e.rel)) as EntryPath,
        kind: e.kind,
        link: e.link,
      })),
    };
  }

  /** Reads a whole file of at most `cap` bytes (caller checked the size); verified (PATH-51). */
  async readFile(path: CheckedPath, cap: number, signal?: AbortSignal): Promise<Uint8Array> {
    const g = await this.guard(path, signal);
    try {
      const bytes = await readFile(this.ch, path, cap, signal, g?.opened);
      if (g) {
        g.take(bytes);
        await g.settle();
      }
      return bytes;
    } finally {
      g?.dispose();
    }
  }

  /** sha256 (lowercase hex) of a remote file, streamed over SFTP; verified (PATH-51). */
  async sha256(path: CheckedPath, signal?: AbortSignal): Promise<string> {
    const h = createHash("sha256");
    for await (const c of this.chunks(path, signal)) h.update(c);
    return h.digest("hex");
  }

  /**
   * Streams a remote file's bytes (pipelined, bounded memory). Verified
   * (PATH-51): a generator whose file was swapped throws at its end, so the
   * consumer must not commit before it finished.
   */
  async *chunks(path: CheckedPath, signal?: AbortSignal): AsyncGenerator<Uint8Array> {
    const g = await this.guard(path, signal);
    try {
      for await (const c of remoteChunks(this.ch, path, signal, g?.opened)) {
        g?.take(c);
        yield c;
      }
      await g?.settle();
    } finally {
      g?.dispose();
    }
  }

  /**
   * Streams a remote file to a local handle; returns bytes written. A file
   * that grew past `maxBytes` since it was checked is refused before any byte
   * is written (`SftpDownloadError`).
   */
  async downloadTo(
    path: CheckedPath,
    file: Deno.FsFile,
    signal?: AbortSignal,
    maxBytes?: number,
    onChunk?: (chunk: Uint8Array) => void,
  ): Promise<number> {
    const g = await this.guard(path, signal);
    try {
      const n = await downloadTo(this.ch, path, file, signal, maxBytes, (c) => {
        g?.take(c);
        onChunk?.(c);
      }, g?.opened);
      await g?.settle();
      return n;
    } finally {
      g?.dispose();
    }
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
    const pin = await this.pinned();
    // PATH-52: the temp file is created exclusively in the pinned directory, then opened
    // without O_CREAT (a swapped directory makes the open fail, nothing is created
    // elsewhere) and must be the file just created before a byte is written
    const placed = pin
      ? async (st: RemoteStat) => {
        const here = await this.change(final, () => pin.lstat(tmp, signal));
        if (!here || here.kind !== "file" || here.uid !== st.uid || st.size !== 0) {
          throw writeMoved(
            final,
            "the opened temporary file is not the one created in its directory",
          );
        }
      }
      : undefined;
    try {
      if (pin) {
        created = true; // the create may be carried out even if the call is cancelled
        await this.change(final, () => pin.createExclusive(tmp));
      }
      const r = await writeTemp(
        this.ch,
        tmp,
        source,
        { ...opts, final, ...(placed ? { placed, precreated: true } : {}) },
        () => created = true,
      );
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
          // never with the call's signal: cleanup must survive the call's cancellation;
          // from the pinned directory when hardened (a swapped directory is not searched)
          // (after a cancel the call's exec is gone: then over SFTP)
          const pin = target.alive ? await target.pinned().catch(() => null) : null;
          const pinned = pin
            ? await pin.unlink(tmp, new AbortController().signal).then(() => true, (e) => {
              if (e instanceof SftpError && e.is("NO_SUCH_FILE")) return true;
              return false;
            })
            : false;
          if (!pinned) await target.ch.unlinkTemp(tmp);
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
