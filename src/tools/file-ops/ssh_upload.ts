import { z } from "zod";
import { defineTool, HostArg } from "../define.ts";
import { remotePath } from "../sftp-read/_common.ts";
import { writeResultShape } from "./_common.ts";
import { payloadShape, preparePayload, writeFile } from "./_write.ts";

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
  prepare: preparePayload,
  paths: [{ field: "path", mustExist: false }],
  async handler(args, ctx, payload) {
    const { backup_path: _b, ...r } = await writeFile("ssh_upload", args, ctx, payload);
    return r;
  },
});
