/**
 * The services a running server offers to tools. Implemented by `App`
 * (`app.ts`); declared here so tools can depend on the shape without import
 * cycles.
 *
 * @module
 */

import type { LoadedConfig } from "./config/load.ts";
import type { SshConfig } from "./config/ssh_config.ts";
import type { HostPolicy, Settings, Tier } from "./config/types.ts";
import type { AuditLog } from "./audit/audit.ts";
import type { HookSink } from "./hooks/hooks.ts";
import type { Logger } from "./log.ts";
import type { NotesStore } from "./notes/store.ts";
import type { HostRegistry } from "./policy/hosts.ts";
import type { NetworkPolicy } from "./policy/network.ts";
import type { SkillLibrary } from "./skills/library.ts";
import type { PathChecker } from "./policy/paths.ts";
import type { CommandChecker } from "./policy/commands.ts";
import type { KnownHosts } from "./ssh/known_hosts.ts";
import type { ConnectionPool } from "./ssh/pool.ts";
import type { Tool } from "./tools/define.ts";

/** Registered vs visible tools for this configuration. */
export interface CatalogInfo {
  registered: readonly Tool[];
  visible: readonly Tool[];
  enabledTiers: Tier[];
  enabledGroups: string[];
}

/** Result of a hosts.toml reload (TOOLS.md §4 ssh_host_reload, §15). */
export interface ReloadOutcome {
  loaded: boolean;
  source: string;
  added: string[];
  removed: string[];
  changed: string[];
  files_reloaded: string[];
  invalidated_connections: number;
}

/** Payload of `ssh_server_info` and `mcp://ssh-mcp/server-info`. */
export interface ServerInfo {
  name: "ssh-mcp";
  version: string;
  total_tools: number;
  enabled_tiers: Tier[];
  enabled_groups: string[];
  audit_dropped: number;
  hook_events_dropped: number;
  embedded_skills: number;
}

/** What tools may use. */
export interface AppServices {
  readonly version: string;
  readonly config: LoadedConfig;
  readonly settings: Settings;
  readonly logger: Logger;
  readonly pool: ConnectionPool;
  readonly knownHosts: KnownHosts;
  readonly notes: NotesStore;
  readonly audit: AuditLog;
  /** lifecycle hooks (SECURITY.md §HOOK); fire and forget */
  readonly hooks: HookSink;
  readonly skills: SkillLibrary;
  readonly catalog: CatalogInfo;
  /** the current host registry (replaced atomically by reload) */
  hosts(): HostRegistry;
  /** the current network policy (replaced by reload) */
  network(): NetworkPolicy;
  /** parsed SSH_CONFIG_FILE, or null */
  sshConfig(): SshConfig | null;
  /** validate-then-swap reload of hosts.toml, known_hosts and network policy */
  reload(opts: { invalidateChanged: boolean }): Promise<ReloadOutcome>;
  serverInfo(): ServerInfo;
  /** remote path policy */
  readonly paths: PathChecker;
  /** command policy */
  readonly commands: CommandChecker;
  /**
   * Registers cleanup run by `close()` before connections close (running
   * tasks, shell sessions). Callbacks run in registration order.
   */
  onShutdown(fn: () => Promise<void> | void): void;
  /** Registers a callback run after a successful reload (e.g. close shells of removed hosts). */
  onReload(
    fn: (outcome: ReloadOutcome, opts: { invalidateChanged: boolean }) => Promise<void> | void,
  ): void;
  /** pinned known_hosts fingerprint for a policy (after ssh_config mapping) */
  knownHostsPin(p: HostPolicy): string | null;
}
