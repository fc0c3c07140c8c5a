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
  hints: { idempotentHint: true },
  destructive: true,
  description: "Write a remote file atomically from text, base64 or a local file.",
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
