import { z } from "zod";
import { defineTool } from "../define.ts";
import { R_TAG } from "../_schemas.ts";

/** hosts.toml entries (never key paths, commands or secrets). */
export default defineTool({
  name: "ssh_host_list",
  group: "host",
  tier: "read",
  hints: { openWorldHint: false },
  description: "List the configured hosts, optionally by tag.",
  input: z.strictObject({
    tag: z.string().regex(R_TAG, "must match ^[A-Za-z0-9._-]{1,50}$").nullish().describe(
      "Host tag",
    ),
  }),
  output: z.strictObject({
    hosts: z.array(z.strictObject({
      alias: z.string(),
      hostname: z.string(),
      port: z.number().int(),
      platform: z.enum(["posix", "windows"]),
      user: z.string(),
      auth_method: z.enum(["agent", "key", "password"]),
      has_notes: z.boolean(),
      tags: z.array(z.string()),
    })),
    count: z.number().int(),
  }),
  async handler({ tag }, ctx) {
    const hosts = ctx.inventory.list()
      .filter((p) => tag === null || tag === undefined || p.tags.includes(tag))
      .sort((a, b) => (a.alias < b.alias ? -1 : a.alias > b.alias ? 1 : 0));
    const rows = await Promise.all(hosts.map(async (p) => {
      const agent = await ctx.notes.read(p.alias);
      return {
        alias: p.alias,
        hostname: p.hostname,
        port: p.port,
        platform: p.platform,
        user: p.user,
        auth_method: p.auth.method,
        has_notes: Boolean(p.notes?.trim()) || Boolean(agent?.content),
        tags: [...p.tags],
      };
    }));
    return { hosts: rows, count: rows.length };
  },
});
