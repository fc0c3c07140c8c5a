import { z } from "zod";
import { sh } from "../../checked.ts";
import { defineTool, HostArg } from "../define.ts";
import { parseIsActive } from "./_parse.ts";
import { prepareUnit, readSystemd, UnitArg } from "./_systemctl.ts";

/** `systemctl is-active -- <unit>` (TOOLS.md §11). */
export default defineTool({
  name: "ssh_systemctl_is_active",
  group: "systemctl",
  tier: "read",
  posixOnly: true,
  description: "Whether a systemd unit is active.",
  input: z.strictObject({ host: HostArg, unit: UnitArg }),
  output: z.strictObject({
    host: z.string(),
    unit: z.string(),
    state: z.string().describe("active|inactive|failed|activating|deactivating|reloading|unknown"),
    exit_code: z.number().int(),
  }),
  auditHash: { unit_hash: "unit" },
  prepare: prepareUnit,
  async handler(_args, ctx, { unit }) {
    const o = await readSystemd(ctx, "systemctl", sh`systemctl is-active -- ${unit}`);
    return {
      host: ctx.host.policy.hostname,
      unit,
      state: parseIsActive(o.stdout, o.exitCode),
      exit_code: o.exitCode,
    };
  },
});
