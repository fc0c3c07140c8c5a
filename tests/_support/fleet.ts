/**
 * A fleet of real sshd hosts for end-to-end tests: N servers on distinct
 * loopback addresses, one client key authorized everywhere, a known_hosts file
 * pinning every host key, and a hosts.toml naming them `h1..hN` (key auth).
 *
 * @module
 */

import {
  generateKey,
  type KeyPair,
  type SshdInstance,
  type SshdOptions,
  startSshd,
  tempDir,
} from "./sshd.ts";
import { baseEnv, type InProcess, startInProcess } from "./mcp.ts";

/** A running fleet. */
export interface Fleet {
  dir: string;
  key: KeyPair;
  hosts: { alias: string; sshd: SshdInstance }[];
  knownHostsPath: string;
  hostsTomlPath: string;
  /** env for a server using this fleet (extra keys override) */
  env(extra?: Record<string, string>): Record<string, string>;
  /** rewrites hosts.toml (extra TOML appended after the generated host tables) */
  writeHostsToml(extra?: string, perHost?: (alias: string) => string): Promise<void>;
  stop(): Promise<void>;
}

/** Tries per host before the fleet start fails. */
const START_ATTEMPTS = 3;

/** Options of {@link startFleet}. */
export interface StartFleetOptions {
  sshd?: SshdOptions;
  extraToml?: string;
  perHost?: (alias: string) => string;
  /**
   * sshd hosts starting at once (default 32). Starting hundreds at once makes
   * every one of them slower (key generation and listen polling compete for
   * the same cores); a bounded pool starts 1,000 hosts faster than all at once.
   */
  startConcurrency?: number;
}

/** Starts `n` sshd hosts (see module docs). On a failed start, the hosts already up are stopped. */
export async function startFleet(n: number, opts: StartFleetOptions = {}): Promise<Fleet> {
  const dir = await tempDir("sshmcp-fleet-");
  const key = await generateKey(dir, { type: "ed25519", name: "client_ed25519" });
  const slots: ({ alias: string; sshd: SshdInstance } | undefined)[] = new Array(n);
  let next = 0;
  let failure: unknown = null;
  const worker = async () => {
    while (next < n && failure === null) {
      const i = next++;
      // a loaded machine can miss sshd's 10 s listen deadline: retry that host
      for (let attempt = 1; attempt <= START_ATTEMPTS; attempt++) {
        try {
          slots[i] = {
            alias: `h${i + 1}`,
            sshd: await startSshd({
              ...opts.sshd,
              authorizedKeys: [key.publicLine, ...(opts.sshd?.authorizedKeys ?? [])],
            }),
          };
          break;
        } catch (e) {
          if (attempt === START_ATTEMPTS) failure ??= e;
        }
      }
    }
  };
  const width = Math.max(1, Math.min(n, opts.startConcurrency ?? 32));
  await Promise.all(Array.from({ length: width }, () => worker()));
  if (failure !== null) {
    await Promise.all(slots.map((h) => h?.sshd.stop()));
    throw failure;
  }
  const hosts = slots as { alias: string; sshd: SshdInstance }[];
  const knownHostsPath = `${dir}/known_hosts`;
  await Deno.writeTextFile(
    knownHostsPath,
    hosts.flatMap((h) => h.sshd.knownHostsLines()).join("\n") + "\n",
  );
  const hostsTomlPath = `${dir}/hosts.toml`;
  const fleet: Fleet = {
    dir,
    key,
    hosts,
    knownHostsPath,
    hostsTomlPath,
    env(extra = {}) {
      return baseEnv({
        SSH_HOSTS_FILE: hostsTomlPath,
        SSH_KNOWN_HOSTS: knownHostsPath,
        ...extra,
      });
    },
    async writeHostsToml(extra = "", perHost) {
      const blocks = hosts.map((h) =>
        [
          `[hosts.${h.alias}]`,
          `hostname = "${h.sshd.address}"`,
          `port = ${h.sshd.port}`,
          `user = "${h.sshd.user.name}"`,
          perHost?.(h.alias) ?? "",
          `[hosts.${h.alias}.auth]`,
          `method = "key"`,
          `key = "${key.privatePath}"`,
          "",
        ].join("\n")
      );
      await Deno.writeTextFile(hostsTomlPath, blocks.join("\n") + "\n" + extra + "\n");
    },
    async stop() {
      await Promise.all(hosts.map((h) => h.sshd.stop()));
    },
  };
  await fleet.writeHostsToml(opts.extraToml, opts.perHost);
  return fleet;
}

/** What {@link withFleetServer} hands to the test. */
export interface FleetServer {
  fleet: Fleet;
  /** the real server in process, behind a real MCP client */
  s: InProcess;
  /** SSH_AUDIT_LOG of the server */
  auditPath: string;
}

/** Options of {@link withFleetServer}. */
export interface FleetServerOptions {
  sshd?: SshdOptions;
  perHost?: (alias: string) => string;
  extraToml?: string;
  /** tool tier to enable besides read (ALLOW_LOW_ACCESS_TOOLS / ALLOW_DANGEROUS_TOOLS) */
  tier?: "low-access" | "dangerous";
  /** server env (overrides the defaults); a function sees the started fleet */
  env?: Record<string, string> | ((f: Fleet) => Record<string, string>);
}

/** Starts `n` sshd hosts and the server in process, runs `fn`, tears both down. */
export async function withFleetServer(
  n: number,
  fn: (c: FleetServer) => Promise<void>,
  opts: FleetServerOptions = {},
): Promise<void> {
  const fleet = await startFleet(n, opts);
  try {
    const auditPath = `${fleet.dir}/audit.log`;
    const tier: Record<string, string> = opts.tier === "dangerous"
      ? { ALLOW_DANGEROUS_TOOLS: "true" }
      : opts.tier === "low-access"
      ? { ALLOW_LOW_ACCESS_TOOLS: "true" }
      : {};
    const extra = typeof opts.env === "function" ? opts.env(fleet) : opts.env;
    const s = await startInProcess(fleet.env({ SSH_AUDIT_LOG: auditPath, ...tier, ...extra }));
    try {
      await fn({ fleet, s, auditPath });
    } finally {
      await s.close();
    }
  } finally {
    await fleet.stop();
  }
}
