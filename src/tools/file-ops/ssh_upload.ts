import { z } from "zod";
import { defineTool, HostArg } from "../define.ts";
import { remotePath } from "../sftp/_common.ts";
import { CheckArg, ExpectedSha256, modeArg, writeResultShape } from "./_common.ts";
import { writeFile } from "./_write.ts";

/** Payload fields shared with ssh_deploy. */
export const payloadShape = {
  content_text: z.string().nullish().describe(
    'File content as UTF-8 text ("" writes an empty file)',
  ),
  content_base64: z.string().nullish().describe("File content as standard base64 (binary files)"),
  local_path: z.string().nullish().describe(
    "Stream this file from the MCP server instead (must be inside SSH_LOCAL_TRANSFER_ROOTS)",
  ),
  mode: modeArg(
    "Permission bits, e.g. 420 (= 0o644). Default: keep the existing file's mode, 0o644 for a new file. setuid/setgid/sticky refused unless ALLOW_SPECIAL_MODE_BITS",
  ),
  expected_sha256: ExpectedSha256,
  check: CheckArg,
};

/** Writes a remote file atomically. */
export default defineTool({
  name: "ssh_upload",
  group: "file-ops",
  tier: "low-access",
  destructive: true,
  description:
    "Write a remote file atomically (temp file + rename) from content_text, content_base64 or a local_path stream; keeps an existing file's mode and owner. check=true previews a diff.",
  input: z.strictObject({
    host: HostArg,
    path: remotePath("File to create or replace"),
    ...payloadShape,
  }),
  output: z.strictObject(writeResultShape),
  async handler(args, ctx) {
    const { backup_path: _b, ...r } = await writeFile("ssh_upload", args, ctx);
    return r;
  },
});
