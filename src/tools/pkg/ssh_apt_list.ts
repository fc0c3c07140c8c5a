import { z } from "zod";
import { sh } from "../../checked.ts";
import { mergeWarnings, sanitize } from "../../policy/sanitize.ts";
import { defineTool, HostArg } from "../define.ts";
import { OutputWarnings } from "../_schemas.ts";
import { runRead } from "../_runner.ts";
import { parseAptList } from "./_parse.ts";
import { PatternArg, preparePattern } from "./_pkg.ts";

/** `apt list [--installed|--upgradable] [-- <pattern>]` (TOOLS.md §12). */
export default defineTool({
  name: "ssh_apt_list",
  group: "pkg",
  tier: "read",
  posixOnly: true,
  description: "List installed, upgradable or all packages.",
  input: z.strictObject({
    host: HostArg,
    mode: z.enum(["installed", "upgradable", "all"]).describe(
      "Which packages to list",
    ),
    pattern: PatternArg.nullish().describe(
      "Package glob (default all)",
    ),
  }),
  output: z.strictObject({
    host: z.string(),
    mode: z.enum(["installed", "upgradable", "all"]),
    packages: z.array(z.strictObject({
      name: z.string(),
      version: z.string(),
      architecture: z.string(),
      state: z.string().describe(
        "bracket text: installed, installed,automatic, upgradable from: 1.0, ...",
      ),
    })),
    total: z.number().int(),
    truncated: z.boolean().describe("stdout hit the output cap: the list is incomplete"),
    output_warnings: OutputWarnings,
  }),
  prepare: preparePattern,
  async handler({ mode }, ctx, { pattern }) {
    const flag = mode === "installed"
      ? ["--installed"]
      : mode === "upgradable"
      ? ["--upgradable"]
      : [];
    const r = await runRead(ctx, "apt", sh`apt list ${flag} ${pattern ? ["--", pattern] : []}`);
    ctx.audit({ exit_code: r.exitCode, timed_out: r.timedOut });
    const out = sanitize(r.stdout);
    const err = sanitize(r.stderr);
    const packages = parseAptList(out.text);
    const warnings = mergeWarnings(out.warnings, r.exitCode !== 0 ? err.warnings : []);
    if (r.exitCode !== 0) {
      warnings.push(`apt list exited ${r.exitCode}: ${err.text.trim().slice(0, 300)}`);
    }
    return {
      host: ctx.host.policy.hostname,
      mode,
      packages,
      total: packages.length,
      truncated: r.stdoutTruncated,
      output_warnings: warnings,
    };
  },
});
