import { z } from "zod";
import { defineTool } from "../define.ts";

/** Server identity, enabled tiers/groups and visible tool count (not audited). */
export default defineTool({
  name: "ssh_server_info",
  group: "host",
  tier: "read",
  hints: { openWorldHint: false },
  audited: false,
  description: "This server's version, tools, tiers and groups.",
  input: z.strictObject({}),
  output: z.strictObject({
    name: z.literal("ssh-mcp"),
    version: z.string(),
    total_tools: z.number().int(),
    enabled_tiers: z.array(z.enum(["read", "low-access", "dangerous", "sudo"])),
    enabled_groups: z.array(z.string()),
    audit_dropped: z.number().int(),
    hook_events_dropped: z.number().int(),
    embedded_skills: z.number().int(),
  }),
  handler(_args, ctx) {
    return Promise.resolve(ctx.server.info());
  },
});
