/**
 * The read side of the race defence (SECURITY.md PATH-51), internal to the
 * ssh layer: an SFTP handle is opened by path, so a swapped directory could
 * hand back a file outside the allowlist. A {@link ReadGuard} proves the
 * handle is the checked file twice:
 *
 * 1. before any byte is read, the handle's attributes (kind, owner, group,
 *    mode, size, mtime) must equal the pinned `lstat` of the checked path
 *    taken before the open (a file that grew in between must lie between
 *    that `lstat` and one taken after);
 * 2. after the read, before anything is handed out (returned, committed to a
 *    local file, renamed into place on another host), the sha256 of the
 *    bytes read must equal the sha256 of the same prefix of the checked file
 *    read through a pinned, `/proc`-checked descriptor. Appends do not change
 *    the prefix, so live logs still download.
 *
 * The host computes its digest while the bytes travel: step 1 starts it for
 * the length the reader announced, so a large download does not wait for a
 * second full read of the file on the host afterwards. The proof is the same
 * (equal content of two reads, compared before anything is handed out); when
 * the read ends at another length (the file shrank), that digest is dropped
 * and the announced prefix is hashed again. A guard whose read failed or was
 * abandoned must be {@link ReadGuard.dispose}d: it stops the host's digest.
 *
 * A file with identical content is the only one that passes both, and
 * reading it tells nothing new.
 *
 * @module
 */

import { createHash, type Hash } from "node:crypto";
import { ToolError } from "../errors.ts";
import { PathMovedError, type PinnedShell, type PinnedStat } from "./pinned.ts";
import type { RawExecResult } from "./exec.ts";
import type { RemoteStat } from "./sftp_channel.ts";

/** The error of a read whose checked path moved (PATH-51). */
export function readMoved(path: string, detail: string): ToolError {
  return new ToolError(
    "PathNotAllowed",
    `${path} changed since it was checked (${detail}); nothing was read. Check the path and call again.`,
    { reason: "path_changed", stage: "race" },
  );
}

/** The error of a change whose checked path moved (PATH-30, PATH-50). */
export function writeMoved(path: string, detail: string): ToolError {
  return new ToolError(
    "WriteError",
    `Refusing to modify ${path}: it changed since it was checked (${detail}). Nothing was changed; check the path and call again.`,
    { reason: "path_changed" },
  );
}

function sameFile(a: PinnedStat, b: RemoteStat): boolean {
  return a.kind === b.kind && a.uid === b.uid && a.gid === b.gid && a.perm === b.perm &&
    a.size === b.size && a.mtime === b.mtime;
}

function grewInto(before: PinnedStat, st: RemoteStat, after: PinnedStat): boolean {
  const same = (a: PinnedStat) =>
    a.kind === st.kind && a.uid === st.uid && a.gid === st.gid && a.perm === st.perm;
  return same(before) && same(after) && before.size <= st.size && st.size <= after.size &&
    before.mtime <= st.mtime && st.mtime <= after.mtime;
}

/** Proves that what a handle read is the checked file (see module docs). */
export class ReadGuard {
  readonly #pin: PinnedShell;
  readonly #path: string;
  readonly #signal: AbortSignal | undefined;
  #before: PinnedStat | null = null;
  readonly #hash: Hash = createHash("sha256");
  #bytes = 0;
  /** the host's digest started at step 1, for `#early.prefix` bytes */
  #early: { prefix: number; stop: AbortController; result: Promise<string> } | null = null;

  private constructor(pin: PinnedShell, path: string, signal?: AbortSignal) {
    this.#pin = pin;
    this.#path = path;
    this.#signal = signal;
  }

  /** Takes the pinned `lstat` of `path`; call before opening the handle. */
  static async before(pin: PinnedShell, path: string, signal?: AbortSignal): Promise<ReadGuard> {
    const g = new ReadGuard(pin, path, signal);
    g.#before = await g.#lstat();
    return g;
  }

  async #lstat(): Promise<PinnedStat | null> {
    try {
      return await this.#pin.lstat(this.#path, this.#signal);
    } catch (e) {
      if (e instanceof PathMovedError) throw readMoved(this.#path, e.detail);
      throw e;
    }
  }

  /**
   * Step 1: the opened handle's attributes (before any byte is read). `reading`
   * is how many bytes the reader will ask for; the host starts hashing that
   * prefix now.
   */
  readonly opened = async (st: RemoteStat, reading: number): Promise<void> => {
    await this.#sameFile(st);
    const stop = new AbortController();
    const signal = this.#signal ? AbortSignal.any([this.#signal, stop.signal]) : stop.signal;
    const result = this.#digest(reading, signal);
    result.catch(() => {}); // awaited by settle, or dropped by dispose
    this.#early = { prefix: reading, stop, result };
  };

  async #sameFile(st: RemoteStat): Promise<void> {
    const before = this.#before;
    if (before && sameFile(before, st)) return;
    const after = await this.#lstat();
    if (after && sameFile(after, st)) return;
    if (before && after && grewInto(before, st, after)) return;
    const seen = after ?? before;
    throw readMoved(
      this.#path,
      !seen
        ? "it no longer exists"
        : seen.kind === "symlink"
        ? "it is now a symbolic link"
        : "the opened file is not the file at the checked path",
    );
  }

  /** Feeds the bytes read, in order. */
  readonly take = (chunk: Uint8Array): void => {
    this.#hash.update(chunk);
    this.#bytes += chunk.length;
  };

  /** Step 2: the bytes read must be the checked file's prefix (throws before anything is handed out). */
  async settle(): Promise<void> {
    const mine = this.#hash.digest("hex");
    const early = this.#early;
    this.#early = null;
    let theirs: string;
    if (early && early.prefix === this.#bytes) theirs = await early.result;
    else {
      early?.stop.abort();
      theirs = await this.#digest(this.#bytes, this.#signal);
    }
    if (theirs === mine) return;
    // the host hashed the whole file when its size equalled the prefix; a file that grew
    // since then is hashed again, exactly the prefix, before the read is refused
    if (await this.#digest(this.#bytes, this.#signal, true) !== mine) {
      throw readMoved(this.#path, "the bytes read are not the content of the checked file");
    }
  }

  /** Stops the host's digest of a read that will not be settled (failed or abandoned). */
  dispose(): void {
    this.#early?.stop.abort();
    this.#early = null;
  }

  /** The host's sha256 (lowercase hex) of the first `prefix` bytes of the checked file. */
  async #digest(prefix: number, signal: AbortSignal | undefined, exact = false): Promise<string> {
    let r: RawExecResult;
    try {
      r = await this.#pin.digest(this.#path, "sha256", { prefix, signal, exact });
    } catch (e) {
      if (e instanceof PathMovedError) throw readMoved(this.#path, e.detail);
      throw e;
    }
    const hex = (r.stdout.split(/\s/)[0] ?? "").toLowerCase();
    if (r.exitCode !== 0 || !/^[0-9a-f]{64}$/.test(hex)) {
      throw readMoved(this.#path, `its content could not be checked (exit ${r.exitCode})`);
    }
    return hex;
  }
}
