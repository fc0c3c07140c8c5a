/**
 * Checks against the server's own files (`server_files.ts`; LOCAL-12..17):
 * by canonical path (symlinks resolved on both sides) AND by identity
 * (device + inode) of the file, of every ancestor directory and of the
 * opened handle, so a hard link, a bind mount of a protected directory or a
 * symlink cannot reach a protected file under another name. A file with more
 * than one hard link is compared with every file of the protected
 * directories (a bounded walk; past the bound it is refused).
 *
 * A running server binds its set to its settings object
 * ({@link bindServerFiles}); every `local_path` check receives those
 * settings, so none can run without the set.
 *
 * @module
 */

import * as path from "../util/local_path.ts";
import type { Settings } from "../config/types.ts";
import { ToolError } from "../errors.ts";
import { type ServerFile, serverFilesFor } from "./server_files.ts";

/** Entries walked at most when a multiply-linked file is compared (fail closed beyond). */
export const LINK_WALK_MAX = 50_000;

type Env = Readonly<Record<string, string | undefined>>;

interface Ident {
  dev: number;
  ino: number;
}

/** A protected entry as it is on disk right now. */
interface Resolved {
  file: ServerFile;
  /** canonical path (file or dir), or the canonical `<dir>/<prefix>` */
  canon: string;
  /** identity of the file or directory itself (prefix: of its directory) */
  ident: Ident | null;
}

/** The protected set resolved on disk for one check. */
export class ServerFileGuard {
  readonly #entries: Resolved[];

  private constructor(entries: Resolved[]) {
    this.#entries = entries;
  }

  /** Canonicalizes every entry and records its identity now. */
  static async resolve(files: readonly ServerFile[]): Promise<ServerFileGuard> {
    const entries = await Promise.all(files.map(async (file): Promise<Resolved> => {
      const target = file.kind === "prefix" ? path.dirname(file.path) : file.path;
      const canonTarget = await canonical(target);
      const ident = await identOf(canonTarget);
      const canon = file.kind === "prefix"
        ? path.join(canonTarget, path.basename(file.path))
        : canonTarget;
      return { file, canon, ident };
    }));
    return new ServerFileGuard(entries);
  }

  /** Number of protected entries (diagnostics). */
  get size(): number {
    return this.#entries.length;
  }

  /**
   * The protected entry that covers the canonical path `p`, by name: the file
   * itself, inside a protected directory, or a name starting with a
   * protected prefix in its directory.
   */
  byPath(p: string): ServerFile | null {
    for (const e of this.#entries) {
      if (e.file.kind === "file" && p === e.canon) return e.file;
      if (e.file.kind === "dir" && (p === e.canon || isBelow(p, e.canon))) return e.file;
      if (
        e.file.kind === "prefix" && path.dirname(p) === path.dirname(e.canon) &&
        path.basename(p).startsWith(path.basename(e.canon))
      ) return e.file;
    }
    return null;
  }

  /** The protected file whose identity `st` has (hard link, bind mount, ...). */
  byIdentity(st: Deno.FileInfo): ServerFile | null {
    if (st.ino === null) return null;
    for (const e of this.#entries) {
      if (e.file.kind === "file" && e.ident && same(e.ident, st)) return e.file;
    }
    return null;
  }

  /**
   * Walks the ancestors of canonical `p` and compares each with the protected
   * directories by identity: a bind mount (or any other second name) of a
   * protected directory is caught although its path differs. For prefix
   * entries the direct parent is compared and the name prefix checked.
   */
  async byAncestors(p: string): Promise<ServerFile | null> {
    const dirs = this.#entries.filter((e) => e.ident && e.file.kind !== "file");
    if (!dirs.length) return null;
    let cur = path.dirname(p);
    let child = p;
    for (;;) {
      const id = await identOf(cur);
      if (id) {
        for (const e of dirs) {
          if (!same(e.ident!, id)) continue;
          if (e.file.kind === "dir") return e.file;
          if (child === p && path.basename(p).startsWith(path.basename(e.canon))) return e.file;
        }
      }
      const up = path.dirname(cur);
      if (up === cur) return null;
      child = cur;
      cur = up;
    }
  }

  /**
   * For a file with several hard links: compares its identity with every
   * file in the protected directories (and the names a prefix covers).
   * Returns the entry it matches, `"unverified"` when the walk exceeded
   * `max` ({@link LINK_WALK_MAX}) entries (fail closed), or null.
   */
  byLinkWalk(
    st: Deno.FileInfo,
    max: number = LINK_WALK_MAX,
  ): Promise<ServerFile | "unverified" | null> {
    if (st.ino === null) return Promise.resolve(null);
    let budget = max;
    // synchronous on purpose: about 5 µs per entry instead of ~100 µs for
    // an async op, so even a full walk blocks for tens of milliseconds only
    const walk = (dir: string, match: (name: string) => boolean, deep: boolean): boolean => {
      let entries: Iterable<Deno.DirEntry>;
      try {
        entries = Deno.readDirSync(dir);
        for (const e of entries) {
          if (--budget < 0) throw new WalkBudget();
          if (!match(e.name)) continue;
          const p = path.join(dir, e.name);
          if (e.isFile) {
            let id: Deno.FileInfo;
            try {
              id = Deno.lstatSync(p);
            } catch {
              continue;
            }
            if (id.ino !== null && same({ dev: id.dev, ino: id.ino }, st)) return true;
          } else if (e.isDirectory && deep && walk(p, () => true, true)) {
            return true;
          }
        }
      } catch (err) {
        if (err instanceof WalkBudget) throw err;
        // a protected directory we may not list: cannot verify (fail closed);
        // one that vanished meanwhile holds nothing
        if (err instanceof Deno.errors.PermissionDenied) throw new WalkBudget();
      }
      return false;
    };
    try {
      for (const e of this.#entries) {
        if (!e.ident || e.file.kind === "file" || e.file.linkWalk === false) continue;
        const hit = e.file.kind === "dir"
          ? walk(e.canon, () => true, true)
          : walk(path.dirname(e.canon), (n) => n.startsWith(path.basename(e.canon)), false);
        if (hit) return Promise.resolve(e.file);
      }
    } catch (err) {
      if (err instanceof WalkBudget) return Promise.resolve("unverified");
      throw err;
    }
    return Promise.resolve(null);
  }
}

class WalkBudget extends Error {}

function same(a: Ident, b: { dev: number; ino: number | null }): boolean {
  return a.dev === b.dev && a.ino === b.ino;
}

function isBelow(p: string, dir: string): boolean {
  const rel = path.relative(dir, p);
  return rel !== "" && rel !== ".." && !rel.startsWith("../") && !path.isAbsolute(rel);
}

/** realpath; for a missing path the canonical parent plus the name (lexical at worst). */
async function canonical(p: string): Promise<string> {
  try {
    return await Deno.realPath(p);
  } catch {
    const parent = path.dirname(p);
    if (parent === p) return p;
    return path.join(await canonical(parent), path.basename(p));
  }
}

async function identOf(p: string, follow = true): Promise<Ident | null> {
  try {
    const st = follow ? await Deno.stat(p) : await Deno.lstat(p);
    return st.ino === null ? null : { dev: st.dev, ino: st.ino };
  } catch {
    return null;
  }
}

/** The refusal for a server file. */
export function serverFileError(raw: string, f: ServerFile | "unverified"): ToolError {
  if (f === "unverified") {
    return new ToolError(
      "LocalPathPolicyError",
      `local_path ${raw} has several hard links and the server could not verify that none of them ` +
        "is one of its own files; copy the file (not a hard link) into SSH_LOCAL_TRANSFER_ROOTS.",
      { reason: "server_file" },
    );
  }
  return new ToolError(
    "LocalPathPolicyError",
    `local_path ${raw} is ${f.what}, one of the server's own files; local_path never reads or ` +
      "writes those, whatever SSH_LOCAL_TRANSFER_ROOTS says. Use another file.",
    { reason: "server_file" },
  );
}

// ---------------------------------------------------------------------------
// binding a configuration's set to its settings object

const BOUND = new WeakMap<object, () => readonly ServerFile[]>();

/**
 * Binds the server-file set of a running server to its (frozen) settings
 * object: every `local_path` check receives those settings, so none can run
 * without the set. The provider is read per check, so a reload that replaces
 * the set is seen by the next call.
 */
export function bindServerFiles(settings: Settings, files: () => readonly ServerFile[]): void {
  BOUND.set(settings, files);
}

/**
 * The server files for `settings`: the bound set of the running server, or
 * (settings not bound, e.g. a unit test) the set derived from the settings
 * alone, relative to the process working directory.
 */
export async function serverFilesOf(settings: Settings, env: Env): Promise<readonly ServerFile[]> {
  const bound = BOUND.get(settings);
  if (bound) return bound();
  return await serverFilesFor({
    settings,
    env: env as Record<string, string>,
    cwd: Deno.cwd(),
    hosts: null,
  });
}
