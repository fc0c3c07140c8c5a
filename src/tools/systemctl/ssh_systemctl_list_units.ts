import { z } from "zod";
import { sh } from "../../checked.ts";
import { defineTool, HostArg } from "../define.ts";
import { OutputWarnings } from "../_schemas.ts";
import { parseListUnits } from "./_parse.ts";
import { readSystemd } from "./_systemctl.ts";
import { optional, UNIT_MAX, unitPattern, unitState } from "./_words.ts";

/**
 * `systemctl list-units --no-pager --no-legend --type=<t> [--state=<s>] [-- <pattern>]`
 * (TOOLS.md §11).
 */
export default defineTool({
  name: "ssh_systemctl_list_units",
  group: "systemctl",
  tier: "read",
  posixOnly: true,
  description: "List systemd units by type, state and name pattern.",
  input: z.strictObject({
    host: HostArg,
    pattern: z.string().max(UNIT_MAX).nullish().describe(
      "Unit glob, e.g. nginx*",
    ),
    state: z.string().max(64).nullish().describe(
      "State, e.g. failed",
    ),
    unit_type: z.string().max(64).default("service").describe(
      "Unit type, e.g. timer",
    ),
  }),
  output: z.strictObject({
    host: z.string(),
    units: z.array(z.strictObject({
      unit: z.string(),
      load: z.string(),
      active: z.string(),
      sub: z.string(),
      description: z.string(),
    })),
    exit_code: z.number().int(),
    output_warnings: OutputWarnings,
  }),
  prepare: ({ pattern, state, unit_type }) => ({
    pattern: optional(pattern, (v) => unitPattern(v)),
    state: optional(state, (v) => unitState(v)),
    type: unitPattern(unit_type, "unit_type"),
  }),
  async handler(_args, ctx, { pattern, state, type }) {
    const o = await readSystemd(
      ctx,
      "systemctl",
      sh`systemctl list-units --no-pager --no-legend ${`--type=${type}`} ${
        state ? [`--state=${state}`] : []
      } ${pattern ? ["--", pattern] : []}`,
    );
    return {
      host: ctx.host.policy.hostname,
      units: parseListUnits(o.stdout),
      exit_code: o.exitCode,
      output_warnings: o.warnings,
    };
  },
});
