/**
 * `ssh-mcp doctor`: checks the configuration and, per host, the pinned host
 * key, the auth material, reachability and authentication, with one fix hint
 * per failure.
 *
 * @module
 */

import { App } from "./app.ts";
import { auditSinkProblem } from "./audit/audit.ts";
import { isAbsolute, resolve } from "node:path";
import { expandPath, getEnv } from "./config/env.ts";
import type { LoadedConfig } from "./config/load.ts";
import type { HostPolicy } from "./config/types.ts";
import { FIX_HINTS, isToolError } from "./errors.ts";
import { Logger } from "./log.ts";
import { listAgentIdentities, resolveAgentSocket } from "./ssh/agent.ts";
import { prepareAuth } from "./ssh/auth.ts";
import { describeReport, permissionReport, shellProgram } from "./permissions.ts";
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

/** One server-level check (configuration files, audit sink, transport limits). */
export interface ConfigCheck {
  check: "hosts_file" | "audit_log" | "transport";
  status: "ok" | "fail";
  detail: string;
  fix?: string;
}

/**
 * The server-level checks (AUDIT-17): an explicitly named `SSH_HOSTS_FILE`
 * must exist, and a file audit sink must be writable (the server would refuse
 * to start otherwise).
 */
export async function configChecks(cfg: LoadedConfig): Promise<ConfigCheck[]> {
  const out: ConfigCheck[] = [];
  const named = getEnv(cfg.env, "SSH_HOSTS_FILE");
  if (cfg.hosts.source !== null) {
    out.push({ check: "hosts_file", status: "ok", detail: `${cfg.hosts.source} loaded` });
  } else if (named !== undefined && named.trim() !== "") {
    out.push({
      check: "hosts_file",
      status: "fail",
      detail:
        `SSH_HOSTS_FILE names ${named}, which does not exist (the server would run in env-only mode)`,
      fix:
        "create it (start from hosts.toml.example), correct the path, or unset SSH_HOSTS_FILE for env-only mode (SSH_HOSTS_ALLOWLIST)",
    });
  } else {
    out.push({
      check: "hosts_file",
      status: "ok",
      detail: "no hosts file: env-only mode (only SSH_HOSTS_ALLOWLIST hosts)",
    });
  }
  const spec = cfg.settings.SSH_AUDIT_LOG.trim();
  if (spec === "off") {
    out.push({ check: "audit_log", status: "ok", detail: "off (explicitly): nothing is audited" });
  } else if (spec === "" || spec === "stderr") {
    out.push({ check: "audit_log", status: "ok", detail: "stderr" });
  } else {
    const target = resolveLike(spec, cfg);
    const problem = await auditSinkProblem(target);
    out.push(
      problem === null
        ? { check: "audit_log", status: "ok", detail: `${target} is writable (append)` }
        : {
          check: "audit_log",
          status: "fail",
          detail: `${problem}; the server refuses to start with it`,
          fix:
            `create the directory and give the server's user write access to ${target}, or set SSH_AUDIT_LOG=stderr (or =off to run without an audit log)`,
        },
    );
  }
  return out;
}

/**
 * Places the server has no business writing or running, for doctor's
 * permission check: the hosts file, the working directory, the home directory,
 * the temp directory, and the shell when no secret command needs it.
 */
function outsideProbes(cfg: LoadedConfig): { write: string[]; run: string[] } {
  const write: string[] = [];
  if (cfg.hosts.source) write.push(cfg.hosts.source);
  write.push(cfg.cwd);
  const home = getEnv(cfg.env, "HOME") ?? getEnv(cfg.env, "USERPROFILE");
  if (home) write.push(resolve(home, ".ssh", "authorized_keys"));
  write.push(resolve(getEnv(cfg.env, "TMPDIR") || "/tmp", "ssh-mcp-doctor-probe"));
  return { write, run: [shellProgram()] };
}

/** A configured path exactly as the server resolves it (`~`, `${VAR}`, relative to cwd). */
function resolveLike(p: string, cfg: LoadedConfig): string {
  const e = expandPath(p, cfg.env);
  return isAbsolute(e) ? e : resolve(cfg.cwd, e);
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
      detail:
        `no trusted key for ${pins.lookupKey} in ${app.knownHosts.path} or ${app.knownHosts.pinPath}${
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

/**
 * Runs the doctor; returns the exit code (0 all ok, 1 a server-level check or
 * a host failed, or an alias was unknown). `extraChecks` come from the
 * transport layer (the inline-cap check of `mcp/limits.ts`).
 */
export async function runDoctor(
  cfg: LoadedConfig,
  aliases: string[],
  opts: { json: boolean; write: (s: string) => void; extraChecks?: ConfigCheck[] },
): Promise<number> {
  const server = [...await configChecks(cfg), ...(opts.extraChecks ?? [])];
  // before anything connects: Deno's answer for the grants and for places outside them
  const permissions = await permissionReport(outsideProbes(cfg));
  const app = await App.create(cfg, { logger: new Logger({ level: "ERROR" }), openAudit: false });
  const notices = cfg.notices;
  const all = app.hosts().list();
  const unknown = aliases.filter((a) => !app.hosts().get(a));
  const selected = aliases.length ? all.filter((p) => aliases.includes(p.alias)) : all;
  const hosts = await Promise.all(selected.map((p) => checkHost(app, p)));
  await app.close();
  const ok = unknown.length === 0 && hosts.every((h) => h.ok) &&
    server.every((c) => c.status === "ok");
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
          pinned_known_hosts: app.knownHosts.pinPath,
          pinned_known_hosts_loaded: app.knownHosts.pinsLoaded,
          confirm_new_host_keys: app.settings.SSH_CONFIRM_NEW_HOST_KEYS,
          approval_tiers: app.settings.SSH_APPROVAL_TIERS,
          audit_log: app.audit.target,
        },
        notices,
        permissions,
        server_checks: server,
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
  w(
    `pins       : ${app.knownHosts.pinPath}${app.knownHosts.pinsLoaded ? "" : " (none yet)"}; ` +
      `first contact ${app.settings.SSH_CONFIRM_NEW_HOST_KEYS ? "asks the user" : "off"}; ` +
      `approval tiers: ${app.settings.SSH_APPROVAL_TIERS.join(",") || "none"}`,
  );
  w(`audit log  : ${app.audit.target}`);
  w(`dotenv     : ${cfg.dotenvPath ?? "absent"}`);
  for (const n of notices) w(`${n.level}: ${n.message}`);
  for (const l of describeReport(permissions)) w(l);
  for (const c of server) {
    w(`${c.status === "ok" ? "ok  " : "FAIL"} ${c.check.padEnd(13)} ${c.detail}`);
    if (c.fix) w(`       fix: ${c.fix}`);
  }
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
  const badServer = server.filter((c) => c.status !== "ok").length;
  w(`\n${good} host(s) ok, ${hosts.length - good + unknown.length} failing${
    badServer ? `; ${badServer} server check(s) failing` : ""
  }`);
  return ok ? 0 : 1;
}
