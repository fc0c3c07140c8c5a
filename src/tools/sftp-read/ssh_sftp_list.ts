import { z } from "zod";
import { isoTime, modeString, type RemoteStat } from "../../ssh/fs.ts";
import { defineTool, HostArg } from "../define.ts";
import { OutputWarnings } from "../_schemas.ts";
import { compareCodePoints, remotePath, scanNames, SftpEntry, withSftpErrors } from "./_common.ts";

/** One page of a remote directory listing. */
export default defineTool({
  name: "ssh_sftp_list",
  group: "sftp-read",
  tier: "read",
  description:
    "List a remote directory over SFTP, one page at a time (names sorted, . and .. removed): kind, size, mode, mtime and symlink targets.",
  input: z.strictObject({
    host: HostArg,
    path: remotePath("Directory to list"),
    offset: z.number().int().min(0).default(0).describe("Index of the first entry of the page"),
    limit: z.number().int().min(1).max(1000).default(100).describe(
      "Entries per page (1..1000)",
    ),
  }),
  output: z.strictObject({
    host: z.string(),
    path: z.string(),
    entries: z.array(SftpEntry),
    offset: z.number().int(),
    limit: z.number().int(),
    has_more: z.boolean(),
    total: z.number().int(),
    output_warnings: OutputWarnings,
  }),
  paths: [{ field: "path", mustExist: true }],
  async handler({ path, offset, limit }, ctx) {
    return await withSftpErrors("ValueError", async () => {
      const fs = await ctx.fs();
      const all = await fs.readdir(path, ctx.signal);
      all.sort((a, b) => compareCodePoints(a.name, b.name));
      const page = all.slice(offset, offset + limit);
      const entries = await Promise.all(page.map(async (e) => {
        const child = e.path;
        let st: RemoteStat = e.stat;
        try {
          st = await fs.lstat(child, ctx.signal);
        } catch {
          // vanished or unreadable since readdir: keep the readdir attributes
        }
        let target: string | null = null;
        if (st.kind === "symlink") target = await fs.readlink(child, ctx.signal).catch(() => null);
        return {
          name: e.name,
          kind: st.kind,
          size: st.size,
          mode: modeString(st.perm),
          mtime: isoTime(st.mtime),
          symlink_target: target,
        };
      }));
      const texts = [
        ...entries.map((e) => e.name),
        ...entries.flatMap((e) => (e.symlink_target ? [e.symlink_target] : [])),
      ];
      return {
        host: ctx.host.policy.hostname,
        path,
        entries,
        offset,
        limit,
        has_more: offset + page.length < all.length,
        total: all.length,
        output_warnings: scanNames(texts),
      };
    });
  },
});
