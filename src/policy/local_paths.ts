/**
 * MCP-host paths (`local_path`, SECURITY.md §LOCAL): the only route by which
 * the server reads or writes its own disk (LOCAL-11).
 *
 * - The feature is off while `SSH_LOCAL_TRANSFER_ROOTS` is empty (LOCAL-1).
 * - Roots are resolved (symlinks followed) at every call; roots that do not
 *   resolve are ignored (LOCAL-3).
 * - Reads resolve the file strictly and require a regular file (LOCAL-4);
 *   writes resolve the parent strictly and rebuild `<parent>/<name>`
 *   (LOCAL-5). Inside = equal to a resolved root or below it, component-wise
 *   (LOCAL-6).
 * - After opening, the opened file's identity (dev/inode from fstat) must equal
 *   both the identity seen at resolution time and an lstat of the resolved
 *   path now (LOCAL-10), so a swap to a symlink (or another file) between
 *   resolve and open is refused.
 * - Downloads go to an exclusive temp file `<final>.ssh-mcp-tmp.<16 hex>`
 *   created with mode 0600 beside the target, then renamed (LOCAL-8/10).
 * - The server's own files (hosts file, `.env`, known_hosts, audit log, keys,
 *   secrets, notes, programs it runs, its code: `server_files.ts`, checked by
 *   `server_file_guard.ts`) are refused whatever the roots say
 *   (LOCAL-12..LOCAL-17): by canonical path before anything is opened, by
 *   identity (device + inode, every ancestor directory too) after, so a
 *   symlink, a hard link or a bind mount cannot reach them.
 *
 * Local paths are never logged or audited in clear.
 *
 * @module
 */

import path from "node:path";
import { expandPath } from "../config/env.ts";
import type { Settings } from "../config/types.ts";
import { ToolError } from "../errors.ts";
import { randomHex } from "../util/random.ts";
import { serverFileError, ServerFileGuard, serverFilesOf } from "./server_file_guard.ts";

/** A local file opened for reading (uploads). */
export interface LocalRead {
  /** resolved absolute path (symlinks followed) */
  path: string;
  /**
   * size in bytes from fstat of the opened file; callers compare it with
   * `SSH_LOCAL_TRANSFER_MAX_BYTES` and map an over-cap file to their own
   * error class (TOOLS.md: `WriteError` for uploads) before any SSH I/O
   */
  size: number;
  file: Deno.FsFile;
}

/** A download in progress: the temp file is open, the final path untouched. */
export interface LocalWrite {
  finalPath: string;
  tmpPath: string;
  file: Deno.FsFile;
}

/** Test hooks (run between resolution and open, to reproduce swap races). */
export interface LocalHooks {
  afterResolve?: (resolved: string) => Promise<void> | void;
}

function policyError(message: string, attributes: Record<string, string> = {}): ToolError {
  return new ToolError("LocalPathPolicyError", message, attributes);
}

/** Roots that resolve now (LOCAL-3), de-duplicated. */
async function resolvedRoots(
  settings: Settings,
  env: Record<string, string | undefined>,
): Promise<string[]> {
  const out: string[] = [];
  for (const r of settings.SSH_LOCAL_TRANSFER_ROOTS) {
    const e = expandPath(r.trim(), env);
    if (!e || !path.isAbsolute(e)) continue;
    try {
      const real = await Deno.realPath(e);
      const st = await Deno.stat(real);
      if (st.isDirectory && !out.includes(real)) out.push(real);
    } catch {
      // not mounted (yet): ignored
    }
  }
  return out;
}

/** LOCAL-6: equal to a root or a descendant of one, component-wise (never a string prefix). */
export function isInsideLocal(p: string, root: string): boolean {
  const rel = path.relative(root, p);
  if (rel === "") return true;
  if (path.isAbsolute(rel)) return false;
  return rel !== ".." && !rel.startsWith("../");
}

function errName(e: unknown): string {
  if (e instanceof Deno.errors.NotFound) return "does not exist";
  if (e instanceof Deno.errors.PermissionDenied) return "is not accessible (permission denied)";
  if (e instanceof Deno.errors.NotADirectory) return "has a component that is not a directory";
  if (e instanceof Deno.errors.NotCapable) {
    return "is outside the server's write permissions (restart after changing " +
      "SSH_LOCAL_TRANSFER_ROOTS; see docs/PERMISSIONS.md)";
  }
  return "cannot be resolved";
}

function assertRaw(raw: string): void {
  if (typeof raw !== "string" || raw === "") {
    throw policyError(
      "local_path is empty; pass an absolute path inside SSH_LOCAL_TRANSFER_ROOTS.",
    );
  }
  if (raw.includes("\u0000")) {
    throw policyError("local_path contains a NUL byte; not accepted.");
  }
  if (/[\uD800-\uDFFF]/u.test(raw.replace(/[\uD800-\uDBFF][\uDC00-\uDFFF]/g, ""))) {
    throw policyError("local_path contains an unpaired surrogate; not accepted.");
  }
}

/** The server files as they are on disk now, refusing `st` / `p` when they are one. */
async function assertNotServerFile(
  raw: string,
  guard: ServerFileGuard,
  p: string,
  st: Deno.FileInfo | null,
): Promise<void> {
  const hit = guard.byPath(p) ?? (st ? guard.byIdentity(st) : null) ?? await guard.byAncestors(p);
  if (hit) throw serverFileError(raw, hit);
  if (st && st.isFile && (st.nlink ?? 1) > 1) {
    const linked = await guard.byLinkWalk(st);
    if (linked) throw serverFileError(raw, linked);
  }
}

/** {@link resolveLocalPath} plus the server-file guard it checked against. */
async function resolveChecked(
  raw: string,
  mode: "read" | "write",
  settings: Settings,
  env: Record<string, string | undefined>,
): Promise<{ path: string; guard: ServerFileGuard }> {
  if (settings.SSH_LOCAL_TRANSFER_ROOTS.filter((r) => r.trim() !== "").length === 0) {
    throw policyError(
      "local_path is disabled: SSH_LOCAL_TRANSFER_ROOTS is empty. Ask the operator to set it to the " +
        "MCP-host directories that may be read or written, or pass the content inline.",
    );
  }
  assertRaw(raw);
  const roots = await resolvedRoots(settings, env);
  if (roots.length === 0) {
    throw policyError(
      "None of the SSH_LOCAL_TRANSFER_ROOTS directories exists on the MCP host right now; " +
        "ask the operator to create or mount one.",
    );
  }
  const guard = await ServerFileGuard.resolve(await serverFilesOf(settings, env));
  const abs = path.resolve(raw);
  const outside = (p: string) =>
    policyError(
      `local_path ${raw} resolves to ${p}, which is outside SSH_LOCAL_TRANSFER_ROOTS (${
        roots.join(", ")
      }). Use a path inside one of them.`,
    );
  if (mode === "read") {
    let real: string;
    try {
      real = await Deno.realPath(abs);
    } catch (e) {
      throw policyError(`local_path ${raw} ${errName(e)}; uploads need an existing regular file.`);
    }
    if (!roots.some((r) => isInsideLocal(real, r))) throw outside(real);
    let st: Deno.FileInfo;
    try {
      st = await Deno.stat(real);
    } catch (e) {
      // swapped or removed between realPath and stat
      throw policyError(`local_path ${raw} ${errName(e)}; uploads need an existing regular file.`);
    }
    await assertNotServerFile(raw, guard, real, st);
    if (!st.isFile) {
      throw policyError(
        `local_path ${raw} is ${
          st.isDirectory ? "a directory" : "not a regular file"
        }; uploads need a regular file.`,
      );
    }
    return { path: real, guard };
  }
  // write
  const name = path.basename(abs);
  if (raw.endsWith("/") || name === "" || name === "." || name === ".." || abs === "/") {
    throw policyError(`local_path ${raw} does not name a file; give <directory>/<file name>.`);
  }
  let parent: string;
  try {
    parent = await Deno.realPath(path.dirname(abs));
  } catch (e) {
    throw policyError(
      `The directory of local_path ${raw} ${errName(e)}; downloads need an existing directory.`,
    );
  }
  const pst = await Deno.stat(parent);
  if (!pst.isDirectory) {
    throw policyError(`The parent of local_path ${raw} is not a directory.`);
  }
  const final = path.join(parent, name);
  if (!roots.some((r) => isInsideLocal(final, r)) || roots.includes(final)) throw outside(final);
  let existing: Deno.FileInfo | null = null;
  try {
    existing = await Deno.lstat(final);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  await assertNotServerFile(raw, guard, final, existing);
  if (existing?.isDirectory) {
    throw policyError(`local_path ${raw} is a directory; give a file name inside it.`);
  }
  return { path: final, guard };
}

/**
 * LOCAL-1/2/3/4/5/6 validation without opening anything ("validate before
 * I/O"), plus the server-file guard (LOCAL-12..). Read mode: the resolved
 * existing regular file. Write mode: `<resolved parent>/<name>`. Throws
 * `LocalPathPolicyError`.
 */
export async function resolveLocalPath(
  raw: string,
  mode: "read" | "write",
  settings: Settings,
  env: Record<string, string | undefined>,
): Promise<string> {
  return (await resolveChecked(raw, mode, settings, env)).path;
}

/**
 * Same file: device and inode. Where the platform has no inode numbers
 * (Windows), size and timestamps must agree instead (weaker, documented).
 */
function sameFile(a: Deno.FileInfo, b: Deno.FileInfo): boolean {
  if (a.ino !== null && b.ino !== null) return a.dev === b.dev && a.ino === b.ino;
  const t = (d: Date | null) => d?.getTime() ?? null;
  return a.ino === b.ino && a.size === b.size && t(a.mtime) === t(b.mtime) &&
    t(a.birthtime) === t(b.birthtime) && a.isFile === b.isFile;
}

/** Same directory (its mtime changes when the temp file is created, so not compared). */
function sameDir(a: Deno.FileInfo, b: Deno.FileInfo): boolean {
  if (a.ino !== null && b.ino !== null) return a.dev === b.dev && a.ino === b.ino;
  return a.ino === b.ino && a.birthtime?.getTime() === b.birthtime?.getTime();
}

function swapped(raw: string): ToolError {
  return policyError(
    `local_path ${raw} changed while it was being opened (it was replaced, e.g. by a symbolic link); refused.`,
    { reason: "identity_mismatch" },
  );
}

/**
 * Resolves (read mode), opens and identity-checks a local file (LOCAL-4,
 * LOCAL-10). The caller closes `file`.
 */
export async function openLocalRead(
  raw: string,
  settings: Settings,
  env: Record<string, string | undefined>,
  hooks: LocalHooks = {},
): Promise<LocalRead> {
  const { path: resolved, guard } = await resolveChecked(raw, "read", settings, env);
  let before: Deno.FileInfo;
  try {
    before = await Deno.lstat(resolved);
  } catch (e) {
    throw policyError(`local_path ${raw} ${errName(e)}.`);
  }
  if (!before.isFile) throw swapped(raw);
  await hooks.afterResolve?.(resolved);
  let file: Deno.FsFile;
  try {
    file = await Deno.open(resolved, { read: true });
  } catch (e) {
    throw policyError(`local_path ${raw} ${errName(e)}.`);
  }
  try {
    const opened = await file.stat();
    let now: Deno.FileInfo;
    try {
      now = await Deno.lstat(resolved);
    } catch {
      throw swapped(raw);
    }
    if (!opened.isFile || !sameFile(opened, before) || !sameFile(opened, now)) throw swapped(raw);
    // the opened file itself, by identity (LOCAL-13)
    const own = guard.byIdentity(opened);
    if (own) throw serverFileError(raw, own);
    return { path: resolved, size: opened.size, file };
  } catch (e) {
    file.close();
    throw e;
  }
}

/**
 * Resolves (write mode) and creates the exclusive temp file beside the target
 * with mode 0600 (LOCAL-5, LOCAL-8, LOCAL-10). Nothing is written to the
 * final path until {@link commitLocalWrite}.
 */
export async function beginLocalWrite(
  raw: string,
  settings: Settings,
  env: Record<string, string | undefined>,
  hooks: LocalHooks = {},
): Promise<LocalWrite> {
  const finalPath = await resolveLocalPath(raw, "write", settings, env);
  const parent = path.dirname(finalPath);
  const parentBefore = await Deno.lstat(parent);
  await hooks.afterResolve?.(finalPath);
  const tmpPath = `${finalPath}.ssh-mcp-tmp.${randomHex(8)}`;
  let file: Deno.FsFile;
  try {
    file = await Deno.open(tmpPath, { write: true, createNew: true, mode: 0o600 });
  } catch (e) {
    throw policyError(
      `Cannot create a temporary file beside local_path ${raw} (${
        e instanceof Deno.errors.AlreadyExists ? "it already exists" : errName(e)
      }).`,
    );
  }
  const w: LocalWrite = { finalPath, tmpPath, file };
  try {
    const opened = await file.stat();
    const now = await Deno.lstat(tmpPath);
    const parentNow = await Deno.lstat(parent);
    if (
      !sameFile(opened, now) || !parentNow.isDirectory || !sameDir(parentBefore, parentNow) ||
      (await Deno.realPath(tmpPath)) !== tmpPath
    ) {
      throw swapped(raw);
    }
    // umask may only make it stricter; never looser than 0600
    if (opened.mode !== null && (opened.mode & 0o077) !== 0) await Deno.chmod(tmpPath, 0o600);
  } catch (e) {
    await abortLocalWrite(w);
    throw e instanceof ToolError ? e : swapped(raw);
  }
  return w;
}

/** Flushes, closes and atomically renames the temp file onto the final path. */
export async function commitLocalWrite(w: LocalWrite): Promise<void> {
  try {
    await w.file.sync();
  } catch (e) {
    // a file the caller already closed is fine; a failed flush is not
    if (!(e instanceof Deno.errors.BadResource)) {
      try {
        w.file.close();
      } catch {
        // already closed
      }
      throw e;
    }
  }
  try {
    w.file.close();
  } catch {
    // already closed by the caller
  }
  await Deno.rename(w.tmpPath, w.finalPath);
}

/** Closes and deletes the temp file; never throws (LOCAL-8). */
export async function abortLocalWrite(w: LocalWrite): Promise<void> {
  try {
    w.file.close();
  } catch {
    // already closed
  }
  try {
    await Deno.remove(w.tmpPath);
  } catch {
    // already gone
  }
}
