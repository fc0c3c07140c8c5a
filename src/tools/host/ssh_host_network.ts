import { z } from "zod";
import { mergeWarnings, scan } from "../../policy/sanitize.ts";
import { sh } from "../../checked.ts";
import { OutputWarnings } from "../_schemas.ts";
import { defineTool, HostArg } from "../define.ts";
import { parseIpAddr } from "./_parse.ts";
import { probe } from "./_probe.ts";

/** `ip -j addr show`, parsed. */
export default defineTool({
  name: "ssh_host_network",
  group: "host",
  tier: "read",
  posixOnly: true,
  description:
    "Network interfaces of a Linux host with state, MAC and addresses (from `ip -j addr show`).",
  input: z.strictObject({ host: HostArg }),
  output: z.strictObject({
    host: z.string(),
    interfaces: z.array(z.strictObject({
      name: z.string(),
      state: z.string(),
      mac: z.string().nullable(),
      addresses: z.array(z.strictObject({
        family: z.string(),
        address: z.string(),
        prefix_length: z.number().int(),
      })),
    })),
    output_warnings: OutputWarnings,
  }),
  async handler(_args, ctx) {
    const interfaces = parseIpAddr(await probe(ctx, sh`ip -j addr show`));
    return {
      host: ctx.host.policy.hostname,
      interfaces,
      output_warnings: mergeWarnings(
        ...interfaces.map((i) =>
          scan(i.name).map((w) => `interface ${JSON.stringify(i.name)}: ${w}`)
        ),
      ),
    };
  },
});
