/**
 * What a tool handler sees: the {@link ToolContext}. It is deliberately
 * narrow. A handler reaches a host only through values the registry checked:
 *
 * - hosts are {@link Host} values ({@link AdmittedHost}) handed out by the
 *   registry: the declared host fields, and for fan-out tools the targets
 *   admitted with {@link ToolContext.admitTarget};
 * - files through {@link ToolContext.fs}, a remote file system whose every
 *   method takes a `CheckedPath` (or an `EntryPath` found by listing one;
 *   `checkPath(host, entry, { lexical: true })` turns it into a checked one);
 * - commands through {@link ToolContext.exec}, which takes a
 *   `ShellCommand` (from the `sh` template) or a {@link CheckedCommand}
 *   (admitted by the command policy).
 *
 * No connection, pool, SFTP channel or service bag reaches a handler; the
 * services it may use (settings, notes, tasks, shells, ...) are named here
 * one by one. The implementation is `src/registry/context.ts`.
 *
 * @module
 */

import type { AdmittedHost, CheckedCommand, CheckedPath, RemoteCommand } from "../checked.ts";
import type { HostPolicy, Settings, Tier } from "../config/types.ts";
import type { Logger } from "../log.ts";
import type { NotesStore } from "../notes/store.ts";
import type { HostRegistry } from "../policy/hosts.ts";
import type { CheatsheetMatch, CommandCheckRequest } from "../policy/commands.ts";
import type { ShellStore } from "../shell/store.ts";
import type { SkillLibrary } from "../skills/library.ts";
import type { ExecOptions, RawExecResult } from "../ssh/exec.ts";
import type { RemoteFs } from "../ssh/fs.ts";

/**
 * An open subsystem channel: the part of ssh2's duplex channel a tool uses
 * (structural, so tool code never imports the SSH layer).
 */
export interface SubsystemChannel {
  on(event: "data", listener: (chunk: Uint8Array) => void): unknown;
  on(event: "close", listener: () => void): unknown;
  stderr: { on(event: "data", listener: (chunk: Uint8Array) => void): unknown };
  write(chunk: Uint8Array): unknown;
  end(): unknown;
  close(): unknown;
}
import type { PoolSession } from "../ssh/sessions.ts";
import type { CapabilitiesCache } from "../sudo/capabilities.ts";
import type { Elevation } from "../sudo/elevation.ts";
import type { TaskManager } from "../tasks/manager.ts";

/** A host admitted for this call (see `src/checked.ts`). */
export type Host = AdmittedHost<HostPolicy>;

/** Fields that may be added to the audit line by a handler (SECURITY.md AUDIT-2). */
export interface AuditExtra {
  exit_code?: number;
  timed_out?: boolean;
  cancelled?: boolean;
  bytes_out?: number;
  bytes_err?: number;
  target_ip?: string;
  path_hash?: string;
  dst_path_hash?: string;
  command_hash?: string;
  unit_hash?: string;
  package_hash?: string;
  script_len?: number;
  script_hash?: string;
  task_id?: string;
  remote_tool_hash?: string;
  cheatsheet_pattern_id?: string;
  redact_bypass?: true;
}

/**
 * An extra audit line of this call for one target (fan-out hosts, a finished
 * async task); the registry adds `type`, `ts`, `correlation_id`, `tool` and
 * `tier`.
 */
export interface TargetAuditLine extends AuditExtra {
  host: string;
  alias: string;
  hostname: string;
  result: "ok" | "error";
  duration_ms: number;
  error?: string;
}

/** Options of {@link ToolContext.exec}; timeout and caps default to the host's. */
export type CtxExecOptions = Partial<ExecOptions>;

/** Options of {@link ToolContext.checkPath}. */
export interface CheckPathOptions {
  mustExist: boolean;
  redactGate?: boolean;
  follow?: boolean;
  /** audit key receiving the hash of the canonical path; null: none (walked entries) */
  audit?: "path_hash" | "dst_path_hash" | null;
  /**
   * check an absolute, already normalised path without canonicalizing it on
   * the host (symbolic-link targets, entries found by listing; PATH-22)
   */
  lexical?: boolean;
  /**
   * PATH-33..PATH-36, PATH-42: the operation acts on the whole subtree below
   * this path. `true`: the subtree as it is here. `{ receives }`: the
   * subtree of `receives` (a checked path on `host`, default this path's
   * host) lands here; its names and relative links are checked at their new
   * place. `fresh`: walk again instead of reusing this call's earlier walk
   * (checks after the fact).
   */
  subtree?: true | { receives: CheckedPath; host?: Host; fresh?: boolean };
  /**
   * PATH-26: refuse `/`, a drive root, an allowlist root or an ancestor of
   * one before the subtree check; the verb names the operation ("delete").
   */
  notRoot?: string;
}

/** Options of {@link ToolContext.checkCommand}. */
export interface CheckCommandOptions {
  kind: "command" | "script";
  cheatsheet: boolean;
}

/** What a live connection tells about the host (ssh_host_ping, ssh_known_hosts_verify). */
export interface ConnectionFacts {
  /** SHA256 fingerprint of the host key the server proved */
  hostKeyFingerprint: string;
  serverBanner: string | null;
  /** the verified address the TCP connection went to */
  connectAddress: string;
}

/** Read-only view of the configured hosts (fleet selection, listings). */
export type HostInventory = Pick<HostRegistry, "list" | "lookup" | "resolve" | "isBlocked">;

/** The declaration facts of a registered tool that other tools may read (ssh_plan). */
export interface ToolFacts {
  name: string;
  tier: Tier;
  posixOnly: boolean;
  /** kind of the declared command field, if any */
  commandKind: "command" | "script" | null;
  /** the redact gate of each declared path field */
  pathRedactGates: readonly boolean[];
  /** visible (callable) in this configuration */
  visible: boolean;
}

/** Outcome of a path-policy preview. */
export interface PathPreview {
  /** the canonical (or lexically normalised) path */
  path: string;
  warnings: string[];
}

/**
 * Read-only previews of the policy, for tools that explain decisions without
 * acting (ssh_plan, ssh_describe_host). Nothing returned here is a checked
 * value: previews never open a door.
 */
export interface PolicyView {
  /** the name the pool would connect to (ssh_config `HostName`, else the hostname) */
  connectName(p: HostPolicy): string;
  /** aliases of the jump chain in connect order; throws for an invalid chain */
  route(p: HostPolicy): string[];
  /** the network (CIDR/DNS) policy's verdict on the connect name (the blocklist is separate) */
  network(p: HostPolicy): Promise<{ allowed: boolean; addresses: string[]; reason: string | null }>;
  /** pinned known_hosts fingerprint of the host, or null */
  knownHostsPin(p: HostPolicy): string | null;
  /** the declaration facts of a registered tool, or null */
  tool(name: string): ToolFacts | null;
  /** the cheatsheet lookup (CHEAT-1/2): a warning, or throws CommandIsCheatsheetMatch */
  cheatsheet(req: CommandCheckRequest): { warning: string | null; patternId: string | null };
  /** pure cheatsheet lookup without the opt-out logic */
  cheatsheetMatch(req: CommandCheckRequest): CheatsheetMatch | null;
  /** the command policy's decision (throws CommandNotAllowed / ValueError) */
  command(req: CommandCheckRequest): { reason: string; rule: string | null };
  /**
   * The path policy's decision for a path on `p`: lexically, or canonicalized
   * on the host with read-only commands (`remote`). Throws the policy errors.
   */
  path(
    p: HostPolicy,
    tool: string,
    raw: string,
    opts: { remote: boolean; redactGate: boolean },
  ): Promise<PathPreview>;
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

/** Server-level operations of the host group's admin tools. */
export interface ServerControl {
  info(): ServerInfo;
  /** validate-then-swap reload of hosts.toml, known_hosts, ssh_config and network policy */
  reload(opts: { invalidateChanged: boolean }): Promise<ReloadOutcome>;
  /** pooled connections (ssh_session_list) */
  sessions(): PoolSession[];
}

/** Read access to the skill library (ssh_skill_read). */
export type SkillReader = Pick<SkillLibrary, "readText" | "ready">;

/** A `resource_link` content item (MCP 2025-06-18). */
export interface OutputLink {
  type: "resource_link";
  uri: string;
  name: string;
  title?: string;
  description?: string;
  mimeType: string;
  size: number;
}

/** What a tool offers: the full text (or bytes) of one output. */
export interface OutputOffer {
  /** short name, e.g. `stdout` */
  name: string;
  description?: string;
  /** default `text/plain; charset=utf-8` for text, `application/octet-stream` for bytes */
  mimeType?: string;
  data: string | Uint8Array;
}

/**
 * The per-call side of the large-output store (`src/mcp/outputs.ts`), handed
 * to handlers through `ToolContext.largeOutputs()`.
 */
export interface LargeOutputs {
  /** the largest output that can be stored (bytes) */
  readonly maxBytes: number;
  /** stores `offer` and returns its link (also added to the call's result), or null when too large */
  offer(offer: OutputOffer): OutputLink | null;
}

/** Everything a handler may use. */
export interface ToolContext {
  readonly correlationId: string;
  /** aborted when the client cancels the request */
  readonly signal: AbortSignal;
  readonly logger: Logger;
  /** identifies the MCP session (owner of shells and tasks) */
  readonly sessionKey: string;
  /** the server's settings (never reloaded) */
  readonly settings: Readonly<Settings>;
  /** the environment the server started with (`~` and `${VAR}` in local paths) */
  readonly env: Readonly<Record<string, string>>;
  /** the target of a tool with a `host` input (throws for tools without one) */
  readonly host: Host;
  /** every admitted host field of the input (`host`, `src_host`, ...) */
  readonly hosts: ReadonlyMap<string, Host>;

  /** the remote file system of an admitted host (default {@link host}) */
  /**
   * Large outputs as resource links (issue 12 item 3): the call's sink, or
   * null when the client cannot follow `resource_link` content. Offer only
   * the text the tool would return inline (after its sanitizing).
   */
  largeOutputs(): LargeOutputs | null;
  fs(host?: Host): Promise<RemoteFs>;
  /**
   * A file system over a fresh pooled connection, for cleanup after the
   * call's connection died (the call's own cache would hand back the dead one).
   */
  freshFs(host: Host): Promise<RemoteFs>;
  /** runs a command on {@link host} with the host's timeout and caps unless overridden */
  exec(cmd: RemoteCommand, opts?: CtxExecOptions): Promise<RawExecResult>;
  /** runs a command on another admitted host (fan-out targets, a second host field) */
  execOn(host: Host, cmd: RemoteCommand, opts?: CtxExecOptions): Promise<RawExecResult>;
  /**
   * opens the SSH subsystem `name` on an admitted host (its pooled connection,
   * under the channel cap until the channel closes)
   */
  openSubsystem(host: Host, name: string, signal?: AbortSignal): Promise<SubsystemChannel>;
  /** opens (or reuses) the pooled connection and tells what it proved */
  connect(host?: Host): Promise<ConnectionFacts>;
  /** proves the host key without our credentials; returns the live fingerprint */
  proveHostKey(host: Host): Promise<string>;
  /** the sudo/doas elevation of this call (password fetched once per call; sudo tier only) */
  elevation(): Promise<Elevation>;

  /**
   * Admits a fan-out target (tools declaring `fanOut: true`): the blocklist,
   * the platform gate of a `posixOnly` tool and the `timeout` ceiling a
   * `host` input gets. Throws the same errors.
   */
  admitTarget(policy: HostPolicy, timeout: number | null | undefined): Host;
  /**
   * Runs the path policy for a path the handler computed (backup names,
   * parents, re-checks, link targets, walked entries); same chain and audit
   * effects as a declared field.
   */
  checkPath(host: Host, raw: string, opts: CheckPathOptions): Promise<CheckedPath>;
  /**
   * Runs cheatsheet (optional) and command policy for one host, writing the
   * `policy_decision` audit line (fan-out tools call it per target).
   */
  checkCommand(host: Host, raw: string, opts: CheckCommandOptions): Promise<CheckedCommand>;
  /** the caller's text of a declared path field, before canonicalization (SUDO-8 re-checks) */
  rawPath(field: string): string;
  /**
   * The caller's text of the declared command field: what `command_hash`
   * covers (the admitted `CheckedCommand` may be the server's re-emission).
   */
  rawCommand(): string;
  /**
   * PATH-37: drops the items whose path (`pathOf`) lies in a restricted
   * zone, a built-in protected path or a restricted glob of `host`, and adds
   * one `output_warnings` line with the count. Listing tools call it on
   * every name they return.
   */
  filterListing<T>(host: Host, items: readonly T[], pathOf: (item: T) => string): Promise<T[]>;
  /**
   * The restricted prefix zones of `host` (restricted_paths plus the
   * built-in protected paths), normalised: walks and searches prune them
   * (PATH-37).
   */
  restrictedZones(host: Host): Promise<string[]>;

  /** adds a warning to the result's `output_warnings` (first added comes first) */
  warn(message: string): void;
  /** adds fields to this call's audit line */
  audit(fields: AuditExtra): void;
  /** writes one more audit line of this call (fan-out targets, task completion) */
  auditLine(line: TargetAuditLine): Promise<void>;
  /** sends an MCP progress notification when the request asked for them */
  progress(message: string): Promise<void>;

  /** configured hosts, read-only */
  readonly inventory: HostInventory;
  /** policy previews (no checked values come out) */
  readonly view: PolicyView;
  /** agent notes sidecars */
  readonly notes: NotesStore;
  /** async tasks (ssh_run_async and friends) */
  readonly tasks: TaskManager;
  /** persistent shell sessions */
  readonly shells: ShellStore;
  /** `sudo -l` answers per host */
  readonly sudoCapabilities: CapabilitiesCache;
  /** skills and runbooks */
  readonly skills: SkillReader;
  /** server info, reload, pooled sessions */
  readonly server: ServerControl;
}
