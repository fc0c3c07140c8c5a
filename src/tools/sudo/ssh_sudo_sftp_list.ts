import { z } from "zod";
import { mergeWarnings, scan } from "../../policy/sanitize.ts";
import { listScript, parseLsLa } from "../../sudo/scripts.ts";
import { OutputWarnings } from "../_schemas.ts";
import { defineTool, HostArg } from "../define.ts";
import { assertRan } from "../../sudo/elevation.ts";
import { PipelineTimeoutArg, pipelineTimeoutMs, stepError, SudoPathArg } from "./_file.ts";
import { childPath } from "../../ssh/fs.ts";

/** Directory listing as root (TOOLS.md §9). */
export default defineTool({
  name: "ssh_sudo_sftp_list",
  group: "sudo",
  tier: "sudo",
  hints: { readOnlyHint: true, destructiveHint: false, idempotentHint: true },
  description: "List a directory as root, paginated.",
  input: z.strictObject({
    host: HostArg,
    path: SudoPathArg,
    offset: z.number().int().min(0).default(0).describe("Entries to skip (>= 0)"),
    limit: z.number().int().min(1).max(1000).default(100).describe("Entries per page (1..1000)"),
    timeout: PipelineTimeoutArg,
  }),
  output: z.strictObject({
    host: z.string(),
    path: z.string().describe("Canonical path"),
    entries: z.array(z.strictObject({
      name: z.string(),
      kind: z.enum(["file", "dir", "symlink", "other"]),
      size: z.number().int(),
      mode: z.string(),
      mtime: z.string(),
      symlink_target: z.string().nullable(),
    })),
    offset: z.number().int(),
    limit: z.number().int(),
    has_more: z.boolean(),
    output_warnings: OutputWarnings,
  }),
  posixOnly: true,
  paths: [{ field: "path", mustExist: true, canonicalize: "elevated" }],
  async handler({ path: canonical, offset, limit, timeout }, ctx) {
    const el = await ctx.elevation();
    const r = await el.run({ kind: "shell", inner: listScript(ctx.rawPath("path"), canonical) }, {
      timeoutMs: pipelineTimeoutMs(timeout),
      stderrCap: 64 * 1024,
    });
    assertRan(r, canonical);
    if (r.exitCode !== 0) throw stepError(r, "ls", canonical);
    // names inside restricted zones are not revealed (PATH-38), as for ssh_sftp_list
    const all = await ctx.filterListing(
      ctx.host,
      parseLsLa(r.stdout),
      (e) => childPath(canonical, e.name),
    );
    const entries = all.slice(offset, offset + limit);
    return {
      host: ctx.host.policy.hostname,
      path: canonical,
      entries,
      offset,
      limit,
      has_more: offset + limit < all.length,
      output_warnings: mergeWarnings(...entries.map((e) => scan(e.name))),
    };
  },
});
