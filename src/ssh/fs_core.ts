/**
 * The core of {@link RemoteFs} (`fs.ts`): the SFTP channel and the pinned
 * shell of one host, metadata reads and the single-path changes (mkdir,
 * remove, rename, move, links, rm -rf), each directory-pinned on hardened
 * hosts (PATH-50) and path-based SFTP otherwise. Internal to the ssh layer;
 * tools see it through `RemoteFs`.
 *
 * @module
 */

import { sh } from "../checked.ts";
import type { CheckedPath, EntryPath } from "../checked.ts";
import { ToolError } from "../errors.ts";
import type { RawExecResult } from "./exec.ts";
import { ReadGuard, readMoved, writeMoved } from "./fs_verify.ts";
import { PathMovedError, type PinExec, PinnedShell, splitPath } from "./pinned.ts";
import {
  type RemoteStat,
  SFTP_STATUS,
  type SftpChannel,
  SftpError,
  type TempPath,
} from "./sftp_channel.ts";
import { recheckOn } from "./transfer.ts";

/** Options of `RemoteFs.open`. */
export interface RemoteFsOptions {
  /** runs commands on the host with the call's limits (default: the connection, 60 s) */
  exec?: PinExec;
  /**
   * false: path-based SFTP only, as on hosts without GNU coreutils (tests of
   * the fallback measure its residual race rate with it)
   */
  pinned?: boolean;
  /**
   * PATH-44: true for paths whose whole subtree passed the policy in this
   * call. When set, operations on whole trees (`move`, `stageCopy`,
   * `removeTree`) refuse any other path, so a directory tool that forgot to
   * declare `subtree` fails on its first call instead of acting on a zone.
   */
  subtreeChecked?: (path: string) => boolean;
}

/** A path a metadata read accepts. */
export type Readable = CheckedPath | EntryPath;

/** `<dir>/<name>` without a double slash at `/` (POSIX) or a trailing separator. */
export function childPath(dir: string, name: string): string {
  return dir.endsWith("/") || dir.endsWith("\\") ? dir + name : `${dir}/${name}`;
}

/** Metadata and single-path changes of one host (see module docs). */
export class RemoteFsCore {
  protected readonly ch: SftpChannel;
  protected readonly execOn: PinExec;
  protected readonly pinnedAllowed: boolean;
  protected readonly subtreeChecked: ((path: string) => boolean) | null;
  protected pinCache: Promise<PinnedShell | null> | null = null;

  protected constructor(ch: SftpChannel, exec: PinExec, opts: RemoteFsOptions) {
    this.ch = ch;
    this.execOn = exec;
    this.pinnedAllowed = opts.pinned !== false;
    this.subtreeChecked = opts.subtreeChecked ?? null;
  }

  /** PATH-44: a whole-tree operation needs paths whose subtree was checked in this call. */
  protected assertSubtree(op: string, ...paths: string[]): void {
    if (!this.subtreeChecked) return;
    for (const p of paths) {
      if (!this.subtreeChecked(p)) {
        throw new Error(
          `${op} on ${p}: its subtree was not checked (declare subtree on the path field, or pass subtree to ctx.checkPath)`,
        );
      }
    }
  }

  /** The directory-pinned operations of this host, or null (see `pinned.ts`). */
  protected pinned(): Promise<PinnedShell | null> {
    if (!this.pinnedAllowed || this.ch.platform !== "posix") return Promise.resolve(null);
    this.pinCache ??= PinnedShell.open(this.ch.conn, this.execOn);
    return this.pinCache;
  }

  /** True when changes on this host run directory-pinned (PATH-50; false: SFTP fallback). */
  async hardened(): Promise<boolean> {
    return (await this.pinned()) !== null;
  }

  /** Runs a pinned change, turning a detected race into a WriteError. */
  protected async change<T>(path: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      if (e instanceof PathMovedError) throw writeMoved(path, e.detail);
      throw e;
    }
  }

  /** The pinned ops when they can act on both paths (same directory, or `/proc`). */
  protected async pinnedFor(a: string, b: string): Promise<PinnedShell | null> {
    const pin = await this.pinned();
    if (!pin) return null;
    return pin.twoDirs || splitPath(a).dir === splitPath(b).dir ? pin : null;
  }

  /** PATH-51: the read guard of `path` on hardened hosts (its pinned lstat taken now), else null. */
  protected async guard(path: string, signal?: AbortSignal): Promise<ReadGuard | null> {
    const pin = await this.pinned();
    return pin ? await ReadGuard.before(pin, path, signal) : null;
  }

  /** `posix` or `windows`, from the host's policy. */
  get platform(): "posix" | "windows" {
    return this.ch.platform;
  }

  /** True when the host's login shell is POSIX (sha256sum and friends can run). */
  posixShell(): Promise<boolean> {
    return this.ch.conn.knowShell();
  }

  /** False once the channel or the connection is gone. */
  get alive(): boolean {
    return this.ch.alive;
  }

  /** SFTP `stat` (follows symlinks). */
  stat(path: CheckedPath, signal?: AbortSignal): Promise<RemoteStat> {
    return this.ch.stat(path, signal);
  }

  /** `stat`, or null when the path does not exist. */
  statOrNull(path: CheckedPath, signal?: AbortSignal): Promise<RemoteStat | null> {
    return this.ch.statOrNull(path, signal);
  }

  /** SFTP `lstat` (does not follow a final symlink). */
  lstat(path: Readable, signal?: AbortSignal): Promise<RemoteStat> {
    return this.ch.lstat(path, signal);
  }

  /** `lstat`, or null when the path does not exist. */
  lstatOrNull(path: Readable, signal?: AbortSignal): Promise<RemoteStat | null> {
    return this.ch.lstatOrNull(path, signal);
  }

  /**
   * `lstat` of a checked path for tools that report metadata: from the
   * pinned parent directory on hardened hosts (PATH-51: a swapped directory
   * never answers), else SFTP `lstat`.
   */
  async lstatChecked(path: CheckedPath, signal?: AbortSignal): Promise<RemoteStat> {
    const st = await this.lstatCheckedOrNull(path, signal);
    if (!st) throw new SftpError("lstat", path, SFTP_STATUS.NO_SUCH_FILE, "No such file");
    return st;
  }

  /** {@link lstatChecked}, or null when the path does not exist. */
  async lstatCheckedOrNull(path: CheckedPath, signal?: AbortSignal): Promise<RemoteStat | null> {
    const pin = await this.pinned();
    if (!pin) return await this.ch.lstatOrNull(path, signal);
    try {
      const st = await pin.lstat(path, signal);
      return st ? { ...st } : null;
    } catch (e) {
      if (e instanceof PathMovedError) throw readMoved(path, e.detail);
      // the parent directory does not exist: neither does the path
      if (e instanceof SftpError && e.is("NO_SUCH_FILE")) return null;
      throw e;
    }
  }

  /** Target text of a symlink. */
  readlink(path: Readable, signal?: AbortSignal): Promise<string> {
    return this.ch.readlink(path, signal);
  }

  /** `mkdir` with a mode (the host's umask applies), pinned (PATH-50). */
  async mkdir(path: CheckedPath, mode: number, signal?: AbortSignal): Promise<void> {
    const pin = await this.pinned();
    if (!pin) return await this.ch.mkdir(path, mode, signal);
    await this.change(path, () => pin.mkdir(path, mode, signal));
  }

  /** `rmdir` (directory must be empty), pinned. */
  async rmdir(path: CheckedPath, signal?: AbortSignal): Promise<void> {
    const pin = await this.pinned();
    if (!pin) return await this.ch.rmdir(path, signal);
    await this.change(path, () => pin.rmdir(path, signal));
  }

  /** Removes a file or link (never a directory), pinned. */
  async unlink(path: CheckedPath, signal?: AbortSignal): Promise<void> {
    const pin = await this.pinned();
    if (!pin) return await this.ch.unlink(path, signal);
    await this.change(path, () => pin.unlink(path, signal));
  }

  /**
   * Renames `from` onto `to`, replacing a file (or an empty directory)
   * atomically, never moving into a directory; pinned, else
   * `posix-rename@openssh.com` (plain SFTP `rename` without the extension).
   */
  async rename(from: CheckedPath | TempPath, to: CheckedPath, signal?: AbortSignal): Promise<void> {
    const pin = await this.pinnedFor(from, to);
    if (!pin) return await this.ch.rename(from, to, signal);
    await this.change(to, () => pin.rename(from, to, signal));
  }

  /**
   * Moves `from` to `to` (ssh_mv): pinned `mv -T` (a rename, or copy and
   * remove across filesystems); else SFTP rename with the `mv` fallback
   * (AC-014) on POSIX shells when `to` is not a directory.
   */
  async move(
    from: CheckedPath,
    to: CheckedPath,
    opts: { toIsDir: boolean; signal?: AbortSignal },
  ): Promise<"rename" | "mv-fallback" | "sftp-rename"> {
    this.assertSubtree("move", from, to);
    const pin = await this.pinnedFor(from, to);
    if (pin) {
      const how = await this.change(to, () => pin.rename(from, to, opts.signal));
      return how === "copy" ? "mv-fallback" : "rename";
    }
    try {
      await this.ch.rename(from, to, opts.signal);
      return "sftp-rename";
    } catch (e) {
      const fallback = e instanceof SftpError && e.is("FAILURE", "OP_UNSUPPORTED", "LINK_LOOP") &&
        this.platform === "posix" && !opts.toIsDir && await this.posixShell();
      if (!fallback) throw e;
      const r = await this.execOn(sh`mv -- ${from} ${to}`, { signal: opts.signal });
      if (r.exitCode !== 0) {
        throw new ToolError(
          "WriteError",
          `mv ${from} ${to} failed (exit ${r.exitCode}) after SFTP rename failed (${e.statusName}): ${
            r.stderr.trim().slice(0, 1000)
          }`,
        );
      }
      return "mv-fallback";
    }
  }

  /**
   * Moves the file `from` to `to` only when `to` does not exist (pinned
   * link + unlink; else plain SFTP `rename`, which OpenSSH implements with
   * link + unlink for regular files, so it never clobbers).
   */
  async renameNoReplace(
    from: CheckedPath | TempPath,
    to: CheckedPath,
    signal?: AbortSignal,
  ): Promise<void> {
    const pin = await this.pinnedFor(from, to);
    if (!pin) return await this.ch.renameNoReplace(from, to, signal);
    await this.change(to, () => pin.renameNoReplace(from, to, signal));
  }

  /** A hard link `to` of `from` (pinned `ln -PT`; else `hardlink@openssh.com`). */
  async hardlink(from: CheckedPath, to: CheckedPath, signal?: AbortSignal): Promise<void> {
    const pin = await this.pinnedFor(from, to);
    if (!pin) return await this.ch.hardlink(from, to, signal);
    await this.change(to, () => pin.hardlink(from, to, signal));
  }

  /**
   * A symbolic link at `link` whose text is `target`, stored verbatim (the
   * caller checks where it points, ssh_link); pinned `ln -sT`, else SFTP.
   */
  async symlink(target: string, link: CheckedPath, signal?: AbortSignal): Promise<void> {
    const pin = await this.pinned();
    if (!pin) return await this.ch.symlink(target, link, signal);
    await this.change(link, () => pin.symlink(target, link, signal));
  }

  /** `rm -rf` of a checked path (POSIX): pinned, else the path-based shell command. */
  async removeTree(path: CheckedPath, signal?: AbortSignal): Promise<void> {
    this.assertSubtree("rm -rf", path);
    const pin = await this.pinned();
    if (pin) return await this.change(path, () => pin.removeTree(path, signal));
    const r = await this.execOn(sh`rm -rf -- ${path}`, { signal });
    if (r.exitCode !== 0) {
      throw new ToolError(
        "WriteError",
        `rm -rf ${path} failed (exit ${r.exitCode}): ${r.stderr.trim().slice(0, 1000)}`,
      );
    }
  }

  /**
   * `<alg>sum` of a file (POSIX): read through a pinned, `/proc`-checked
   * descriptor when hardened, else `<alg>sum -- <path>`.
   */
  async digest(
    path: CheckedPath,
    alg: string,
    opts: { timeoutMs?: number; signal?: AbortSignal } = {},
  ): Promise<RawExecResult> {
    const pin = await this.pinned();
    if (!pin) return await this.execOn(sh`${`${alg}sum`} -- ${path}`, opts);
    try {
      return await pin.digest(path, alg, opts);
    } catch (e) {
      if (e instanceof PathMovedError) throw readMoved(path, e.detail);
      throw e;
    }
  }

  /** The PATH-30 re-check before a destructive operation (see `transfer.ts`). */
  recheck(path: CheckedPath, mode: "resolved" | "leaf", signal?: AbortSignal): Promise<void> {
    return recheckOn(this.ch, path, mode, signal);
  }
}
