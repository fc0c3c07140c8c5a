import { z } from "zod";
import { posix as pposix } from "node:path";
import { ToolError } from "../../errors.ts";
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
  description: "Move or rename a remote file or directory.",
  input: z.strictObject({
    host: HostArg,
    src: remotePath("Path to move"),
    dst: remotePath("New path"),
    follow_symlinks: z.boolean().default(true).describe(
      "Follow symlinks",
    ),
    check: CheckArg,
  }),
  output: z.strictObject(writeResultShape),
  // PATH-33/PATH-36/PATH-42: the whole tree moves, and lands at dst
  paths: [
    {
      field: "src",
      mustExist: true,
      followField: "follow_symlinks",
      notRoot: "move",
      subtree: true,
    },
    { field: "dst", mustExist: false, audit: "dst_path_hash", subtree: { receives: "src" } },
  ],
  async handler({ src, dst, follow_symlinks, check }, ctx) {
    const s = ctx.settings;
    const policy = ctx.host.policy;
    assertNotRoot(src, policy, s, "move");
    if (src === dst) throw new ToolError("ValueError", `src and dst are the same path (${src}).`);
    return await withSftpErrors("WriteError", async () => {
      const fs = await ctx.fs();
      const sst = await fs.lstatChecked(src, ctx.signal);
      const dstSt = await fs.lstatCheckedOrNull(dst, ctx.signal);
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
      const how = await fs.move(src, dst, { toIsDir: dstSt?.kind === "dir", signal: ctx.signal });
      // PATH-43: re-check what actually landed (the tree may have changed since the walk); undo
      try {
        await ctx.checkPath(ctx.host, dst, {
          mustExist: true,
          follow: false,
          audit: null,
          subtree: { receives: dst, fresh: true },
        });
      } catch (e) {
        const undo = await fs.move(dst, src, { toIsDir: false }).then(
          () => "it was moved back",
          (u) => `moving it back failed too (${(u as Error).message}); move ${dst} back by hand`,
        );
        if (e instanceof ToolError) {
          throw new ToolError(e.code, `${e.message} The tree changed during the move; ${undo}.`, {
            ...e.attributes,
          });
        }
        throw e;
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
