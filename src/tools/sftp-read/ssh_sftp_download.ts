import { z } from "zod";
import { Buffer } from "node:buffer";
import { posix } from "node:path";
import { ToolError } from "../../errors.ts";
import {
  abortLocalWrite,
  beginLocalWrite,
  commitLocalWrite,
  type LocalWrite,
  resolveLocalPath,
} from "../../policy/local_paths.ts";
import { scan } from "../../policy/sanitize.ts";
import { decodeUtf8 } from "../../ssh/exec.ts";
import { defineTool, HostArg } from "../define.ts";
import { OutputWarnings } from "../_schemas.ts";
import { localStep, progressEvery, remotePath, withSftpErrors } from "./_common.ts";

/** Reads a remote file: inline base64, or streamed to a file on the MCP host. */
export default defineTool({
  name: "ssh_sftp_download",
  group: "sftp-read",
  tier: "read",
  description: "Download a remote file as base64, or save it to a local path.",
  input: z.strictObject({
    host: HostArg,
    path: remotePath("Remote file to read"),
    local_path: z.string().nullish().describe(
      "Save to this local path",
    ),
  }),
  output: z.strictObject({
    host: z.string(),
    path: z.string(),
    size: z.number().int(),
    content_base64: z.string(),
    truncated: z.boolean(),
    local_path_written: z.string().nullable().optional(),
    output_warnings: OutputWarnings,
  }),
  // LOCAL-*: the local destination is validated before any remote I/O
  async prepare({ local_path }, { settings, env }) {
    if (local_path !== null && local_path !== undefined) {
      await localStep(() => resolveLocalPath(local_path, "write", settings, env));
    }
  },
  paths: [{ field: "path", mustExist: true }],
  async handler({ path, local_path }, ctx) {
    const s = ctx.settings;
    const env = ctx.env;
    const policy = ctx.host.policy;
    return await withSftpErrors("SftpDownloadError", async () => {
      const fs = await ctx.fs();
      const st = await fs.lstatChecked(path, ctx.signal);
      if (st.kind === "dir") {
        throw new ToolError(
          "ValueError",
          `${path} is a directory; list it with ssh_sftp_list or find files with ssh_find.`,
        );
      }
      if (local_path === null || local_path === undefined) {
        const cap = s.SSH_UPLOAD_MAX_FILE_BYTES;
        // issue 12 item 3: over the inline cap, the file can still come as a
        // resource link when the client follows them and it fits the store
        const sink = ctx.largeOutputs();
        if (st.size > cap && sink && st.size <= sink.maxBytes) {
          const bytes = await fs.readFile(path, sink.maxBytes, ctx.signal);
          const link = sink.offer({ name: posix.basename(path) || "download", data: bytes });
          if (link) {
            return {
              host: policy.hostname,
              path,
              size: bytes.length,
              content_base64: "",
              truncated: true,
              local_path_written: null,
              output_warnings: [
                `file is ${bytes.length} bytes, over SSH_UPLOAD_MAX_FILE_BYTES (${cap}); not inline. Full content at ${link.uri}: read it with resources/read (blob), paged with ?offset=N&length=M`,
                ...scan(decodeUtf8(bytes)),
              ],
            };
          }
        }
        if (st.size > cap) {
          return {
            host: policy.hostname,
            path,
            size: st.size,
            content_base64: "",
            truncated: true,
            local_path_written: null,
            output_warnings: [
              `file is ${st.size} bytes, over SSH_UPLOAD_MAX_FILE_BYTES (${cap}); nothing returned. Use local_path, or ssh_file_hash / ssh_find to inspect it.`,
            ],
          };
        }
        const bytes = await fs.readFile(path, cap, ctx.signal);
        return {
          host: policy.hostname,
          path,
          size: bytes.length,
          content_base64: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
            .toString("base64"),
          truncated: false,
          local_path_written: null,
          output_warnings: scan(decodeUtf8(bytes)),
        };
      }
      const cap = s.SSH_LOCAL_TRANSFER_MAX_BYTES;
      if (st.size > cap) {
        throw new ToolError(
          "SftpDownloadError",
          `${path} is ${st.size} bytes, over SSH_LOCAL_TRANSFER_MAX_BYTES (${cap}); nothing was written locally.`,
        );
      }
      const w: LocalWrite = await localStep(() => beginLocalWrite(local_path, s, env));
      let size: number;
      try {
        size = await fs.downloadTo(
          path,
          w.file,
          ctx.signal,
          cap,
          progressEvery(ctx, "downloaded", st.size),
        );
        await commitLocalWrite(w);
      } catch (e) {
        await abortLocalWrite(w).catch(() => {});
        throw e;
      }
      return {
        host: policy.hostname,
        path,
        size,
        content_base64: "",
        truncated: false,
        local_path_written: w.finalPath,
        output_warnings: [],
      };
    });
  },
});
