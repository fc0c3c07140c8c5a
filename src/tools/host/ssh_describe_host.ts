import { z } from "zod";
import { BUILTIN_COMMAND_DENYLIST, effectivePolicy } from "../../policy/effective.ts";
import { defineTool, HostArg } from "../define.ts";

/** Sanitized effective policy of one host: what an agent may do there and why. */
export default defineTool({
  name: "ssh_describe_host",
  group: "host",
  tier: "read",
  description:
    "Effective policy of a host: connection, tags, path and command policy, limits. No secrets.",
  input: z.strictObject({ host: HostArg }),
  output: z.strictObject({
    alias: z.string(),
    hostname: z.string(),
    connect_name: z.string(),
    port: z.number().int(),
    user: z.string(),
    platform: z.enum(["posix", "windows"]),
    tags: z.array(z.string()),
    source: z.enum(["hosts.toml", "env-allowlist"]),
    auth_method: z.enum(["agent", "key", "password"]),
    agent_key_pinned: z.boolean(),
    proxy_chain: z.array(z.string()),
    paths: z.strictObject({
      allowlist: z.array(z.string()),
      restricted_paths: z.array(z.string()),
      restricted_globs: z.array(z.string()),
      redact_globs: z.array(z.string()),
      redact_bypass_policy: z.enum(["block", "warn", "audit_only"]),
      case_insensitive: z.boolean(),
    }),
    commands: z.strictObject({
      allowlist: z.array(z.string()),
      allow_any: z.boolean(),
      rules: z.array(z.strictObject({ action: z.enum(["allow", "deny"]), pattern: z.string() })),
      host_denylist: z.array(z.string()),
      builtin_denylist_entries: z.number().int(),
    }),
    persistent_session: z.boolean(),
    docker_cmd: z.string().nullable(),
    become_method: z.enum(["sudo", "doas"]),
    limits: z.strictObject({
      command_timeout_s: z.number().int(),
      max_command_timeout_s: z.number().int(),
      stdout_cap_bytes: z.number().int(),
      stderr_cap_bytes: z.number().int(),
    }),
    network: z.strictObject({
      allowed: z.boolean(),
      resolved_ips: z.array(z.string()),
      reason: z.string().nullable(),
    }),
    known_hosts: z.strictObject({ pinned: z.boolean(), fingerprint: z.string().nullable() }),
    has_operator_notes: z.boolean(),
    has_agent_notes: z.boolean(),
  }),
  async handler(_args, ctx) {
    const p = ctx.host.policy;
    const eff = effectivePolicy(p, ctx.settings);
    const connectName = ctx.view.connectName(p);
    let chain: string[] = [];
    try {
      chain = ctx.view.route(p);
    } catch (e) {
      chain = [`(invalid: ${(e as Error).message})`];
    }
    let net: { allowed: boolean; resolved_ips: string[]; reason: string | null };
    if (ctx.inventory.isBlocked(connectName)) {
      net = {
        allowed: false,
        resolved_ips: [],
        reason: `${connectName} is on SSH_HOSTS_BLOCKLIST`,
      };
    } else {
      const d = await ctx.view.network(p);
      net = { allowed: d.allowed, resolved_ips: d.addresses, reason: d.reason };
    }
    const pin = ctx.view.knownHostsPin(p);
    const agent = await ctx.notes.read(p.alias);
    return {
      alias: p.alias,
      hostname: p.hostname,
      connect_name: connectName,
      port: p.port,
      user: p.user,
      platform: p.platform,
      tags: [...p.tags],
      source: p.source,
      auth_method: p.auth.method,
      agent_key_pinned: p.auth.method === "agent" && p.auth.identity_fingerprint !== null,
      proxy_chain: chain,
      paths: {
        allowlist: eff.path_allowlist,
        restricted_paths: eff.restricted_paths,
        restricted_globs: eff.restricted_globs,
        redact_globs: eff.redact_paths_globs,
        redact_bypass_policy: eff.redact_bypass_policy,
        case_insensitive: p.case_insensitive_paths || p.platform === "windows",
      },
      commands: {
        allowlist: eff.command_allowlist,
        allow_any: eff.allow_any_command,
        rules: p.command_rules.map((r) => ({ action: r.action, pattern: r.pattern })),
        host_denylist: [...p.command_denylist],
        builtin_denylist_entries: BUILTIN_COMMAND_DENYLIST.length,
      },
      persistent_session: p.persistent_session,
      docker_cmd: p.docker_cmd ?? ctx.settings.SSH_DOCKER_CMD,
      become_method: p.become_method,
      limits: {
        command_timeout_s: eff.command_timeout_s,
        max_command_timeout_s: eff.max_command_timeout_s,
        stdout_cap_bytes: eff.stdout_cap_bytes,
        stderr_cap_bytes: eff.stderr_cap_bytes,
      },
      network: net,
      known_hosts: { pinned: pin !== null, fingerprint: pin },
      has_operator_notes: Boolean(p.notes?.trim()),
      has_agent_notes: Boolean(agent?.content),
    };
  },
});
