/**
 * `App` wires a loaded configuration into running services: host registry,
 * known_hosts, ssh_config, network policy, connection pool, notes store,
 * audit log, skills library and the tool catalog. No I/O happens at import.
 *
 * @module
 */

import { isAbsolute, resolve } from "./util/local_path.ts";
import { expandPath, shellSplit } from "./config/env.ts";
import { findExecutable } from "./config/settings.ts";
import { ipLibLoaded, IpLibNotLoaded } from "./config/ip_slot.ts";
import { type LoadedConfig, reloadHosts } from "./config/load.ts";
import { SshConfig } from "./config/ssh_config.ts";
import type { HostPolicy, Settings } from "./config/types.ts";
import { AuditLog } from "./audit/audit.ts";
import { HookProgram, type HookSink, NO_HOOKS } from "./hooks/hooks.ts";
import { ConfigError, ToolError } from "./errors.ts";
import { Logger, loggerFor } from "./log.ts";
import { NotesStore } from "./notes/store.ts";
import { HostRegistry } from "./policy/hosts.ts";
import { NetworkPolicy, type Resolver } from "./policy/network.ts";
import type { AppServices, ReloadOutcome, ServerInfo } from "./services.ts";
import type { CommandChecker } from "./policy/commands.ts";
import type { PathChecker } from "./policy/paths.ts";
import { bindServerFiles } from "./policy/server_file_guard.ts";
import { type ServerFile, serverFilesFor } from "./policy/server_files.ts";
import { EMBEDDED_INDEX } from "./skills/embedded_gen.ts";
import { type EmbeddedDoc, indexEntry, SkillLibrary } from "./skills/library.ts";
import { listAgentIdentities, resolveAgentSocket } from "./ssh/agent.ts";
import { HostPins } from "./ssh/host_pins.ts";
import { MemoryState, openState, type SharedState } from "./state/state.ts";
import { ConnectionPool } from "./ssh/pool.ts";
import type { SocketFactory } from "./ssh/connection.ts";
import { LAZY_CATALOG } from "./tools/catalog_lazy.ts";
import { GROUPS } from "./config/types.ts";
import type { Tool } from "./tools/define.ts";
import { metaOf } from "./tools/meta.ts";
import { catalogFor, type CatalogInfo } from "./registry/listing.ts";
import { ShellStore } from "./shell/store.ts";
import { CapabilitiesCache } from "./sudo/capabilities.ts";
import { TaskManager } from "./tasks/manager.ts";
import { VERSION } from "./version.ts";
import { commandPolicyWarnings } from "./policy/startup_warnings.ts";
import { deepFreeze } from "./util/freeze.ts";
import { importLazy } from "./util/lazy_import.ts";

/** Options for tests and embedding. */
export interface AppOptions {
  logger?: Logger;
  tools?: readonly Tool[];
  embedded?: readonly EmbeddedDoc[];
  reaperIntervalMs?: number;
  /**
   * open the audit file sink at start-up and throw `ConfigError` when it
   * cannot be opened (AUDIT-12; default true). `doctor` and `tools` pass
   * false: doctor reports the problem itself, tools writes no audit line.
   */
  openAudit?: boolean;
  /**
   * the network policy's name resolver (default: the system resolver); kept
   * across reloads. Tests map names to loopback hosts with it (HOST-7).
   */
  resolver?: Resolver;
  /**
   * makes the TCP socket of every direct SSH connection (default
   * `new net.Socket()`); tests observe the address connected to and
   * TCP_NODELAY with it.
   */
  connectSocket?: SocketFactory;
  /**
   * leave the command and path checkers unloaded: the caller awaits
   * {@link App.loadCheckers} before anything can ask for them. Stdio `serve`
   * does, so that the shell parser (unbash), the glob matcher (picomatch) and
   * the policy modules behind them are evaluated after its early answers
   * (issue 17); their construction checks nothing, so no start refusal moves.
   * `ipaddr.js` loads with them too, unless building the App checks an
   * address (a `SSH_HOSTS_BLOCKLIST` entry, an address list).
   */
  deferCheckers?: boolean;
}

/** The command and path checkers: the policy layer every remote call passes. */
interface Checkers {
  commands: CommandChecker;
  paths: PathChecker;
}

/**
 * Fills config/ip_slot.ts with `ipaddr.js` (by URL: the package is CommonJS, and the first
 * CommonJS package an isolate evaluates starts Deno's CommonJS loader, 20-30 ms of a start in the
 * Worker). Every address check of the server program (settings, host names, the network policy)
 * reads the package from that slot.
 */
function loadIpLib(): Promise<void> {
  if (ipLibLoaded()) return Promise.resolve();
  return importLazy<unknown>(new URL("./config/ip_lib.ts", import.meta.url)).then(() => {});
}

/** Imports policy/commands.ts and policy/paths.ts by URL (util/lazy_import.ts) and builds both. */
async function loadCheckers(settings: Settings, logger: Logger): Promise<Checkers> {
  const [{ createCommandChecker }, { createPathChecker }] = await Promise.all([
    importLazy<typeof import("./policy/commands.ts")>(
      new URL("./policy/commands.ts", import.meta.url),
    ),
    importLazy<typeof import("./policy/paths.ts")>(new URL("./policy/paths.ts", import.meta.url)),
  ]);
  return {
    commands: createCommandChecker({ settings, logger }),
    paths: createPathChecker({ settings, logger }),
  };
}

function resolvePath(p: string, cfg: LoadedConfig): string {
  const e = expandPath(p, cfg.env);
  return isAbsolute(e) ? e : resolve(cfg.cwd, e);
}

/** Skill names (as tool names) of the search-mode tools `search_tools` and `call_tool`. */
const SEARCH_SKILLS = ["ssh_search_tools", "ssh_call_tool"];

/** The running server's services. */
export class App implements AppServices {
  readonly version: string = VERSION;
  readonly settings: Settings;
  readonly logger: Logger;
  readonly pool: ConnectionPool;
  /** known_hosts + the server's pin file (a `KnownHosts`, plus `pin()` / `pinPath`) */
  readonly knownHosts: HostPins;
  readonly notes: NotesStore;
  readonly audit: AuditLog;
  #state: SharedState | null = null;
  readonly #hookProgram: HookProgram | null;
  readonly catalog: CatalogInfo;
  #checkers: Checkers | null = null;
  #checkersLoading: Promise<void> | null = null;
  readonly tasks: TaskManager;
  readonly shells: ShellStore;
  readonly sudoCapabilities: CapabilitiesCache = new CapabilitiesCache();
  readonly skills: SkillLibrary;
  #config: LoadedConfig;
  #hosts: HostRegistry;
  #network: NetworkPolicy;
  #sshConfig: SshConfig | null;
  #sshConfigPath: string | null;
  #shutdown: (() => Promise<void> | void)[] = [];
  /** the server's own files, out of reach of local_path (LOCAL-12; follows reloads) */
  #serverFiles: readonly ServerFile[];
  /** AppOptions.resolver (every network policy, reloads included, uses it) */
  readonly #resolver: Resolver | undefined;

  private constructor(
    cfg: LoadedConfig,
    logger: Logger,
    sshConfig: SshConfig | null,
    sshConfigPath: string | null,
    skills: SkillLibrary,
    catalog: CatalogInfo,
    serverFiles: readonly ServerFile[],
    opts: AppOptions,
  ) {
    this.#config = cfg;
    this.settings = deepFreeze(cfg.settings);
    this.#serverFiles = serverFiles;
    bindServerFiles(this.settings, () => this.#serverFiles);
    this.logger = logger;
    this.catalog = catalog;
    this.skills = skills;
    const s = cfg.settings;
    this.#hosts = new HostRegistry(cfg.hosts, s);
    this.#resolver = opts.resolver;
    this.#network = App.#networkFor(cfg, this.#resolver);
    this.#sshConfig = sshConfig;
    this.#sshConfigPath = sshConfigPath;
    // known_hosts (never written) + the server's own first-contact pin file (host_pins.ts)
    this.knownHosts = new HostPins(
      resolvePath(s.SSH_KNOWN_HOSTS, cfg),
      resolvePath(s.SSH_PINNED_KNOWN_HOSTS, cfg),
      { logger },
    );
    this.notes = new NotesStore(
      s.SSH_HOST_NOTES_DIR ? resolvePath(s.SSH_HOST_NOTES_DIR, cfg) : null,
      s.SSH_HOST_NOTES_MAX_BYTES,
    );
    const auditSpec = s.SSH_AUDIT_LOG.trim();
    this.audit = new AuditLog(
      auditSpec === "stderr" || auditSpec === "off" || auditSpec === ""
        ? auditSpec
        : resolvePath(auditSpec, cfg),
      logger,
    );
    this.#hookProgram = s.SSH_HOOKS_COMMAND === null
      ? null
      : App.#hooksFor(s.SSH_HOOKS_COMMAND, cfg, logger);
    this.tasks = new TaskManager(s, logger);
    this.shells = new ShellStore(s.SSH_SHELL_IDLE_TIMEOUT);
    this.pool = new ConnectionPool({
      settings: s,
      env: cfg.env,
      logger,
      knownHosts: this.knownHosts,
      hosts: () => this.#hosts,
      network: () => this.#network,
      sshConfig: () => this.#sshConfig,
      reaperIntervalMs: opts.reaperIntervalMs,
      ...(opts.connectSocket ? { socketFactory: opts.connectSocket } : {}),
    });
  }

  /** The `SSH_HOOKS_COMMAND` program (startup validation already checked it is executable). */
  static #hooksFor(cmd: string, cfg: LoadedConfig, logger: Logger): HookProgram | null {
    const [prog, ...args] = shellSplit(cmd);
    if (prog === undefined) return null;
    const exe = findExecutable(prog, cfg.env, cfg.cwd) ?? prog;
    return new HookProgram([exe, ...args], {
      timeoutMs: cfg.settings.SSH_HOOKS_TIMEOUT * 1000,
      logger,
      env: cfg.env,
      cwd: cfg.cwd,
    });
  }

  /** The loaded configuration; reload replaces it with a new value (never mutated). */
  get config(): LoadedConfig {
    return this.#config;
  }

  /** Lifecycle hooks: the `SSH_HOOKS_COMMAND` program, or none. */
  get hooks(): HookSink {
    return this.#hookProgram ?? NO_HOOKS;
  }

  /**
   * Starts the hooks program and delivers `startup` (HOOK-1: after the pool
   * and hosts are ready; awaited). Called by `serve`, not by `doctor`/`tools`.
   */
  async startHooks(): Promise<void> {
    await this.#hookProgram?.start({
      version: this.version,
      total_tools: this.catalog.visible.length,
    });
  }

  static #networkFor(cfg: LoadedConfig, resolver: Resolver | undefined): NetworkPolicy {
    const s = cfg.settings;
    return new NetworkPolicy({
      global: cfg.hosts.network,
      envAllowCidrs: s.SSH_NETWORK_ALLOW_CIDRS,
      envBlockCidrs: s.SSH_NETWORK_BLOCK_CIDRS,
      resolveDns: s.SSH_NETWORK_RESOLVE_DNS && cfg.hosts.network.resolve_dns,
      ...(resolver ? { resolver } : {}),
    });
  }

  static async #loadSshConfig(
    cfg: LoadedConfig,
    logger: Logger,
  ): Promise<[SshConfig | null, string | null]> {
    const raw = cfg.settings.SSH_CONFIG_FILE;
    if (!raw || !raw.trim()) return [null, null];
    const path = resolvePath(raw.trim(), cfg);
    try {
      await Deno.stat(path);
    } catch {
      return [null, path];
    }
    const c = await SshConfig.load(path, { env: cfg.env, logger });
    for (const w of c.warnings) logger.warn(`ssh_config: ${w}`);
    return [c, path];
  }

  /** Builds the services for a loaded configuration. */
  static async create(cfg: LoadedConfig, opts: AppOptions = {}): Promise<App> {
    const logger = opts.logger ?? loggerFor(cfg.settings);
    // deferred: ipaddr.js loads with the checkers, unless building the App checks an address
    if (!opts.deferCheckers || App.#buildingChecksAddresses(cfg, opts.resolver)) await loadIpLib();
    const [sshConfig, sshConfigPath] = await App.#loadSshConfig(cfg, logger);
    // the served catalog: generated metadata, each group module imported on its first call
    const catalog = catalogFor(opts.tools?.map(metaOf) ?? LAZY_CATALOG, cfg.settings);
    const s = cfg.settings;
    const skills = await SkillLibrary.load({
      embedded: opts.embedded?.map(indexEntry) ?? EMBEDDED_INDEX,
      ...(opts.embedded ? { embeddedTexts: () => Promise.resolve(opts.embedded!) } : {}),
      skillsDir: s.SSH_SKILLS_DIR ? resolvePath(s.SSH_SKILLS_DIR, cfg) : null,
      runbooksDir: s.SSH_RUNBOOKS_DIR ? resolvePath(s.SSH_RUNBOOKS_DIR, cfg) : null,
      enableRunbooks: s.SSH_ENABLE_RUNBOOKS,
      visibleTools: s.SSH_SKILLS_VISIBLE_ONLY
        ? new Set([
          ...catalog.visible.map((t) => t.name),
          ...(s.SSH_ENABLE_BM25 ? SEARCH_SKILLS : []),
        ])
        : null,
      // TIER-12: the skill of a hidden tool is never served, whatever SSH_SKILLS_VISIBLE_ONLY says;
      // the search-mode tools exist only with SSH_ENABLE_BM25 (their skills are named ssh-*)
      hiddenTools: new Set([
        ...catalog.registered.filter((t) => !catalog.visible.includes(t)).map((t) => t.name),
        ...(s.SSH_ENABLE_BM25 ? [] : SEARCH_SKILLS),
      ]),
      logger,
    });
    const serverFiles = await serverFilesFor(cfg);
    const app = new App(cfg, logger, sshConfig, sshConfigPath, skills, catalog, serverFiles, opts);
    // shared state of replicas (SSH_STATE_URL; in memory when unset)
    app.#state = await openState(app.settings, app.logger);
    await app.tasks.useState(app.#state);
    await app.shells.useState(app.#state);
    app.knownHosts.refresh();
    if (opts.openAudit !== false) await app.audit.open();
    if (!opts.deferCheckers) await app.loadCheckers();
    return app;
  }

  /**
   * Loads the command and path checkers (once; every later call returns the
   * same promise). {@link App.create} awaits it unless `deferCheckers`.
   */
  loadCheckers(): Promise<void> {
    return this.#checkersLoading ??= Promise.all([
      loadCheckers(this.settings, this.logger),
      loadIpLib(),
    ]).then(([c]) => {
      this.#checkers = c;
    });
  }

  /**
   * True when the constructor's host registry (a `SSH_HOSTS_BLOCKLIST` entry is normalised) or
   * network policy (an address list is parsed) needs `ipaddr.js` that is not loaded yet: both are
   * built here the way the constructor builds them, and asked for the package or not. A
   * configuration error they find is thrown as the constructor would throw it.
   */
  static #buildingChecksAddresses(cfg: LoadedConfig, resolver: Resolver | undefined): boolean {
    if (ipLibLoaded()) return false;
    try {
      new HostRegistry(cfg.hosts, cfg.settings);
      App.#networkFor(cfg, resolver);
      return false;
    } catch (e) {
      if (e instanceof IpLibNotLoaded) return true;
      throw e;
    }
  }

  /** EXEC / SCRIPT / CHEAT: the command policy. */
  get commands(): CommandChecker {
    return this.#loadedCheckers().commands;
  }

  /** PATH / LOCAL: the remote path policy. */
  get paths(): PathChecker {
    return this.#loadedCheckers().paths;
  }

  #loadedCheckers(): Checkers {
    if (!this.#checkers) {
      // a programming error, never a caller's: serve awaits loadCheckers() before it serves calls
      throw new Error(
        "the command and path checkers are not loaded yet (await App.loadCheckers())",
      );
    }
    return this.#checkers;
  }

  /** The server's own files as currently configured (LOCAL-12; diagnostics and tests). */
  get serverFiles(): readonly ServerFile[] {
    return this.#serverFiles;
  }

  /** Logs the startup summary (CONFIG.md §9.3, SECURITY.md TIER-11). */
  logStartup(): void {
    const s = this.settings;
    const l = this.logger;
    // loadConfig's notices already hold the dotenv, settings, ssh_config and hosts-file lines
    for (const n of this.config.notices) l.log(n.level, n.message);
    for (const w of commandPolicyWarnings(this.#hosts.list(), s)) l.warn(w);
    l.info("configuration", {
      hosts_file: this.config.hosts.source ?? "(none: env-only mode)",
      named_hosts: this.config.hosts.hosts.size,
      allowlisted_names: s.SSH_HOSTS_ALLOWLIST.length,
      low_access: s.ALLOW_LOW_ACCESS_TOOLS,
      dangerous: s.ALLOW_DANGEROUS_TOOLS,
      sudo: s.ALLOW_SUDO,
      known_hosts: this.knownHosts.path,
      audit_log: this.audit.target,
    });
    l.info(
      `enabled groups: ${s.SSH_ENABLED_GROUPS.length ? s.SSH_ENABLED_GROUPS.join(",") : "all"}`,
    );
    const c = this.catalog;
    l.info(`tool catalog: ${c.registered.length} total, ${c.visible.length} visible`);
    for (const tier of ["read", "low-access", "dangerous", "sudo"] as const) {
      const reg = c.registered.filter((t) => t.tier === tier).length;
      const vis = c.visible.filter((t) => t.tier === tier).length;
      l.info(`tier ${tier}: ${vis}/${reg} visible`);
    }
    for (const g of GROUPS) {
      const reg = c.registered.filter((t) => t.group === g).length;
      if (!reg) continue;
      const vis = c.visible.filter((t) => t.group === g).length;
      l.info(`group ${g}: ${vis}/${reg} visible`);
    }
    l.info(`skills: ${this.skills.size} documents served`);
  }

  /**
   * NEW startup check (CONFIG.md §4.4): hosts with a pinned agent key get a
   * WARNING when the agent is unreachable or lacks the key. Runs in the
   * background so start-up is not delayed.
   */
  checkPinnedAgentKeys(): Promise<void> {
    const byAgent = new Map<string, HostPolicy[]>();
    for (const p of this.#hosts.list()) {
      if (p.auth.method !== "agent" || !p.auth.identity_fingerprint) continue;
      const sock = resolveAgentSocket(p.auth.identity_agent, this.config.env);
      const k = sock ?? "";
      byAgent.set(k, [...(byAgent.get(k) ?? []), p]);
    }
    return Promise.all([...byAgent.entries()].map(async ([sock, hosts]) => {
      if (!sock) {
        for (const p of hosts) {
          this.logger.warn(
            `host ${p.alias}: identity_fingerprint is pinned but no agent socket is configured`,
          );
        }
        return;
      }
      try {
        const ids = new Set((await listAgentIdentities(sock, 3000)).map((i) => i.fingerprint));
        for (const p of hosts) {
          if (!ids.has(p.auth.identity_fingerprint!)) {
            this.logger.warn(
              `host ${p.alias}: the agent does not hold the pinned key ${p.auth.identity_fingerprint}`,
            );
          }
        }
      } catch {
        for (const p of hosts) {
          this.logger.warn(`host ${p.alias}: the ssh-agent for this host is not reachable`);
        }
      }
    })).then(() => {});
  }

  hosts(): HostRegistry {
    return this.#hosts;
  }

  network(): NetworkPolicy {
    return this.#network;
  }

  sshConfig(): SshConfig | null {
    return this.#sshConfig;
  }

  /** The pinned fingerprint for a policy's known_hosts lookup name, or null. */
  knownHostsPin(p: HostPolicy): string | null {
    const l = this.pool.knownHostsLookup(p);
    return this.knownHosts.pinnedFingerprint(l.name, l.port, { hostKeyAlias: l.hostKeyAlias });
  }

  async reload(opts: { invalidateChanged: boolean }): Promise<ReloadOutcome> {
    await loadIpLib(); // a reload (SIGHUP) may come before the checkers have loaded
    let r;
    let sshCfg: [SshConfig | null, string | null];
    try {
      r = await reloadHosts(this.config);
      sshCfg = await App.#loadSshConfig(this.config, this.logger);
    } catch (e) {
      const msg = e instanceof ConfigError ? e.message : (e as Error).message;
      throw new ToolError("ValueError", `hosts reload failed: ${msg}`);
    }
    const next = new HostRegistry(r.hosts, this.settings);
    // LOCAL-14: the protected set follows the new hosts file (keys, *_cmd programs)
    const serverFiles = await serverFilesFor({ ...this.#config, hosts: r.hosts });
    this.#config = { ...this.#config, hosts: r.hosts };
    this.#serverFiles = serverFiles;
    this.#hosts = next;
    this.#network = App.#networkFor(this.#config, this.#resolver);
    [this.#sshConfig, this.#sshConfigPath] = sshCfg;
    this.knownHosts.refresh();
    let invalidated = 0;
    const gone = new Set([...r.changed, ...r.removed]);
    if (opts.invalidateChanged) {
      invalidated = this.pool.closeWhere((c) => gone.has(c.target.policy.alias));
      this.shells.closeAliases(gone);
    }
    // the sudoers of a re-pointed alias may differ
    this.sudoCapabilities.forget(gone);
    for (const n of r.hosts.notices) this.logger.log(n.level, n.message);
    const files = [r.hosts.source, this.knownHosts.path, this.#sshConfigPath].filter((
      x,
    ): x is string => !!x);
    this.logger.info("hosts reloaded", {
      added: r.added.length,
      removed: r.removed.length,
      changed: r.changed.length,
    });
    const outcome: ReloadOutcome = {
      loaded: true,
      source: r.hosts.source ?? "<none>",
      added: r.added,
      removed: r.removed,
      changed: r.changed,
      files_reloaded: files,
      invalidated_connections: invalidated,
    };
    return outcome;
  }

  serverInfo(): ServerInfo {
    return {
      name: "ssh-mcp",
      version: this.version,
      total_tools: this.catalog.visible.length,
      enabled_tiers: this.catalog.enabledTiers,
      enabled_groups: this.catalog.enabledGroups,
      audit_dropped: this.audit.dropped,
      hook_events_dropped: this.hooks.dropped,
      embedded_skills: this.skills.size,
    };
  }

  onShutdown(fn: () => Promise<void> | void): void {
    this.#shutdown.push(fn);
  }

  /**
   * Kills running tasks (TASK-6), closes shell sessions, runs shutdown
   * callbacks, delivers the hooks' `shutdown` event, then closes connections
   * and flushes the audit log.
   */
  async close(): Promise<void> {
    const steps = [() => this.tasks.shutdown(), () => this.shells.closeAll(), ...this.#shutdown];
    for (const fn of steps) {
      try {
        await fn();
      } catch (e) {
        this.logger.warn("shutdown hook failed", { error: (e as Error).message });
      }
    }
    // HOOK-1: `shutdown` before the pool closes
    await this.#hookProgram?.stop();
    this.pool.closeAll();
    await this.audit.close();
    // last: final task states were written by the steps above
    await this.#state?.close().catch(() => {});
  }

  /**
   * The state shared with other replicas (`SSH_STATE_URL`), or this
   * process's in-memory state: MCP tasks, large outputs, approval grants and
   * SSE events live there (the MCP layer reads it).
   */
  get state(): SharedState {
    return this.#state ??= new MemoryState();
  }
}
