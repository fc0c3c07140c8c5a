import { z } from "zod";
import { ToolError } from "../../errors.ts";
import { scan } from "../../policy/sanitize.ts";
import { sh } from "../../checked.ts";
import { defineTool, HostArg } from "../define.ts";
import { OutputWarnings, R_USERNAME } from "../_schemas.ts";
import { parsePasswd } from "./_parse.ts";
import { multiProbe, type ProbeResult } from "./_probe.ts";

/** Account details from getent/id. */
export default defineTool({
  name: "ssh_user_info",
  group: "host",
  tier: "read",
  posixOnly: true,
  description: "Account details of a user (default: the login user).",
  input: z.strictObject({
    host: HostArg,
    username: z.string().regex(R_USERNAME, "must match ^[a-z_][a-z0-9_-]{0,31}$?$").nullish()
      .describe("User (default: login)"),
  }),
  output: z.strictObject({
    host: z.string(),
    username: z.string(),
    uid: z.number().int(),
    gid: z.number().int(),
    gecos: z.string(),
    home: z.string(),
    shell: z.string(),
    primary_group: z.string(),
    groups: z.array(z.string()),
    output_warnings: OutputWarnings,
  }),
  async handler({ username }, ctx) {
    // one round trip: resolve the login user (when none given), then the three lookups on "$u"
    const who = username ?? null;
    const [id, pw, groups, primary] = await multiProbe(ctx, [
      who === null
        ? sh`u=$(id -un); [ -n "$u" ] || u=${ctx.host.policy.user}; printf '%s\n' "$u"`
        : sh`u=${who}; printf '%s\n' "$u"`,
      sh`getent passwd -- "$u"`,
      sh`id -Gn -- "$u"`,
      sh`id -gn -- "$u"`,
    ]) as [ProbeResult, ProbeResult, ProbeResult, ProbeResult];
    const user = who ?? id.stdout.trim();
    if (who === null && !R_USERNAME.test(user)) {
      throw new ToolError("ValueError", "The remote `id -un` answer is not a valid user name.");
    }
    const line = pw.stdout.split("\n")[0] ?? "";
    const entry = parsePasswd(line);
    if (pw.exitCode === 0 && line.trim() && !entry) {
      // INPUT-10: odd host output is a clear error, never an internal one
      throw new ToolError(
        "ValueError",
        `The passwd entry of ${
          JSON.stringify(user)
        } on ${ctx.host.policy.alias} is malformed (fewer than 7 fields, or a uid/gid that is not a number up to 2^53).`,
      );
    }
    if (pw.exitCode !== 0 || !entry) {
      throw new ToolError(
        "ValueError",
        `User ${JSON.stringify(user)} not found on ${ctx.host.policy.alias}.`,
      );
    }
    return {
      host: ctx.host.policy.hostname,
      username: entry.username,
      uid: entry.uid,
      gid: entry.gid,
      gecos: entry.gecos,
      home: entry.home,
      shell: entry.shell,
      primary_group: primary.stdout.trim(),
      groups: groups.stdout.trim().split(/\s+/).filter(Boolean),
      output_warnings: scan(entry.gecos).map((w) => `gecos: ${w}`),
    };
  },
});
