import { z } from "zod";
import { CommandArg, execAudit, ExecResult, execResult, timeoutOpts } from "../exec_result.ts";
import { defineTool, HostArg, TimeoutArg } from "../define.ts";

/** One command as root with the prompt handshake (TOOLS.md §9, SUDO-3..6). */
export default defineTool({
  name: "ssh_sudo_exec",
  group: "sudo",
  tier: "sudo",
  description: "Run a shell command as root via sudo.",
  input: z.strictObject({ host: HostArg, command: CommandArg, timeout: TimeoutArg }),
  output: ExecResult,
  posixOnly: true,
  command: { field: "command", kind: "command", cheatsheet: true },
  async handler({ command, timeout }, ctx) {
    const el = await ctx.elevation();
    const r = await el.run({ kind: "shell", inner: command }, timeoutOpts(timeout));
    ctx.audit(execAudit(r));
    const res = execResult(ctx.host.policy.hostname, r);
    return r.hint ? { ...res, hint: r.hint } : res;
  },
});
