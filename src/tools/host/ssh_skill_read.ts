import { z } from "zod";
import { defineTool } from "../define.ts";

/** Reads a skill or runbook for clients that do not surface MCP resources (SKILLS.md SK-7). */
export default defineTool({
  name: "ssh_skill_read",
  group: "host",
  tier: "read",
  hints: { openWorldHint: false },
  description: "Read a tool's usage guide (skill) or a runbook.",
  input: z.strictObject({
    name: z.string().regex(/^[a-z0-9-]{1,64}$/, "must match ^[a-z0-9-]{1,64}$").describe(
      "e.g. ssh-host-ping",
    ),
    path: z.string().max(256).default("SKILL.md").describe("File in the skill"),
  }),
  output: z.strictObject({
    name: z.string(),
    path: z.string(),
    mime_type: z.string(),
    text: z.string(),
  }),
  async handler({ name, path }, ctx) {
    await ctx.skills.ready();
    return { name, ...ctx.skills.readText(name, path) };
  },
});
