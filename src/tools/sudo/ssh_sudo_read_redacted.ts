import { z } from "zod";
import { RedactedReadResult } from "../_schemas.ts";
import { detectFormat, redact, REDACT_FORMATS, redactionOptions } from "../../policy/redact.ts";

import { defineTool, HostArg } from "../define.ts";
import { PipelineTimeoutArg, pipelineTimeoutMs, readElevated, SudoPathArg } from "./_file.ts";

/** A file read as root with secrets redacted on the server (TOOLS.md §9, RED-10..17). */
export default defineTool({
  name: "ssh_sudo_read_redacted",
  group: "sudo",
  tier: "sudo",
  hints: { readOnlyHint: true, destructiveHint: false, idempotentHint: true },
  description: "Read a root-only config file with secret values masked.",
  input: z.strictObject({
    host: HostArg,
    path: SudoPathArg,
    format: z.enum(REDACT_FORMATS).nullish().describe(
      "Format hint (default: from file name)",
    ),
    timeout: PipelineTimeoutArg,
  }),
  output: RedactedReadResult,
  posixOnly: true,
  // RED-5 / PATH-10: the redacted reader skips only the redact gate
  paths: [{ field: "path", mustExist: true, redactGate: false, canonicalize: "elevated" }],
  async handler({ path: canonical, format, timeout }, ctx) {
    const el = await ctx.elevation();
    const cap = ctx.settings.SSH_UPLOAD_MAX_FILE_BYTES;
    const bytes = await readElevated(
      el,
      ctx.rawPath("path"),
      canonical,
      cap,
      pipelineTimeoutMs(timeout),
      "SSH_UPLOAD_MAX_FILE_BYTES",
    );
    const fmt = format ?? detectFormat(canonical);
    const r = redact(bytes, fmt, redactionOptions(ctx.host.policy, ctx.settings), {
      path: canonical,
    });
    return {
      host: ctx.host.policy.hostname,
      path: canonical,
      size_original: bytes.length,
      content: r.content,
      format_detected: fmt,
      redactions: r.redactions,
      truncated: false,
      output_warnings: r.warnings,
    };
  },
});
