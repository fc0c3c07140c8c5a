import { z } from "zod";
import { posix as pposix } from "node:path";
import { ToolError } from "../../errors.ts";
import { sh } from "../../checked.ts";
import { childPath } from "../../ssh/fs.ts";
import { defineTool, HostArg } from "../define.ts";
import { remotePath, withSftpErrors } from "../sftp-read/_common.ts";
import { CheckArg, writeResultShape } from "./_common.ts";

/** Copies a file or tree on the host with `cp -a`. */
export default defineTool({
  name: "ssh_cp",
  group: "file-ops",
  tier: "low-access",
  posixOnly: true,
  description:
    "Copy a remote file or directory tree on the same host with cp -a (keeps modes, owners where allowed, timestamps). Both paths are policy-checked.",
  input: z.strictObject({
    host: HostArg,
    src: remotePath("File or directory to copy"),
    dst: remotePath("Destination (an existing directory receives src inside it)"),
    check: CheckArg,
  }),
  output: z.strictObject(writeResultShape),
  paths: [
    { field: "src", mustExist: true },
    { field: "dst", mustExist: false, audit: "dst_path_hash" },
  ],
  async handler({ src, dst, check }, ctx) {
    const policy = ctx.host.policy;
    return await withSftpErrors("WriteError", async () => {
      const fs = await ctx.fs();
      const sst = await fs.stat(src, ctx.signal);
      const dstSt = await fs.lstatOrNull(dst, ctx.signal);
      // cp into an existing directory creates dst/<basename>: that path must be allowed too
      const target = dstSt?.kind === "dir"
        ? await ctx.checkPath(ctx.host, childPath(dst, pposix.basename(src)), {
          mustExist: false,
          audit: "dst_path_hash",
        })
        : dst;
      const bytes = sst.kind === "file" ? sst.size : 0;
      const base = { host: policy.hostname, path: target, success: true, output_warnings: [] };
      if (check) {
        const existing = target === dst ? dstSt : await fs.lstatOrNull(target, ctx.signal);
        return {
          ...base,
          bytes_written: 0,
          message: `would copy ${sst.kind} ${src} to ${target}${
            existing ? ` (replacing the existing ${existing.kind})` : ""
          }`,
          changed: true,
          check: true,
        };
      }
      await fs.recheck(dst, "resolved", ctx.signal);
      const r = await ctx.exec(sh`cp -a -- ${src} ${dst}`);
      if (r.exitCode !== 0) {
        throw new ToolError(
          "WriteError",
          `cp -a ${src} ${dst} failed (exit ${r.exitCode}): ${r.stderr.trim().slice(0, 1000)}`,
        );
      }
      return {
        ...base,
        bytes_written: bytes,
        message: `copied from ${src}`,
        changed: true,
        check: false,
      };
    });
  },
});
