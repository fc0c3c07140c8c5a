import { z } from "zod";
import { posix as pposix } from "node:path";
import { ToolError } from "../../errors.ts";
import { linkTextProblem, normalizeRemote } from "../../policy/paths.ts";
import { defineTool, HostArg } from "../define.ts";
import type { CheckedPath } from "../../checked.ts";
import { remotePath, withSftpErrors } from "../sftp-read/_common.ts";
import { CheckArg, writeResultShape } from "./_common.ts";

/** Creates a symbolic or hard link. */
export default defineTool({
  name: "ssh_link",
  group: "file-ops",
  tier: "low-access",
  hints: { idempotentHint: true },
  posixOnly: true,
  description: "Create a symbolic or hard link; never overwrites.",
  input: z.strictObject({
    host: HostArg,
    src: z.string().max(16384).describe(
      "Link target",
    ),
    dst: remotePath("Path of the new link (must not exist)"),
    symbolic: z.boolean().default(false).describe("Symlink"),
    follow_symlinks: z.boolean().default(true).describe(
      "Hard link: follow a symlink src",
    ),
    check: CheckArg,
  }).superRefine((v, c) => {
    if (
      !v.symbolic && !v.follow_symlinks && (v.src.endsWith("/") || pposix.basename(v.src) === "")
    ) {
      c.addIssue({
        code: "custom",
        path: ["src"],
        message: "src must name a file (its last component is empty)",
      });
    }
  }),
  output: z.strictObject(writeResultShape),
  paths: [{ field: "dst", mustExist: false, audit: "dst_path_hash" }],
  async handler({ src, dst, symbolic, follow_symlinks, check }, ctx) {
    const policy = ctx.host.policy;
    let target: CheckedPath;
    let message: string;
    let physical: string | null = null;
    if (symbolic) {
      // PATH-41: ".." after a name means one thing lexically and another through links
      const bad = linkTextProblem(src);
      if (bad !== null) {
        throw new ToolError(
          "PathNotAllowed",
          `The link target ${src} has "${bad}": where it leads depends on whether that name is (or becomes) a symbolic link, so it cannot be checked. ` +
            `Write the target without ".." after a name (e.g. ${
              normalizeRemote(
                src.startsWith("/") ? src : pposix.join(pposix.dirname(dst), src),
                "posix",
              )
            }).`,
          { stage: "link_target" },
        );
      }
      // PATH-22: relative targets are joined to dst's canonical parent, then lexically normalized
      const joined = src.startsWith("/") ? src : `${pposix.dirname(dst)}/${src}`;
      target = await ctx.checkPath(ctx.host, normalizeRemote(joined, "posix"), {
        mustExist: false,
        lexical: true,
      });
      // PATH-41: the same target as the host resolves it through the links that exist now,
      // and PATH-33: a link to a directory exposes its whole subtree
      await ctx.checkPath(ctx.host, joined, { mustExist: false, audit: null, subtree: true });
      message = `symbolic link -> ${src}`;
    } else if (follow_symlinks) {
      target = await ctx.checkPath(ctx.host, src, { mustExist: true });
      message = `hard link (followed symlinks) -> ${target}`;
    } else {
      target = await ctx.checkPath(ctx.host, src, { mustExist: false, follow: false });
      physical = target;
      message = `hard link (physical, unfollowed symlinks) -> ${target}`;
    }
    return await withSftpErrors("WriteError", async () => {
      const fs = await ctx.fs();
      if (physical !== null && !(await fs.lstatCheckedOrNull(target, ctx.signal))) {
        throw new ToolError("ValueError", `src does not exist: ${target}.`);
      }
      const existing = await fs.lstatCheckedOrNull(dst, ctx.signal);
      if (existing) {
        throw new ToolError(
          "WriteError",
          `${dst} already exists (${existing.kind}); ssh_link never overwrites. Delete it first or pick another name.`,
        );
      }
      const base = {
        host: policy.hostname,
        path: dst,
        success: true,
        bytes_written: 0,
        output_warnings: [],
      };
      if (check) {
        return { ...base, message: `would create ${message}`, changed: true, check: true };
      }
      await fs.recheck(dst, "resolved", ctx.signal);
      // both run from the pinned directories on hardened hosts (PATH-50); a hard link of a
      // symbolic link links the link itself (link(2) and ln -P do not follow it)
      if (symbolic) await fs.symlink(src, dst, ctx.signal);
      else await fs.hardlink(target, dst, ctx.signal);
      return { ...base, message, changed: true, check: false };
    });
  },
});
