import { z } from "zod";
import { ToolError } from "../../errors.ts";
import { hostsWithTag } from "../../fleet/pattern.ts";
import { R_TAG } from "../_schemas.ts";
import { defineTool, TimeoutArg } from "../define.ts";
import { CommandArg } from "../exec_result.ts";
import { fanOut, FANOUT_INPUT, FANOUT_OUTPUT } from "./_fanout.ts";

/** ssh_broadcast over every host carrying a tag (TOOLS.md §15). */
export default defineTool({
  name: "ssh_run_on_tag",
  group: "exec",
  tier: "dangerous",
  description: "Run a command on every host with a tag, in batches like ssh_broadcast.",
  input: z.strictObject({
    tag: z.string().regex(R_TAG, "must match ^[A-Za-z0-9._-]{1,50}$").describe(
      "Host tag",
    ),
    command: CommandArg,
    timeout: TimeoutArg,
    max_hosts: z.number().int().min(1).default(50).describe(
      "Refuse above this many hosts",
    ),
    ...FANOUT_INPUT,
  }),
  output: z.strictObject({
    ...FANOUT_OUTPUT,
    tag: z.string(),
    hosts_matched: z.array(z.string()),
  }),
  posixOnly: true,
  hostFields: [],
  fanOut: true,
  async handler(args, ctx) {
    const registry = ctx.inventory;
    const limit = ctx.settings.SSH_BROADCAST_MAX_HOSTS;
    if (args.max_hosts > limit) {
      throw new ToolError(
        "ValueError",
        `max_hosts ${args.max_hosts} is above SSH_BROADCAST_MAX_HOSTS (${limit}).`,
      );
    }
    const matched = hostsWithTag(args.tag, registry);
    if (!matched.length) {
      throw new ToolError(
        "ValueError",
        `No host carries tag ${JSON.stringify(args.tag)} (see ssh_host_list).`,
      );
    }
    if (matched.length > args.max_hosts) {
      throw new ToolError(
        "ValueError",
        `${matched.length} hosts carry tag ${
          JSON.stringify(args.tag)
        }, more than max_hosts=${args.max_hosts}; raise max_hosts (up to ${limit}) if that is intended.`,
      );
    }
    const out = await fanOut(ctx, matched, args);
    return { ...out, tag: args.tag, hosts_matched: matched.map((p) => p.alias) };
  },
});
