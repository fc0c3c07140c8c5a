import { z } from "zod";
import { ToolError } from "../../errors.ts";
import type { RemoteFs } from "../../ssh/fs.ts";
import { defineTool, HostArg } from "../define.ts";
import type { ToolContext } from "../context.ts";
import type { CheckedPath } from "../../checked.ts";
import { OutputWarnings } from "../_schemas.ts";
import { remotePath, withSftpErrors } from "../sftp-read/_common.ts";
import { CheckArg } from "./_common.ts";
import { assertNotRoot, walkTree } from "./_tree.ts";

/**
 * The recursive removal after the walk (AC-004): re-canonicalize the path
 * through the full policy chain and refuse when the answer differs from the
 * walked path (a component was swapped for a symlink), then `rm -rf --` on
 * POSIX (from the pinned parent directory on hardened hosts, PATH-50) or
 * children-first SFTP removal on Windows. `afterWalk` exists for the
 * regression test that swaps the directory between the two steps.
 */
export async function removeTree(
  ctx: ToolContext,
  fs: RemoteFs,
  path: CheckedPath,
  raw: string,
  follow: boolean,
  hooks: { afterWalk?: () => Promise<void> } = {},
): Promise<number> {
  const s = ctx.settings;
  const cap = s.SSH_DELETE_FOLDER_MAX_ENTRIES;
  const walked = await walkTree(fs, path, cap, ctx.signal);
  assertWalked(path, walked, cap, "nothing was deleted");
  await hooks.afterWalk?.();
  const again = await ctx.checkPath(ctx.host, raw, { mustExist: true, follow });
  if (again !== path) {
    throw new ToolError(
      "WriteError",
      `${raw} now resolves to ${again}, not ${path} as when it was walked; nothing was deleted (the tree changed under us).`,
      { reason: "path_changed" },
    );
  }
  await fs.recheck(path, follow ? "resolved" : "leaf", ctx.signal);
  if (fs.platform === "windows") {
    // every walked entry goes through the path policy before it is removed
    const checked: { path: CheckedPath; kind: string }[] = [];
    for (const e of walked.entries) {
      const p = await ctx.checkPath(ctx.host, e.path, {
        mustExist: true,
        lexical: true,
        audit: null,
      });
      checked.push({ path: p, kind: e.kind });
    }
    for (const e of checked.reverse()) {
      const p = e.path;
      if (e.kind === "dir") await fs.rmdir(p, ctx.signal);
      else await fs.unlink(p, ctx.signal);
    }
    return walked.entries.length;
  }
  // pinned on hardened hosts: the parent is not resolved again (PATH-50)
  await fs.removeTree(path, ctx.signal);
  return walked.entries.length;
}

/** PATH-26: a walk at the cap, or with unreadable directories, deletes nothing. */
function assertWalked(
  path: string,
  w: { complete: boolean; unreadable: string[] },
  cap: number,
  outcome: string,
): void {
  if (!w.complete) {
    throw new ToolError(
      "WriteError",
      `${path} has at least ${cap} entries (SSH_DELETE_FOLDER_MAX_ENTRIES); ${outcome}. Delete subdirectories first, or ask the operator to raise the cap.`,
    );
  }
  if (w.unreadable.length) {
    throw new ToolError(
      "WriteError",
      `${
        w.unreadable[0]
      } inside ${path} cannot be read by the SSH user; ${outcome}. Fix its permissions or delete the rest piece by piece.`,
    );
  }
}

/** Deletes a directory (empty, or recursively with a walk cap). */
export default defineTool({
  name: "ssh_delete_folder",
  group: "file-ops",
  tier: "low-access",
  hints: { idempotentHint: true },
  destructive: true,
  description: "Delete a remote directory, empty or recursive (capped).",
  input: z.strictObject({
    host: HostArg,
    path: remotePath("Directory to delete"),
    recursive: z.boolean().default(false).describe(
      "Delete contents too",
    ),
    dry_run: z.boolean().default(false).describe(
      "Dry run",
    ),
    follow_symlinks: z.boolean().default(true).describe(
      "Follow symlinks",
    ),
    check: CheckArg,
  }),
  output: z.strictObject({
    host: z.string(),
    path: z.string(),
    success: z.boolean().optional(),
    bytes_written: z.number().int().optional(),
    message: z.string().nullable().optional(),
    would_delete: z.array(z.string()).optional(),
    dry_run: z.boolean().optional(),
    changed: z.boolean(),
    check: z.boolean(),
    output_warnings: OutputWarnings,
  }),
  // PATH-33: the whole tree goes
  paths: [{
    field: "path",
    mustExist: true,
    followField: "follow_symlinks",
    notRoot: "delete",
    subtree: true,
  }],
  async handler(args, ctx) {
    const { path, recursive, follow_symlinks } = args;
    const preview = args.dry_run || args.check;
    const s = ctx.settings;
    const policy = ctx.host.policy;
    assertNotRoot(path, policy, s);
    return await withSftpErrors("WriteError", async () => {
      const fs = await ctx.fs();
      const st = await fs.lstatChecked(path, ctx.signal);
      const base = { host: policy.hostname, path, output_warnings: [] as string[] };
      if (!recursive) {
        if (st.kind !== "dir") {
          throw new ToolError(
            "WriteError",
            `${path} is a ${st.kind}, not a directory; use ssh_delete${
              st.kind === "symlink" ? " with follow_symlinks=false" : ""
            }.`,
          );
        }
        if (preview) {
          return { ...base, would_delete: [path], dry_run: true, changed: true, check: args.check };
        }
        await fs.recheck(path, follow_symlinks ? "resolved" : "leaf", ctx.signal);
        await fs.rmdir(path, ctx.signal);
        return {
          ...base,
          success: true,
          bytes_written: 0,
          message: "rmdir",
          changed: true,
          check: false,
        };
      }
      if (preview) {
        const cap = s.SSH_DELETE_FOLDER_MAX_ENTRIES;
        const w = await walkTree(fs, path, cap, ctx.signal);
        assertWalked(path, w, cap, "a real call would be refused");
        return {
          ...base,
          would_delete: w.entries.map((e) => e.path),
          dry_run: true,
          changed: true,
          check: args.check,
        };
      }
      // the raw input is re-canonicalized: the same text the registry checked
      const n = await removeTree(ctx, fs, path, path, follow_symlinks);
      return {
        ...base,
        success: true,
        bytes_written: 0,
        message: `recursively deleted ${n} entries${fs.platform === "windows" ? " (SFTP)" : ""}`,
        changed: true,
        check: false,
      };
    });
  },
});
