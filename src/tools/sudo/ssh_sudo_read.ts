import { z } from "zod";
import { Buffer } from "node:buffer";
import { scan } from "../../policy/sanitize.ts";
import { OutputWarnings } from "../_schemas.ts";
import { defineTool, HostArg } from "../define.ts";
import { PipelineTimeoutArg, pipelineTimeoutMs, readElevated, SudoPathArg } from "./_file.ts";

/** Raw bytes of a file read as root (TOOLS.md §9, SUDO-8, SUDO-11). */
export default defineTool({
  name: "ssh_sudo_read",
  group: "sudo",
  tier: "sudo",
  hints: { readOnlyHint: true, destructiveHint: false, idempotentHint: true },
  description: "Read a file as root (base64).",
  input: z.strictObject({ host: HostArg, path: SudoPathArg, timeout: PipelineTimeoutArg }),
  output: z.strictObject({
    host: z.string(),
    path: z.string().describe("Canonical path"),
    size: z.number().int(),
    content_base64: z.string(),
    truncated: z.boolean(),
    output_warnings: OutputWarnings,
  }),
  posixOnly: true,
  paths: [{ field: "path", mustExist: true, canonicalize: "elevated" }],
  async handler({ path: canonical, timeout }, ctx) {
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
    return {
      host: ctx.host.policy.hostname,
      path: canonical,
      size: bytes.length,
      content_base64: Buffer.from(bytes).toString("base64"),
      truncated: false,
      output_warnings: scan(new TextDecoder().decode(bytes)),
    };
  },
});
