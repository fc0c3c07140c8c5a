import { z } from "zod";
import { defineTool } from "../define.ts";

/** Open pooled SSH connections. */
export default defineTool({
  name: "ssh_session_list",
  group: "session",
  tier: "read",
  hints: { openWorldHint: false },
  description:
    "List the SSH connections currently open in the pool (user, host, port, idle seconds).",
  input: z.strictObject({}),
  output: z.strictObject({
    sessions: z.array(z.strictObject({
      user: z.string(),
      host: z.string(),
      port: z.number().int(),
      idle_seconds: z.number().int(),
    })),
    count: z.number().int(),
  }),
  handler(_args, ctx) {
    const sessions = ctx.server.sessions();
    return Promise.resolve({ sessions, count: sessions.length });
  },
});
