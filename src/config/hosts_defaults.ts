/**
 * The bottom layers of the `hosts.toml` merge (CONFIG.md §4.2): built-in
 * values plus env fallbacks (`SSH_DEFAULT_USER`, `SSH_DEFAULT_KEY`,
 * `SSH_NETWORK_RESOLVE_DNS`), and the minimal policy of an
 * `SSH_HOSTS_ALLOWLIST` host (§6.2).
 *
 * @module
 */

import { expandPath } from "./env.ts";
import type { AlertsConfig, AuthConfig, HostPolicy, NetworkConfig, Settings } from "./types.ts";

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

/** An `alerts` table with no threshold set. */
export function emptyAlerts(): AlertsConfig {
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
export function basePolicy(
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
