/**
 * The sub-tables of `hosts.toml` (CONFIG.md §4): `auth`, `alerts`, `network`
 * (top level or per host), `remote_mcp` and the `command_rules` entries, each
 * with its table of per-key parsers and the public list of its keys.
 *
 * @module
 */

import { expandPath } from "./env.ts";
import { emptyAlerts } from "./hosts_defaults.ts";
import {
  asBool,
  asEnum,
  asInt,
  asNumber,
  asOptString,
  asSecretName,
  asStringList,
  type At,
  checkKnownKeys,
  type Ctx,
  fail,
  isTable,
  type KeyParser,
  keysOf,
  type KeyTable,
  parseKeys,
  shown,
  typeName,
} from "./hosts_values.ts";
import { isValidCidr, isValidIp } from "./settings.ts";
import type {
  AlertsConfig,
  AuthConfig,
  CommandRule,
  NetworkConfig,
  RemoteMcpConfig,
} from "./types.ts";

/** `~` / `${VAR}` expanded path; `""` means unset (null). */
function optPath(v: unknown, at: At, ctx: Ctx): string | null {
  const s = asOptString(v, at);
  return s === null ? null : expandPath(s, ctx.env);
}

function identityFingerprint(v: unknown, at: At): string | null {
  const s = asOptString(v, at);
  if (s !== null && (!s.startsWith("SHA256:") || s.length < 23)) {
    fail(
      at,
      `${shown(at, s)} is not an OpenSSH SHA256 fingerprint`,
      'copy the "SHA256:..." value printed by `ssh-add -l` or `ssh-keygen -lf <key>.pub` ' +
        "(MD5 fingerprints are not accepted)",
    );
  }
  return s;
}

/** Parsers of the keys of an `auth` table. */
const AUTH_KEY_PARSERS: KeyTable<AuthConfig, Ctx> = {
  method: (v, at) => asEnum(v, at, ["agent", "key", "password"] as const),
  identity_agent: optPath,
  identity_fingerprint: identityFingerprint,
  identities_only: asBool,
  key: optPath,
  passphrase_cmd: asOptString,
  password_cmd: asOptString,
  password_secret: asSecretName,
  passphrase_secret: asSecretName,
};

/** Parsers of the keys of an `alerts` table. */
const PERCENT_CLAMP = "an alert threshold is a percentage; clamped to the nearest bound";

const ALERTS_KEY_PARSERS: KeyTable<AlertsConfig, Ctx> = {
  // Alert thresholds are clamped, not refused (python-ssh-mcp had no range):
  // they only decide what ssh_host_alerts reports, never what may run, and a
  // percentage outside 0..100 behaves like the nearest bound (above 100 never
  // breaches, below 0 always does).
  disk_use_percent_max: (v, at, ctx) => asInt(v, at, 0, 100, 90, ctx, PERCENT_CLAMP),
  load_avg_1min_max: (v, at) => asNumber(v, at, 0),
  mem_free_percent_min: (v, at, ctx) => asInt(v, at, 0, 100, 10, ctx, PERCENT_CLAMP),
  disk_mounts: asStringList,
};

/** Parser of an address list: CIDRs (`*_cidrs`) or single addresses (`*_ips`). */
function addressList(cidr: boolean): KeyParser<string[], Ctx> {
  return (v, at) => {
    const list = asStringList(v, at);
    for (const e of list) {
      if (cidr ? !isValidCidr(e) : !isValidIp(e)) {
        const single = cidr && isValidIp(e)
          ? ` (a single address needs a prefix: "${e}/${
            e.includes(":") ? 128 : 32
          }", or put it in ${at.key.replace("_cidrs", "_ips")})`
          : "";
        fail(
          at,
          `${shown(at, e)} is not a valid ${cidr ? "CIDR" : "IP address"}${single}`,
          cidr
            ? 'use entries like "10.0.0.0/8" or "fd00::/8"'
            : 'use entries like "10.0.0.5" or "fd00::5"',
        );
      }
    }
    return list;
  };
}

/** Parsers of the keys of a `network` table. */
const NETWORK_KEY_PARSERS: KeyTable<NetworkConfig, Ctx> = {
  allow_cidrs: addressList(true),
  allow_ips: addressList(false),
  block_cidrs: addressList(true),
  block_ips: addressList(false),
  resolve_dns: asBool,
};

/** Parsers of the keys of a `remote_mcp` table. */
const REMOTE_MCP_KEY_PARSERS: KeyTable<RemoteMcpConfig, Ctx> = {
  command: (v, at) => {
    const s = asOptString(v, at);
    if (s !== null && s.trim() === "") {
      fail(
        at,
        "the command is blank",
        'write the remote server\'s command line, e.g. command = "mcp-server --stdio"',
      );
    }
    return s;
  },
  subsystem: (v, at) => {
    const s = asOptString(v, at);
    if (s !== null && !/^[A-Za-z0-9@._+-]{1,64}$/.test(s)) {
      fail(
        at,
        `${shown(at, s)} is not an SSH subsystem name`,
        'use the name from the server\'s sshd_config "Subsystem" line, e.g. subsystem = "mcp"',
      );
    }
    return s;
  },
  allow_tools: asStringList,
};

/** Keys of an `auth` table. */
export const AUTH_KEYS: readonly (keyof AuthConfig)[] = keysOf(AUTH_KEY_PARSERS);

/** Keys of an `alerts` table. */
export const ALERTS_KEYS: readonly (keyof AlertsConfig)[] = keysOf(ALERTS_KEY_PARSERS);

/** Keys of a `network` table (top level or per host). */
export const NETWORK_KEYS: readonly (keyof NetworkConfig)[] = keysOf(NETWORK_KEY_PARSERS);

/** Keys of a `remote_mcp` table. */
export const REMOTE_MCP_KEYS: readonly (keyof RemoteMcpConfig)[] = keysOf(
  REMOTE_MCP_KEY_PARSERS,
);

/** Keys of one `command_rules` entry. */
export const COMMAND_RULE_KEYS = ["action", "pattern"] as const;

/**
 * Validates the sub-table `key` of `parent` (`""` = top level) with `parsers`
 * into `out`; `hint` finishes the fix when the value is not a table.
 */
function parseSection<T, O extends Partial<T>>(
  t: unknown,
  ctx: Ctx,
  parent: string,
  key: string,
  parsers: KeyTable<T, Ctx>,
  hint: string,
  out: O,
): O {
  const table = parent === "" ? key : `${parent}.${key}`;
  if (!isTable(t)) {
    fail(
      { file: ctx.file, table: parent, key },
      `expected a table, got ${typeName(t)}`,
      `write [${table}] with ${hint}`,
    );
  }
  parseKeys(t, parsers, ctx.file, table, ctx, out);
  return out;
}

/** Validates the `auth` table of `parent`; returns only the keys it sets. */
export function parseAuth(t: unknown, ctx: Ctx, parent: string): Partial<AuthConfig> {
  const hint = 'method = "agent" | "key" | "password"';
  return parseSection(t, ctx, parent, "auth", AUTH_KEY_PARSERS, hint, {});
}

/** Validates the `alerts` table of `parent`; unset thresholds are null. */
export function parseAlerts(t: unknown, ctx: Ctx, parent: string): AlertsConfig {
  const hint = "alert thresholds";
  return parseSection(t, ctx, parent, "alerts", ALERTS_KEY_PARSERS, hint, emptyAlerts());
}

/** Validates a `network` table (`parent` `""` = top level); returns only the keys it sets. */
export function parseNetwork(t: unknown, ctx: Ctx, parent: string): Partial<NetworkConfig> {
  const hint = "allow_cidrs / block_cidrs / ...";
  return parseSection(t, ctx, parent, "network", NETWORK_KEY_PARSERS, hint, {});
}

/** Validates the `remote_mcp` table of `parent`. */
export function parseRemoteMcp(t: unknown, ctx: Ctx, parent: string): RemoteMcpConfig {
  const hint = "command or subsystem and allow_tools";
  const out: RemoteMcpConfig = { command: null, subsystem: null, allow_tools: [] };
  parseSection(t, ctx, parent, "remote_mcp", REMOTE_MCP_KEY_PARSERS, hint, out);
  const at = { file: ctx.file, table: `${parent}.remote_mcp`, key: "" };
  if (out.command === null && out.subsystem === null) {
    fail(
      at,
      "neither command nor subsystem is set",
      'add command = "<the remote MCP server\'s command line>" or subsystem = "mcp"',
    );
  }
  return out;
}

/** Validates a `command_rules` array of `{ action, pattern }` tables. */
export function parseCommandRules(v: unknown, at: At): CommandRule[] {
  const fix = 'write command_rules = [{ action = "deny", pattern = "rm -rf *" }, ...]';
  if (!Array.isArray(v)) fail(at, `expected an array of tables, got ${typeName(v)}`, fix);
  return v.map((r, i) => {
    const where = { ...at, key: `${at.key}[${i + 1}]` };
    if (!isTable(r)) fail(where, `expected a table, got ${typeName(r)}`, fix);
    checkKnownKeys(r, COMMAND_RULE_KEYS, at.file, `${at.table}.${at.key}[${i + 1}]`);
    const action = asEnum(
      r["action"],
      { ...where, key: `${where.key}.action` },
      [
        "allow",
        "deny",
      ] as const,
    );
    const pattern = r["pattern"];
    if (typeof pattern !== "string" || pattern.trim() === "") {
      fail({ ...where, key: `${where.key}.pattern` }, "missing or empty pattern", fix);
    }
    return { action, pattern };
  });
}
