import { z } from "zod";
import { defineTool, HostArg, TimeoutArg } from "../define.ts";
import { CommandArg, ExecResult, finishExec, timeoutOpts } from "../exec_result.ts";

/** Runs one admitted command line on one host (TOOLS.md §8). */
export default defineTool({
  name: "ssh_exec_run",
  group: "exec",
  tier: "dangerous",
  description:
    "Run one shell command on a host after the cheatsheet and the command policy admitted it. Returns exit code, capped stdout/stderr, timing; non-zero exit is data.",
  input: z.strictObject({
    host: HostArg,
    command: CommandArg,
    timeout: TimeoutArg,
  }),
  output: ExecResult,
  posixOnly: true,
  command: { field: "command", kind: "command", cheatsheet: true },
  async handler({ command, timeout }, ctx) {
    const r = await ctx.exec(command, timeoutOpts(timeout));
    return finishExec(ctx, r);
  },
});
