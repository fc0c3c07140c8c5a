import { z } from "zod";
import { isToolError } from "../../errors.ts";
import { defineTool, HostArg } from "../define.ts";

/** Compares the live host key with the pinned one (never raises on a mismatch). */
export default defineTool({
  name: "ssh_known_hosts_verify",
  group: "host",
  tier: "read",
  description:
    "Compare a host's live SSH host key with the known_hosts pin; never accepts a new key.",
  input: z.strictObject({ host: HostArg }),
  output: z.strictObject({
    host: z.string(),
    expected_fingerprint: z.string().nullable(),
    live_fingerprint: z.string().nullable(),
    matches_known_hosts: z.boolean(),
    error: z.string().nullable(),
  }),
  async handler(_args, ctx) {
    const p = ctx.host.policy;
    const expected = ctx.view.knownHostsPin(p);
    try {
      const c = await ctx.connect();
      return {
        host: p.hostname,
        expected_fingerprint: expected,
        live_fingerprint: c.hostKeyFingerprint,
        matches_known_hosts: true,
        error: null,
      };
    } catch (e) {
      if (!isToolError(e)) throw e;
      const attrs = e.attributes;
      const live = typeof attrs.actual_fingerprint === "string" ? attrs.actual_fingerprint : null;
      switch (e.code) {
        case "UnknownHost":
        case "HostKeyMismatch":
        case "ConnectError":
          return {
            host: p.hostname,
            expected_fingerprint: typeof attrs.expected_fingerprint === "string"
              ? attrs.expected_fingerprint
              : expected,
            live_fingerprint: live,
            matches_known_hosts: false,
            error: `${e.code}: ${e.message}`,
          };
        case "AuthenticationFailed":
        case "AgentFingerprintNotFound": {
          // our credentials failed; the host key can still be proven without them
          try {
            const fp = await ctx.proveHostKey(ctx.host);
            return {
              host: p.hostname,
              expected_fingerprint: expected,
              live_fingerprint: fp,
              matches_known_hosts: true,
              error: `${e.code} (the host key itself verified): ${e.message}`,
            };
          } catch (e2) {
            if (!isToolError(e2)) throw e2;
            const a2 = e2.attributes;
            return {
              host: p.hostname,
              expected_fingerprint: typeof a2.expected_fingerprint === "string"
                ? a2.expected_fingerprint
                : expected,
              live_fingerprint: typeof a2.actual_fingerprint === "string"
                ? a2.actual_fingerprint
                : null,
              matches_known_hosts: false,
              error: `${e2.code}: ${e2.message}`,
            };
          }
        }
        default:
          throw e;
      }
    }
  },
});
