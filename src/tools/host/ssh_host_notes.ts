import { z } from "zod";
import { scan } from "../../policy/sanitize.ts";
import { defineTool, HostArg } from "../define.ts";
import { OutputWarnings } from "../_schemas.ts";

/** Both note layers of a host (local files only, no remote I/O). */
export default defineTool({
  name: "ssh_host_notes",
  group: "host",
  tier: "read",
  hints: { openWorldHint: false },
  description: "Read a host's operator notes (trusted) and agent notes (untrusted), with an etag.",
  input: z.strictObject({ host: HostArg }),
  output: z.strictObject({
    alias: z.string(),
    hostname: z.string(),
    operator_notes: z.string().nullable(),
    agent_notes: z.string().nullable(),
    agent_notes_path: z.string().nullable(),
    has_notes: z.boolean(),
    etag: z.string().nullable(),
    output_warnings: OutputWarnings,
  }),
  async handler(_args, ctx) {
    const p = ctx.host.policy;
    const operator = p.notes?.trim() ? p.notes.trim() : null;
    const agent = await ctx.notes.read(p.alias);
    const content = agent?.content ?? null;
    return {
      alias: p.alias,
      hostname: p.hostname,
      operator_notes: operator,
      agent_notes: content,
      agent_notes_path: ctx.notes.pathFor(p.alias),
      has_notes: operator !== null || content !== null,
      etag: agent?.etag ?? null,
      output_warnings: content ? scan(content).map((w) => `agent_notes: ${w}`) : [],
    };
  },
});
