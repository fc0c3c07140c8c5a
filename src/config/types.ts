/**
 * The configuration contract: every environment setting (CONFIG.md §3) as one
 * table, and the merged per-host policy (CONFIG.md §4).
 *
 * Setting names and hosts.toml keys are byte-exact with the reference so an
 * existing deployment works unchanged. Code reads settings as
 * `settings.SSH_CONNECT_TIMEOUT`, never through ad-hoc `Deno.env.get` calls, so
 * the table below is the complete list of what the server reads (AC-003).
 *
 * @module
 */

/** How one setting is parsed (CONFIG.md §1.1). */
export type SettingSpec =
  | { readonly kind: "bool"; readonly default: boolean }
  | {
    readonly kind: "int";
    readonly default: number;
    /** inclusive lower bound; caps and timeouts use 1 (CONFIG.md §3.6 NEW) */
    readonly min?: number;
    readonly max?: number;
  }
  | {
    readonly kind: "list";
    readonly default: readonly string[];
    /** when set, every item must be one of these (anything else is a startup error) */
    readonly values?: readonly string[];
  }
  | {
    /**
     * a filesystem path; `~` is expanded at use time. Unset -> default. Blank ->
     * null for optional paths (the feature is disabled, CONFIG.md §1.1 NEW),
     * the default for required ones.
     */
    readonly kind: "path";
    readonly default: string | null;
    readonly optional: boolean;
  }
  | { readonly kind: "string"; readonly default: string | null }
  | {
    readonly kind: "enum";
    readonly values: readonly string[];
    readonly default: string;
  };

function bool(d: boolean) {
  return { kind: "bool", default: d } as const;
}
function int(d: number, min?: number, max?: number) {
  return { kind: "int", default: d, min, max } as const;
}
function list(d: readonly string[] = []) {
  return { kind: "list", default: d } as const;
}
function listOf<const V extends readonly string[]>(values: V, d: readonly V[number][] = []) {
  return { kind: "list", default: d, values } as const;
}
function path<const D extends string | null>(d: D) {
  return { kind: "path", default: d, optional: true } as const;
}
function requiredPath<const D extends string>(d: D) {
  return { kind: "path", default: d, optional: false } as const;
}
function str<const D extends string | null>(d: D) {
  return { kind: "string", default: d } as const;
}
function enumOf<const V extends readonly string[]>(values: V, d: V[number]) {
  return { kind: "enum", values, default: d } as const;
}

/** Caps and timeouts must be > 0 (CONFIG.md §3.6 NEW). */
const POSITIVE = 1;

/**
 * Every setting the server reads, with its default. Order follows CONFIG.md §3.
 */
export const SETTINGS = {
  // §3.1 SSH transport
  SSH_CONFIG_FILE: path(null),
  SSH_KNOWN_HOSTS: requiredPath("~/.ssh/known_hosts"),
  /**
   * NEW (first contact confirmed by a human): the server's OWN pin file, read
   * in addition to `SSH_KNOWN_HOSTS` (which is never written). Only a host
   * key a human explicitly accepted is appended here (file 0600, directory
   * 0700, written by temp file + rename). When the variable is unset and
   * `XDG_CONFIG_HOME` is an absolute path, the default is
   * `$XDG_CONFIG_HOME/ssh-mcp/pinned_known_hosts` (`parseSettings`). Must not
   * be the `SSH_KNOWN_HOSTS` file. Blank means the default.
   */
  SSH_PINNED_KNOWN_HOSTS: requiredPath("~/.config/ssh-mcp/pinned_known_hosts"),
  /**
   * NEW: when true and the MCP client can ask its user (elicitation), an
   * UNKNOWN host key is shown (host, address, key type, SHA256 fingerprint)
   * and pinned into `SSH_PINNED_KNOWN_HOSTS` only on an explicit yes. A
   * changed (mismatched or revoked) key is never offered. false = unknown
   * keys are refused (UnknownHost) as before.
   */
  SSH_CONFIRM_NEW_HOST_KEYS: bool(false),
  /**
   * NEW: access tiers whose tool calls need an explicit human approval
   * through the client (values: read, low-access, dangerous, sudo). Empty =
   * no approval prompts.
   */
  SSH_APPROVAL_TIERS: listOf(["read", "low-access", "dangerous", "sudo"] as const),
  /**
   * NEW: seconds an approval is reused for the same grant (0..3600); 0 = every
   * call asks again.
   */
  SSH_APPROVAL_GRANT_S: int(0, 0, 3600),
  SSH_DEFAULT_USER: str("root"),
  SSH_DEFAULT_KEY: path(null),
  SSH_HOSTS_FILE: path("hosts.toml"),
  ALLOW_PASSWORD_AUTH: bool(false),
  SSH_CONNECT_TIMEOUT: int(10, POSITIVE),
  SSH_KEEPALIVE_INTERVAL: int(30, POSITIVE),
  SSH_IDLE_TIMEOUT: int(300, POSITIVE),
  SSH_MAX_CONNECTIONS_PER_HOST: int(4, POSITIVE, 8),
  // §3.2 tiers and exec policy
  ALLOW_LOW_ACCESS_TOOLS: bool(false),
  ALLOW_DANGEROUS_TOOLS: bool(false),
  ALLOW_SUDO: bool(false),
  ALLOW_ANY_COMMAND: bool(false),
  SSH_COMMAND_ALLOWLIST: list(),
  /**
   * NEW (policy under attack): environment names a restrictive command policy
   * admits in `NAME=value cmd` prefixes, added to the built-in safe list
   * (locale, TZ, TERM, COLUMNS, ...); interpreter and loader hooks are never
   * admitted.
   */
  SSH_COMMAND_ENV_ALLOWLIST: list(),
  SSH_EXEC_ALLOW_CHEATSHEET_PATTERNS: bool(false),
  ALLOW_PERSISTENT_SESSIONS: bool(true),
  ALLOW_DOCKER_PRIVILEGED: bool(false),
  SSH_ENABLED_GROUPS: list(),
  // §3.3 hosts
  SSH_HOSTS_ALLOWLIST: list(),
  SSH_HOSTS_BLOCKLIST: list(),
  // §3.4 paths
  SSH_PATH_ALLOWLIST: list(),
  SSH_RESTRICTED_PATHS: list(),
  SSH_RESTRICTED_GLOBS: list(),
  /**
   * NEW (policy under attack): the built-in protected files (the login user's
   * shell start-up files, `~/.ssh/`, ...) are restricted for the file tools;
   * `false` switches them off explicitly.
   */
  SSH_BUILTIN_PROTECTED_PATHS: bool(true),
  SSH_LOCAL_TRANSFER_ROOTS: list(),
  SSH_LOCAL_TRANSFER_MAX_BYTES: int(2147483648, POSITIVE),
  // §3.5 redaction
  SSH_REDACT_PATHS_GLOBS: list(),
  SSH_REDACT_BYPASS_POLICY: enumOf(["block", "warn", "audit_only"] as const, "block"),
  SSH_REDACT_KEYS_ADD: list(),
  SSH_REDACT_KEYS_REPLACE: list(),
  SSH_REDACT_SALT: str(""),
  SSH_REDACT_ENTROPY_DETECTION: bool(true),
  SSH_REDACT_HINT_CHARS: int(0, 0, 4),
  // §3.6 caps
  SSH_COMMAND_TIMEOUT: int(60, POSITIVE),
  SSH_STDOUT_CAP_BYTES: int(1048576, POSITIVE),
  SSH_STDERR_CAP_BYTES: int(1048576, POSITIVE),
  SSH_EDIT_MAX_FILE_BYTES: int(10485760, POSITIVE),
  SSH_UPLOAD_MAX_FILE_BYTES: int(268435456, POSITIVE),
  SSH_FIND_MAX_DEPTH: int(10, POSITIVE),
  SSH_FIND_MAX_RESULTS: int(10000, POSITIVE),
  SSH_DELETE_FOLDER_MAX_ENTRIES: int(10000, POSITIVE),
  SSH_HOST_NOTES_MAX_BYTES: int(262144, POSITIVE),
  // §3.7 sudo
  SSH_SUDO_PASSWORD_CMD: str(null),
  SSH_SUDO_MODE: enumOf(["per-call", "persistent-su"] as const, "per-call"),
  // §3.8 docker
  SSH_DOCKER_CMD: str("docker"),
  SSH_DOCKER_COMPOSE_CMD: str(""),
  // §3.9 skills, runbooks, notes
  SSH_SKILLS_DIR: path(null),
  SSH_RUNBOOKS_DIR: path(null),
  SSH_ENABLE_RUNBOOKS: bool(true),
  SSH_HOST_NOTES_DIR: path("notes"),
  SSH_PING_INCLUDES_NOTES: bool(true),
  SSH_PING_INCLUDES_AGENT_NOTES: bool(true),
  // §3.10 catalog search
  SSH_ENABLE_BM25: bool(false),
  SSH_BM25_MAX_RESULTS: int(8, POSITIVE),
  SSH_BM25_ALWAYS_VISIBLE: list([
    "ssh_host_ping",
    "ssh_host_info",
    "ssh_session_list",
    "ssh_shell_list",
  ]),
  // §3.11 transport, hooks, observability
  MCP_TRANSPORT: enumOf(["stdio", "http", "streamable-http", "sse"] as const, "stdio"),
  MCP_HTTP_HOST: str("127.0.0.1"),
  MCP_HTTP_PORT: int(8000, 1, 65535),
  SSH_HOOKS_MODULE: str(null),
  LOG_LEVEL: enumOf(["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] as const, "INFO"),
  OTEL_ENABLED: bool(true),
  VERSION: str(null),
  // §3.12 NEW
  SSH_MAX_COMMAND_TIMEOUT: int(3600, POSITIVE),
  SSH_AUDIT_LOG: str("stderr"),
  SSH_LOG_FORMAT: enumOf(["text", "json"] as const, "text"),
  SSH_HOOKS_COMMAND: str(null),
  SSH_HOOKS_TIMEOUT: int(5, POSITIVE),
  SSH_SECRETS_DIR: path(null),
  ALLOW_ENV_SECRETS: bool(false),
  ALLOW_SPECIAL_MODE_BITS: bool(false),
  ALLOW_SCRIPT_WITH_ALLOWLIST: bool(false),
  SSH_SHELL_IDLE_TIMEOUT: int(3600, POSITIVE),
  SSH_TASK_KEEPALIVE_S: int(300, POSITIVE),
  SSH_TASK_MAX_CONCURRENT: int(16, POSITIVE),
  SSH_TASK_OUTPUT_LINES: int(10000, POSITIVE),
  MCP_HTTP_TOKEN: str(null),
  MCP_HTTP_ALLOWED_ORIGINS: list(),
  /**
   * NEW (remote and team scale): the Streamable HTTP gateway. A token file
   * holds several named bearer tokens (`name token` per line); OAuth 2.1
   * resource-server mode validates JWTs from `MCP_OAUTH_ISSUER` (JWKS from
   * its metadata or `MCP_OAUTH_JWKS_URL`) with audience `MCP_OAUTH_AUDIENCE`
   * (default: the public URL of `/mcp`).
   */
  MCP_HTTP_TOKEN_FILE: path(null),
  MCP_HTTP_TLS_CERT: path(null),
  MCP_HTTP_TLS_KEY: path(null),
  MCP_HTTP_ALLOWED_HOSTS: list(),
  MCP_HTTP_PUBLIC_URL: str(null),
  MCP_HTTP_MAX_BODY_BYTES: int(4194304, POSITIVE, 419430400),
  /** requests per minute per principal; 0 = no limit */
  MCP_HTTP_RATE_LIMIT: int(600, 0, 1000000),
  MCP_OAUTH_ISSUER: str(null),
  MCP_OAUTH_JWKS_URL: str(null),
  MCP_OAUTH_AUDIENCE: str(null),
  /** NEW: shared state of several replicas (`redis://host:port/db`); unset = in memory */
  SSH_STATE_URL: str(null),
  SSH_NETWORK_ALLOW_CIDRS: list(),
  SSH_NETWORK_BLOCK_CIDRS: list(),
  SSH_NETWORK_RESOLVE_DNS: bool(true),
  ALLOW_SSH_CONFIG_PROXYCOMMAND: bool(false),
  SSH_SKILLS_VISIBLE_ONLY: bool(false),
  /** NEW (fleet orchestration): max targets of one broadcast / run-on-tag call. */
  SSH_BROADCAST_MAX_HOSTS: int(500, POSITIVE),
} as const satisfies Record<string, SettingSpec>;

/** Name of one setting. */
export type SettingName = keyof typeof SETTINGS;

type ValueOf<S, L = string[]> = S extends { kind: "bool" } ? boolean
  : S extends { kind: "int" } ? number
  : S extends { kind: "list" } ? L
  : S extends { kind: "path"; optional: false } ? string
  : S extends { kind: "path" } ? string | null
  : S extends { kind: "string"; default: string } ? string
  : S extends { kind: "string" } ? string | null
  : S extends { kind: "enum"; values: readonly (infer V)[] } ? V
  : never;

/**
 * Parsed settings, keyed by the exact environment variable names. Read-only
 * all the way down: settings are shared with every call and never change
 * after start-up (they are also deep-frozen at run time).
 */
export type Settings = {
  readonly [K in SettingName]: ValueOf<typeof SETTINGS[K], readonly string[]>;
};

/** Settings while they are being built (`parseSettings`, `defaultSettings`). */
export type MutableSettings = { -readonly [K in SettingName]: ValueOf<typeof SETTINGS[K]> };

/** Tool groups (CONFIG.md §3.2 plus NEW `bridge`; `keys` is reserved and empty). */
export const GROUPS = [
  "host",
  "session",
  "sftp-read",
  "file-ops",
  "exec",
  "sudo",
  "keys",
  "docker",
  "shell",
  "systemctl",
  "pkg",
  "bridge",
] as const;
/** One tool group. */
export type Group = typeof GROUPS[number];

/** Access tiers (SECURITY.md §TIER). */
export type Tier = "read" | "low-access" | "dangerous" | "sudo";
/** Target platform of a host. */
export type Platform = "posix" | "windows";
/** Raw-content policy for redact-listed paths. */
export type BypassPolicy = "block" | "warn" | "audit_only";
/** Authentication method of a host. */
export type AuthMethod = "agent" | "key" | "password";

/** `[hosts.X.auth]` after the key-by-key merge (CONFIG.md §4.4). */
export interface AuthConfig {
  method: AuthMethod;
  identity_agent: string | null;
  identity_fingerprint: string | null;
  identities_only: boolean;
  key: string | null;
  passphrase_cmd: string | null;
  password_cmd: string | null;
  password_secret: string | null;
  passphrase_secret: string | null;
}

/** `[hosts.X.alerts]` (CONFIG.md §4.5). */
export interface AlertsConfig {
  disk_use_percent_max: number | null;
  load_avg_1min_max: number | null;
  mem_free_percent_min: number | null;
  disk_mounts: string[];
}

/** `[network]` or `[hosts.X.network]` (CONFIG.md §4.8). */
export interface NetworkConfig {
  allow_cidrs: string[];
  allow_ips: string[];
  block_cidrs: string[];
  block_ips: string[];
  resolve_dns: boolean;
}

/** One entry of `command_rules`. */
export interface CommandRule {
  action: "allow" | "deny";
  pattern: string;
}

/** `[hosts.X.remote_mcp]` for the MCP-over-SSH bridge tools. */
export interface RemoteMcpConfig {
  command: string | null;
  subsystem: string | null;
  allow_tools: string[];
}

/**
 * One host's policy after the merge `built-ins < env fallbacks < [defaults] <
 * [hosts.<alias>]` (CONFIG.md §4.2). Env lists are NOT unioned here; that
 * happens at enforcement time (see `src/policy/effective.ts`).
 */
export interface HostPolicy {
  /** lookup key (hosts.toml table name, or the allowlisted name) */
  alias: string;
  /** where this policy came from */
  source: "hosts.toml" | "env-allowlist";
  /**
   * hosts.toml keys set explicitly for this host (host block or `[defaults]`);
   * ssh_config may fill `user` / `port` only when they are absent here
   * (precedence, CONFIG.md §7)
   */
  configured_keys: string[];
  hostname: string;
  user: string;
  port: number;
  platform: Platform;
  default_dir: string | null;
  sudo_mode: "per-call" | "persistent-su";
  path_allowlist: string[];
  restricted_paths: string[];
  restricted_globs: string[];
  redact_paths_globs: string[];
  redact_keys_add: string[];
  redact_keys_replace: string[];
  redact_entropy_detection: boolean | null;
  redact_bypass_policy: BypassPolicy | null;
  redact_hint_chars: number | null;
  command_allowlist: string[];
  /** aliases of jump hosts, in order (empty = direct) */
  proxy_jump: string[];
  persistent_session: boolean;
  docker_cmd: string | null;
  notes: string | null;
  auth: AuthConfig;
  alerts: AlertsConfig;
  tags: string[];
  command_rules: CommandRule[];
  /** host entries only; the built-in list is added at enforcement time */
  command_denylist: string[];
  command_timeout: number | null;
  max_command_timeout: number | null;
  stdout_cap_bytes: number | null;
  stderr_cap_bytes: number | null;
  sudo_password_cmd: string | null;
  sudo_password_secret: string | null;
  case_insensitive_paths: boolean;
  /** per-host network override; `null` = use the global policy */
  network: NetworkConfig | null;
  remote_mcp: RemoteMcpConfig | null;
  /** `become_method` for sudo tools (sudo | doas) */
  become_method: "sudo" | "doas";
  /**
   * NEW `sudo_tool_groups`: tool groups (`systemctl`, `pkg`) whose mutating
   * tools run through this host's elevation (`become_method`, sudo password
   * sources) when the sudo tier is enabled; absent or empty = the login user
   * runs them (reference behaviour).
   */
  sudo_tool_groups?: Group[];
}

/** A non-fatal finding at load time (CONFIG.md §9.2), shown at startup and by `doctor`. */
export interface ConfigNotice {
  level: "INFO" | "WARNING";
  message: string;
}

/** Result of parsing hosts.toml. */
export interface HostsFile {
  /** absolute path of the file, or null in env-only mode */
  source: string | null;
  /** aliases in file order */
  hosts: Map<string, HostPolicy>;
  /** global `[network]` table (before the env union) */
  network: NetworkConfig;
  notices: ConfigNotice[];
}
