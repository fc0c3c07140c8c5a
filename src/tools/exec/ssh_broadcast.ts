import { z } from "zod";
import { isToolError, ToolError } from "../../errors.ts";
import { resolvePattern } from "../../fleet/pattern.ts";
import type { HostPolicy } from "../../config/types.ts";
import { defineTool, TimeoutArg } from "../define.ts";
import { CommandArg } from "../exec_result.ts";
import { fanOut, FANOUT_INPUT, FANOUT_OUTPUT } from "./_fanout.ts";

/**
 * One command on many hosts (TOOLS.md §8 ssh_broadcast, extended with fleet
 * patterns and rolling execution).
 */
export default defineTool({
  name: "ssh_broadcast",
  group: "exec",
  tier: "dangerous",
  description:
    "Run one command on many hosts: a host list or an Ansible-style pattern (aliases, tags, globs, web:&prod:!db01), with concurrency, rolling batches, failure threshold and health checks.",
  input: z.strictObject({
    hosts: z.array(z.string().min(1).max(100)).min(1).max(10_000).nullish().describe(
      "Host aliases (or hostnames / SSH_HOSTS_ALLOWLIST names); duplicates removed. Give hosts or pattern, not both",
    ),
    pattern: z.string().min(1).max(2000).nullish().describe(
      "Target pattern: aliases, tags, globs, all; ':' or ',' separated; '&' intersects, '!' excludes (e.g. web:&prod:!db01)",
    ),
    command: CommandArg,
    timeout: TimeoutArg,
    ...FANOUT_INPUT,
    // COMPAT (python-ssh-mcp): every host's stdout/stderr is filled by default;
    // grouping identical output is opt-in.
    group_output: z.boolean().default(false).describe("Group identical outputs"),
  }),
  output: z.strictObject({
    ...FANOUT_OUTPUT,
    hosts_matched: z.array(z.string()).describe("Target aliases in execution order"),
  }),
  posixOnly: true,
  hostFields: [],
  fanOut: true,
  async handler(args, ctx) {
    const registry = ctx.inventory;
    const given = [args.hosts ? "hosts" : null, args.pattern ? "pattern" : null].filter(Boolean);
    if (given.length !== 1) {
      throw new ToolError(
        "ValueError",
        "Give exactly one of hosts (a list) or pattern (a string).",
      );
    }
    let targets: HostPolicy[];
    if (args.hosts) {
      // every alias resolved up front; any refusal -> one ValueError, nothing runs
      const byAlias = new Map<string, HostPolicy>();
      const bad: string[] = [];
      const unique = [...new Set(args.hosts)];
      const max = ctx.settings.SSH_BROADCAST_MAX_HOSTS;
      if (unique.length > max) {
        throw new ToolError(
          "ValueError",
          `${unique.length} hosts exceed the limit of ${max} (SSH_BROADCAST_MAX_HOSTS).`,
          { limit: max },
        );
      }
      for (const h of unique) {
        try {
          const p = registry.resolve(h);
          if (!byAlias.has(p.alias)) byAlias.set(p.alias, p);
        } catch (e) {
          if (!isToolError(e)) throw e;
          bad.push(`${h} (${e.code})`);
        }
      }
      if (bad.length) {
        throw new ToolError(
          "ValueError",
          `Some hosts cannot be used, nothing was run: ${bad.join(", ")}.`,
        );
      }
      targets = [...byAlias.values()];
    } else {
      targets = resolvePattern(args.pattern!, registry);
      if (!targets.length) {
        throw new ToolError(
          "ValueError",
          `pattern ${JSON.stringify(args.pattern)} selects no host (see ssh_host_list).`,
        );
      }
    }
    const out = await fanOut(ctx, targets, args);
    return { ...out, hosts_matched: targets.map((p) => p.alias) };
  },
});
