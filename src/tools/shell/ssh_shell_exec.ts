import { z } from "zod";
import { valueError } from "../../errors.ts";
import { unwrapOutput, wrapCommand } from "../../shell/wrap.ts";
import {
  CommandArg,
  EXEC_RESULT_FIELDS,
  execAudit,
  execResult,
  timeoutOpts,
} from "../exec_result.ts";
import { defineTool, TimeoutArg } from "../define.ts";
import { SessionIdArg } from "./_args.ts";

/** One command in a session's working directory (TOOLS.md §13, SESS-3/4). */
export default defineTool({
  name: "ssh_shell_exec",
  group: "shell",
  tier: "dangerous",
  tags: ["persistent-session"],
  description: "Run a command in a shell session; the working directory persists.",
  posixOnly: true,
  input: z.strictObject({ session_id: SessionIdArg, command: CommandArg, timeout: TimeoutArg }),
  hostFrom: ({ session_id }, { shells, sessionKey }) => shells.get(sessionKey, session_id).host,
  command: { field: "command", kind: "command", cheatsheet: true },
  output: z.strictObject({
    ...EXEC_RESULT_FIELDS,
    session_id: z.string(),
    cwd: z.string().describe("Working directory after the command"),
  }),
  async handler({ session_id, command, timeout }, ctx) {
    // SESS-3: the registry re-resolved the stored host (removed or blocked -> error), applied
    // the POSIX gate, the timeout clamp, the cheatsheet and the command policy
    const s = ctx.shells.get(ctx.sessionKey, session_id);
    const policy = ctx.host.policy;
    return await s.withLock(async (lock) => {
      if (s.closed) throw valueError(`Shell session ${session_id} was closed.`);
      const w = wrapCommand(s.cwd, command);
      const r = await ctx.exec(w.command, timeoutOpts(timeout));
      const u = unwrapOutput(r.stdout, w.sentinel);
      if (u.cwd !== null) s.setCwd(lock, u.cwd);
      const raw = {
        ...r,
        stdout: u.stdout,
        stdoutBytes: Math.max(0, r.stdoutBytes - u.removedBytes),
      };
      ctx.audit(execAudit(raw));
      return { ...execResult(policy.hostname, raw), session_id: s.id, cwd: s.cwd };
    }, ctx.signal);
  },
});
