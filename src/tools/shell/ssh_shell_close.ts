import { z } from "zod";
import { defineTool } from "../define.ts";
import { SessionIdArg } from "./_args.ts";

/** Closes a shell session record (TOOLS.md §13). */
export default defineTool({
  name: "ssh_shell_close",
  group: "shell",
  tier: "low-access",
  hints: { idempotentHint: true, openWorldHint: false },
  description: "Close a shell session.",
  input: z.strictObject({ session_id: SessionIdArg }),
  output: z.strictObject({ session_id: z.string(), closed: z.boolean() }),
  handler({ session_id }, ctx) {
    return Promise.resolve({
      session_id,
      closed: ctx.shells.close(ctx.sessionKey, session_id),
    });
  },
});
