/**
 * `hosts.toml`: parsing, full validation (CONFIG.md §4, §9.1 items 6-7) and the
 * per-host merge `built-ins < env fallbacks < [defaults] < [hosts.<alias>]`
 * (§4.2), plus the §9.2 notices about risky host policies.
 *
 * Every {@link ConfigError} raised here names the file, the table
 * (`hosts.web01`, `defaults`, `network`, ...) and the key, and says how to fix it.
 *
 * This module is the entry point (load, top-level tables, merge, cross-host
 * checks). The per-key parsers live in `hosts_keys.ts` (host tables) and
 * `hosts_sections.ts` (sub-tables), the value readers in `hosts_values.ts`,
 * the built-in layers in `hosts_defaults.ts` and the §9.2 notices in
 * `hosts_risk.ts`.
 *
 * @module
 */

import * as path from "../util/local_path.ts";
import { parse, TomlError } from "smol-toml";
import { ConfigError } from "../errors.ts";
import { errorText, expandPath } from "./env.ts";
import { basePolicy, defaultNetwork } from "./hosts_defaults.ts";
import { type Layer, parseLayer } from "./hosts_keys.ts";
import { hostNotices } from "./hosts_risk.ts";
import { parseNetwork } from "./hosts_sections.ts";
import { type Ctx, fail, isTable, type Table, typeName } from "./hosts_values.ts";
import { isAbsoluteAnyPlatform } from "./settings.ts";
import type { ConfigNotice, HostPolicy, HostsFile, NetworkConfig, Settings } from "./types.ts";

export { isAbsoluteAnyPlatform };
export { defaultNetwork, envHostPolicy } from "./hosts_defaults.ts";
export { HOST_KEYS, TAG_RE } from "./hosts_keys.ts";
export {
  ALERTS_KEYS,
  AUTH_KEYS,
  COMMAND_RULE_KEYS,
  NETWORK_KEYS,
  REMOTE_MCP_KEYS,
} from "./hosts_sections.ts";

/** Top-level keys of hosts.toml. */
export const TOP_LEVEL_KEYS = ["defaults", "hosts", "network"] as const;

/** Alias syntax (CONFIG.md §4.1); `.` and `..` are rejected on top of it. */
export const ALIAS_RE = /^[A-Za-z0-9._-]{1,100}$/;

// ---------------------------------------------------------------------------
// Merge

function mergeHost(
  alias: string,
  defaults: Layer,
  host: Layer,
  ctx: Ctx,
  globalNetwork: NetworkConfig,
  notices: ConfigNotice[],
): HostPolicy {
  const p = basePolicy(alias, "hosts.toml", ctx.settings, ctx.env);
  const baseAuth = p.auth;
  const table = `hosts.${alias}`;
  // shallow per key: host replaces defaults entirely (lists and tables included)
  const merged: Layer = { ...defaults, ...host };
  const target = p as unknown as Record<string, unknown>;
  for (const [k, v] of Object.entries(merged)) {
    if (k === "auth" || k === "network" || k === "case_insensitive_paths") continue;
    target[k] = v;
  }
  p.configured_keys = Object.keys(merged).sort();
  // auth: key by key (env fallback < [defaults.auth] < [hosts.X.auth])
  p.auth = { ...baseAuth, ...(defaults.auth ?? {}), ...(host.auth ?? {}) };
  // network: host table replaces [defaults.network]; missing keys come from [network]
  const net = host.network ?? defaults.network;
  p.network = net === undefined ? null : { ...globalNetwork, ...net, ...copyLists(net) };
  // case-insensitive deny matching is forced on Windows
  const ci = merged.case_insensitive_paths;
  if (p.platform === "windows") {
    if (ci === false) {
      notices.push({
        level: "WARNING",
        message: `${table}: case_insensitive_paths = false is ignored on a windows host ` +
          "(Windows paths are case-insensitive)",
      });
    }
    p.case_insensitive_paths = true;
  } else {
    p.case_insensitive_paths = ci ?? false;
  }
  // deep copies so layers shared through [defaults] are never aliased between hosts
  return structuredClone(p);
}

function copyLists(n: Partial<NetworkConfig>): Partial<NetworkConfig> {
  const out: Partial<NetworkConfig> = {};
  for (const k of ["allow_cidrs", "allow_ips", "block_cidrs", "block_ips"] as const) {
    const v = n[k];
    if (v !== undefined) out[k] = [...v];
  }
  return out;
}

/** Where a merged value came from, for messages. */
function origin(key: string, defaults: Layer, host: Layer, sub?: string): string {
  const has = (l: Layer) => {
    if (sub === undefined) return Object.hasOwn(l, key);
    const t = (l as Record<string, unknown>)[key];
    return isTable(t) && Object.hasOwn(t, sub);
  };
  if (has(host)) return "";
  if (has(defaults)) return " (inherited from [defaults])";
  return "";
}

// ---------------------------------------------------------------------------
// Entry points

/**
 * Parses and fully validates hosts.toml text (CONFIG.md §4, §9.1 items 6-7)
 * into {@link HostPolicy} values and the §9.2 notices. `env` expands `${VAR}`
 * and `~` in `identity_agent` / `key` (and `SSH_DEFAULT_KEY`); without it those
 * stay as written. Throws {@link ConfigError} naming file, table and key.
 */
export function parseHostsToml(
  text: string,
  sourcePath: string,
  settings: Settings,
  env: Record<string, string | undefined> = {},
): HostsFile {
  const file = sourcePath;
  // parsers append deprecation / clamp WARNINGs here (before the §9.2 notices)
  const notices: ConfigNotice[] = [];
  const ctx: Ctx = { file, settings, env, notices };
  let doc: Table;
  try {
    doc = parse(text.replace(/^\uFEFF/, ""), { integersAsBigInt: true }) as Table;
  } catch (e) {
    if (e instanceof TomlError) {
      throw new ConfigError(
        `${file}: invalid TOML at line ${e.line}, column ${e.column}: ${errorText(e)}. ` +
          "Fix: correct the syntax (TOML 1.0; quote aliases that contain dots).",
      );
    }
    throw new ConfigError(`${file}: cannot parse TOML: ${errorText(e)}.`);
  }

  for (const k of Object.keys(doc)) {
    if (!(TOP_LEVEL_KEYS as readonly string[]).includes(k)) {
      fail(
        { file, table: "", key: k },
        "unknown top-level key or table",
        `remove it; hosts.toml has only [defaults], [hosts.<alias>] and [network]${
          k === "host" ? " (did you mean [hosts.<alias>]?)" : ""
        }`,
      );
    }
  }

  // global [network]
  const network = defaultNetwork(settings);
  if (doc["network"] !== undefined) {
    Object.assign(network, parseNetwork(doc["network"], ctx, ""));
  }

  // [defaults]
  let defaults: Layer = {};
  if (doc["defaults"] !== undefined) {
    const d = doc["defaults"];
    if (!isTable(d)) {
      fail(
        { file, table: "", key: "defaults" },
        `expected a table, got ${typeName(d)}`,
        "write [defaults] as a table header",
      );
    }
    defaults = parseLayer(d, ctx, "defaults", true);
  }

  // [hosts.*]
  const hostsRaw = doc["hosts"];
  const layers = new Map<string, Layer>();
  if (hostsRaw !== undefined) {
    if (!isTable(hostsRaw)) {
      fail(
        { file, table: "", key: "hosts" },
        `expected a table, got ${typeName(hostsRaw)}`,
        "declare hosts as [hosts.<alias>] tables",
      );
    }
    for (const [alias, t] of Object.entries(hostsRaw)) {
      const at = { file, table: `hosts.${alias}`, key: "" };
      if (!ALIAS_RE.test(alias) || alias === "." || alias === "..") {
        fail(
          at,
          `alias ${JSON.stringify(alias.length > 120 ? alias.slice(0, 117) + "..." : alias)} ` +
            "is not valid",
          "use 1-100 letters, digits, '.', '_' or '-' (not \".\" or \"..\"); put the real " +
            "address in hostname",
        );
      }
      if (!isTable(t)) {
        fail(
          { file, table: "hosts", key: alias },
          `host entry must be a table, got ${typeName(t)}`,
          `write [hosts.${alias}] followed by its keys`,
        );
      }
      layers.set(alias, parseLayer(t, ctx, `hosts.${alias}`, false));
    }
  }

  const hosts = new Map<string, HostPolicy>();
  for (const [alias, layer] of layers) {
    const p = mergeHost(alias, defaults, layer, ctx, network, notices);
    const table = `hosts.${alias}`;
    if (p.auth.method === "password" && !settings.ALLOW_PASSWORD_AUTH) {
      fail(
        { file, table: `${table}.auth`, key: "method" },
        `method = "password" is not allowed while ALLOW_PASSWORD_AUTH=false${
          origin("auth", defaults, layer, "method")
        }`,
        'use method = "agent" or "key", or set ALLOW_PASSWORD_AUTH=true',
      );
    }
    if (p.redact_keys_add.length > 0 && p.redact_keys_replace.length > 0) {
      fail(
        { file, table, key: "redact_keys_add" },
        "redact_keys_add and redact_keys_replace are both set" +
          (origin("redact_keys_add", defaults, layer) ||
            origin("redact_keys_replace", defaults, layer)),
        "keep only one of them for this host (set the other to [])",
      );
    }
    hosts.set(alias, p);
  }

  // alias equal to another entry's hostname (ambiguous lookup)
  for (const [alias, p] of hosts) {
    for (const [other, q] of hosts) {
      if (other !== alias && q.hostname === alias) {
        fail(
          { file, table: `hosts.${other}`, key: "hostname" },
          `hostname ${JSON.stringify(q.hostname)} equals the alias of [hosts.${alias}], so the ` +
            "name would select two different entries",
          `rename one of them (e.g. give [hosts.${alias}] another alias)`,
        );
      }
    }
    void p;
  }

  checkProxyJumps(hosts, file);
  for (const p of hosts.values()) hostNotices(p, settings, notices);
  return { source: sourcePath, hosts, network, notices };
}

/** Unknown aliases and cycles in `proxy_jump`, following hops' own chains. */
function checkProxyJumps(hosts: Map<string, HostPolicy>, file: string): void {
  const known = [...hosts.keys()];
  const memo = new Map<string, string[]>();
  const route = (alias: string, stack: string[]): string[] => {
    const cached = memo.get(alias);
    if (cached) return cached;
    const p = hosts.get(alias) as HostPolicy;
    const out: string[] = [];
    for (const hop of p.proxy_jump) {
      const at = { file, table: `hosts.${alias}`, key: "proxy_jump" };
      if (!hosts.has(hop)) {
        const list = known.slice(0, 20).join(", ") + (known.length > 20 ? ", ..." : "");
        fail(
          at,
          `unknown alias ${JSON.stringify(hop)}`,
          `name another [hosts.*] alias (known: ${list}); proxy_jump takes aliases, not hostnames`,
        );
      }
      const chain = [...stack, alias];
      if (chain.includes(hop)) {
        const cycle = [...chain.slice(chain.indexOf(hop)), hop].join(" -> ");
        fail(
          at,
          `proxy_jump forms a cycle: ${cycle}`,
          "remove a hop from the cycle (a jump host that inherits proxy_jump from [defaults] " +
            "needs proxy_jump = [])",
        );
      }
      const sub = route(hop, chain);
      for (const x of [...sub, hop]) {
        if (x === alias || out.includes(x)) {
          fail(
            at,
            `the jump chain visits ${JSON.stringify(x)} twice (${
              [...out, ...sub, hop, alias].join(" -> ")
            })`,
            "make every hop appear once in the chain, including the hops' own proxy_jump",
          );
        }
        out.push(x);
      }
    }
    memo.set(alias, out);
    return out;
  };
  for (const alias of hosts.keys()) route(alias, []);
}

/**
 * Reads the file at settings.SSH_HOSTS_FILE (expanded, relative to cwd).
 * Missing file -> env-only mode (source null, no hosts) + INFO notice;
 * unreadable/invalid -> ConfigError naming the file.
 */
export async function loadHostsFile(
  settings: Settings,
  cwd: string,
  env: Record<string, string | undefined>,
): Promise<HostsFile> {
  const configured = settings.SSH_HOSTS_FILE;
  if (configured === null) {
    return {
      source: null,
      hosts: new Map(),
      network: defaultNetwork(settings),
      notices: [{
        level: "INFO",
        message: "SSH_HOSTS_FILE is blank: env-only mode (only SSH_HOSTS_ALLOWLIST hosts)",
      }],
    };
  }
  const file = path.resolve(cwd, expandPath(configured, env));
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(file);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      return {
        source: null,
        hosts: new Map(),
        network: defaultNetwork(settings),
        notices: [{
          level: "INFO",
          message: `hosts file ${file} not found: env-only mode (only SSH_HOSTS_ALLOWLIST hosts)`,
        }],
      };
    }
    throw new ConfigError(
      `${file}: cannot read the hosts file (${errorText(e)}). Fix: check the path ` +
        "(SSH_HOSTS_FILE) and its permissions.",
    );
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new ConfigError(`${file}: not valid UTF-8. Fix: save the file as UTF-8.`);
  }
  return parseHostsToml(text, file, settings, env);
}
