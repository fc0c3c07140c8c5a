import { z } from "zod";
import { mergeWarnings, scan } from "../../policy/sanitize.ts";
import { sh } from "../../checked.ts";
import { defineTool, HostArg } from "../define.ts";
import { OutputWarnings } from "../_schemas.ts";
import { parseCpuModel, parseOsRelease, safeInt } from "./_parse.ts";
import { multiProbe, nonEmpty, okText } from "./_probe.ts";

/** Six independent read-only probes in one channel round trip; a failed probe leaves its field null. */
export default defineTool({
  name: "ssh_host_info",
  group: "host",
  tier: "read",
  posixOnly: true,
  description: "Basic host facts: kernel, OS release, uptime, CPUs, FQDN.",
  input: z.strictObject({ host: HostArg }),
  output: z.strictObject({
    host: z.string(),
    uname: z.string().nullable(),
    os_release: z.record(z.string(), z.string()),
    uptime: z.string().nullable(),
    cpu_model: z.string().nullable(),
    cpu_count: z.number().int().nullable(),
    hostname_fqdn: z.string().nullable(),
    output_warnings: OutputWarnings,
  }),
  async handler(_args, ctx) {
    const [uname, osr, uptime, nproc, cpuinfo, fqdn] = (await multiProbe(ctx, [
      sh`uname -a`,
      sh`cat /etc/os-release`,
      sh`uptime`,
      sh`nproc`,
      sh`grep -E '^(model name|Model|Hardware)[[:space:]]*:' /proc/cpuinfo`,
      sh`hostname -f`,
    ])).map(okText) as [string, string, string, string, string, string];
    const osRelease = parseOsRelease(osr);
    return {
      host: ctx.host.policy.hostname,
      uname: nonEmpty(uname),
      os_release: osRelease,
      uptime: nonEmpty(uptime),
      cpu_model: parseCpuModel(cpuinfo),
      // INPUT-10: a count outside the safe integer range is not a count
      cpu_count: safeInt(nproc),
      hostname_fqdn: nonEmpty(fqdn),
      output_warnings: mergeWarnings(
        scan(uname),
        scan(uptime),
        ...Object.values(osRelease).map(scan),
      ),
    };
  },
});
