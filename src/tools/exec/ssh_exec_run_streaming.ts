import { z } from "zod";
import { effectivePolicy } from "../../policy/effective.ts";
import { defineTool, HostArg, TimeoutArg } from "../define.ts";
import { CommandArg, ExecResult, finishExec, timeoutOpts } from "../exec_result.ts";
import { ProgressPump } from "./_stream.ts";

/**
 * As ssh_exec_run, reading incrementally and sending MCP progress
 * notifications with output tails when the request carries a progress token.
 */
export default defineTool({
  taskSupport: "optional",
  name: "ssh_exec_run_streaming",
  group: "exec",
  tier: "dangerous",
  description: "Like ssh_exec_run, with progress notifications of the latest output line.",
  input: z.strictObject({
    host: HostArg,
    command: CommandArg,
    timeout: TimeoutArg,
  }),
  output: ExecResult,
  posixOnly: true,
  command: { field: "command", kind: "command", cheatsheet: true },
  async handler({ command, timeout }, ctx) {
    const eff = effectivePolicy(ctx.host.policy, ctx.settings);
    const pump = new ProgressPump((m) => ctx.progress(m), {
      stdout: eff.stdout_cap_bytes,
      stderr: eff.stderr_cap_bytes,
    });
    let r;
    try {
      r = await ctx.exec(command, {
        ...timeoutOpts(timeout),
        onOutput: pump.onOutput,
        onData: pump.onData,
      });
    } finally {
      await pump.close();
    }
    return finishExec(ctx, r);
  },
});
