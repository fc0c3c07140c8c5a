import { z } from "zod";
import { execAudit, ExecResult, execResult, timeoutOpts } from "../exec_result.ts";
import { sh } from "../../checked.ts";
import { defineTool, HostArg, TimeoutArg } from "../define.ts";

/** A script body on stdin of a root `sh -s` (TOOLS.md §9, SUDO-7, SCRIPT-1..4). */
export default defineTool({
  name: "ssh_sudo_run_script",
  group: "sudo",
  tier: "sudo",
  description: "Run a sh script as root via sudo.",
  input: z.strictObject({
    host: HostArg,
    script: z.string().min(1).max(1024 * 1024).describe(
      "POSIX sh script (sent on stdin)",
    ),
    timeout: TimeoutArg,
  }),
  output: ExecResult,
  posixOnly: true,
  command: { field: "script", kind: "script", cheatsheet: false },
  async handler({ script, timeout }, ctx) {
    const el = await ctx.elevation();
    const r = await el.run({ kind: "shell", inner: sh`sh -s --` }, {
      ...timeoutOpts(timeout),
      payload: script,
    });
    ctx.audit(execAudit(r));
    const res = execResult(ctx.host.policy.hostname, r);
    return r.hint ? { ...res, hint: r.hint } : res;
  },
});
