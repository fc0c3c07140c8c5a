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
import type { KnownHosts } from "./ssh/known_hosts.ts";
import type { ConnectionPool } from "./ssh/pool.ts";
import type { CheckedPath, Tool } from "./tools/define.ts";
import type { CheckedCommand, ShellCommand } from "./ssh/command.ts";
import type { RawExecResult } from "./ssh/exec.ts";
// @ts-types="npm:@types/ssh2@1.15.5"
import type ssh2 from "ssh2";

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

/** Remote I/O a path check may use on the path's host (realpath, SFTP fallback). */
export interface PathIo {
  exec(cmd: ShellCommand, timeoutMs?: number): Promise<RawExecResult>;
  sftp(): Promise<ssh2.SFTPWrapper>;
}

/** One path check (SECURITY.md §PATH resolution chain). */
export interface PathCheckRequest {
  tool: string;
  policy: HostPolicy;
  raw: string;
  mustExist: boolean;
  /** PATH-10 redact-bypass gate */
  redactGate: boolean;
  /** false: canonicalize the parent and keep the leaf (act on a symlink itself) */
  follow: boolean;
  /** true: `raw` is an absolute normalised path checked without remote canonicalization (PATH-22) */
  lexical: boolean;
  io: PathIo;
}

/** Outcome of an admitted path. */
export interface PathCheckResult {
  path: CheckedPath;
  /** e.g. the redact `warn` text; added to the result's output_warnings */
  warnings: string[];
  /** the path is redact-listed and the policy let it through (audit flag) */
  redactBypass: boolean;
}

/** The remote path policy (implemented in `src/policy/paths.ts`). */
export interface PathChecker {
  /** Throws PathNotAllowed / PathRestricted / RedactBypassBlocked; never widens access. */
  check(req: PathCheckRequest): Promise<PathCheckResult>;
}

/** One command check (SECURITY.md §EXEC, §CHEAT, §SCRIPT). */
export interface CommandCheckRequest {
  tool: string;
  policy: HostPolicy;
  command: string;
  kind: "command" | "script";
}

/** Why a command was admitted or refused (for `policy_decision` audit lines). */
export interface CommandDecision {
  reason: string;
  rule: string | null;
}

/** A cheatsheet hit (SECURITY.md §CHEAT). */
export interface CheatsheetMatch {
  patternId: string;
  /** a tool name, or a family text such as "ssh_docker_* family" */
  suggestedTool: string;
}

/** The command policy (implemented in `src/policy/commands.ts`). */
export interface CommandChecker {
  /** Pure cheatsheet lookup (no opt-out logic, never throws); for `ssh_plan`. */
  cheatsheetMatch(req: CommandCheckRequest): CheatsheetMatch | null;
  /**
   * CHEAT-1/2: throws CommandIsCheatsheetMatch (attributes pattern_id,
   * suggested_tool) unless the opt-out is set; with the opt-out returns the
   * warning text and pattern id for a match. No match: both null.
   */
  cheatsheet(req: CommandCheckRequest): { warning: string | null; patternId: string | null };
  /**
   * EXEC-10..21 / SCRIPT-1..4: throws CommandNotAllowed (attributes reason,
   * rule) or ValueError; returns the admitted command and why.
   */
  admit(req: CommandCheckRequest): { command: CheckedCommand; decision: CommandDecision };
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
