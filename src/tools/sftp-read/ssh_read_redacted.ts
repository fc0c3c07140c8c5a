import { z } from "zod";
import { RedactedReadResult } from "../_schemas.ts";
import { detectFormat, redact, REDACT_FORMATS, redactionOptions } from "../../policy/redact.ts";
import { mergeWarnings } from "../../policy/sanitize.ts";
import { defineTool, HostArg } from "../define.ts";

import { remotePath, withSftpErrors } from "./_common.ts";

/** Reads a remote file with secrets replaced by stable markers. */
export default defineTool({
  name: "ssh_read_redacted",
  group: "sftp-read",
  tier: "read",
  description: "Read a config file with secret values masked; use for .env and credential files.",
  input: z.strictObject({
    host: HostArg,
    path: remotePath("File to read"),
    format: z.enum(REDACT_FORMATS).nullish().describe(
      "Format hint (default: from file name)",
    ),
  }),
  output: RedactedReadResult,
  paths: [{ field: "path", mustExist: true, redactGate: false }],
  async handler({ path, format }, ctx) {
    const s = ctx.settings;
    const policy = ctx.host.policy;
    const fmt = format ?? detectFormat(path);
    return await withSftpErrors("ValueError", async () => {
      const fs = await ctx.fs();
      const st = await fs.lstatChecked(path, ctx.signal);
      const cap = s.SSH_UPLOAD_MAX_FILE_BYTES;
      if (st.size > cap) {
        return {
          host: policy.hostname,
          path,
          size_original: st.size,
          content: "",
          format_detected: fmt,
          redactions: [],
          truncated: true,
          output_warnings: [
            `file is ${st.size} bytes, over SSH_UPLOAD_MAX_FILE_BYTES (${cap}); nothing returned`,
          ],
        };
      }
      const bytes = await fs.readFile(path, cap, ctx.signal);
      // bytes, not text: the redactor decodes UTF-16/UTF-32/Latin-1 itself (RED-30) and the
      // file name selects the by-name rules (RED-39)
      const r = redact(bytes, fmt, redactionOptions(policy, s), { path });
      return {
        host: policy.hostname,
        path,
        size_original: bytes.length,
        content: r.content,
        format_detected: fmt,
        redactions: r.redactions,
        truncated: false,
        output_warnings: mergeWarnings(r.warnings),
      };
    });
  },
});
