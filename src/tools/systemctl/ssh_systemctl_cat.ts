import { z } from "zod";
import { sh } from "../../checked.ts";
import { defineTool, HostArg } from "../define.ts";
import { OutputWarnings } from "../_schemas.ts";
import { prepareUnit, readSystemd, UnitArg } from "./_systemctl.ts";

/** `systemctl cat -- <unit>` (TOOLS.md §11): the unit file and its drop-ins. */
export default defineTool({
  name: "ssh_systemctl_cat",
  group: "systemctl",
  tier: "read",
  posixOnly: true,
  description: "Unit file and drop-ins of a systemd unit.",
  input: z.strictObject({ host: HostArg, unit: UnitArg }),
  output: z.strictObject({
    host: z.string(),
    unit: z.string(),
    stdout: z.string(),
    exit_code: z.number().int(),
    output_warnings: OutputWarnings,
  }),
  auditHash: { unit_hash: "unit" },
  prepare: prepareUnit,
  async handler(_args, ctx, { unit }) {
    const o = await readSystemd(ctx, "systemctl", sh`systemctl cat -- ${unit}`);
    return {
      host: ctx.host.policy.hostname,
      unit,
      stdout: o.stdout,
      exit_code: o.exitCode,
      output_warnings: o.warnings,
    };
  },
});
