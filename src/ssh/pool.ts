/**
 * Connection pool keyed `(user, hostname, port)` (+ the jump route), CONFIG.md
 * §6.3:
 *
 * - lazy connect; concurrent first calls share one connection attempt;
 * - every open (each proxy hop included) re-applies the blocklist to the policy
 *   hostname and to the ssh_config-mapped name, and the network policy to the
 *   connect name (SECURITY.md HOST-4, HOST-6, HOST-7), then strict host keys;
 * - a dead connection is dropped and the next call reconnects;
 * - an idle reaper closes connections unused for `SSH_IDLE_TIMEOUT` seconds,
 *   iterating over a snapshot (AC-036); jump hosts carrying live tunnels are
 *   never idle.
 *
 * @module
 */

import type { HostPolicy, Settings } from "../config/types.ts";
import type { SshConfig, SshConfigResult } from "../config/ssh_config.ts";
import { toSsh2Algorithms } from "../config/ssh_config.ts";
import { ToolError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { HostRegistry } from "../policy/hosts.ts";
import type { NetworkPolicy } from "../policy/network.ts";
import type { ConnectDeps, Connection, ConnectTarget, SocketFactory } from "./connection.ts";
import { connectionKey } from "./connection_key.ts";
import { importLazy } from "../util/lazy_import.ts";
import type { KnownHosts } from "./known_hosts.ts";
import type { PoolSession } from "./sessions.ts";
import { withSpan } from "../telemetry/otel.ts";
import { compareCodeUnits } from "../util/text.ts";

export type { PoolSession };

/**
 * The connection machinery (handshake, authentication, exec engine) is
 * imported on the first connection, not at start-up: a server that only
 * lists tools never loads it.
 */
function connectLayer(): Promise<
  [typeof import("./connection.ts"), typeof import("./auth.ts")]
> {
  return Promise.all([
    importLazy<typeof import("./connection.ts")>(new URL("./connection.ts", import.meta.url)),
    importLazy<typeof import("./auth.ts")>(new URL("./auth.ts", import.meta.url)),
  ]);
}

/** What the pool needs from the application (getters: reload swaps them). */
export interface PoolDeps {
  settings: Settings;
  env: Record<string, string | undefined>;
  logger: Logger;
  knownHosts: KnownHosts;
  hosts(): HostRegistry;
  network(): NetworkPolicy;
  sshConfig(): SshConfig | null;
  /** reaper period (default 60 s; tests shorten it) */
  reaperIntervalMs?: number;
  /** the TCP socket of direct connections (default `new net.Socket()`; tests observe it) */
  socketFactory?: SocketFactory;
}

interface Entry {
  key: string;
  promise: Promise<Connection>;
  conn?: Connection;
}

/** The connection pool. */
export class ConnectionPool {
  readonly #deps: PoolDeps;
  readonly #entries = new Map<string, Entry>();
  #reaper: number | undefined;
  /** connections opened since start (tests and benchmarks read it) */
  opened = 0;

  constructor(deps: PoolDeps) {
    this.#deps = deps;
  }

  /** Starts the idle reaper (unref'd so it never keeps the process alive). */
  startReaper(): void {
    if (this.#reaper !== undefined) return;
    const id = setInterval(
      () => this.reapIdle(),
      this.#deps.reaperIntervalMs ?? 60_000,
    ) as unknown as number;
    Deno.unrefTimer(id);
    this.#reaper = id;
  }

  /** Closes connections idle longer than `SSH_IDLE_TIMEOUT` (AC-036: snapshot). */
  reapIdle(now: number = Date.now()): number {
    const limit = this.#deps.settings.SSH_IDLE_TIMEOUT * 1000;
    const snapshot = [...this.#entries.values()];
    const inUseAsHop = new Set<string>();
    for (const e of snapshot) if (e.conn?.alive && e.conn.via) inUseAsHop.add(e.conn.via.key);
    let closed = 0;
    for (const e of snapshot) {
      const c = e.conn;
      if (!c || !c.alive) continue;
      if (this.#entries.get(e.key) !== e) continue;
      if (c.activeChannels > 0 || inUseAsHop.has(c.key)) continue;
      if (now - c.lastUsed < limit) continue;
      this.#deps.logger.debug("closing idle connection", { conn: c.key });
      this.#entries.delete(e.key);
      c.close();
      closed++;
    }
    return closed;
  }

  /** Open connections (for `ssh_session_list`). */
  sessions(now: number = Date.now()): PoolSession[] {
    const out: PoolSession[] = [];
    for (const e of this.#entries.values()) {
      const c = e.conn;
      if (!c?.alive) continue;
      out.push({
        user: c.target.user,
        host: c.target.policy.hostname,
        port: c.target.port,
        idle_seconds: Math.max(0, Math.floor((now - c.lastUsed) / 1000)),
      });
    }
    return out.sort((a, b) => compareCodeUnits(a.host, b.host) || a.port - b.port);
  }

  /** Number of live connections. */
  get size(): number {
    let n = 0;
    for (const e of this.#entries.values()) if (e.conn?.alive) n++;
    return n;
  }

  /** Closes every connection matching `pred` (reload with `invalidate_changed`). */
  closeWhere(pred: (c: Connection) => boolean): number {
    let n = 0;
    for (const e of [...this.#entries.values()]) {
      if (e.conn && pred(e.conn)) {
        this.#entries.delete(e.key);
        e.conn.close();
        n++;
      }
    }
    return n;
  }

  /** Closes everything and stops the reaper. */
  closeAll(): void {
    if (this.#reaper !== undefined) clearInterval(this.#reaper);
    this.#reaper = undefined;
    for (const e of [...this.#entries.values()]) e.conn?.close();
    this.#entries.clear();
  }

  /** known_hosts lookup of a policy: name (after ssh_config mapping), port, alias flag. */
  knownHostsLookup(policy: HostPolicy): { name: string; port: number; hostKeyAlias: boolean } {
    const { cfg, port } = this.#endpoint(policy);
    return {
      name: cfg?.hostKeyAlias ?? cfg?.hostName ?? policy.hostname,
      port,
      hostKeyAlias: Boolean(cfg?.hostKeyAlias),
    };
  }

  /** ssh_config view of a policy (null without SSH_CONFIG_FILE). */
  sshConfigFor(policy: HostPolicy): SshConfigResult | null {
    const cfg = this.#deps.sshConfig();
    if (!cfg) return null;
    const env = this.#deps.env;
    return cfg.resolve(policy.hostname, {
      localUser: env.USER ?? env.USERNAME ?? "",
      remoteUser: policy.user,
      home: env.HOME ?? env.USERPROFILE ?? "",
    });
  }

  /**
   * The jump hosts of a policy, flattened: each hop's own route comes first
   * (HOST-8). Aliases come from `proxy_jump`, or from ssh_config `ProxyJump`
   * when none is configured; every hop must itself be an allowed host.
   */
  routeFor(policy: HostPolicy, seen: Set<string> = new Set()): HostPolicy[] {
    const hosts = this.#deps.hosts();
    if (seen.has(policy.alias)) {
      throw new ToolError(
        "ConnectError",
        `Proxy jump cycle through ${policy.alias}; fix proxy_jump in hosts.toml.`,
      );
    }
    seen.add(policy.alias);
    let hops: HostPolicy[] = [];
    if (policy.proxy_jump.length) {
      hops = policy.proxy_jump.map((a) => {
        const p = hosts.get(a);
        if (!p) {
          throw new ToolError(
            "ConnectError",
            `Proxy hop ${JSON.stringify(a)} of ${policy.alias} is no longer in hosts.toml.`,
          );
        }
        return p;
      });
    } else {
      const cfg = this.sshConfigFor(policy);
      for (const j of cfg?.proxyJump ?? []) {
        const p = hosts.lookup(j.host);
        if (!p) {
          throw new ToolError(
            "HostNotAllowed",
            `ssh_config ProxyJump hop ${
              JSON.stringify(j.host)
            } for ${policy.alias} is not a configured host; add it to hosts.toml.`,
          );
        }
        hops.push(j.user || j.port ? { ...p, user: j.user ?? p.user, port: j.port ?? p.port } : p);
      }
    }
    const route: HostPolicy[] = [];
    const keys = new Set<string>();
    for (const hop of hops) {
      for (const h of [...this.routeFor(hop, new Set(seen)), hop]) {
        const k = `${h.user}@${h.hostname}:${h.port}`;
        if (!keys.has(k)) {
          keys.add(k);
          route.push(h);
        }
      }
    }
    return route;
  }

  /** A live connection to `policy`'s host, through its jump hosts. */
  async acquire(policy: HostPolicy): Promise<Connection> {
    let via: Connection | null = null;
    for (const hop of this.routeFor(policy)) via = await this.#getOrOpen(hop, via);
    return this.#getOrOpen(policy, via);
  }

  /** The pooled connection for `policy` if one is open (no connect). */
  peek(policy: HostPolicy): Connection | null {
    for (const e of this.#entries.values()) {
      const c = e.conn;
      if (
        c?.alive && c.target.policy.hostname === policy.hostname && c.target.port === policy.port
      ) {
        if (c.target.user === policy.user) return c;
      }
    }
    return null;
  }

  #getOrOpen(policy: HostPolicy, via: Connection | null): Promise<Connection> {
    const { cfg, user, port } = this.#endpoint(policy);
    const key = connectionKey(user, policy.hostname, port, via?.key);
    const existing = this.#entries.get(key);
    if (existing) {
      if (!existing.conn || existing.conn.alive) return existing.promise;
      this.#entries.delete(key);
    }
    const entry: Entry = { key, promise: Promise.resolve(null as unknown as Connection) };
    entry.promise = this.#open(policy, user, port, cfg, via).then(
      (conn) => {
        entry.conn = conn;
        this.opened++;
        conn.onClose(() => {
          if (this.#entries.get(key) === entry) this.#entries.delete(key);
        });
        via?.onClose(() => conn.close());
        return conn;
      },
      (e) => {
        if (this.#entries.get(key) === entry) this.#entries.delete(key);
        throw e;
      },
    );
    this.#entries.set(key, entry);
    return entry.promise;
  }

  /** Effective user and port (CONFIG.md §7 precedence). */
  #endpoint(policy: HostPolicy): { cfg: SshConfigResult | null; user: string; port: number } {
    const cfg = this.sshConfigFor(policy);
    const user = cfg?.user && !policy.configured_keys.includes("user") ? cfg.user : policy.user;
    const port = cfg?.port && !policy.configured_keys.includes("port") ? cfg.port : policy.port;
    return { cfg, user, port };
  }

  /**
   * Blocklist on the policy hostname and the ssh_config-mapped name, then the
   * network policy on the connect name (HOST-4, HOST-6, HOST-7).
   */
  async #target(
    policy: HostPolicy,
    user: string,
    port: number,
    cfg: SshConfigResult | null,
  ): Promise<ConnectTarget> {
    const d = this.#deps;
    const hosts = d.hosts();
    hosts.assertNotBlocked(policy);
    const connectName = cfg?.hostName ?? policy.hostname;
    if (connectName !== policy.hostname && hosts.isBlocked(connectName)) {
      throw new ToolError(
        "HostBlocked",
        `Host ${policy.alias} maps to ${connectName} via ssh_config HostName, which is on SSH_HOSTS_BLOCKLIST.`,
        { reason: "blocklist" },
      );
    }
    const decision = await d.network().check(connectName, policy.network);
    if (decision.kind === "resolve-failed") {
      throw new ToolError(
        "ConnectError",
        `Could not resolve ${connectName} for ${policy.alias}: ${decision.reason ?? "no address"}.`,
      );
    }
    if (!decision.allowed || !decision.connectAddress) {
      throw new ToolError(
        "HostBlocked",
        `Host ${policy.alias} (${connectName}) is refused by the network policy: ${
          decision.reason ?? "not allowed"
        }.`,
        { reason: "network-policy" },
      );
    }
    const algos = cfg ? toSsh2Algorithms(cfg) : null;
    for (const w of algos?.warnings ?? []) d.logger.warn(w, { host: policy.alias });
    for (const w of cfg?.warnings ?? []) d.logger.warn(`ssh_config: ${w}`, { host: policy.alias });
    let proxyCommand: string | undefined;
    if (cfg?.proxyCommand && policy.proxy_jump.length === 0 && !(cfg.proxyJump?.length)) {
      if (d.settings.ALLOW_SSH_CONFIG_PROXYCOMMAND) {
        proxyCommand = cfg.proxyCommand
          .replaceAll("%%", "\u0000")
          .replaceAll("%h", connectName)
          .replaceAll("%p", String(port))
          .replaceAll("%r", user)
          .replaceAll("%n", policy.hostname)
          .replaceAll("\u0000", "%");
      } else {
        d.logger.warn(
          `ssh_config ProxyCommand for ${policy.alias} ignored (it runs a local command); set ALLOW_SSH_CONFIG_PROXYCOMMAND=true to use it`,
        );
      }
    }
    return {
      ...(proxyCommand ? { proxyCommand } : {}),
      policy,
      user,
      port,
      connectName,
      lookupName: cfg?.hostKeyAlias ?? connectName,
      hostKeyAlias: Boolean(cfg?.hostKeyAlias),
      connectAddress: decision.connectAddress,
      algorithms: algos ?? undefined,
    };
  }

  /** Connect parameters; ssh_config `ConnectTimeout` / `ServerAliveInterval` override the env defaults per host. */
  #connectDeps(cfg: SshConfigResult | null): ConnectDeps {
    const s = this.#deps.settings;
    return {
      knownHosts: this.#deps.knownHosts,
      logger: this.#deps.logger,
      connectTimeoutMs: (cfg?.connectTimeout ?? s.SSH_CONNECT_TIMEOUT) * 1000,
      keepaliveMs: (cfg?.serverAliveInterval ?? s.SSH_KEEPALIVE_INTERVAL) * 1000,
      maxChannels: s.SSH_MAX_CONNECTIONS_PER_HOST,
      ...(this.#deps.socketFactory ? { socketFactory: this.#deps.socketFactory } : {}),
    };
  }

  /**
   * Verifies only the host key of `policy` (through its jump hosts, with the
   * same host and network checks) without offering credentials. Used when our
   * own credentials fail, so the key can still be reported.
   */
  async checkHostKey(policy: HostPolicy): Promise<string> {
    let via: Connection | null = null;
    for (const hop of this.routeFor(policy)) via = await this.#getOrOpen(hop, via);
    const { cfg, user, port } = this.#endpoint(policy);
    const target = await this.#target(policy, user, port, cfg);
    const [{ verifyHostKeyOnly }] = await connectLayer();
    return await verifyHostKeyOnly(target, via, this.#connectDeps(cfg));
  }

  /** Opens one new connection (one hop) inside an `ssh.connect` span (issue 14). */
  async #open(
    policy: HostPolicy,
    user: string,
    port: number,
    cfg: SshConfigResult | null,
    via: Connection | null,
  ): Promise<Connection> {
    const attrs = {
      "ssh.host": policy.alias,
      "net.peer.port": port,
      "ssh.via": via?.target.policy.alias,
      "ssh.auth_method": policy.auth.method,
    };
    return await withSpan("ssh.connect", attrs, async (span) => {
      const conn = await this.#connect(policy, user, port, cfg, via);
      span.set({
        "ssh.host_key.fingerprint": conn.hostKeyFingerprint,
      });
      return conn;
    }, "client");
  }

  async #connect(
    policy: HostPolicy,
    user: string,
    port: number,
    cfg: SshConfigResult | null,
    via: Connection | null,
  ): Promise<Connection> {
    const d = this.#deps;
    const [{ openConnection }, { prepareAuth }] = await connectLayer();
    const target = await this.#target(policy, user, port, cfg);
    const agentUnpinned = policy.auth.method === "agent" && !policy.auth.identity_fingerprint;
    const extraIdentityFiles = agentUnpinned ? cfg?.identityFiles ?? [] : [];
    // ssh_config may name the agent socket when hosts.toml does not (hosts.toml wins)
    const identityAgent = policy.auth.identity_agent ?? cfg?.identityAgent ?? null;
    const effective = user === policy.user && identityAgent === policy.auth.identity_agent
      ? policy
      : { ...policy, user, auth: { ...policy.auth, identity_agent: identityAgent } };
    const auth = await prepareAuth({
      policy: effective,
      settings: d.settings,
      env: d.env,
      extraIdentityFiles,
      identitiesOnly: agentUnpinned && cfg?.identitiesOnly === true,
      logger: d.logger,
    });
    return await openConnection(target, auth, via, this.#connectDeps(cfg));
  }
}
