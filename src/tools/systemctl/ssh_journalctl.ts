import { z } from "zod";
import { sh } from "../../checked.ts";
import { defineTool, HostArg } from "../define.ts";
import { OutputWarnings } from "../_schemas.ts";
import { chronological, countLines } from "./_parse.ts";
import { readSystemd, UnitArg } from "./_systemctl.ts";
import { grepText, journalTime, optional, unitName } from "./_words.ts";
import { sanitize } from "../../policy/sanitize.ts";
import { linkTruncated, withCapture } from "../_outputs.ts";

/**
 * The journal of one unit: `journalctl --unit=<unit> --no-pager -q -r -n <lines>
 * [--since=<s>] [--until=<u>] [--grep=<g>]` (TOOLS.md §11). NEW: values are
 * joined to their option (never a separate word that could start an option),
 * times are translated into forms journalctl parses (see `_words.ts`), and the
 * newest `lines` entries are read newest-first (`-r`, so `--grep` cannot flip
 * the order as journalctl 252 does) and returned oldest-first.
 */
export default defineTool({
  name: "ssh_journalctl",
  group: "systemctl",
  tier: "read",
  posixOnly: true,
  description: "Last journal lines of a systemd unit (journalctl -u).",
  input: z.strictObject({
    host: HostArg,
    unit: UnitArg,
    since: z.string().max(64).nullish().describe(
      "Start: 10m, 2d, epoch, ISO time, yesterday, today",
    ),
    until: z.string().max(64).nullish().describe("Until"),
    lines: z.number().int().min(1).max(1000).default(200).describe(
      "Last N entries",
    ),
    grep: z.string().max(200).nullish().describe(
      "Message filter",
    ),
  }),
  output: z.strictObject({
    host: z.string(),
    unit: z.string(),
    stdout: z.string(),
    lines_returned: z.number().int(),
    exit_code: z.number().int(),
    output_warnings: OutputWarnings,
  }),
  auditHash: { unit_hash: "unit" },
  prepare: ({ unit, since, until, grep }) => ({
    unit: unitName(unit),
    since: optional(since, (v) => journalTime(v, "since")),
    until: optional(until, (v) => journalTime(v, "until")),
    grep: optional(grep, (v) => grepText(v)),
  }),
  async handler({ lines }, ctx, { unit, since, until, grep }) {
    // issue 12 item 3: a journal over the stdout cap also comes as a resource link
    const { ctx: c, capture } = withCapture(ctx);
    const o = await readSystemd(
      c,
      "journalctl",
      sh`journalctl ${`--unit=${unit}`} --no-pager -q -r -n ${lines} ${
        since ? [`--since=${since}`] : []
      } ${until ? [`--until=${until}`] : []} ${grep ? [`--grep=${grep}`] : []}`,
    );
    const stdout = chronological(o.stdout);
    const link = linkTruncated(
      ctx,
      capture,
      "stdout",
      capture?.result?.stdoutTruncated === true,
      (t) => chronological(sanitize(t).text),
    );
    if (link) o.warnings.push(link);
    return {
      host: ctx.host.policy.hostname,
      unit,
      stdout,
      lines_returned: countLines(stdout),
      exit_code: o.exitCode,
      output_warnings: o.warnings,
    };
  },
});
