import { z } from "zod";
import { sh } from "../../checked.ts";
import { defineTool, HostArg, TimeoutArg } from "../define.ts";
import { ExecResult, timeoutOpts } from "../exec_result.ts";
import { execWithLinks } from "./_links.ts";

/** Runs a script body with `sh -s --`, the body on stdin (SECURITY.md §SCRIPT). */
export default defineTool({
  name: "ssh_exec_script",
  group: "exec",
  tier: "dangerous",
  description: "Run a multi-line sh script on a host (sent on stdin).",
  input: z.strictObject({
    host: HostArg,
    script: z.string().max(1024 * 1024).describe(
      "POSIX sh script",
    ),
    timeout: TimeoutArg,
  }),
  output: ExecResult,
  posixOnly: true,
  command: { field: "script", kind: "script", cheatsheet: false },
  async handler({ script, timeout }, ctx) {
    return await execWithLinks(ctx, sh`sh -s --`, { ...timeoutOpts(timeout), stdin: script });
  },
});
