import { z } from "zod";
import { mergeWarnings, scan } from "../../policy/sanitize.ts";
import { sh } from "../../checked.ts";
import { defineTool, HostArg } from "../define.ts";
import { OutputWarnings } from "../_schemas.ts";
import { parsePs } from "./_parse.ts";

/** Top processes by CPU. */
export default defineTool({
  name: "ssh_host_processes",
  group: "host",
  tier: "read",
  posixOnly: true,
  description: "Top processes by CPU usage (pid, user, %cpu, %mem, command name), highest first.",
  input: z.strictObject({
    host: HostArg,
    top: z.number().int().min(1).max(200).default(20).describe(
      "Max processes",
    ),
  }),
  output: z.strictObject({
    host: z.string(),
    entries: z.array(z.strictObject({
      pid: z.number().int(),
      user: z.string(),
      pcpu: z.number(),
      pmem: z.number(),
      command: z.string(),
    })),
    output_warnings: OutputWarnings,
  }),
  async handler({ top }, ctx) {
    const r = await ctx.exec(sh`ps -eo pid,user,pcpu,pmem,comm --sort=-pcpu`);
    const entries = parsePs(r.stdout, top);
    return {
      host: ctx.host.policy.hostname,
      entries,
      output_warnings: mergeWarnings(
        ...entries.map((e) => scan(e.command).map((w) => `process ${e.pid}: ${w}`)),
      ),
    };
  },
});
