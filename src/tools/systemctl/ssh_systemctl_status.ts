import { z } from "zod";
import { sh } from "../../checked.ts";
import { defineTool, HostArg } from "../define.ts";
import { OutputWarnings } from "../_schemas.ts";
import { parseActiveState } from "./_parse.ts";
import { prepareUnit, readSystemd, UnitArg } from "./_systemctl.ts";

/** `systemctl status --no-pager -- <unit>` (TOOLS.md §11); exit 3 (inactive) is data. */
export default defineTool({
  name: "ssh_systemctl_status",
  group: "systemctl",
  tier: "read",
  posixOnly: true,
  description: "Status of a systemd unit (systemctl status).",
  input: z.strictObject({ host: HostArg, unit: UnitArg }),
  output: z.strictObject({
    host: z.string(),
    unit: z.string(),
    stdout: z.string(),
    exit_code: z.number().int(),
    active_state: z.string().nullable().describe("First word after `Active:`, or null"),
    output_warnings: OutputWarnings,
  }),
  auditHash: { unit_hash: "unit" },
  prepare: prepareUnit,
  async handler(_args, ctx, { unit }) {
    const o = await readSystemd(ctx, "systemctl", sh`systemctl status --no-pager -- ${unit}`);
    return {
      host: ctx.host.policy.hostname,
      unit,
      stdout: o.stdout,
      exit_code: o.exitCode,
      active_state: parseActiveState(o.stdout),
      output_warnings: o.warnings,
    };
  },
});
