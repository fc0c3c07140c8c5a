/**
 * Directory-tree helpers for `ssh_delete_folder` (PATH-26): the capped `lstat`
 * walk that never descends into symlinked directories, the refusal of roots,
 * and the re-canonicalize-then-`rm -rf` step (INC-004 / AC-004).
 *
 * @module
 */

import type { HostPolicy, Settings } from "../../config/types.ts";
import { ToolError } from "../../errors.ts";
import { allowlistRoots, isInside, normalizeRemote } from "../../policy/paths.ts";
import type { RemoteFs } from "../../ssh/fs.ts";
import type { CheckedPath, EntryPath } from "../../checked.ts";

/** One walked entry: the root itself, or an entry found below it. */
export interface TreeEntry {
  path: CheckedPath | EntryPath;
  kind: "file" | "dir" | "symlink" | "other";
}

/**
 * Depth-first walk from `root` (included first) with `lstat` semantics;
 * symlinked directories are listed, never entered. Stops once `cap` entries
 * are collected and reports `complete: false`.
 */
export async function walkTree(
  fs: RemoteFs,
  root: CheckedPath,
  cap: number,
  signal?: AbortSignal,
): Promise<{ entries: TreeEntry[]; complete: boolean }> {
  const rootSt = await fs.lstat(root, signal);
  const entries: TreeEntry[] = [{ path: root, kind: rootSt.kind }];
  if (entries.length >= cap) return { entries, complete: false };
  if (rootSt.kind !== "dir") return { entries, complete: true };
  const stack: (CheckedPath | EntryPath)[] = [root];
  while (stack.length) {
    const dir = stack.pop()!;
    const list = await fs.readdir(dir, signal);
    for (const e of list) {
      const p = e.path;
      let kind = e.stat.kind;
      if (kind === "dir") {
        // confirm with lstat before descending: never follow a symlink
        kind = (await fs.lstat(p, signal)).kind;
      }
      entries.push({ path: p, kind });
      if (entries.length >= cap) return { entries, complete: false };
      if (kind === "dir") stack.push(p);
    }
  }
  return { entries, complete: true };
}

/** PATH-26: never `/`, a drive root, an allowlist root or an ancestor of one. */
export function assertNotRoot(
  path: CheckedPath,
  policy: HostPolicy,
  settings: Settings,
  what = "delete",
): void {
  const platform = policy.platform;
  const p = normalizeRemote(path, platform);
  const isDrive = platform === "windows" && /^[A-Za-z]:[\\/]?$/.test(p);
  if (p === "/" || isDrive) {
    throw new ToolError("WriteError", `Refusing to ${what} the filesystem root ${path}.`);
  }
  for (const root of allowlistRoots(policy, settings)) {
    if (root === "*" || root === "/") continue;
    const r = normalizeRemote(root, platform);
    if (isInside(r, p, platform)) {
      throw new ToolError(
        "WriteError",
        `Refusing to ${what} ${path}: it is ${
          normalizeRemote(r, platform) === p ? "" : "an ancestor of "
        }the allowlisted root ${r} (path_allowlist / SSH_PATH_ALLOWLIST). Delete what is inside it instead.`,
      );
    }
  }
}
