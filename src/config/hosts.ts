/**
 * `hosts.toml`: parsing, full validation (CONFIG.md §4, §9.1 items 6-7) and the
 * per-host merge `built-ins < env fallbacks < [defaults] < [hosts.<alias>]`
 * (§4.2), plus the §9.2 notices about risky host policies.
 *
 * Every {@link ConfigError} raised here names the file, the table
 * (`hosts.web01`, `defaults`, `network`, ...) and the key, and says how to fix it.
 *
 * @module
 */

import * as path from "node:path";
import { parse, TomlDate, TomlError } from "smol-toml";
import { ConfigError } from "../errors.ts";
import { errorText, expandPath } from "./env.ts";
import {
  isAbsoluteAnyPlatform,
  isLiteralSecretCommand,
  isValidCidr,
  isValidIp,
  SENSITIVE_ZONES,
  wrapperEntries,
} from "./settings.ts";
import type {
  AlertsConfig,
  AuthConfig,
  BypassPolicy,
  CommandRule,
  ConfigNotice,
  HostPolicy,
  HostsFile,
  NetworkConfig,
  RemoteMcpConfig,
  Settings,
} from "./types.ts";

export { isAbsoluteAnyPlatform };

// ---------------------------------------------------------------------------
// Key lists (also used by tests to check hosts.toml.example documents them all)

/** Keys of a `[hosts.<alias>]` / `[defaults]` table (every HostPolicy field but alias/source). */
export const HOST_KEYS = [
  "hostname",
  "user",
  "port",
  "platform",
  "default_dir",
  "sudo_mode",
  "path_allowlist",
  "restricted_paths",
  "restricted_globs",
  "redact_paths_globs",
  "redact_keys_add",
  "redact_keys_replace",
  "redact_entropy_detection",
  "redact_bypass_policy",
  "redact_hint_chars",
  "command_allowlist",
  "proxy_jump",
  "persistent_session",
  "docker_cmd",
  "notes",
  "auth",
  "alerts",
  "tags",
  "command_rules",
  "command_denylist",
  "command_timeout",
  "max_command_timeout",
  "stdout_cap_bytes",
  "stderr_cap_bytes",
  "sudo_password_cmd",
  "sudo_password_secret",
  "case_insensitive_paths",
  "network",
  "remote_mcp",
  "become_method",
] as const;

/** Keys of an `auth` table. */
export const AUTH_KEYS = [
  "method",
  "identity_agent",
  "identity_fingerprint",
  "identities_only",
  "key",
  "passphrase_cmd",
  "password_cmd",
  "password_secret",
  "passphrase_secret",
] as const;

/** Keys of an `alerts` table. */
export const ALERTS_KEYS = [
  "disk_use_percent_max",
  "load_avg_1min_max",
  "mem_free_percent_min",
  "disk_mounts",
] as const;

/** Keys of a `network` table (top level or per host). */
export const NETWORK_KEYS = [
  "allow_cidrs",
  "allow_ips",
  "block_cidrs",
  "block_ips",
  "resolve_dns",
] as const;

/** Keys of a `remote_mcp` table. */
export const REMOTE_MCP_KEYS = ["command", "subsystem", "allow_tools"] as const;

/** Keys of one `command_rules` entry. */
export const COMMAND_RULE_KEYS = ["action", "pattern"] as const;

/** Top-level keys of hosts.toml. */
export const TOP_LEVEL_KEYS = ["defaults", "hosts", "network"] as const;

// Compile-time proof that the lists above are complete.
type Exact<T, L extends readonly string[]> = [Exclude<keyof T, L[number]>] extends [never]
  ? ([Exclude<L[number], keyof T>] extends [never] ? true : never)
  : never;
const _hostKeysComplete: Exact<
  Omit<HostPolicy, "alias" | "source" | "configured_keys">,
  typeof HOST_KEYS
> = true;
const _authKeysComplete: Exact<AuthConfig, typeof AUTH_KEYS> = true;
const _alertsKeysComplete: Exact<AlertsConfig, typeof ALERTS_KEYS> = true;
const _networkKeysComplete: Exact<NetworkConfig, typeof NETWORK_KEYS> = true;
const _remoteKeysComplete: Exact<RemoteMcpConfig, typeof REMOTE_MCP_KEYS> = true;
void [
  _hostKeysComplete,
  _authKeysComplete,
  _alertsKeysComplete,
  _networkKeysComplete,
  _remoteKeysComplete,
];

/** Alias syntax (CONFIG.md §4.1); `.` and `..` are rejected on top of it. */
export const ALIAS_RE = /^[A-Za-z0-9._-]{1,100}$/;
/** Tag syntax (CONFIG.md §4.3). */
export const TAG_RE = /^[A-Za-z0-9._-]{1,50}$/;
/** Secret reference names (CONFIG.md §4.7; same rule as secrets.ts). */
const SECRET_NAME_RE = /^[A-Za-z0-9_-]{1,100}$/;

/** Default agent-only authentication. */
function builtinAuth(): AuthConfig {
  return {
    method: "agent",
    identity_agent: null,
    identity_fingerprint: null,
    identities_only: false,
    key: null,
    passphrase_cmd: null,
    password_cmd: null,
    password_secret: null,
    passphrase_secret: null,
  };
}

function emptyAlerts(): AlertsConfig {
  return {
    disk_use_percent_max: null,
    load_avg_1min_max: null,
    mem_free_percent_min: null,
    disk_mounts: [],
  };
}

/** The global network policy when hosts.toml has no `[network]` table. */
export function defaultNetwork(settings: Settings): NetworkConfig {
  return {
    allow_cidrs: [],
    allow_ips: [],
    block_cidrs: [],
    block_ips: [],
    resolve_dns: settings.SSH_NETWORK_RESOLVE_DNS,
  };
}

/**
 * Built-ins plus env fallbacks (`SSH_DEFAULT_USER`, port 22, key auth from
 * `SSH_DEFAULT_KEY` when set) for `alias`.
 */
function basePolicy(
  alias: string,
  source: HostPolicy["source"],
  settings: Settings,
  env: Record<string, string | undefined>,
): HostPolicy {
  const auth = builtinAuth();
  if (settings.SSH_DEFAULT_KEY !== null && settings.SSH_DEFAULT_KEY !== "") {
    auth.method = "key";
    auth.key = expandPath(settings.SSH_DEFAULT_KEY, env);
  }
  return {
    alias,
    configured_keys: [],
    source,
    hostname: alias,
    user: settings.SSH_DEFAULT_USER || "root",
    port: 22,
    platform: "posix",
    default_dir: null,
    sudo_mode: "per-call",
    path_allowlist: [],
    restricted_paths: [],
    restricted_globs: [],
    redact_paths_globs: [],
    redact_keys_add: [],
    redact_keys_replace: [],
    redact_entropy_detection: null,
    redact_bypass_policy: null,
    redact_hint_chars: null,
    command_allowlist: [],
    proxy_jump: [],
    persistent_session: true,
    docker_cmd: null,
    notes: null,
    auth,
    alerts: emptyAlerts(),
    tags: [],
    command_rules: [],
    command_denylist: [],
    command_timeout: null,
    max_command_timeout: null,
    stdout_cap_bytes: null,
    stderr_cap_bytes: null,
    sudo_password_cmd: null,
    sudo_password_secret: null,
    case_insensitive_paths: false,
    network: null,
    remote_mcp: null,
    become_method: "sudo",
  };
}

/**
 * Minimal policy for an SSH_HOSTS_ALLOWLIST name (CONFIG.md §6.2; [defaults]
 * NOT applied; source "env-allowlist"). `env` is used to expand `~` / `${VAR}`
 * in `SSH_DEFAULT_KEY` (left as written when omitted).
 */
export function envHostPolicy(
  name: string,
  settings: Settings,
  env: Record<string, string | undefined> = {},
): HostPolicy {
  return basePolicy(name, "env-allowlist", settings, env);
}

// ---------------------------------------------------------------------------
// Value validation helpers

type Table = Record<string, unknown>;

/** Where a value sits, for messages. */
interface At {
  file: string;
  table: string;
  key: string;
}

function fail(at: At, problem: string, fix: string): never {
  const where = at.table === ""
    ? `top-level key "${at.key}"`
    : at.key === ""
    ? `[${at.table}]`
    : `[${at.table}] key "${at.key}"`;
  throw new ConfigError(`${at.file}: ${where}: ${problem}. Fix: ${fix}.`);
}

function isTable(v: unknown): v is Table {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof TomlDate);
}

function typeName(v: unknown): string {
  if (typeof v === "bigint") return "an integer";
  if (typeof v === "number") return "a float";
  if (typeof v === "string") return "a string";
  if (typeof v === "boolean") return "a boolean";
  if (Array.isArray(v)) return "an array";
  if (v instanceof TomlDate) return "a date";
  return "a table";
}

/** Value for a message; `_cmd` values may hold secrets and are never shown. */
function shown(at: At, v: unknown): string {
  if (at.key.endsWith("_cmd") || at.key === "password" || at.key === "passphrase") {
    return typeName(v);
  }
  if (typeof v === "string") {
    return JSON.stringify(v.length > 60 ? v.slice(0, 57) + "..." : v);
  }
  if (typeof v === "bigint" || typeof v === "number" || typeof v === "boolean") return String(v);
  return typeName(v);
}

function asString(v: unknown, at: At, fix = "use a quoted string"): string {
  if (typeof v !== "string") fail(at, `expected a string, got ${typeName(v)}`, fix);
  return v;
}

/** Optional string: `""` means unset (null). */
function asOptString(v: unknown, at: At): string | null {
  const s = asString(v, at, 'use a quoted string (or "" for none)');
  return s === "" ? null : s;
}

function asBool(v: unknown, at: At): boolean {
  if (typeof v !== "boolean") {
    fail(
      at,
      `expected a boolean, got ${shown(at, v)}`,
      `write ${at.key} = true or false (unquoted)`,
    );
  }
  return v;
}

/** Integer from a TOML integer or a decimal string; floats are rejected. */
function asInt(v: unknown, at: At, min: number, max: number, example: number): number {
  const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `${min}..${max}`;
  const fix = `use an integer ${range} (e.g. ${at.key} = ${example})`;
  let n: number;
  if (typeof v === "bigint") {
    if (v < BigInt(Number.MIN_SAFE_INTEGER) || v > BigInt(Number.MAX_SAFE_INTEGER)) {
      fail(at, `${v} is out of range`, fix);
    }
    n = Number(v);
  } else if (typeof v === "string" && /^\s*[+-]?[0-9]+\s*$/.test(v)) {
    n = Number(v.trim());
    if (!Number.isSafeInteger(n)) fail(at, `${shown(at, v)} is out of range`, fix);
  } else if (typeof v === "number") {
    fail(at, `${shown(at, v)} is not an integer (floats are not accepted)`, fix);
  } else {
    fail(at, `${shown(at, v)} is not an integer`, fix);
  }
  if (n < min || n > max) fail(at, `${n} is out of range`, fix);
  return n;
}

function asNumber(v: unknown, at: At, min: number): number {
  let n: number;
  if (typeof v === "bigint") n = Number(v);
  else if (typeof v === "number" && Number.isFinite(v)) n = v;
  else fail(at, `${shown(at, v)} is not a number`, `use a number >= ${min} (e.g. ${at.key} = 4.0)`);
  if (n < min) fail(at, `${n} is out of range`, `use a number >= ${min}`);
  return n;
}

function asStringList(v: unknown, at: At, allowEmptyItems = false): string[] {
  const fix = `write ${at.key} = ["a", "b"] (an array of quoted strings)`;
  if (!Array.isArray(v)) fail(at, `expected an array of strings, got ${typeName(v)}`, fix);
  return v.map((x, i) => {
    if (typeof x !== "string") fail(at, `item ${i + 1} is ${typeName(x)}, not a string`, fix);
    if (!allowEmptyItems && x.trim() === "") {
      fail(at, `item ${i + 1} is an empty string`, "remove it");
    }
    return x;
  });
}

function asEnum<V extends string>(v: unknown, at: At, values: readonly V[]): V {
  const fix = `use one of ${values.map((x) => JSON.stringify(x)).join(", ")}`;
  if (typeof v !== "string") fail(at, `expected a string, got ${typeName(v)}`, fix);
  if (!(values as readonly string[]).includes(v)) fail(at, `${shown(at, v)} is not allowed`, fix);
  return v as V;
}

function asSecretName(v: unknown, at: At): string | null {
  const s = asOptString(v, at);
  if (s !== null && !SECRET_NAME_RE.test(s)) {
    fail(
      at,
      `${shown(at, s)} is not a valid secret name`,
      "use a file name inside SSH_SECRETS_DIR made of letters, digits, _ and - (max 100, no path)",
    );
  }
  return s;
}

const PLATFORM_ALIASES: Record<string, "posix" | "windows"> = {
  posix: "posix",
  linux: "posix",
  macos: "posix",
  bsd: "posix",
  darwin: "posix",
  windows: "windows",
};

function checkKnownKeys(t: Table, known: readonly string[], file: string, table: string): void {
  for (const k of Object.keys(t)) {
    if (known.includes(k)) continue;
    const at = { file, table, key: k };
    const guess = didYouMean(k, known);
    let fix = guess ? `did you mean "${guess}"? ` : "";
    if ((k === "password" || k === "passphrase") && table.endsWith("auth")) {
      fix = "literal passwords are not accepted: use password_cmd / password_secret " +
        "(or passphrase_cmd / passphrase_secret) and remove this key";
    } else if (isTable(t[k]) && (table.startsWith("hosts.") && !table.includes(".", 6))) {
      fix += `remove the key; if the alias contains dots, quote it: [hosts."${
        table.slice(6)
      }.${k}..."]`;
    } else {
      fix += `remove or rename it (known keys: ${known.join(", ")})`;
    }
    fail(at, "unknown key", fix);
  }
}

function didYouMean(k: string, known: readonly string[]): string | null {
  const norm = (s: string) => s.toLowerCase().replace(/[_-]/g, "");
  const nk = norm(k);
  for (const c of known) if (norm(c) === nk) return c;
  let best: string | null = null;
  let bestD = 3;
  for (const c of known) {
    const d = levenshtein(nk, norm(c));
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return best;
}

function levenshtein(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0] as number;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j] as number;
      prev[j] = Math.min(
        (prev[j] as number) + 1,
        (prev[j - 1] as number) + 1,
        diag + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
      diag = tmp;
    }
  }
  return prev[b.length] as number;
}

// ---------------------------------------------------------------------------
// Layers

/** One `[defaults]` or `[hosts.X]` table after validation: only the keys it sets. */
type Layer =
  & {
    -readonly [
      K in Exclude<keyof HostPolicy, "alias" | "source" | "configured_keys" | "auth" | "network">
    ]?: HostPolicy[K];
  }
  & { auth?: Partial<AuthConfig>; network?: Partial<NetworkConfig> };

interface Ctx {
  file: string;
  settings: Settings;
  env: Record<string, string | undefined>;
}

function parseAuth(t: unknown, ctx: Ctx, table: string): Partial<AuthConfig> {
  const file = ctx.file;
  if (!isTable(t)) {
    fail(
      { file, table: table.replace(/\.auth$/, ""), key: "auth" },
      `expected a table, got ${typeName(t)}`,
      `write [${table}] with method = "agent" | "key" | "password"`,
    );
  }
  checkKnownKeys(t, AUTH_KEYS, file, table);
  const out: Partial<AuthConfig> = {};
  for (const [k, v] of Object.entries(t)) {
    const at = { file, table, key: k };
    switch (k as typeof AUTH_KEYS[number]) {
      case "method":
        out.method = asEnum(v, at, ["agent", "key", "password"] as const);
        break;
      case "identity_agent": {
        const s = asOptString(v, at);
        out.identity_agent = s === null ? null : expandPath(s, ctx.env);
        break;
      }
      case "key": {
        const s = asOptString(v, at);
        out.key = s === null ? null : expandPath(s, ctx.env);
        break;
      }
      case "identity_fingerprint": {
        const s = asOptString(v, at);
        if (s !== null && (!s.startsWith("SHA256:") || s.length < 23)) {
          fail(
            at,
            `${shown(at, s)} is not an OpenSSH SHA256 fingerprint`,
            'copy the "SHA256:..." value printed by `ssh-add -l` or `ssh-keygen -lf <key>.pub` ' +
              "(MD5 fingerprints are not accepted)",
          );
        }
        out.identity_fingerprint = s;
        break;
      }
      case "identities_only":
        out.identities_only = asBool(v, at);
        break;
      case "passphrase_cmd":
        out.passphrase_cmd = asOptString(v, at);
        break;
      case "password_cmd":
        out.password_cmd = asOptString(v, at);
        break;
      case "password_secret":
        out.password_secret = asSecretName(v, at);
        break;
      case "passphrase_secret":
        out.passphrase_secret = asSecretName(v, at);
        break;
    }
  }
  return out;
}

function parseAlerts(t: unknown, ctx: Ctx, table: string): AlertsConfig {
  const file = ctx.file;
  if (!isTable(t)) {
    fail(
      { file, table: table.replace(/\.alerts$/, ""), key: "alerts" },
      `expected a table, got ${typeName(t)}`,
      `write [${table}] with alert thresholds`,
    );
  }
  checkKnownKeys(t, ALERTS_KEYS, file, table);
  const out = emptyAlerts();
  for (const [k, v] of Object.entries(t)) {
    const at = { file, table, key: k };
    switch (k as typeof ALERTS_KEYS[number]) {
      case "disk_use_percent_max":
        out.disk_use_percent_max = asInt(v, at, 0, 100, 90);
        break;
      case "load_avg_1min_max":
        out.load_avg_1min_max = asNumber(v, at, 0);
        break;
      case "mem_free_percent_min":
        out.mem_free_percent_min = asInt(v, at, 0, 100, 10);
        break;
      case "disk_mounts":
        out.disk_mounts = asStringList(v, at);
        break;
    }
  }
  return out;
}

/** Validates a `network` table; returns only the keys it sets. */
function parseNetwork(t: unknown, ctx: Ctx, table: string): Partial<NetworkConfig> {
  const file = ctx.file;
  if (!isTable(t)) {
    fail(
      {
        file,
        table: table === "network" ? "" : table.replace(/\.network$/, ""),
        key: "network",
      },
      `expected a table, got ${typeName(t)}`,
      `write [${table}] with allow_cidrs / block_cidrs / ...`,
    );
  }
  checkKnownKeys(t, NETWORK_KEYS, file, table);
  const out: Partial<NetworkConfig> = {};
  for (const [k, v] of Object.entries(t)) {
    const at = { file, table, key: k };
    const key = k as typeof NETWORK_KEYS[number];
    if (key === "resolve_dns") {
      out.resolve_dns = asBool(v, at);
      continue;
    }
    const list = asStringList(v, at);
    const cidr = key.endsWith("_cidrs");
    for (const e of list) {
      if (cidr ? !isValidCidr(e) : !isValidIp(e)) {
        const single = cidr && isValidIp(e)
          ? ` (a single address needs a prefix: "${e}/${
            e.includes(":") ? 128 : 32
          }", or put it in ${key.replace("_cidrs", "_ips")})`
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
    out[key] = list;
  }
  return out;
}

function parseRemoteMcp(t: unknown, ctx: Ctx, table: string): RemoteMcpConfig {
  const file = ctx.file;
  if (!isTable(t)) {
    fail(
      { file, table: table.replace(/\.remote_mcp$/, ""), key: "remote_mcp" },
      `expected a table, got ${typeName(t)}`,
      `write [${table}] with command or subsystem and allow_tools`,
    );
  }
  checkKnownKeys(t, REMOTE_MCP_KEYS, file, table);
  const out: RemoteMcpConfig = { command: null, subsystem: null, allow_tools: [] };
  for (const [k, v] of Object.entries(t)) {
    const at = { file, table, key: k };
    switch (k as typeof REMOTE_MCP_KEYS[number]) {
      case "command":
        out.command = asOptString(v, at);
        break;
      case "subsystem":
        out.subsystem = asOptString(v, at);
        break;
      case "allow_tools":
        out.allow_tools = asStringList(v, at);
        break;
    }
  }
  return out;
}

function parseCommandRules(v: unknown, at: At): CommandRule[] {
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

/** Validates one `[defaults]` / `[hosts.X]` table into the keys it sets. */
function parseLayer(t: Table, ctx: Ctx, table: string, isDefaults: boolean): Layer {
  const file = ctx.file;
  checkKnownKeys(t, HOST_KEYS, file, table);
  const out: Layer = {};
  for (const [k, v] of Object.entries(t)) {
    const at: At = { file, table, key: k };
    switch (k as typeof HOST_KEYS[number]) {
      case "hostname": {
        if (isDefaults) {
          fail(
            at,
            "hostname cannot be set in [defaults] (it would send every alias to one machine)",
            "set hostname per host",
          );
        }
        const s = asString(v, at);
        if (s === "" || /\s/.test(s) || hasControlChars(s) || s.startsWith("-")) {
          fail(
            at,
            `${shown(at, s)} is not a valid hostname`,
            "use a DNS name or IP address without blanks (or omit it: it defaults to the alias)",
          );
        }
        out.hostname = s;
        break;
      }
      case "user": {
        const s = asString(v, at);
        if (s === "" || hasControlChars(s)) {
          fail(
            at,
            "empty or invalid user name",
            "set the SSH login user, or omit it to use SSH_DEFAULT_USER",
          );
        }
        out.user = s;
        break;
      }
      case "port":
        out.port = asInt(v, at, 1, 65535, 22);
        break;
      case "platform": {
        const s = asString(v, at, 'use "posix" or "windows"');
        const p = PLATFORM_ALIASES[s.toLowerCase()];
        if (p === undefined) {
          fail(
            at,
            `${shown(at, s)} is not a supported platform`,
            'use "posix" (also linux, macos, bsd, darwin) or "windows"',
          );
        }
        out.platform = p;
        break;
      }
      case "default_dir":
        out.default_dir = asOptString(v, at);
        break;
      case "sudo_mode":
        out.sudo_mode = asEnum(v, at, ["per-call", "persistent-su"] as const);
        break;
      case "path_allowlist": {
        const list = asStringList(v, at, true);
        for (const e of list) {
          if (e !== "*" && e !== "/" && !isAbsoluteAnyPlatform(e)) {
            fail(
              at,
              `${shown(at, e)} is not an absolute path`,
              'use absolute roots like "/srv/app" or "C:\\\\data" ("*" or "/" allow everything)',
            );
          }
        }
        out.path_allowlist = list;
        break;
      }
      case "restricted_paths": {
        const list = asStringList(v, at, true);
        for (const e of list) {
          if (!isAbsoluteAnyPlatform(e)) {
            fail(
              at,
              `${shown(at, e)} is not an absolute path`,
              'use absolute deny roots like "/etc/shadow" or "/mnt/shared" (globs go in restricted_globs)',
            );
          }
        }
        out.restricted_paths = list;
        break;
      }
      case "restricted_globs":
        out.restricted_globs = asStringList(v, at);
        break;
      case "redact_paths_globs":
        out.redact_paths_globs = asStringList(v, at);
        break;
      case "redact_keys_add":
        out.redact_keys_add = asStringList(v, at);
        break;
      case "redact_keys_replace":
        out.redact_keys_replace = asStringList(v, at);
        break;
      case "redact_entropy_detection":
        out.redact_entropy_detection = asBool(v, at);
        break;
      case "redact_bypass_policy":
        out.redact_bypass_policy = asEnum<BypassPolicy>(v, at, ["block", "warn", "audit_only"]);
        break;
      case "redact_hint_chars":
        out.redact_hint_chars = asInt(v, at, 0, 4, 0);
        break;
      case "command_allowlist":
        out.command_allowlist = asStringList(v, at);
        break;
      case "proxy_jump": {
        const list = typeof v === "string" ? [v] : asStringList(v, at, true);
        for (const e of list) {
          if (e.trim() === "") {
            fail(
              at,
              "empty alias",
              'name hosts.toml aliases, e.g. proxy_jump = "bastion" (or [] for a direct connection)',
            );
          }
        }
        out.proxy_jump = list;
        break;
      }
      case "persistent_session":
        out.persistent_session = asBool(v, at);
        break;
      case "docker_cmd":
        out.docker_cmd = asOptString(v, at);
        break;
      case "notes":
        out.notes = asOptString(v, at);
        break;
      case "auth":
        out.auth = parseAuth(v, ctx, `${table}.auth`);
        break;
      case "alerts":
        out.alerts = parseAlerts(v, ctx, `${table}.alerts`);
        break;
      case "tags": {
        const list = asStringList(v, at, true);
        for (const tag of list) {
          if (!TAG_RE.test(tag)) {
            fail(
              at,
              `${shown(at, tag)} is not a valid tag`,
              "use 1-50 letters, digits, '.', '_' or '-'",
            );
          }
        }
        out.tags = [...new Set(list)];
        break;
      }
      case "command_rules":
        out.command_rules = parseCommandRules(v, at);
        break;
      case "command_denylist":
        out.command_denylist = asStringList(v, at);
        break;
      case "command_timeout":
        out.command_timeout = asInt(v, at, 1, Number.MAX_SAFE_INTEGER, 60);
        break;
      case "max_command_timeout":
        out.max_command_timeout = asInt(v, at, 1, Number.MAX_SAFE_INTEGER, 3600);
        break;
      case "stdout_cap_bytes":
        out.stdout_cap_bytes = asInt(v, at, 1, Number.MAX_SAFE_INTEGER, 1048576);
        break;
      case "stderr_cap_bytes":
        out.stderr_cap_bytes = asInt(v, at, 1, Number.MAX_SAFE_INTEGER, 1048576);
        break;
      case "sudo_password_cmd":
        out.sudo_password_cmd = asOptString(v, at);
        break;
      case "sudo_password_secret":
        out.sudo_password_secret = asSecretName(v, at);
        break;
      case "case_insensitive_paths":
        out.case_insensitive_paths = asBool(v, at);
        break;
      case "network":
        out.network = parseNetwork(v, ctx, `${table}.network`);
        break;
      case "remote_mcp":
        out.remote_mcp = parseRemoteMcp(v, ctx, `${table}.remote_mcp`);
        break;
      case "become_method":
        out.become_method = asEnum(v, at, ["sudo", "doas"] as const);
        break;
    }
  }
  return out;
}

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
  const ctx: Ctx = { file, settings, env };
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
  const notices: ConfigNotice[] = [];

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
    Object.assign(network, parseNetwork(doc["network"], ctx, "network"));
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
          "remove a hop from the cycle (a jump host that inherits proxy_jump from [defaults] needs proxy_jump = [])",
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

/** §9.2 warnings for one merged host. */
function hostNotices(p: HostPolicy, settings: Settings, notices: ConfigNotice[]): void {
  const table = `hosts.${p.alias}`;
  const warn = (message: string) =>
    notices.push({ level: "WARNING", message: `${table}: ${message}` });
  const catchAll = p.path_allowlist.filter((e) => e === "*" || e === "/");
  for (const e of catchAll) {
    warn(`path_allowlist contains ${JSON.stringify(e)}: every path on this host is allowed`);
  }
  if (catchAll.length > 0 && p.platform === "posix") {
    const roots = [...p.restricted_paths, ...settings.SSH_RESTRICTED_PATHS].map(normalizeRoot);
    const missing = SENSITIVE_ZONES.filter((z) =>
      !roots.some((r) => r === z || z.startsWith(r === "/" ? "/" : r + "/"))
    );
    if (missing.length > 0) {
      warn(
        `path_allowlist ${JSON.stringify(catchAll[0])} without restricted_paths covering ` +
          `${missing.join(", ")}; add them to restricted_paths or SSH_RESTRICTED_PATHS`,
      );
    }
  }
  if (settings.ALLOW_DANGEROUS_TOOLS) {
    if (p.command_allowlist.includes("*")) {
      warn('command_allowlist contains "*": any command may run (ALLOW_DANGEROUS_TOOLS=true)');
    }
    if (p.command_allowlist.length === 0 && settings.ALLOW_ANY_COMMAND) {
      warn("empty command_allowlist with ALLOW_ANY_COMMAND=true: any command may run");
    }
  }
  const wrappers = wrapperEntries(p.command_allowlist);
  if (wrappers.length > 0) {
    warn(
      `command_allowlist allows program(s) that run arbitrary commands: ${wrappers.join(", ")}`,
    );
  }
  const cmds: [string, string | null][] = [
    ["auth.passphrase_cmd", p.auth.passphrase_cmd],
    ["auth.password_cmd", p.auth.password_cmd],
    ["sudo_password_cmd", p.sudo_password_cmd],
  ];
  for (const [k, v] of cmds) {
    if (v !== null && isLiteralSecretCommand(v)) {
      warn(
        `${k} starts with echo/printf: the literal secret is visible in the local process list ` +
          "and in hosts.toml; use a password manager command or a *_secret file",
      );
    }
  }
  if (p.sudo_mode === "persistent-su") {
    warn('sudo_mode = "persistent-su" is not implemented; per-call sudo is used');
  }
  if (p.auth.method === "key" && p.auth.key === null) {
    warn('auth.method = "key" without auth.key: connections will fail (AuthenticationFailed)');
  }
  if (
    p.auth.method === "password" && p.auth.password_cmd === null && p.auth.password_secret === null
  ) {
    warn(
      'auth.method = "password" without password_cmd or password_secret: connections will fail',
    );
  }
  if (p.auth.method === "agent" && p.auth.identities_only && p.auth.identity_fingerprint === null) {
    warn("auth.identities_only = true without identity_fingerprint: connections will fail");
  }
  if (
    p.command_timeout !== null && p.max_command_timeout !== null &&
    p.command_timeout > p.max_command_timeout
  ) {
    warn("command_timeout is above max_command_timeout");
  }
}

function hasControlChars(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}

function normalizeRoot(r: string): string {
  const n = path.posix.normalize(r);
  return n.length > 1 && n.endsWith("/") ? n.slice(0, -1) : n;
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
