import { z } from "zod";
import { sh } from "../../checked.ts";
import { sanitize } from "../../policy/sanitize.ts";
import { defineTool, HostArg } from "../define.ts";
import { OutputWarnings } from "../_schemas.ts";
import { runRead } from "../_runner.ts";
import { parseAptSearch } from "./_parse.ts";
import { PatternArg } from "./_pkg.ts";
import { aptPattern } from "./_words.ts";

/** `apt-cache search -- <pattern>` (TOOLS.md §12). */
export default defineTool({
  name: "ssh_apt_search",
  group: "pkg",
  tier: "read",
  posixOnly: true,
  description: "Search packages by name and description (apt-cache search).",
  input: z.strictObject({ host: HostArg, pattern: PatternArg }),
  output: z.strictObject({
    host: z.string(),
    pattern: z.string(),
    results: z.array(z.strictObject({ name: z.string(), short_description: z.string() })),
    output_warnings: OutputWarnings,
  }),
  prepare: ({ pattern }) => ({ pattern: aptPattern(pattern) }),
  async handler(_args, ctx, { pattern }) {
    const r = await runRead(ctx, "apt", sh`apt-cache search -- ${pattern}`);
    ctx.audit({ exit_code: r.exitCode, timed_out: r.timedOut });
    const out = sanitize(r.stdout);
    const warnings = [...out.warnings];
    if (r.exitCode !== 0) {
      warnings.push(
        `apt-cache search exited ${r.exitCode}: ${sanitize(r.stderr).text.trim().slice(0, 300)}`,
      );
    }
    return {
      host: ctx.host.policy.hostname,
      pattern,
      results: parseAptSearch(out.text),
      output_warnings: warnings,
    };
  },
});
