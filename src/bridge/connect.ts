/**
 * Where the bridge connects and how: the host policy (from the command line,
 * or a hosts.toml alias), strict host keys, the client credentials, and the
 * remote stream (exec / subsystem / default session) on a connection of the
 * project's own `ConnectionPool` — the same path every tool call takes:
 * blocklist and network policy, jump hosts, ssh_config (alias mode),
 * `prepareAuth` (key files with passphrase_cmd / secret, agent), and the
 * handshake whose `hostVerifier` refuses an unknown or changed key before any
 * credential is offered (UnknownHost / HostKeyMismatch).
 *
 * @module
 */

// @ts-types="npm:@types/ssh2@1.15.5"
import type ssh2 from "ssh2";
import * as path from "node:path";
import { loadConfig } from "../config/load.ts";
import { basePolicy, defaultNetwork } from "../config/hosts_defaults.ts";
import { expandPath } from "../config/env.ts";
import { defaultSettings } from "../config/settings.ts";
import { SshConfig } from "../config/ssh_config.ts";
import type { HostPolicy, HostsFile, MutableSettings, Settings } from "../config/types.ts";
import { ConfigError, ToolError } from "../errors.ts";
import type { Logger } from "../log.ts";
import "../config/ip_lib.ts"; // the host registry and the network policy check addresses
import { HostRegistry } from "../policy/hosts.ts";
import { NetworkPolicy } from "../policy/network.ts";
import type { Connection } from "../ssh/connection.ts";
import { HostPins } from "../ssh/host_pins.ts";
import { KnownHosts } from "../ssh/known_hosts.ts";
import { ConnectionPool } from "../ssh/pool.ts";
import { SECRET_NAME_RE } from "../config/secrets.ts";
import { type BridgeArgs, type Endpoint, UsageError } from "./args.ts";
import { type KeyServerPlan, KeyServerTrust } from "./keyserver.ts";
import type { ConnectFailure, RemoteStream } from "./relay.ts";

/** What runs on the remote end of the channel. */
export type RemoteEnd =
  | { kind: "exec"; command: string }
  | { kind: "subsystem"; name: string }
  | { kind: "shell" };

/** Everything needed to open remote streams. */
export interface BridgePlan {
  pool: ConnectionPool;
  policy: HostPolicy;
  remote: RemoteEnd;
  /** e.g. `mcp@db1:22 (subsystem mcp)` */
  label: string;
  /** where host keys are checked */
  knownHostsPath: string;
  /** "flags" or `alias <name>` */
  mode: string;
  /** the default client key to create first (flags mode without -i / --agent), or null */
  defaultKey: string | null;
  /** the key-server exchange to run before connecting (--key-server), or null */
  keyServer: KeyServerPlan | null;
}

/** The default client key path. */
export const DEFAULT_BRIDGE_KEY = "~/.ssh/ssh_mcp_bridge";

function describeRemote(r: RemoteEnd): string {
  return r.kind === "exec"
    ? `command ${JSON.stringify(r.command)}`
    : r.kind === "subsystem"
    ? `subsystem ${r.name}`
    : "default session";
}

function absolute(p: string, env: Record<string, string | undefined>, cwd: string): string {
  const e = expandPath(p, env);
  return path.isAbsolute(e) ? e : path.resolve(cwd, e);
}

/** Applies --passphrase-cmd / --passphrase-file to an auth table (and the secrets dir). */
function passphraseSource(
  a: BridgeArgs,
  policy: HostPolicy,
  settings: MutableSettings,
  env: Record<string, string | undefined>,
  cwd: string,
): void {
  if (a.passphraseCmd !== null) {
    policy.auth.passphrase_cmd = a.passphraseCmd;
    policy.auth.passphrase_secret = null;
  } else if (a.passphraseFile !== null) {
    const file = absolute(a.passphraseFile, env, cwd);
    const name = path.basename(file);
    if (!SECRET_NAME_RE.test(name)) {
      throw new UsageError(
        `--passphrase-file: the file name ${JSON.stringify(name)} must consist of letters, ` +
          `digits, '_' and '-' (it is read like a secret of SSH_SECRETS_DIR)`,
      );
    }
    settings.SSH_SECRETS_DIR = path.dirname(file);
    settings.ALLOW_ENV_SECRETS = false;
    policy.auth.passphrase_cmd = null;
    policy.auth.passphrase_secret = name;
  }
}

function mutableCopy(p: HostPolicy): HostPolicy {
  return structuredClone(p);
}

/** A jump host policy for `--jump`, with the target's credentials. */
function jumpPolicy(j: Endpoint, like: HostPolicy, taken: Set<string>): HostPolicy {
  let alias = `jump ${j.host}`;
  if (taken.has(alias)) alias = `jump ${j.host}:${j.port ?? 22}`;
  const p = mutableCopy(like);
  p.alias = alias;
  p.hostname = j.host;
  p.port = j.port ?? 22;
  p.user = j.user ?? like.user;
  p.proxy_jump = [];
  p.remote_mcp = null;
  p.platform = "posix";
  p.configured_keys = ["user", "port"];
  return p;
}

/**
 * The bridge's own pin file in flags mode: SSH_PINNED_KNOWN_HOSTS, else under
 * an absolute $XDG_CONFIG_HOME, else ~/.config/ssh-mcp/pinned_known_hosts
 * (the same rule as the server's settings).
 */
function flagsPinPath(env: Record<string, string | undefined>, cwd: string): string {
  const set = (env.SSH_PINNED_KNOWN_HOSTS ?? "").trim();
  if (set !== "") return absolute(set, env, cwd);
  const xdg = (env.XDG_CONFIG_HOME ?? "").trim();
  if (xdg !== "" && path.isAbsolute(xdg)) return path.join(xdg, "ssh-mcp", "pinned_known_hosts");
  return absolute(defaultSettings().SSH_PINNED_KNOWN_HOSTS, env, cwd);
}

/** The key-server part of the plan: the store (user's file + our pin file) wrapped for the pool. */
function keyServerPlan(
  a: BridgeArgs,
  policy: HostPolicy,
  userKnownHosts: string,
  pinPath: string,
  env: Record<string, string | undefined>,
  cwd: string,
  logger: Logger,
): KeyServerPlan {
  const pins = new HostPins(userKnownHosts, pinPath, { logger });
  return {
    url: a.keyServer!,
    fingerprint: a.serverFingerprint,
    tofu: a.tofu,
    caFile: a.keyServerCa !== null ? absolute(a.keyServerCa, env, cwd) : null,
    clientKey: policy.auth.method === "key" && policy.auth.key
      ? absolute(policy.auth.key, env, cwd)
      : null,
    pins,
    trust: new KeyServerTrust(pins),
  };
}

/**
 * Builds the plan: alias mode when the first argument is a hosts.toml alias,
 * else flags mode. Throws UsageError (2) or ConfigError (3).
 */
export async function planBridge(
  a: BridgeArgs,
  env: Record<string, string | undefined>,
  cwd: string,
  logger: Logger,
): Promise<BridgePlan> {
  const strEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) strEnv[k] = v;

  // alias mode: a bare name that hosts.toml knows
  let aliasPolicy: HostPolicy | undefined;
  let cfg: Awaited<ReturnType<typeof loadConfig>> | null = null;
  if (a.target.user === null && a.target.port === null) {
    try {
      cfg = await loadConfig({ env: strEnv, cwd });
      aliasPolicy = cfg.hosts.hosts.get(a.targetRaw);
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      logger.warn(
        `configuration not loaded (${e.message}); ${a.targetRaw} is taken as a host name, not a hosts.toml alias`,
      );
    }
  }

  if (aliasPolicy && cfg) {
    const settings = { ...cfg.settings } as MutableSettings;
    const policy = mutableCopy(aliasPolicy);
    // the far end is an MCP endpoint: no login-shell probe (an m2m server would take the
    // probe's exec channel for an MCP session)
    policy.platform = "windows";
    if (a.port !== null) {
      policy.port = a.port;
      policy.configured_keys = [...policy.configured_keys, "port"];
    }
    if (a.user !== null) {
      policy.user = a.user;
      policy.configured_keys = [...policy.configured_keys, "user"];
    }
    if (a.key !== null) {
      policy.auth = {
        ...policy.auth,
        method: "key",
        key: absolute(a.key, env, cwd),
        identity_fingerprint: null,
      };
    } else if (a.agent) {
      policy.auth = { ...policy.auth, method: "agent", key: null };
    }
    passphraseSource(a, policy, settings, env, cwd);
    const rm = policy.remote_mcp;
    const remote: RemoteEnd | null = a.command !== null
      ? { kind: "exec", command: a.command }
      : a.subsystem !== null
      ? { kind: "subsystem", name: a.subsystem }
      : rm?.command
      ? { kind: "exec", command: rm.command }
      : rm?.subsystem
      ? { kind: "subsystem", name: rm.subsystem }
      : null;
    if (!remote) {
      throw new UsageError(
        `host ${a.targetRaw} has no [hosts.${a.targetRaw}.remote_mcp] table with command or ` +
          `subsystem; add one or give --command / --subsystem`,
      );
    }
    const hosts = new Map(cfg.hosts.hosts);
    if (a.jump) {
      const j = jumpPolicy(a.jump, policy, new Set(hosts.keys()));
      hosts.set(j.alias, j);
      policy.proxy_jump = [j.alias];
    }
    hosts.set(policy.alias, policy);
    const file: HostsFile = { ...cfg.hosts, hosts };
    const ks = a.keyServer !== null
      ? keyServerPlan(
        a,
        policy,
        a.knownHosts !== null
          ? absolute(a.knownHosts, env, cwd)
          : absolute(settings.SSH_KNOWN_HOSTS, cfg.env, cfg.cwd),
        absolute(settings.SSH_PINNED_KNOWN_HOSTS, cfg.env, cfg.cwd),
        env,
        cwd,
        logger,
      )
      : null;
    const knownHosts = ks !== null
      ? ks.trust
      : a.knownHosts !== null
      ? new KnownHosts(absolute(a.knownHosts, env, cwd), { logger, label: "known_hosts file" })
      : new HostPins(
        absolute(settings.SSH_KNOWN_HOSTS, cfg.env, cfg.cwd),
        absolute(settings.SSH_PINNED_KNOWN_HOSTS, cfg.env, cfg.cwd),
        { logger },
      );
    let sshConfig: SshConfig | null = null;
    const sc = settings.SSH_CONFIG_FILE?.trim();
    if (sc) {
      sshConfig = await SshConfig.load(absolute(sc, cfg.env, cfg.cwd), { env: cfg.env, logger });
      for (const w of sshConfig.warnings) logger.warn(`ssh_config: ${w}`);
    }
    const pool = makePool(settings, file, cfg.env, logger, knownHosts, sshConfig);
    return {
      pool,
      policy,
      remote,
      label: `${policy.user}@${policy.hostname}:${policy.port} (${describeRemote(remote)})`,
      knownHostsPath: knownHosts.path,
      mode: `alias ${a.targetRaw}`,
      defaultKey: null,
      keyServer: ks,
    };
  }

  // flags mode
  const settings = defaultSettings();
  const policy = basePolicy(a.target.host, "hosts.toml", settings, {});
  policy.platform = "windows"; // no login-shell probe (see above)
  policy.port = a.port ?? a.target.port ?? 22;
  policy.user = a.target.user ?? a.user ?? env.USER ?? env.USERNAME ?? env.LOGNAME ?? "root";
  policy.configured_keys = ["user", "port"];
  let defaultKey: string | null = null;
  if (a.agent) {
    policy.auth.method = "agent";
  } else {
    policy.auth.method = "key";
    policy.auth.key = absolute(a.key ?? DEFAULT_BRIDGE_KEY, env, cwd);
    if (a.key === null) defaultKey = policy.auth.key;
  }
  passphraseSource(a, policy, settings, env, cwd);
  const remote: RemoteEnd = a.command !== null
    ? { kind: "exec", command: a.command }
    : a.subsystem !== null
    ? { kind: "subsystem", name: a.subsystem }
    : { kind: "shell" };
  const hosts = new Map<string, HostPolicy>();
  if (a.jump) {
    const j = jumpPolicy(a.jump, policy, new Set([policy.alias]));
    hosts.set(j.alias, j);
    policy.proxy_jump = [j.alias];
  }
  hosts.set(policy.alias, policy);
  const file: HostsFile = {
    source: null,
    hosts,
    network: defaultNetwork(settings),
    notices: [],
  };
  const khPath = absolute(a.knownHosts ?? "~/.ssh/known_hosts", env, cwd);
  const ks = a.keyServer !== null
    ? keyServerPlan(a, policy, khPath, flagsPinPath(env, cwd), env, cwd, logger)
    : null;
  const knownHosts = ks !== null
    ? ks.trust
    : new KnownHosts(khPath, { logger, label: "known_hosts file" });
  const pool = makePool(settings, file, env, logger, knownHosts, null);
  return {
    pool,
    policy,
    remote,
    label: `${policy.user}@${policy.hostname}:${policy.port} (${describeRemote(remote)})`,
    knownHostsPath: khPath,
    mode: "flags",
    defaultKey,
    keyServer: ks,
  };
}

function makePool(
  settings: Settings,
  file: HostsFile,
  env: Record<string, string | undefined>,
  logger: Logger,
  knownHosts: KnownHosts,
  sshConfig: SshConfig | null,
): ConnectionPool {
  const registry = new HostRegistry(file, settings);
  const network = new NetworkPolicy({
    global: file.network,
    envAllowCidrs: settings.SSH_NETWORK_ALLOW_CIDRS,
    envBlockCidrs: settings.SSH_NETWORK_BLOCK_CIDRS,
    resolveDns: settings.SSH_NETWORK_RESOLVE_DNS && file.network.resolve_dns,
  });
  return new ConnectionPool({
    settings,
    env,
    logger,
    knownHosts,
    hosts: () => registry,
    network: () => network,
    sshConfig: () => sshConfig,
  });
}

/** Failures retrying cannot fix. */
const PERMANENT = new Set([
  "UnknownHost",
  "HostKeyMismatch",
  "AuthenticationFailed",
  "AgentFingerprintNotFound",
  "HostBlocked",
  "HostNotAllowed",
  "ValueError",
]);

/** Marks a refused channel (subsystem not configured, exec refused): not worth retrying. */
class ChannelRefused extends Error {}

/** Classifies a connect error for the relay. */
export function classifyConnectError(e: unknown): ConnectFailure {
  if (e instanceof ToolError) {
    return { permanent: PERMANENT.has(e.code), message: `${e.code}: ${e.message}` };
  }
  if (e instanceof ChannelRefused) return { permanent: true, message: e.message };
  return { permanent: false, message: e instanceof Error ? e.message : String(e) };
}

/** Opens the remote MCP server's channel on a pooled connection. */
export async function openRemote(plan: BridgePlan): Promise<RemoteStream> {
  const conn = await plan.pool.acquire(plan.policy);
  const channel = await new Promise<ssh2.ClientChannel>((resolve, reject) => {
    const cb = (err: Error | undefined, ch: ssh2.ClientChannel) => {
      if (err) {
        reject(
          new ChannelRefused(
            `the server ${plan.policy.alias} refused the ${
              describeRemote(plan.remote)
            }: ${err.message}`,
          ),
        );
      } else resolve(ch);
    };
    try {
      const r = plan.remote;
      if (r.kind === "exec") conn.client.exec(r.command, cb);
      else if (r.kind === "subsystem") conn.client.subsys(r.name, cb);
      else conn.client.shell(false, cb);
    } catch (e) {
      reject(new ToolError("ConnectError", `could not open a channel: ${(e as Error).message}`));
    }
  });
  return channelStream(channel, conn);
}

function channelStream(ch: ssh2.ClientChannel, conn: Connection): RemoteStream {
  let closed = false;
  let exit = "";
  ch.on("exit", (code: number | null, signal?: string) => {
    exit = typeof code === "number" ? `exit code ${code}` : signal ? `signal ${signal}` : "";
  });
  return {
    write(bytes) {
      return new Promise<void>((resolve, reject) => {
        if (closed) {
          reject(new Error("channel closed"));
          return;
        }
        let ok: boolean;
        try {
          ok = ch.write(bytes);
        } catch (e) {
          reject(e);
          return;
        }
        if (ok) {
          resolve();
          return;
        }
        const done = () => {
          ch.off("drain", done);
          ch.off("close", done);
          if (closed) reject(new Error("channel closed"));
          else resolve();
        };
        ch.on("drain", done);
        ch.on("close", done);
      });
    },
    end() {
      try {
        ch.end();
      } catch {
        // gone
      }
    },
    close() {
      try {
        ch.close();
      } catch {
        // gone
      }
    },
    pause() {
      ch.pause();
    },
    resume() {
      ch.resume();
    },
    listen(h) {
      ch.on("data", (d: Uint8Array) => h.data(d));
      ch.stderr.on("data", (d: Uint8Array) => h.stderr(d));
      ch.on("error", () => {});
      const gone = (why: string) => {
        if (closed) return;
        closed = true;
        h.close(exit || why);
      };
      ch.on("close", () => gone("channel closed"));
      conn.onClose(() => gone("SSH connection lost"));
    },
  };
}
