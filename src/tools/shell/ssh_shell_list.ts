import { z } from "zod";
import { defineTool } from "../define.ts";

/** This MCP session's shell sessions (TOOLS.md §13). */
export default defineTool({
  name: "ssh_shell_list",
  group: "shell",
  tier: "read",
  hints: { openWorldHint: false },
  description:
    "List the persistent shell sessions opened by this MCP session: id, host, cwd, idle and age seconds.",
  input: z.strictObject({}),
  output: z.strictObject({
    sessions: z.array(z.strictObject({
      id: z.string(),
      host: z.string().describe("The host argument given to ssh_shell_open"),
      cwd: z.string(),
      idle_seconds: z.number().int(),
      age_seconds: z.number().int(),
    })),
    count: z.number().int(),
  }),
  handler(_args, ctx) {
    const now = Date.now();
    const sessions = ctx.shells.list(ctx.sessionKey).map((s) => ({
      id: s.id,
      host: s.host,
      cwd: s.cwd,
      idle_seconds: s.busy ? 0 : Math.floor((now - s.lastUsed) / 1000),
      age_seconds: Math.floor((now - s.createdAt) / 1000),
    }));
    return Promise.resolve({ sessions, count: sessions.length });
  },
});
