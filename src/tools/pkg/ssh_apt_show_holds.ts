import { z } from "zod";
import { sh } from "../../checked.ts";
import { mergeWarnings, sanitize } from "../../policy/sanitize.ts";
import { defineTool, HostArg, TimeoutArg } from "../define.ts";
import { timeoutOpts } from "../exec_result.ts";
import { OutputWarnings } from "../_schemas.ts";
import { runRead } from "../_runner.ts";
import { parseHolds } from "./_parse.ts";

/** `apt-mark showhold` (TOOLS.md §12). */
export default defineTool({
  name: "ssh_apt_show_holds",
  group: "pkg",
  tier: "read",
  posixOnly: true,
  description:
    "Packages on hold (apt-mark showhold): upgrades leave them at their installed version.",
  input: z.strictObject({ host: HostArg, timeout: TimeoutArg }),
  output: z.strictObject({
    host: z.string(),
    held: z.array(z.string()),
    stdout: z.string(),
    stderr: z.string(),
    exit_code: z.number().int(),
    duration_ms: z.number().int(),
    stdout_truncated: z.boolean(),
    output_warnings: OutputWarnings,
  }),
  async handler({ timeout }, ctx) {
    const r = await runRead(ctx, "apt", sh`apt-mark showhold`, timeoutOpts(timeout));
    ctx.audit({ exit_code: r.exitCode, timed_out: r.timedOut });
    const out = sanitize(r.stdout);
    const err = sanitize(r.stderr);
    return {
      host: ctx.host.policy.hostname,
      held: parseHolds(out.text),
      stdout: out.text,
      stderr: err.text,
      exit_code: r.exitCode,
      duration_ms: r.durationMs,
      stdout_truncated: r.stdoutTruncated,
      output_warnings: mergeWarnings(out.warnings, err.warnings),
    };
  },
});
