import { z } from "zod";
import { defineTool, HostArg, TimeoutArg } from "../define.ts";
import { CommandArg, ExecResult, timeoutOpts } from "../exec_result.ts";
import { execWithLinks } from "./_links.ts";

/** Runs one admitted command line on one host (TOOLS.md §8). */
export default defineTool({
  name: "ssh_exec_run",
  group: "exec",
  tier: "dangerous",
  description: "Run a shell command on a host; returns exit code and capped stdout/stderr.",
  input: z.strictObject({
    host: HostArg,
    command: CommandArg,
    timeout: TimeoutArg,
  }),
  output: ExecResult,
  posixOnly: true,
  command: { field: "command", kind: "command", cheatsheet: true },
  async handler({ command, timeout }, ctx) {
    return await execWithLinks(ctx, command, timeoutOpts(timeout));
  },
});
