import { z } from "zod";
import { ToolError } from "../../errors.ts";
import { type RemoteFs, SftpError, type TempPath } from "../../ssh/fs.ts";
import { defineTool, HostArg } from "../define.ts";
import { OutputWarnings } from "../_schemas.ts";
import { progressEvery, remotePath, withSftpErrors } from "../sftp-read/_common.ts";
import { CheckArg } from "./_common.ts";

/** Streams a file from one host to another through the MCP server. */
export default defineTool({
  name: "ssh_transfer",
  group: "file-ops",
  tier: "low-access",
  hints: { idempotentHint: true },
  destructive: true,
  description: "Copy a file from one host to another via the server.",
  input: z.strictObject({
    src_host: HostArg.describe("Source host"),
    src_path: remotePath("File to copy on src_host"),
    dst_host: HostArg.describe("Destination host"),
    dst_path: remotePath("Destination file on dst_host"),
    overwrite: z.boolean().default(false).describe(
      "Replace existing",
    ),
    check: CheckArg,
  }).refine((v) => v.src_host !== v.dst_host, {
    message: "src_host and dst_host are the same; use ssh_cp to copy within one host",
    path: ["dst_host"],
  }),
  output: z.strictObject({
    src_host: z.string(),
    src_path: z.string(),
    dst_host: z.string(),
    dst_path: z.string(),
    size: z.number().int(),
    duration_ms: z.number().int(),
    throughput_mb_s: z.number(),
    changed: z.boolean(),
    check: z.boolean(),
    output_warnings: OutputWarnings,
  }),
  hostFields: ["src_host", "dst_host"],
  prepare(_args, { hosts }) {
    const src = hosts.get("src_host")!.policy;
    const dst = hosts.get("dst_host")!.policy;
    // PATH-32 / AC-253: two names of one endpoint are refused before any I/O
    if (
      src.hostname.toLowerCase().replace(/\.$/, "") ===
        dst.hostname.toLowerCase().replace(/\.$/, "") &&
      src.port === dst.port && src.user === dst.user
    ) {
      throw new ToolError(
        "ValueError",
        `src_host ${src.alias} and dst_host ${dst.alias} are the same endpoint (${src.user}@${src.hostname}:${src.port}); use ssh_cp to copy within one host.`,
      );
    }
  },
  // PATH-33/PATH-36: what is read on src_host lands at dst_path on dst_host
  paths: [
    { field: "src_path", hostField: "src_host", mustExist: true, subtree: true },
    {
      field: "dst_path",
      hostField: "dst_host",
      mustExist: false,
      audit: "dst_path_hash",
      subtree: { receives: "src_path" },
    },
  ],
  async handler({ src_path: sp, dst_path: dp, overwrite, check }, ctx) {
    const s = ctx.settings;
    const srcHost = ctx.hosts.get("src_host")!;
    const dstHost = ctx.hosts.get("dst_host")!;
    const src = srcHost.policy;
    const dst = dstHost.policy;
    return await withSftpErrors("WriteError", async () => {
      const sfs = await ctx.fs(srcHost);
      const dfs = await ctx.fs(dstHost);
      const st = await sfs.lstatChecked(sp, ctx.signal);
      if (st.kind !== "file") {
        throw new ToolError(
          "ValueError",
          `${sp} on ${src.alias} is not a regular file (${st.kind}).`,
        );
      }
      if (st.size > s.SSH_UPLOAD_MAX_FILE_BYTES) {
        throw new ToolError(
          "ValueError",
          `${sp} is ${st.size} bytes, over SSH_UPLOAD_MAX_FILE_BYTES (${s.SSH_UPLOAD_MAX_FILE_BYTES}); nothing was copied.`,
        );
      }
      const existing = await dfs.lstatCheckedOrNull(dp, ctx.signal);
      if (existing && (existing.kind !== "file" || !overwrite)) {
        throw new ToolError(
          "ValueError",
          existing.kind !== "file"
            ? `${dp} on ${dst.alias} exists and is a ${existing.kind}.`
            : `${dp} exists on ${dst.alias}; pass overwrite=true to replace it.`,
        );
      }
      const mode = existing
        ? existing.perm
        : st.perm & (s.ALLOW_SPECIAL_MODE_BITS ? 0o7777 : 0o777);
      const base = {
        src_host: src.hostname,
        src_path: sp,
        dst_host: dst.hostname,
        dst_path: dp,
        output_warnings: [] as string[],
      };
      if (check) {
        return {
          ...base,
          size: st.size,
          duration_ms: 0,
          throughput_mb_s: 0,
          changed: true,
          check: true,
          output_warnings: [
            `would ${existing ? "replace" : "create"} ${dp} on ${dst.alias} with ${st.size} bytes`,
          ],
        };
      }
      const t0 = performance.now();
      const r = await dfs.atomicWrite(dp, sfs.chunks(sp, ctx.signal), {
        mode,
        owner: existing ? { uid: existing.uid, gid: existing.gid } : null,
        signal: ctx.signal,
        reconnect: () => ctx.freshFs(dstHost),
        onChunk: progressEvery(ctx, "transferred", st.size),
        beforeRename: (f) => f.recheck(dp, "resolved", ctx.signal),
        // without overwrite, SFTP RENAME never clobbers a file that appeared meanwhile
        ...(existing ? {} : {
          commit: async (f: RemoteFs, tmp: TempPath) => {
            try {
              await f.renameNoReplace(tmp, dp);
            } catch (e) {
              if (e instanceof SftpError && e.status !== null && (await f.lstatOrNull(dp))) {
                throw new ToolError(
                  "ValueError",
                  `${dp} appeared on ${dst.alias} during the transfer; nothing was replaced.`,
                );
              }
              throw e;
            }
          },
        }),
      });
      const ms = performance.now() - t0;
      return {
        ...base,
        size: r.bytes,
        duration_ms: Math.round(ms),
        throughput_mb_s: Math.round((r.bytes / 1048576 / Math.max(ms / 1000, 0.001)) * 1000) /
          1000,
        changed: true,
        check: false,
        output_warnings: r.warnings,
      };
    });
  },
});
