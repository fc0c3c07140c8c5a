import { z } from "zod";
import { defineTool } from "../define.ts";

/** Reads a skill or runbook for clients that do not surface MCP resources (SKILLS.md SK-7). */
export default defineTool({
  name: "ssh_skill_read",
  group: "host",
  tier: "read",
  description:
    'Read the usage guide of a tool (skill, e.g. name "ssh-host-ping") or a workflow runbook. Same text as the skill:// resources.',
  input: z.strictObject({
    name: z.string().regex(/^[a-z0-9-]{1,64}$/, "must match ^[a-z0-9-]{1,64}$").describe(
      "Skill or runbook directory name, e.g. ssh-host-ping",
    ),
    path: z.string().max(256).default("SKILL.md").describe("File inside the skill directory"),
  }),
  output: z.strictObject({
    name: z.string(),
    path: z.string(),
    mime_type: z.string(),
    text: z.string(),
  }),
  handler({ name, path }, ctx) {
    const r = ctx.skills.readText(name, path);
    return Promise.resolve({ name, ...r });
  },
});
