import { z } from "zod";
import { isoTime, modeString } from "../../ssh/fs.ts";
import { defineTool, HostArg } from "../define.ts";
import { OutputWarnings } from "../_schemas.ts";
import { compareCodePoints, remotePath, scanNames, SftpEntry, withSftpErrors } from "./_common.ts";

/** One page of a remote directory listing. */
export default defineTool({
  name: "ssh_sftp_list",
  group: "sftp-read",
  tier: "read",
  description: "List a remote directory, paginated.",
  input: z.strictObject({
    host: HostArg,
    path: remotePath("Directory to list"),
    offset: z.number().int().min(0).default(0).describe("Page offset"),
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
      // PATH-51: read from inside the pinned directory on hardened hosts
      const listing = await fs.list(path, ctx.signal);
      // PATH-37: names inside restricted zones are never shown (a count goes to output_warnings)
      const all = await ctx.filterListing(ctx.host, listing.entries, (e) => e.path);
      all.sort((a, b) => compareCodePoints(a.name, b.name));
      const page = await listing.details(all.slice(offset, offset + limit));
      const entries = page.map((e) => ({
        name: e.name,
        kind: e.stat.kind,
        size: e.stat.size,
        mode: modeString(e.stat.perm),
        mtime: isoTime(e.stat.mtime),
        symlink_target: e.link,
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
