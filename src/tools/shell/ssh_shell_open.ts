import { z } from "zod";
import { valueError } from "../../errors.ts";
import { defineTool, HostArg } from "../define.ts";

/** Opens a server-side shell session record (TOOLS.md §13, SESS-1/2). */
export default defineTool({
  name: "ssh_shell_open",
  group: "shell",
  tier: "dangerous",
  hints: { destructiveHint: false, openWorldHint: false },
  tags: ["persistent-session"],
  description: "Open a shell session that keeps its working directory.",
  input: z.strictObject({ host: HostArg }),
  output: z.strictObject({
    session_id: z.string().describe("32 hex characters; usable only by this MCP session"),
    host: z.string().describe("Canonical hostname"),
    cwd: z.string().describe("Initial working directory (`~` = login directory)"),
  }),
  posixOnly: true,
  handler({ host }, ctx) {
    const policy = ctx.host.policy;
    if (!policy.persistent_session) {
      throw valueError(
        `Persistent shell sessions are disabled for host ${policy.alias} (persistent_session = false); use ssh_exec_run.`,
      );
    }
    const s = ctx.shells.open(
      ctx.sessionKey,
      host,
      policy.alias,
      policy.default_dir ?? "~",
    );
    return Promise.resolve({ session_id: s.id, host: policy.hostname, cwd: s.cwd });
  },
});
