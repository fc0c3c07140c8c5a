import { z } from "zod";
import { defineTool, HostArg } from "../define.ts";
import { remotePath } from "../sftp-read/_common.ts";
import { CheckArg, ExpectedSha256, writeResultShape } from "./_common.ts";
import { applyStrict, parseOneFilePatch } from "./_patch.ts";
import { rewriteText } from "./_rewrite.ts";

/** Applies a unified diff to a remote text file. */
export default defineTool({
  name: "ssh_patch",
  group: "file-ops",
  tier: "low-access",
  destructive: true,
  description: "Apply a one-file unified diff to a remote text file atomically.",
  input: z.strictObject({
    host: HostArg,
    path: remotePath("Text file to patch (the diff's own file names are ignored)"),
    unified_diff: z.string().min(1).max(10 * 1024 * 1024).describe(
      "Unified diff, one file",
    ),
    expected_sha256: ExpectedSha256,
    check: CheckArg,
  }).superRefine((v, c) => {
    try {
      parseOneFilePatch(v.unified_diff);
    } catch (e) {
      c.addIssue({ code: "custom", message: (e as Error).message, path: ["unified_diff"] });
    }
  }),
  output: z.strictObject(writeResultShape),
  paths: [{ field: "path", mustExist: true }],
  async handler({ path, unified_diff, expected_sha256, check }, ctx) {
    const patch = parseOneFilePatch(unified_diff);
    return await rewriteText(ctx, path, {
      tool: "ssh_patch",
      expected: expected_sha256,
      check,
      transform: (text) => {
        const r = applyStrict(text, patch);
        return { text: r.text, message: `${r.hunks} hunk(s) applied` };
      },
    });
  },
});
