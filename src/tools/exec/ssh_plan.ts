import { z } from "zod";
import type { HostPolicy } from "../../config/types.ts";
import { isToolError, ToolError } from "../../errors.ts";
import { hostsWithTag, resolvePattern } from "../../fleet/pattern.ts";
import { effectivePolicy } from "../../policy/effective.ts";
import { R_TAG } from "../_schemas.ts";
import { defineTool } from "../define.ts";
import type { ToolContext, ToolFacts } from "../context.ts";

/** Tools whose command goes through the cheatsheet first (SECURITY.md §CHEAT scope). */
const CHEATSHEET_TOOLS = new Set([
  "ssh_exec_run",
  "ssh_exec_run_streaming",
  "ssh_sudo_exec",
  "ssh_broadcast",
  "ssh_run_on_tag",
  "ssh_shell_exec",
  "ssh_run_async",
]);
/** Tools taking a command that do not declare it as a registry field (fan-out). */
const UNDECLARED_COMMAND_TOOLS = new Set(["ssh_broadcast", "ssh_run_on_tag"]);

const Target = z.strictObject({
  alias: z.string(),
  hostname: z.string(),
  platform: z.enum(["posix", "windows"]),
  host_blocked: z.boolean(),
  resolved_ips: z.array(z.string()),
  network_decision: z.enum(["allow", "deny"]),
  network_reason: z.string().nullable(),
  tier_visible: z.boolean(),
  platform_supported: z.boolean(),
  cheatsheet_match: z.strictObject({
    pattern_id: z.string().nullable(),
    suggested_tool: z.string().nullable(),
    refused: z.boolean(),
  }).nullable(),
  command_decision: z.enum(["allow", "deny"]).nullable(),
  command_reason: z.string().nullable(),
  rule_matched: z.string().nullable(),
  denylist_hit: z.string().nullable(),
  command_message: z.string().nullable(),
  path_decision: z.strictObject({
    decision: z.enum(["allow", "deny"]),
    mode: z.enum(["lexical", "remote"]),
    path: z.string().nullable(),
    error: z.string().nullable(),
    message: z.string().nullable(),
  }).nullable(),
  limits: z.strictObject({
    timeout_s: z.number().int(),
    max_timeout_s: z.number().int(),
    stdout_cap: z.number().int(),
    stderr_cap: z.number().int(),
  }),
  would_execute: z.boolean(),
  reasons: z.array(z.string()),
});

/** Policy dry run: what a tool call would be allowed to do, without running it. */
export default defineTool({
  name: "ssh_plan",
  group: "exec",
  tier: "read",
  description: "Dry run of the policy for a tool call on a host, tag or pattern; runs nothing.",
  input: z.strictObject({
    host: z.string().min(1).max(100).nullish().describe(
      "One host",
    ),
    tag: z.string().regex(R_TAG, "must match ^[A-Za-z0-9._-]{1,50}$").nullish().describe(
      "Host tag",
    ),
    pattern: z.string().min(1).max(2000).nullish().describe(
      "Host pattern",
    ),
    tool: z.string().regex(/^ssh_[a-z0-9_]{1,60}$/).default("ssh_exec_run").describe(
      "Tool to plan",
    ),
    command: z.string().max(1024 * 1024).nullish().describe(
      "Command to check",
    ),
    path: z.string().min(1).max(4096).nullish().describe("Remote path to evaluate"),
    remote_canonicalize: z.boolean().default(false).describe(
      "Resolve on the host",
    ),
  }),
  output: z.strictObject({
    tool: z.string(),
    targets: z.array(Target),
    would_execute_on: z.array(z.string()),
  }),
  hostFields: [],
  async handler(args, ctx) {
    const registry = ctx.inventory;
    const given = [args.host, args.tag, args.pattern].filter((x) => x !== null && x !== undefined);
    if (given.length !== 1) {
      throw new ToolError("ValueError", "Give exactly one of host, tag or pattern.");
    }
    // TIER-13: hidden tools are not in the view; the error is the one for a name that never existed
    const tool = ctx.view.tool(args.tool);
    if (!tool) {
      throw new ToolError("ValueError", `tool ${JSON.stringify(args.tool)} does not exist.`);
    }
    const kind = tool.commandKind ??
      (UNDECLARED_COMMAND_TOOLS.has(tool.name) ? "command" : null);
    if (typeof args.command === "string" && !kind) {
      throw new ToolError("ValueError", `${tool.name} takes no command.`);
    }
    if (typeof args.path === "string" && !tool.pathRedactGates.length) {
      throw new ToolError("ValueError", `${tool.name} takes no remote path.`);
    }
    let policies: HostPolicy[];
    if (typeof args.host === "string") {
      const p = registry.lookup(args.host);
      if (!p) registry.resolve(args.host); // throws the standard HostNotAllowed
      policies = [p!];
    } else if (typeof args.tag === "string") {
      policies = hostsWithTag(args.tag, registry);
      if (!policies.length) {
        throw new ToolError("ValueError", `No host carries tag ${JSON.stringify(args.tag)}.`);
      }
    } else {
      policies = resolvePattern(args.pattern!, registry);
    }
    const targets = [];
    for (const p of policies) targets.push(await planOne(ctx, p, tool, kind, args));
    return {
      tool: tool.name,
      targets,
      would_execute_on: targets.filter((t) => t.would_execute).map((t) => t.alias),
    };
  },
});

type Plan = z.output<typeof Target>;

async function planOne(
  ctx: ToolContext,
  p: HostPolicy,
  tool: ToolFacts,
  kind: "command" | "script" | null,
  args: { command?: string | null; path?: string | null; remote_canonicalize: boolean },
): Promise<Plan> {
  const toolName = tool.name;
  const view = ctx.view;
  const eff = effectivePolicy(p, ctx.settings);
  const reasons: string[] = [];
  const blocked = ctx.inventory.isBlocked(p.hostname);
  if (blocked) reasons.push("host is on SSH_HOSTS_BLOCKLIST");
  const connectName = view.connectName(p);
  let net: { allowed: boolean; addresses: string[]; reason: string | null };
  if (!blocked && connectName !== p.hostname && ctx.inventory.isBlocked(connectName)) {
    net = { allowed: false, addresses: [], reason: `${connectName} is on SSH_HOSTS_BLOCKLIST` };
  } else {
    net = await view.network(p);
  }
  if (!net.allowed) reasons.push(`network policy: ${net.reason ?? "not allowed"}`);
  const tierVisible = tool.visible;
  if (!tierVisible) reasons.push(`${toolName} is not visible in this configuration (tier/group)`);
  const platformOk = !(tool.posixOnly && p.platform === "windows") &&
    !(kind !== null && p.platform === "windows");
  if (!platformOk) reasons.push(`${toolName} needs a POSIX host`);

  let cheat: Plan["cheatsheet_match"] = null;
  let decision: Plan["command_decision"] = null;
  let reason: string | null = null;
  let rule: string | null = null;
  let message: string | null = null;
  if (typeof args.command === "string" && kind) {
    const req = { tool: toolName, policy: p, command: args.command, kind };
    if (kind === "command" && CHEATSHEET_TOOLS.has(toolName)) {
      try {
        const hit = view.cheatsheet(req);
        if (hit.patternId) {
          cheat = { pattern_id: hit.patternId, suggested_tool: null, refused: false };
        }
      } catch (e) {
        if (!isToolError(e, "CommandIsCheatsheetMatch")) throw e;
        const a = e.attributes;
        cheat = {
          pattern_id: typeof a.pattern_id === "string" ? a.pattern_id : null,
          suggested_tool: typeof a.suggested_tool === "string" ? a.suggested_tool : null,
          refused: true,
        };
        reasons.push(`cheatsheet refuses it: ${e.message}`);
      }
    }
    try {
      const r = view.command(req);
      decision = "allow";
      reason = r.reason;
      rule = r.rule;
    } catch (e) {
      if (!isToolError(e)) throw e;
      decision = "deny";
      reason = typeof e.attributes.reason === "string" ? e.attributes.reason : e.code;
      rule = typeof e.attributes.rule === "string" ? e.attributes.rule : null;
      message = `${e.code}: ${e.message}`;
      reasons.push(`command policy: ${message}`);
    }
  }

  let pathDecision: Plan["path_decision"] = null;
  if (typeof args.path === "string") {
    const mode = args.remote_canonicalize ? "remote" : "lexical";
    try {
      const r = await view.path(p, toolName, args.path, {
        remote: args.remote_canonicalize,
        redactGate: tool.pathRedactGates[0] ?? true,
      });
      pathDecision = { decision: "allow", mode, path: r.path, error: null, message: null };
    } catch (e) {
      if (!isToolError(e)) throw e;
      pathDecision = { decision: "deny", mode, path: null, error: e.code, message: e.message };
      reasons.push(`path policy: ${e.code}: ${e.message}`);
    }
  }
  const would = !blocked && net.allowed && tierVisible && platformOk &&
    (decision === null || decision === "allow") && !(cheat?.refused) &&
    (pathDecision === null || pathDecision.decision === "allow");
  return {
    alias: p.alias,
    hostname: p.hostname,
    platform: p.platform,
    host_blocked: blocked,
    resolved_ips: net.addresses,
    network_decision: net.allowed ? "allow" : "deny",
    network_reason: net.reason,
    tier_visible: tierVisible,
    platform_supported: platformOk,
    cheatsheet_match: cheat,
    command_decision: decision,
    command_reason: reason,
    rule_matched: rule,
    denylist_hit: reason === "denylist" ? rule : null,
    command_message: message,
    path_decision: pathDecision,
    limits: {
      timeout_s: eff.command_timeout_s,
      max_timeout_s: eff.max_command_timeout_s,
      stdout_cap: eff.stdout_cap_bytes,
      stderr_cap: eff.stderr_cap_bytes,
    },
    would_execute: would,
    reasons,
  };
}
