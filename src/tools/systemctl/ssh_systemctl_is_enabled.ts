import { z } from "zod";
import { sh } from "../../checked.ts";
import { defineTool, HostArg } from "../define.ts";
import { parseIsEnabled } from "./_parse.ts";
import { prepareUnit, readSystemd, UnitArg } from "./_systemctl.ts";

/** `systemctl is-enabled -- <unit>` (TOOLS.md §11). */
export default defineTool({
  name: "ssh_systemctl_is_enabled",
  group: "systemctl",
  tier: "read",
  posixOnly: true,
  description: "Whether a systemd unit is enabled at boot.",
  input: z.strictObject({ host: HostArg, unit: UnitArg }),
  output: z.strictObject({
    host: z.string(),
    unit: z.string(),
    state: z.string().describe(
      "enabled|enabled-runtime|linked|linked-runtime|alias|masked|masked-runtime|static|indirect|disabled|generated|transient|bad|not-found|unknown",
    ),
    exit_code: z.number().int(),
  }),
  auditHash: { unit_hash: "unit" },
  prepare: prepareUnit,
  async handler(_args, ctx, { unit }) {
    const o = await readSystemd(ctx, "systemctl", sh`systemctl is-enabled -- ${unit}`);
    return {
      host: ctx.host.policy.hostname,
      unit,
      state: parseIsEnabled(o.stdout),
      exit_code: o.exitCode,
    };
  },
});
