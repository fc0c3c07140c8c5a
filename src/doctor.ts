/**
 * `ssh-mcp doctor`: checks the configuration and, per host, the pinned host
 * key, the auth material, reachability and authentication, with one fix hint
 * per failure.
 *
 * @module
 */

import { App } from "./app.ts";
import type { LoadedConfig } from "./config/load.ts";
import type { HostPolicy } from "./config/types.ts";
import { FIX_HINTS, isToolError } from "./errors.ts";
import { Logger } from "./log.ts";
import { listAgentIdentities, resolveAgentSocket } from "./ssh/agent.ts";
import { prepareAuth } from "./ssh/auth.ts";
import { VERSION } from "./version.ts";

/** One check of one host. */
export interface DoctorCheck {
  check: "host_key" | "auth_material" | "connect";
  status: "ok" | "fail" | "skipped";
  detail: string;
  fix?: string;
}

/** Report for one host. */
export interface DoctorHost {
  alias: string;
  hostname: string;
  port: number;
  user: string;
  ok: boolean;
  checks: DoctorCheck[];
}

function fail(check: DoctorCheck["check"], e: unknown): DoctorCheck {
  if (isToolError(e)) {
    return { check, status: "fail", detail: `${e.code}: ${e.message}`, fix: FIX_HINTS[e.code] };
  }
  return { check, status: "fail", detail: String(e instanceof Error ? e.message : e) };
}

async function checkHost(app: App, p: HostPolicy): Promise<DoctorHost> {
  const checks: DoctorCheck[] = [];
  const l = app.pool.knownHostsLookup(p);
  const pins = app.knownHosts.lookup(l.name, l.port, { hostKeyAlias: l.hostKeyAlias });
  if (pins.trusted.length) {
    checks.push({
      check: "host_key",
      status: "ok",
      detail: `pinned ${
        pins.trusted.map((k) => `${k.fingerprint} (${k.keyType})`).join(", ")
      } for ${pins.lookupKey}`,
    });
  } else {
    checks.push({
      check: "host_key",
      status: "fail",
      detail: `no trusted key for ${pins.lookupKey} in ${app.knownHosts.path}${
        pins.certAuthority.length
          ? " (only @cert-authority lines, which ssh-mcp cannot verify)"
          : ""
      }`,
      fix:
        `ssh-keyscan -p ${l.port} ${l.name} > /tmp/${p.alias}.keys; ssh-keygen -lf /tmp/${p.alias}.keys; compare with the host console, then append the line to ${app.knownHosts.path}`,
    });
  }
  let authOk = false;
  try {
    const auth = await prepareAuth({
      policy: p,
      settings: app.settings,
      env: app.config.env,
      logger: app.logger,
    });
    let detail = auth.description;
    if (p.auth.method === "agent" && !p.auth.identity_fingerprint) {
      const sock = resolveAgentSocket(p.auth.identity_agent, app.config.env);
      if (sock) detail += `; agent holds ${(await listAgentIdentities(sock, 3000)).length} key(s)`;
    }
    checks.push({ check: "auth_material", status: "ok", detail });
    authOk = true;
  } catch (e) {
    checks.push(fail("auth_material", e));
  }
  if (!pins.trusted.length || !authOk) {
    checks.push({ check: "connect", status: "skipped", detail: "fix the checks above first" });
  } else {
    try {
      const t0 = performance.now();
      const c = await app.pool.acquire(p);
      checks.push({
        check: "connect",
        status: "ok",
        detail:
          `authenticated as ${c.target.user} at ${c.target.connectAddress}:${c.target.port} in ${
            Math.round(performance.now() - t0)
          } ms (${c.serverBanner ?? "unknown server"})`,
      });
    } catch (e) {
      checks.push(fail("connect", e));
    }
  }
  return {
    alias: p.alias,
    hostname: p.hostname,
    port: p.port,
    user: p.user,
    ok: checks.every((c) => c.status === "ok"),
    checks,
  };
}

/** Runs the doctor; returns the exit code (0 all ok, 1 a host failed or was unknown). */
export async function runDoctor(
  cfg: LoadedConfig,
  aliases: string[],
  opts: { json: boolean; write: (s: string) => void },
): Promise<number> {
  const app = await App.create(cfg, { logger: new Logger({ level: "ERROR" }) });
  const notices = cfg.notices;
  const all = app.hosts().list();
  const unknown = aliases.filter((a) => !app.hosts().get(a));
  const selected = aliases.length ? all.filter((p) => aliases.includes(p.alias)) : all;
  const hosts = await Promise.all(selected.map((p) => checkHost(app, p)));
  await app.close();
  const ok = unknown.length === 0 && hosts.every((h) => h.ok);
  if (opts.json) {
    opts.write(JSON.stringify(
      {
        version: VERSION,
        ok,
        config: {
          dotenv: cfg.dotenvPath,
          hosts_file: cfg.hosts.source,
          known_hosts: app.knownHosts.path,
          known_hosts_loaded: app.knownHosts.loaded,
          audit_log: app.audit.target,
        },
        notices,
        unknown_aliases: unknown,
        hosts,
      },
      null,
      2,
    ));
    return ok ? 0 : 1;
  }
  const w = opts.write;
  w(`ssh-mcp doctor ${VERSION}`);
  w(`hosts file : ${cfg.hosts.source ?? "(none: env-only mode)"} (${all.length} hosts)`);
  w(`known_hosts: ${app.knownHosts.path}${app.knownHosts.loaded ? "" : " (missing!)"}`);
  w(`audit log  : ${app.audit.target}`);
  w(`dotenv     : ${cfg.dotenvPath ?? "absent"}`);
  for (const n of notices) w(`${n.level}: ${n.message}`);
  for (const a of unknown) w(`FAIL ${a}: not an alias in hosts.toml`);
  for (const h of hosts) {
    w(`\n${h.alias} (${h.user}@${h.hostname}:${h.port})`);
    for (const c of h.checks) {
      w(`  ${c.status === "ok" ? "ok  " : c.status === "fail" ? "FAIL" : "skip"} ${
        c.check.padEnd(13)
      } ${c.detail}`);
      if (c.fix) w(`       fix: ${c.fix}`);
    }
  }
  const good = hosts.filter((h) => h.ok).length;
  w(`\n${good} host(s) ok, ${hosts.length - good + unknown.length} failing`);
  return ok ? 0 : 1;
}
