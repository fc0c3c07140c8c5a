import { z } from "zod";
import { posix as pposix } from "node:path";
import { ToolError } from "../../errors.ts";
import { childPath, type StagedCopy } from "../../ssh/fs.ts";
import { defineTool, HostArg } from "../define.ts";
import { remotePath, withSftpErrors } from "../sftp-read/_common.ts";
import { CheckArg, writeResultShape } from "./_common.ts";

/**
 * Copies a file or tree on the host with `cp -a`, never into anything that
 * exists (PATH-40): the copy is made in a fresh directory beside the target,
 * checked again where it will land (PATH-43), then renamed into place.
 */
export default defineTool({
  name: "ssh_cp",
  group: "file-ops",
  tier: "low-access",
  destructive: true,
  hints: { idempotentHint: true },
  posixOnly: true,
  description: "Copy a file or directory on one host (cp -a).",
  input: z.strictObject({
    host: HostArg,
    src: remotePath("File or directory to copy"),
    dst: remotePath("Destination (an existing directory receives src inside it)"),
    check: CheckArg,
  }),
  output: z.strictObject(writeResultShape),
  // PATH-33/PATH-36/PATH-42: the whole tree is read, and lands at dst
  paths: [
    { field: "src", mustExist: true, subtree: true },
    { field: "dst", mustExist: false, audit: "dst_path_hash", subtree: { receives: "src" } },
  ],
  async handler({ src, dst, check }, ctx) {
    const policy = ctx.host.policy;
    return await withSftpErrors("WriteError", async () => {
      const fs = await ctx.fs();
      const sst = await fs.lstatChecked(src, ctx.signal);
      const dstSt = await fs.lstatCheckedOrNull(dst, ctx.signal);
      // cp into an existing directory creates dst/<basename>: that path must be allowed too
      const target = dstSt?.kind === "dir"
        ? await ctx.checkPath(ctx.host, childPath(dst, pposix.basename(src)), {
          mustExist: false,
          audit: "dst_path_hash",
          subtree: { receives: src },
        })
        : dst;
      const existing = target === dst ? dstSt : await fs.lstatCheckedOrNull(target, ctx.signal);
      if (existing && (existing.kind !== "file" || sst.kind !== "file")) {
        throw new ToolError(
          "WriteError",
          `${target} already exists (${existing.kind}); ssh_cp replaces only a regular file with a file, ` +
            `never merges into a directory and never writes through a link. Delete it first or copy to a new name.`,
        );
      }
      const bytes = sst.kind === "file" ? sst.size : 0;
      const base = { host: policy.hostname, path: target, success: true, output_warnings: [] };
      if (check) {
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
      await fs.recheck(src, "resolved", ctx.signal);
      let staged: StagedCopy | null = null;
      try {
        staged = await fs.stageCopy(src, target, ctx.signal);
        // PATH-43: what was copied is checked again where it will land
        // (the stage is our own temp: only its place matters, not its name's redact status)
        const copy = await ctx.checkPath(ctx.host, staged.path, {
          mustExist: true,
          audit: null,
          redactGate: false,
        });
        await ctx.checkPath(ctx.host, target, {
          mustExist: false,
          audit: null,
          subtree: { receives: copy, fresh: true },
        });
        await staged.commit(existing !== null, ctx.signal);
        staged = null;
      } finally {
        if (staged) {
          const err = await staged.discard();
          if (err) {
            ctx.warn(
              `the staged copy ${staged.path} could not be removed (${err}); delete it by hand`,
            );
          }
        }
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
