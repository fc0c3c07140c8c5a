/**
 * The keys of a `[hosts.<alias>]` / `[defaults]` table (CONFIG.md §4.3):
 * {@link HOST_KEY_PARSERS} maps every key to the parser that validates and
 * converts its value, and {@link parseLayer} runs it over one table, giving a
 * {@link Layer} (only the keys the table sets) for the merge.
 *
 * @module
 */

import {
  parseAlerts,
  parseAuth,
  parseCommandRules,
  parseNetwork,
  parseRemoteMcp,
} from "./hosts_sections.ts";
import {
  asBool,
  asEnum,
  asInt,
  asOptString,
  asSecretName,
  asString,
  asStringList,
  asStringListAllowBlank,
  type At,
  type Ctx,
  fail,
  keysOf,
  type KeyTable,
  parseKeys,
  shown,
  type Table,
} from "./hosts_values.ts";
import { isAbsoluteAnyPlatform } from "./settings.ts";
import type {
  AuthConfig,
  BypassPolicy,
  Group,
  HostPolicy,
  NetworkConfig,
  Platform,
} from "./types.ts";

/** One `[defaults]` or `[hosts.X]` table after validation: only the keys it sets. */
export type Layer =
  & {
    -readonly [
      K in Exclude<keyof HostPolicy, "alias" | "source" | "configured_keys" | "auth" | "network">
    ]?: HostPolicy[K];
  }
  & { auth?: Partial<AuthConfig>; network?: Partial<NetworkConfig> };

/** Context of the host key parsers: {@link Ctx} plus which kind of table is parsed. */
export interface LayerCtx extends Ctx {
  /** true for `[defaults]`, false for `[hosts.<alias>]` */
  isDefaults: boolean;
}

/** Tag syntax (CONFIG.md §4.3). */
export const TAG_RE = /^[A-Za-z0-9._-]{1,50}$/;

const PLATFORM_ALIASES: Record<string, "posix" | "windows"> = {
  posix: "posix",
  linux: "posix",
  macos: "posix",
  bsd: "posix",
  darwin: "posix",
  windows: "windows",
};

function hasControlChars(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}

function hostname(v: unknown, at: At, ctx: LayerCtx): string {
  if (ctx.isDefaults) {
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
  return s;
}

function user(v: unknown, at: At): string {
  const s = asString(v, at);
  if (s === "" || hasControlChars(s)) {
    fail(
      at,
      "empty or invalid user name",
      "set the SSH login user, or omit it to use SSH_DEFAULT_USER",
    );
  }
  return s;
}

function platform(v: unknown, at: At): Platform {
  const s = asString(v, at, 'use "posix" or "windows"');
  const p = PLATFORM_ALIASES[s.toLowerCase()];
  if (p === undefined) {
    fail(
      at,
      `${shown(at, s)} is not a supported platform`,
      'use "posix" (also linux, macos, bsd, darwin) or "windows"',
    );
  }
  return p;
}

function pathAllowlist(v: unknown, at: At): string[] {
  const list = asStringListAllowBlank(v, at);
  for (const e of list) {
    if (e !== "*" && e !== "/" && !isAbsoluteAnyPlatform(e)) {
      fail(
        at,
        `${shown(at, e)} is not an absolute path`,
        'use absolute roots like "/srv/app" or "C:\\\\data" ("*" or "/" allow everything)',
      );
    }
  }
  return list;
}

function restrictedPaths(v: unknown, at: At): string[] {
  const list = asStringListAllowBlank(v, at);
  for (const e of list) {
    if (!isAbsoluteAnyPlatform(e)) {
      fail(
        at,
        `${shown(at, e)} is not an absolute path`,
        'use absolute deny roots like "/etc/shadow" or "/mnt/shared" ' +
          "(globs go in restricted_globs)",
      );
    }
  }
  return list;
}

function proxyJump(v: unknown, at: At): string[] {
  const list = typeof v === "string" ? [v] : asStringListAllowBlank(v, at);
  for (const e of list) {
    if (e.trim() === "") {
      fail(
        at,
        "empty alias",
        'name hosts.toml aliases, e.g. proxy_jump = "bastion" (or [] for a direct connection)',
      );
    }
  }
  return list;
}

function tags(v: unknown, at: At): string[] {
  const list = asStringListAllowBlank(v, at);
  for (const tag of list) {
    if (!TAG_RE.test(tag)) {
      fail(
        at,
        `${shown(at, tag)} is not a valid tag`,
        "use 1-50 letters, digits, '.', '_' or '-'",
      );
    }
  }
  return [...new Set(list)];
}

/** Groups whose mutating tools can run through the host's elevation (`sudo_tool_groups`). */
export const SUDO_TOOL_GROUPS = ["systemctl", "pkg"] as const;

function sudoToolGroups(v: unknown, at: At): Group[] {
  const list = asStringList(v, at);
  for (const g of list) {
    if (!(SUDO_TOOL_GROUPS as readonly string[]).includes(g)) {
      fail(at, `${shown(at, g)} is not a group with sudo support`, 'use "systemctl" and/or "pkg"');
    }
  }
  return [...new Set(list)] as Group[];
}

const MAX = Number.MAX_SAFE_INTEGER;

/**
 * One parser per key of a `[hosts.<alias>]` / `[defaults]` table. Its order is
 * {@link HOST_KEYS} (the "known keys" of messages); the type proves it covers
 * every {@link HostPolicy} field but alias / source / configured_keys.
 */
export const HOST_KEY_PARSERS: KeyTable<Layer, LayerCtx> = {
  hostname,
  user,
  port: (v, at, ctx) => asInt(v, at, 1, 65535, 22, ctx),
  platform,
  default_dir: asOptString,
  sudo_mode: (v, at) => asEnum(v, at, ["per-call", "persistent-su"] as const),
  path_allowlist: pathAllowlist,
  restricted_paths: restrictedPaths,
  restricted_globs: asStringList,
  redact_paths_globs: asStringList,
  redact_keys_add: asStringList,
  redact_keys_replace: asStringList,
  redact_entropy_detection: asBool,
  redact_bypass_policy: (v, at) => asEnum<BypassPolicy>(v, at, ["block", "warn", "audit_only"]),
  // never clamped: the hint leaks characters of each secret (reference refuses too)
  redact_hint_chars: (v, at, ctx) => asInt(v, at, 0, 4, 0, ctx),
  command_allowlist: asStringList,
  proxy_jump: proxyJump,
  persistent_session: asBool,
  docker_cmd: asOptString,
  notes: asOptString,
  auth: (v, at, ctx) => parseAuth(v, ctx, at.table),
  alerts: (v, at, ctx) => parseAlerts(v, ctx, at.table),
  tags,
  command_rules: parseCommandRules,
  command_denylist: asStringList,
  command_timeout: (v, at, ctx) => asInt(v, at, 1, MAX, 60, ctx),
  max_command_timeout: (v, at, ctx) => asInt(v, at, 1, MAX, 3600, ctx),
  stdout_cap_bytes: (v, at, ctx) => asInt(v, at, 1, MAX, 1048576, ctx),
  stderr_cap_bytes: (v, at, ctx) => asInt(v, at, 1, MAX, 1048576, ctx),
  sudo_password_cmd: asOptString,
  sudo_password_secret: asSecretName,
  case_insensitive_paths: asBool,
  network: (v, at, ctx) => parseNetwork(v, ctx, at.table),
  remote_mcp: (v, at, ctx) => parseRemoteMcp(v, ctx, at.table),
  become_method: (v, at) => asEnum(v, at, ["sudo", "doas"] as const),
  sudo_tool_groups: sudoToolGroups,
};

/** Keys of a `[hosts.<alias>]` / `[defaults]` table (every HostPolicy field but alias/source). */
export const HOST_KEYS: readonly (keyof Layer)[] = keysOf(HOST_KEY_PARSERS);

/** Validates one `[defaults]` / `[hosts.X]` table into the keys it sets. */
export function parseLayer(t: Table, ctx: Ctx, table: string, isDefaults: boolean): Layer {
  const out: Layer = {};
  parseKeys(t, HOST_KEY_PARSERS, ctx.file, table, { ...ctx, isDefaults }, out);
  return out;
}
