import { z } from "zod";
import { defineTool, HostArg } from "../define.ts";
import { remotePath } from "../sftp-read/_common.ts";
import { writeResultShape } from "./_common.ts";
import { payloadShape, preparePayload, writeFile } from "./_write.ts";

/** Replaces a remote file atomically, keeping a timestamped backup. */
export default defineTool({
  name: "ssh_deploy",
  group: "file-ops",
  tier: "low-access",
  destructive: true,
  description: "Replace a remote file atomically, keeping a .bak copy.",
  input: z.strictObject({
    host: HostArg,
    path: remotePath("File to create or replace"),
    ...payloadShape,
    backup: z.boolean().default(true).describe(
      "Keep a timestamped .bak copy",
    ),
  }),
  output: z.strictObject({
    ...writeResultShape,
    backup_path: z.string().nullable().optional(),
  }),
  prepare: preparePayload,
  paths: [{ field: "path", mustExist: false }],
  async handler(args, ctx, payload) {
    return await writeFile("ssh_deploy", args, ctx, payload);
  },
});
