import { z } from "zod";
import { defineTool } from "../define.ts";

/** Validate-then-swap reload of hosts.toml, known_hosts and the network policy. */
export default defineTool({
  name: "ssh_host_reload",
  group: "host",
  tier: "low-access",
  hints: { idempotentHint: true },
  description:
    "Re-read hosts.toml (fully validated; on any error nothing changes), known_hosts and the network policy. Tier flags and other environment settings are not reloaded.",
  input: z.strictObject({
    invalidate_changed: z.boolean().default(false).describe(
      "Also close pooled connections of hosts that changed or were removed",
    ),
  }),
  output: z.strictObject({
    loaded: z.number().int().describe("Host count"),
    source: z.string(),
    added: z.array(z.string()),
    removed: z.array(z.string()),
    changed: z.array(z.string()),
    files_reloaded: z.array(z.string()),
    invalidated_connections: z.number().int(),
  }),
  async handler({ invalidate_changed }, ctx) {
    const r = await ctx.server.reload({ invalidateChanged: invalidate_changed });
    // COMPAT (python-ssh-mcp): `loaded` is the number of hosts now configured;
    // a failed reload throws, so success needs no flag of its own.
    return { ...r, loaded: ctx.inventory.list().length };
  },
});
