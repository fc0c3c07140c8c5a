/**
 * Read-only previews of the policy (`ctx.view`) for tools that explain
 * decisions without acting: ssh_plan (dry run) and ssh_describe_host. They
 * consult the same checkers the pipeline uses, but nothing they return is a
 * checked value, and no audit line is written. Tool facts come from the
 * visible catalog only: a hidden tool does not exist here (TIER-13).
 *
 * @module
 */

import type { HostPolicy } from "../config/types.ts";
import type { PathIo } from "../policy/paths.ts";
import type { AppServices } from "../services.ts";
import type { PolicyView, ToolFacts } from "../tools/context.ts";

const NO_IO: PathIo = {
  exec: () => Promise.reject(new Error("lexical path preview: no remote I/O")),
  sftp: () => Promise.reject(new Error("lexical path preview: no remote I/O")),
};

function limit(p: HostPolicy, app: AppServices) {
  const s = app.settings;
  return {
    timeoutMs: (p.command_timeout ?? s.SSH_COMMAND_TIMEOUT) * 1000,
    stdoutCap: p.stdout_cap_bytes ?? s.SSH_STDOUT_CAP_BYTES,
    stderrCap: p.stderr_cap_bytes ?? s.SSH_STDERR_CAP_BYTES,
  };
}

function visibleNames(app: AppServices): ReadonlySet<string> {
  return new Set(app.catalog.visible.map((t) => t.name));
}

/** The {@link PolicyView} of a running server for one call (`signal`: the call's cancellation). */
export function policyView(app: AppServices, signal: AbortSignal): PolicyView {
  const connectName = (p: HostPolicy) => app.pool.sshConfigFor(p)?.hostName ?? p.hostname;
  return {
    connectName,
    route: (p) => app.pool.routeFor(p).map((h) => h.alias),
    async network(p) {
      const d = await app.network().check(connectName(p), p.network);
      return { allowed: d.allowed, addresses: d.addresses, reason: d.reason };
    },
    knownHostsPin: (p) => app.knownHostsPin(p),
    // TIER-13: a hidden tool is looked up like a name that does not exist
    // (only the visible catalog is consulted), so ssh_plan cannot reveal it
    tool(name): ToolFacts | null {
      const t = app.catalog.visible.find((x) => x.name === name);
      if (!t) return null;
      return {
        name: t.name,
        tier: t.tier,
        posixOnly: t.posixOnly === true,
        commandKind: t.commandKind,
        pathRedactGates: [...t.pathRedactGates],
        visible: true,
      };
    },
    cheatsheet: (req) => app.commands.cheatsheet({ ...req, visibleTools: visibleNames(app) }),
    cheatsheetMatch: (req) =>
      app.commands.cheatsheetMatch({ ...req, visibleTools: visibleNames(app) }),
    command(req) {
      const r = app.commands.admit(req);
      return { reason: r.decision.reason, rule: r.decision.rule };
    },
    async path(p, tool, raw, opts) {
      // remote: read-only canonicalization over a pooled connection (the pool
      // re-applies blocklist and network policy when it connects)
      const io: PathIo = opts.remote
        ? {
          exec: async (cmd, timeoutMs) => {
            const c = await app.pool.acquire(p);
            const l = limit(p, app);
            return await c.exec(cmd, { ...l, ...(timeoutMs ? { timeoutMs } : {}), signal });
          },
          sftp: async () => await (await app.pool.acquire(p)).sftp(),
        }
        : NO_IO;
      const r = await app.paths.check({
        tool,
        policy: p,
        raw,
        mustExist: false,
        redactGate: opts.redactGate,
        follow: true,
        lexical: !opts.remote,
        io,
      });
      return { path: r.path, warnings: r.warnings };
    },
  };
}
