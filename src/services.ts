/**
 * The services of a running server, as the registry sees them. Implemented
 * by `App` (`app.ts`). Tool handlers never see this interface: the registry
 * hands them a narrow `ToolContext` (`src/tools/context.ts`) built from it.
 *
 * @module
 */

import type { AuditLog } from "./audit/audit.ts";
import type { LoadedConfig } from "./config/load.ts";
import type { SshConfig } from "./config/ssh_config.ts";
import type { HostPolicy, Settings } from "./config/types.ts";
import type { HookSink } from "./hooks/hooks.ts";
import type { Logger } from "./log.ts";
import type { NotesStore } from "./notes/store.ts";
import type { CommandChecker } from "./policy/commands.ts";
import type { HostRegistry } from "./policy/hosts.ts";
import type { NetworkPolicy } from "./policy/network.ts";
import type { PathChecker } from "./policy/paths.ts";
import type { CatalogInfo } from "./registry/visibility.ts";
import type { ShellStore } from "./shell/store.ts";
import type { SkillLibrary } from "./skills/library.ts";
import type { KnownHosts } from "./ssh/known_hosts.ts";
import type { ConnectionPool } from "./ssh/pool.ts";
import type { CapabilitiesCache } from "./sudo/capabilities.ts";
import type { TaskManager } from "./tasks/manager.ts";
import type { ReloadOutcome, ServerInfo } from "./tools/context.ts";

export type { ReloadOutcome, ServerInfo };

/** What the registry builds tool contexts from. */
export interface AppServices {
  readonly version: string;
  /** the loaded configuration (replaced as a whole by reload, never mutated) */
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
  /** async tasks of every MCP session (SECURITY.md §TASK) */
  readonly tasks: TaskManager;
  /** persistent shell sessions (SECURITY.md §SESS) */
  readonly shells: ShellStore;
  /** `sudo -l` answers per host */
  readonly sudoCapabilities: CapabilitiesCache;
  /** remote path policy */
  readonly paths: PathChecker;
  /** command policy */
  readonly commands: CommandChecker;
  /** the current host registry (replaced atomically by reload) */
  hosts(): HostRegistry;
  /** the current network policy (replaced by reload) */
  network(): NetworkPolicy;
  /** parsed SSH_CONFIG_FILE, or null */
  sshConfig(): SshConfig | null;
  /** validate-then-swap reload of hosts.toml, known_hosts and network policy */
  reload(opts: { invalidateChanged: boolean }): Promise<ReloadOutcome>;
  serverInfo(): ServerInfo;
  /**
   * Registers cleanup run by `close()` before connections close (the MCP
   * task store). Callbacks run in registration order.
   */
  onShutdown(fn: () => Promise<void> | void): void;
  /** pinned known_hosts fingerprint for a policy (after ssh_config mapping) */
  knownHostsPin(p: HostPolicy): string | null;
}
