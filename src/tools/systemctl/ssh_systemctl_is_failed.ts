import { z } from "zod";
import { sh } from "../../checked.ts";
import { defineTool, HostArg } from "../define.ts";
import { parseIsFailed } from "./_parse.ts";
import { prepareUnit, readSystemd, UnitArg } from "./_systemctl.ts";

/** `systemctl is-failed -- <unit>` (TOOLS.md §11): `failed` is exit 0. */
export default defineTool({
  name: "ssh_systemctl_is_failed",
  group: "systemctl",
  tier: "read",
  posixOnly: true,
  description: "Whether a systemd unit has failed.",
  input: z.strictObject({ host: HostArg, unit: UnitArg }),
  output: z.strictObject({
    host: z.string(),
    unit: z.string(),
    failed: z.boolean(),
    state: z.string().describe("systemctl's answer, trimmed"),
    exit_code: z.number().int(),
  }),
  auditHash: { unit_hash: "unit" },
  prepare: prepareUnit,
  async handler(_args, ctx, { unit }) {
    const o = await readSystemd(ctx, "systemctl", sh`systemctl is-failed -- ${unit}`);
    const f = parseIsFailed(o.stdout, o.exitCode);
    return {
      host: ctx.host.policy.hostname,
      unit,
      failed: f.failed,
      state: f.state.slice(0, 64),
      exit_code: o.exitCode,
    };
  },
});
