import { z } from "zod";
import { ToolError } from "../../errors.ts";
import { defineTool, HostArg } from "../define.ts";
import { remotePath, withSftpErrors } from "../sftp-read/_common.ts";
import {
  assertExpected,
  CheckArg,
  ExpectedSha256,
  remoteSha256,
  writeResultShape,
} from "./_common.ts";

/** Deletes one file or symlink. */
export default defineTool({
  name: "ssh_delete",
  group: "file-ops",
  tier: "low-access",
  hints: { idempotentHint: true },
  destructive: true,
  description: "Delete a remote file (not a directory).",
  input: z.strictObject({
    host: HostArg,
    path: remotePath("File to delete"),
    follow_symlinks: z.boolean().default(true).describe(
      "Follow symlinks",
    ),
    expected_sha256: ExpectedSha256,
    check: CheckArg,
  }),
  output: z.strictObject({
    ...writeResultShape,
    would_delete: z.array(z.string()).optional(),
  }),
  paths: [{ field: "path", mustExist: true, followField: "follow_symlinks" }],
  async handler({ path, follow_symlinks, expected_sha256, check }, ctx) {
    return await withSftpErrors("WriteError", async () => {
      const fs = await ctx.fs();
      const st = await fs.lstatChecked(path, ctx.signal);
      if (st.kind === "dir") {
        throw new ToolError(
          "WriteError",
          `${path} is a directory; ssh_delete removes files only. Use ssh_delete_folder (recursive=true for a non-empty tree).`,
        );
      }
      if (expected_sha256) {
        if (st.kind !== "file") {
          throw new ToolError(
            "WriteError",
            `expected_sha256 applies to regular files; ${path} is a ${st.kind}.`,
          );
        }
        assertExpected(expected_sha256, await remoteSha256(ctx, fs, path), path);
      }
      const base = {
        host: ctx.host.policy.hostname,
        path,
        success: true,
        bytes_written: 0,
        changed: true,
        output_warnings: [],
      };
      if (check) {
        return {
          ...base,
          check: true,
          message: `would delete ${st.kind} ${path} (${st.size} bytes)`,
          would_delete: [path],
        };
      }
      await fs.recheck(path, follow_symlinks ? "resolved" : "leaf", ctx.signal);
      await fs.unlink(path, ctx.signal);
      return { ...base, check: false, message: "deleted" };
    });
  },
});
