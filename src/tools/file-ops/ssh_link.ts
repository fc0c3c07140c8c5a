import { z } from "zod";
import { posix as pposix } from "node:path";
import { ToolError } from "../../errors.ts";
import { normalizeRemote } from "../../policy/paths.ts";
import { sh } from "../../checked.ts";
import { defineTool, HostArg } from "../define.ts";
import type { CheckedPath } from "../../checked.ts";
import { remotePath, withSftpErrors } from "../sftp-read/_common.ts";
import { CheckArg, writeResultShape } from "./_common.ts";

/** Creates a symbolic or hard link. */
export default defineTool({
  name: "ssh_link",
  group: "file-ops",
  tier: "low-access",
  posixOnly: true,
  description:
    "Create a symbolic link (target text checked against the path policy, dangling allowed) or a hard link on a POSIX host; never overwrites an existing dst.",
  input: z.strictObject({
    host: HostArg,
    src: z.string().max(16384).describe(
      "symbolic: the link target text (absolute, or relative to dst's directory; stored verbatim); hard: the existing file to link",
    ),
    dst: remotePath("Path of the new link (must not exist)"),
    symbolic: z.boolean().default(false).describe("true: symbolic link; false: hard link"),
    follow_symlinks: z.boolean().default(true).describe(
      "Hard links only: true links the file a symlink src points to; false links the symlink itself (ln -P)",
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
    let shell: string | null = null;
    if (symbolic) {
      // PATH-22: relative targets are joined to dst's canonical parent, then lexically normalized
      const joined = src.startsWith("/") ? src : pposix.join(pposix.dirname(dst), src);
      target = await ctx.checkPath(ctx.host, normalizeRemote(joined, "posix"), {
        mustExist: false,
        lexical: true,
      });
      message = `symbolic link -> ${src}`;
    } else if (follow_symlinks) {
      target = await ctx.checkPath(ctx.host, src, { mustExist: true });
      message = `hard link (followed symlinks) -> ${target}`;
    } else {
      target = await ctx.checkPath(ctx.host, src, { mustExist: false, follow: false });
      shell = target;
      message = `hard link (physical, unfollowed symlinks) -> ${target}`;
    }
    return await withSftpErrors("WriteError", async () => {
      const fs = await ctx.fs();
      if (shell !== null && !(await fs.lstatOrNull(target, ctx.signal))) {
        throw new ToolError("ValueError", `src does not exist: ${target}.`);
      }
      const existing = await fs.lstatOrNull(dst, ctx.signal);
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
      if (symbolic) {
        await fs.symlink(src, dst, ctx.signal);
      } else if (shell === null) {
        await fs.hardlink(target, dst, ctx.signal);
      } else {
        const r = await ctx.exec(sh`ln -P -- ${target} ${dst}`);
        if (r.exitCode !== 0) {
          throw new ToolError(
            "WriteError",
            `ln -P ${target} ${dst} failed (exit ${r.exitCode}): ${r.stderr.trim().slice(0, 1000)}`,
          );
        }
      }
      return { ...base, message, changed: true, check: false };
    });
  },
});
