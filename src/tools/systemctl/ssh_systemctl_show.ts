import { z } from "zod";
import { sh } from "../../checked.ts";
import { defineTool, HostArg } from "../define.ts";
import { OutputWarnings } from "../_schemas.ts";
import { parseShow } from "./_parse.ts";
import { readSystemd, UnitArg } from "./_systemctl.ts";
import { propertyName, unitName } from "./_words.ts";

/** `systemctl show [--property=P1,P2,...] -- <unit>` (TOOLS.md §11). */
export default defineTool({
  name: "ssh_systemctl_show",
  group: "systemctl",
  tier: "read",
  posixOnly: true,
  description: "Properties of a systemd unit (systemctl show).",
  input: z.strictObject({
    host: HostArg,
    unit: UnitArg,
    properties: z.array(z.string().max(128)).max(64).nullish().describe(
      "Properties (default all)",
    ),
  }),
  output: z.strictObject({
    host: z.string(),
    unit: z.string(),
    properties: z.record(z.string(), z.string()),
    exit_code: z.number().int(),
    output_warnings: OutputWarnings,
  }),
  auditHash: { unit_hash: "unit" },
  prepare: ({ unit, properties }) => ({
    unit: unitName(unit),
    properties: (properties ?? []).map((p, i) => propertyName(p, `properties[${i}]`)),
  }),
  async handler(_args, ctx, { unit, properties }) {
    const o = await readSystemd(
      ctx,
      "systemctl",
      sh`systemctl show ${
        properties.length ? [`--property=${properties.join(",")}`] : []
      } -- ${unit}`,
    );
    return {
      host: ctx.host.policy.hostname,
      unit,
      properties: parseShow(o.stdout),
      exit_code: o.exitCode,
      output_warnings: o.warnings,
    };
  },
});
