import { z } from "zod";
import { isToolError } from "../../errors.ts";
import { scan } from "../../policy/sanitize.ts";
import { defineTool, HostArg } from "../define.ts";
import { OutputWarnings } from "../_schemas.ts";

const SOFT_FAILURES = new Set([
  "UnknownHost",
  "HostKeyMismatch",
  "AuthenticationFailed",
  "AgentFingerprintNotFound",
]);

/** Opens (or reuses) the pooled connection and reports reachability, identity and notes. */
export default defineTool({
  name: "ssh_host_ping",
  group: "host",
  tier: "read",
  description: "Check that a host is reachable and SSH auth works (no command); returns its notes.",
  input: z.strictObject({ host: HostArg }),
  output: z.strictObject({
    host: z.string(),
    reachable: z.boolean(),
    auth_ok: z.boolean(),
    latency_ms: z.number().int(),
    server_banner: z.string().nullable(),
    known_host_fingerprint: z.string().nullable(),
    operator_notes: z.string().nullable(),
    agent_notes: z.string().nullable(),
    error: z.string().nullable(),
    output_warnings: OutputWarnings,
  }),
  async handler(_args, ctx) {
    const p = ctx.host.policy;
    const s = ctx.settings;
    const t0 = performance.now();
    let reachable = false;
    let authOk = false;
    let banner: string | null = null;
    let error: string | null = null;
    try {
      const c = await ctx.connect();
      reachable = true;
      authOk = true;
      banner = c.serverBanner;
    } catch (e) {
      if (!isToolError(e)) throw e;
      if (SOFT_FAILURES.has(e.code)) {
        reachable = true;
        error = `${e.code}: ${e.message}`;
      } else if (e.code === "ConnectError") {
        error = `${e.code}: ${e.message}`;
      } else {
        throw e;
      }
    }
    const latency = Math.round(performance.now() - t0);
    const operator = s.SSH_PING_INCLUDES_NOTES && p.notes?.trim() ? p.notes.trim() : null;
    const agent = s.SSH_PING_INCLUDES_AGENT_NOTES
      ? (await ctx.notes.read(p.alias))?.content ?? null
      : null;
    return {
      host: p.hostname,
      reachable,
      auth_ok: authOk,
      latency_ms: latency,
      server_banner: banner,
      known_host_fingerprint: ctx.view.knownHostsPin(p),
      operator_notes: operator,
      agent_notes: agent,
      error,
      output_warnings: agent ? scan(agent).map((w) => `agent_notes: ${w}`) : [],
    };
  },
});
