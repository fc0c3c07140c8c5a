import { z } from "zod";
import { posix as pposix } from "node:path";
import { ToolError } from "../../errors.ts";
import { sh } from "../../checked.ts";
import { SftpError } from "../../ssh/fs.ts";
import { defineTool, HostArg } from "../define.ts";
import { remotePath, withSftpErrors } from "../sftp-read/_common.ts";
import { CheckArg, writeResultShape } from "./_common.ts";
import { assertNotRoot } from "./_tree.ts";

/** Moves or renames a remote path. */
export default defineTool({
  name: "ssh_mv",
  group: "file-ops",
  tier: "low-access",
  destructive: true,
  description:
    "Move or rename a remote file or directory (SFTP posix-rename, replacing an existing destination file; mv fallback across filesystems on POSIX).",
  input: z.strictObject({
    host: HostArg,
    src: remotePath("Path to move"),
    dst: remotePath("New path"),
    follow_symlinks: z.boolean().default(true).describe(
      "true: a symlink src is resolved and its target moved; false: the link itself is moved",
    ),
    check: CheckArg,
  }),
  output: z.strictObject(writeResultShape),
  paths: [
    { field: "src", mustExist: true, followField: "follow_symlinks" },
    { field: "dst", mustExist: false, audit: "dst_path_hash" },
  ],
  async handler({ src, dst, follow_symlinks, check }, ctx) {
    const s = ctx.settings;
    const policy = ctx.host.policy;
    assertNotRoot(src, policy, s, "move");
    if (src === dst) throw new ToolError("ValueError", `src and dst are the same path (${src}).`);
    return await withSftpErrors("WriteError", async () => {
      const fs = await ctx.fs();
      const sst = await fs.lstat(src, ctx.signal);
      const dstSt = await fs.lstatOrNull(dst, ctx.signal);
      if (dstSt?.kind === "dir" && sst.kind !== "dir") {
        throw new ToolError(
          "WriteError",
          `${dst} is a directory; pass the full new path (e.g. ${dst}/${pposix.basename(src)}).`,
        );
      }
      const bytes = sst.kind === "file" ? sst.size : 0;
      const base = { host: policy.hostname, path: dst, success: true, output_warnings: [] };
      if (check) {
        return {
          ...base,
          bytes_written: 0,
          message: `would move ${sst.kind} ${src} to ${dst}${
            dstSt ? ` (replacing the existing ${dstSt.kind})` : ""
          }`,
          changed: true,
          check: true,
        };
      }
      await fs.recheck(src, follow_symlinks ? "resolved" : "leaf", ctx.signal);
      await fs.recheck(dst, "resolved", ctx.signal);
      let how = "sftp-rename";
      try {
        await fs.rename(src, dst, ctx.signal);
      } catch (e) {
        // AC-014: shell fallback only for failure / unsupported / link loop, only on POSIX,
        // and never into an existing directory (mv would nest src inside it)
        const fallback = e instanceof SftpError &&
          e.is("FAILURE", "OP_UNSUPPORTED", "LINK_LOOP") &&
          policy.platform === "posix" && dstSt?.kind !== "dir";
        if (!fallback) throw e;
        const r = await ctx.exec(sh`mv -- ${src} ${dst}`);
        if (r.exitCode !== 0) {
          throw new ToolError(
            "WriteError",
            `mv ${src} ${dst} failed (exit ${r.exitCode}) after SFTP rename failed (${e.statusName}): ${
              r.stderr.trim().slice(0, 1000)
            }`,
          );
        }
        how = "mv-fallback";
      }
      return {
        ...base,
        bytes_written: bytes,
        message: `moved from ${src} (${how})`,
        changed: true,
        check: false,
      };
    });
  },
});
