/**
 * The SFTP walk of a tree (internal to the ssh layer; `fs.ts` wraps it):
 * depth-first with `lstat` semantics, symbolic links listed and never
 * entered, capped. Used where the pinned `find` walk of `pinned.ts` is not
 * available (Windows, hosts without GNU findutils) and by tests.
 *
 * @module
 */

import type { EntryKind, SftpChannel } from "./sftp_channel.ts";
import { SftpError } from "./sftp_channel.ts";

/** One walked entry; `rel` is relative to the root ("" for the root). */
export interface WalkedEntry {
  rel: string;
  kind: EntryKind;
  /** the text of a symbolic link, when links were read */
  link: string | null;
}

/** What a walk found. */
export interface WalkResult {
  entries: WalkedEntry[];
  /** false: the walk stopped at the cap */
  complete: boolean;
  /** directories that could not be listed */
  unreadable: string[];
}

function join(dir: string, name: string): string {
  return dir.endsWith("/") || dir.endsWith("\\") ? dir + name : `${dir}/${name}`;
}

/**
 * Walks `root` over SFTP (root first). Stops once `cap` entries are
 * collected (`complete: false`). `readLinks`: read the text of every link.
 */
export async function sftpWalk(
  ch: SftpChannel,
  root: string,
  cap: number,
  opts: { readLinks: boolean; signal?: AbortSignal },
): Promise<WalkResult> {
  const { signal } = opts;
  const windows = ch.platform === "windows";
  const rootSt = await ch.lstat(root, signal);
  const linkOf = async (p: string, kind: EntryKind) =>
    kind === "symlink" && opts.readLinks ? await ch.readlink(p, signal).catch(() => "") : null;
  const entries: WalkedEntry[] = [{
    rel: "",
    kind: rootSt.kind,
    link: await linkOf(root, rootSt.kind),
  }];
  const unreadable: string[] = [];
  if (entries.length > cap) return { entries: [], complete: false, unreadable };
  if (rootSt.kind !== "dir") return { entries, complete: true, unreadable };
  const stack: string[] = [""];
  while (stack.length) {
    const rel = stack.pop()!;
    const dir = rel === "" ? root : join(root, rel);
    let list;
    try {
      list = await ch.readdir(dir, signal);
    } catch (e) {
      if (e instanceof SftpError && e.is("PERMISSION_DENIED", "FAILURE")) {
        unreadable.push(dir);
        continue;
      }
      throw e;
    }
    for (const e of list) {
      // a server that sends a name with a separator or a dot entry gets it skipped, never joined
      if (e.name === "" || e.name === "." || e.name === ".." || e.name.includes("/")) continue;
      if (windows && e.name.includes("\\")) continue;
      const childRel = rel === "" ? e.name : `${rel}/${e.name}`;
      const p = join(root, childRel);
      let kind = e.stat.kind;
      // confirm with lstat before descending or reading a link: never follow a symlink
      if (kind === "dir" || kind === "symlink") kind = (await ch.lstat(p, signal)).kind;
      entries.push({ rel: childRel, kind, link: await linkOf(p, kind) });
      if (entries.length > cap) {
        return { entries: entries.slice(0, cap), complete: false, unreadable };
      }
      if (kind === "dir") stack.push(childRel);
    }
  }
  return { entries, complete: true, unreadable };
}
