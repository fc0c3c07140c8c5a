/**
 * Directory-tree helpers for `ssh_delete_folder` (PATH-26): the capped walk
 * that never descends into symlinked directories (`RemoteFs.walk`, pinned on
 * hardened hosts), and the refusal of roots.
 *
 * @module
 */

import type { HostPolicy, Settings } from "../../config/types.ts";
import { allowlistRoots, assertNotRoot as assertNotRootPolicy } from "../../policy/paths.ts";
import type { RemoteFs } from "../../ssh/fs.ts";
import type { CheckedPath, EntryPath } from "../../checked.ts";

/** One walked entry: the root itself, or an entry found below it. */
export interface TreeEntry {
  path: CheckedPath | EntryPath;
  kind: "file" | "dir" | "symlink" | "other";
}

/**
 * Depth-first walk from `root` (included first) with `lstat` semantics;
 * symlinked directories are listed, never entered. A tree of `cap` entries
 * or more reports `complete: false` (PATH-26: at the cap, nothing is deleted).
 */
export async function walkTree(
  fs: RemoteFs,
  root: CheckedPath,
  cap: number,
  signal?: AbortSignal,
): Promise<{ entries: TreeEntry[]; complete: boolean; unreadable: string[] }> {
  const w = await fs.walk(root, { cap: Math.max(0, cap - 1), signal });
  return {
    entries: w.entries.map((e) => ({ path: e.rel === "" ? root : e.path, kind: e.kind })),
    complete: w.complete,
    unreadable: w.unreadable,
  };
}

/** PATH-26: never `/`, a drive root, an allowlist root or an ancestor of one. */
export function assertNotRoot(
  path: CheckedPath,
  policy: HostPolicy,
  settings: Settings,
  what = "delete",
): void {
  assertNotRootPolicy(path, policy, allowlistRoots(policy, settings), what);
}
