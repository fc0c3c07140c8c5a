import { z } from "zod";
import { isoTime, modeString } from "../../ssh/fs.ts";
import { defineTool, HostArg } from "../define.ts";
import { OutputWarnings } from "../_schemas.ts";
import { remotePath, scanNames, withSftpErrors } from "./_common.ts";

/** Metadata of one remote path. */
export default defineTool({
  name: "ssh_sftp_stat",
  group: "sftp-read",
  tier: "read",
  description: "Metadata of a remote path: kind, size, mode, mtime, owner.",
  input: z.strictObject({
    host: HostArg,
    path: remotePath("Path to inspect"),
    follow: z.boolean().default(true).describe(
      "Follow symlinks",
    ),
  }),
  output: z.strictObject({
    path: z.string(),
    kind: z.enum(["file", "dir", "symlink", "other"]),
    size: z.number().int(),
    mode: z.string(),
    mtime: z.string(),
    owner: z.string().nullable().optional(),
    group: z.string().nullable().optional(),
    symlink_target: z.string().nullable().optional(),
    output_warnings: OutputWarnings,
  }),
  paths: [{ field: "path", mustExist: true, followField: "follow" }],
  async handler({ path }, ctx) {
    return await withSftpErrors("ValueError", async () => {
      const fs = await ctx.fs();
      // pinned lstat where the host allows it (PATH-54): a swapped parent is refused
      const st = await fs.lstatChecked(path, ctx.signal);
      const target = st.kind === "symlink"
        ? await fs.readlink(path, ctx.signal).catch(() => null)
        : null;
      return {
        path,
        kind: st.kind,
        size: st.size,
        mode: modeString(st.perm),
        mtime: isoTime(st.mtime),
        owner: st.uid >= 0 ? String(st.uid) : null,
        group: st.gid >= 0 ? String(st.gid) : null,
        symlink_target: target,
        output_warnings: target ? scanNames([target], "symlink target") : [],
      };
    });
  },
});
