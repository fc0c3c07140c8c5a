import { z } from "zod";
import { sh } from "../../checked.ts";
import { defineTool, HostArg, TimeoutArg } from "../define.ts";
import { ExecResult, finishExec, timeoutOpts } from "../exec_result.ts";

/** Runs a script body with `sh -s --`, the body on stdin (SECURITY.md §SCRIPT). */
export default defineTool({
  name: "ssh_exec_script",
  group: "exec",
  tier: "dangerous",
  description:
    "Run a multi-line POSIX sh script on a host. The body travels on stdin to `sh -s --`, never in argv or the audit log. Needs an allow-any command policy.",
  input: z.strictObject({
    host: HostArg,
    script: z.string().max(1024 * 1024).describe(
      "Script body for POSIX sh (max 1 MiB; NUL rejected); checked against the command denylist",
    ),
    timeout: TimeoutArg,
  }),
  output: ExecResult,
  posixOnly: true,
  command: { field: "script", kind: "script", cheatsheet: false },
  async handler({ script, timeout }, ctx) {
    const r = await ctx.exec(sh`sh -s --`, { ...timeoutOpts(timeout), stdin: script });
    return finishExec(ctx, r);
  },
});
