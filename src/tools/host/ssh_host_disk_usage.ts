import { z } from "zod";
import { mergeWarnings, scan } from "../../policy/sanitize.ts";
import { sh } from "../../checked.ts";
import { OutputWarnings } from "../_schemas.ts";
import { defineTool, HostArg } from "../define.ts";
import { parseDf } from "./_parse.ts";

/** `df -PTh`, parsed (values stay strings like "45%"). */
export const DfEntrySchema = z.strictObject({
  filesystem: z.string(),
  type: z.string(),
  size: z.string(),
  used: z.string(),
  available: z.string(),
  use_percent: z.string(),
  mount: z.string(),
});

/** Filesystem usage. */
export default defineTool({
  name: "ssh_host_disk_usage",
  group: "host",
  tier: "read",
  posixOnly: true,
  description:
    "Disk usage per mounted filesystem (df -PTh): size, used, available, use%, mount point.",
  input: z.strictObject({ host: HostArg }),
  output: z.strictObject({
    host: z.string(),
    entries: z.array(DfEntrySchema),
    output_warnings: OutputWarnings,
  }),
  async handler(_args, ctx) {
    const r = await ctx.exec(sh`df -PTh`);
    const entries = parseDf(r.stdout);
    return {
      host: ctx.host.policy.hostname,
      entries,
      output_warnings: mergeWarnings(
        ...entries.map((e) =>
          scan(e.mount + " " + e.filesystem).map((w) => `mount ${e.mount}: ${w}`)
        ),
      ),
    };
  },
});
