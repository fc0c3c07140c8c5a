/**
 * Builds the {@link ToolContext} of one call: the only object through which a
 * handler reaches a host. Connections are opened here, per admitted host and
 * at most once per call (raced against the request's abort signal); the file
 * system, exec and elevation all go through them. The pipeline uses the same
 * {@link CallDoor} for the path stage's remote canonicalization.
 *
 * @module
 */

import type { CheckedPath } from "../checked.ts";
import type { HostPolicy } from "../config/types.ts";
import { ToolError } from "../errors.ts";
import { effectivePolicy } from "../policy/effective.ts";
import {
  allowlistRoots,
  assertNotRoot,
  hiddenWarning,
  normalizeRemote,
  type PathIo,
  type SubtreeListing,
  type SubtreeNeeds,
} from "../policy/paths.ts";
import type { AppServices } from "../services.ts";
import type { Connection } from "../ssh/connection.ts";
import type { RawExecResult } from "../ssh/exec.ts";
import type { RemoteFs } from "../ssh/fs.ts";
import type { Elevation } from "../sudo/elevation.ts";
import { importLazy } from "../util/lazy_import.ts";
import type { Tool } from "../tools/define.ts";
import type {
  CheckPathOptions,
  CtxExecOptions,
  Host,
  LargeOutputs,
  ToolContext,
} from "../tools/context.ts";
import type { CallRecord } from "./audit.ts";
import { checkCommandOn, pathGate, subtreeGate } from "./checks.ts";
import { admitted, platformGate, timeoutCeiling } from "./gates.ts";
import { policyView } from "./preview.ts";

/** The remote file system layer (SFTP, pinned shell, transfers), loaded on first use. */
function fsLayer(): Promise<typeof import("../ssh/fs.ts")> {
  return importLazy(new URL("../ssh/fs.ts", import.meta.url));
}

/** The sudo elevation layer, loaded on the first elevated call. */
function elevationLayer(): Promise<typeof import("../sudo/elevation.ts")> {
  return importLazy(new URL("../sudo/elevation.ts", import.meta.url));
}

/** Per-call information from the transport. */
export interface CallExtra {
  signal: AbortSignal;
  /** owner key for per-session state (shells, tasks) */
  sessionKey: string;
  /** sends `notifications/progress` when the request carried a progress token */
  progress?: (message: string) => Promise<void>;
  /** large outputs as resource links; absent when the client cannot follow them */
  outputs?: LargeOutputs;
  /**
   * Asks whether a call in a tier listed in `SSH_APPROVAL_TIERS` was approved
   * by a human (issue 13); absent when the client cannot ask its user.
   */
  approval?: ApprovalGate;
  /**
   * W3C trace context of the request (`_meta.traceparent` / `_meta.tracestate`);
   * the call's span becomes a child of it when tracing is on (issue 14)
   */
  trace?: { traceparent?: string; tracestate?: string };
}

/** What a human is shown before approving a call (tool, hosts, exact command or paths). */
export interface ApprovalRequest {
  tool: string;
  tier: string;
  /** resolved host aliases of the call's host fields */
  hosts: string[];
  /** the command text as the agent sent it, when the tool has a command field */
  command: string | null;
  /** path fields as the agent sent them */
  paths: Record<string, string>;
}

/** True when the call was approved (this round, or by a still-valid grant). */
export type ApprovalGate = (request: ApprovalRequest) => boolean;

function cancelledError(): ToolError {
  return new ToolError("Cancelled", "The request was cancelled.");
}

function raceAbort<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(cancelledError());
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(cancelledError());
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener("abort", onAbort);
        reject(e);
      },
    );
  });
}

/**
 * The hosts of one call and the I/O the registry does on them: connections,
 * exec with the host's limits, path-check I/O (plain or elevated) and the
 * call's elevation.
 */
export class CallDoor {
  readonly #app: AppServices;
  readonly #rec: CallRecord;
  readonly #extra: CallExtra;
  readonly #conns = new Map<string, Promise<Connection>>();
  readonly #walks = new Map<string, Promise<SubtreeListing>>();
  /** `<alias>\u0000<path>` of every path whose subtree passed the policy in this call */
  readonly #subtreeOk = new Set<string>();
  #elevation: Promise<Elevation> | null = null;
  /** the declared host fields, admitted by the pipeline */
  readonly hosts = new Map<string, Host>();
  /** the caller's text of each declared path field */
  readonly rawPaths = new Map<string, string>();
  /** the caller's text of the declared command field (before any re-emission) */
  rawCommand: string | null = null;

  constructor(app: AppServices, rec: CallRecord, extra: CallExtra) {
    this.#app = app;
    this.#rec = rec;
    this.#extra = extra;
  }

  /** The call's host: the `host` field, else the first host field. */
  get primary(): Host | undefined {
    return this.hosts.get("host") ?? this.hosts.values().next().value;
  }

  /** A pooled connection to an admitted host, opened once per call, cancellable. */
  connection(host: Host, signal: AbortSignal = this.#extra.signal): Promise<Connection> {
    const policy = host.policy;
    let c = this.#conns.get(policy.alias);
    if (!c) {
      c = this.#app.pool.acquire(policy).then((conn) => {
        if (policy === this.primary?.policy) {
          this.#rec.fields.target_ip = conn.target.connectAddress;
        }
        return conn;
      });
      this.#conns.set(policy.alias, c);
    }
    return raceAbort(c, signal);
  }

  /**
   * Runs a command with the host's timeout and caps unless overridden. An
   * explicit `opts.signal` (an async task's own, which outlives the call)
   * replaces the call's signal for the connection too: over HTTP the call's
   * signal aborts once its response is sent.
   */
  async exec(
    host: Host,
    cmd: Parameters<Connection["exec"]>[0],
    opts: CtxExecOptions = {},
  ): Promise<RawExecResult> {
    const c = await this.connection(host, opts.signal ?? this.#extra.signal);
    const s = this.#app.settings;
    const p = host.policy;
    return await c.exec(cmd, {
      ...opts,
      timeoutMs: opts.timeoutMs ?? (p.command_timeout ?? s.SSH_COMMAND_TIMEOUT) * 1000,
      stdoutCap: opts.stdoutCap ?? p.stdout_cap_bytes ?? s.SSH_STDOUT_CAP_BYTES,
      stderrCap: opts.stderrCap ?? p.stderr_cap_bytes ?? s.SSH_STDERR_CAP_BYTES,
      signal: opts.signal ?? this.#extra.signal,
    });
  }

  /** Path-check I/O as the SSH user on `host`. */
  pathIo(host: Host): PathIo {
    return {
      exec: async (cmd, timeoutMs) => await this.exec(host, cmd, timeoutMs ? { timeoutMs } : {}),
      sftp: async () => await (await this.connection(host)).sftp(),
    };
  }

  /** The sudo/doas elevation of this call on its host (the password is fetched once). */
  elevation(): Promise<Elevation> {
    const host = this.primary;
    if (!host) throw new Error(`${this.#rec.tool.name} has no host to elevate on`);
    this.#elevation ??= elevationLayer().then(({ createElevation }) =>
      createElevation({
        policy: host.policy,
        settings: this.#app.settings,
        env: this.#app.config.env,
        logger: this.#rec.logger,
        signal: this.#extra.signal,
        exec: (cmd, o) => this.exec(host, cmd, o),
      })
    );
    return this.#elevation;
  }

  /** Path-check I/O that canonicalizes inside a root shell of the call's elevation (SUDO-8). */
  async elevatedPathIo(host: Host): Promise<PathIo> {
    const el = await this.elevation();
    const { assertStarted } = await elevationLayer();
    return {
      exec: async (cmd, timeoutMs) => {
        const r = await el.run({ kind: "shell", inner: cmd }, timeoutMs ? { timeoutMs } : {});
        // a timeout is left to the path policy (it reports realpath timing out)
        assertStarted(r, "path canonicalization");
        return r;
      },
      sftp: async () => await (await this.connection(host)).sftp(),
    };
  }

  /** The remote file system of `host` over this call's connection, with the call's exec limits. */
  async fs(host: Host): Promise<RemoteFs> {
    const alias = host.policy.alias;
    const { RemoteFs } = await fsLayer();
    return await RemoteFs.open(await this.connection(host), {
      exec: (cmd, o) => this.exec(host, cmd, o),
      subtreeChecked: (p) => this.#subtreeOk.has(`${alias}\u0000${p}`),
    });
  }

  /**
   * The §PATH chain for one path on `host`, through `io` (default: as the
   * SSH user), then the whole-subtree check when `opts.subtree` asks for it.
   */
  async checkPath(
    host: Host,
    raw: string,
    opts: CheckPathOptions,
    io?: PathIo,
  ): Promise<CheckedPath> {
    const pio = io ?? this.pathIo(host);
    const path = await pathGate(this.#rec, this.#app.paths, host.policy, raw, opts, pio);
    if (opts.notRoot) {
      assertNotRoot(
        path,
        host.policy,
        allowlistRoots(host.policy, this.#app.settings),
        opts.notRoot,
      );
    }
    const st = opts.subtree;
    if (st) {
      const from = st === true
        ? { root: path, host }
        : { root: st.receives, host: st.host ?? host };
      const fresh = st !== true && st.fresh === true;
      await subtreeGate(
        this.#rec,
        this.#app.paths,
        host.policy,
        path,
        opts.redactGate !== false,
        { lands: st !== true, list: (needs) => this.#walk(from.host, from.root, needs, fresh) },
        // a lexical check has no canonicalization I/O of its own; the gate needs the host's
        io && !opts.lexical ? io : this.pathIo(host),
      );
      this.#subtreeOk.add(`${host.policy.alias}\u0000${path}`);
    }
    return path;
  }

  /** A capped walk of `root` on `host` for a subtree check, once per call unless `fresh`. */
  #walk(
    host: Host,
    root: CheckedPath,
    needs: SubtreeNeeds,
    fresh: boolean,
  ): Promise<SubtreeListing> {
    const key = `${host.policy.alias}\u0000${root}\u0000${needs}`;
    const hit = this.#walks.get(key);
    if (hit && !fresh) return hit;
    const cap = this.#app.settings.SSH_DELETE_FOLDER_MAX_ENTRIES;
    const p = (async () => {
      const fs = await this.fs(host);
      // a path that does not exist yet holds no tree: only the prefix zones apply (checked
      // lexically by the gate); what lands there later is checked where it lands
      if (!(await fs.lstatOrNull(root, this.#extra.signal))) {
        return { entries: [], complete: true, unreadable: [], cap };
      }
      const w = await fs.walk(root, {
        cap,
        linksOnly: needs === "links",
        readLinks: true,
        signal: this.#extra.signal,
      });
      return {
        entries: w.entries.map((e) => ({ rel: e.rel, kind: e.kind, link: e.link })),
        complete: w.complete,
        unreadable: w.unreadable,
        cap,
      };
    })();
    this.#walks.set(key, p);
    p.catch(() => this.#walks.delete(key));
    return p;
  }

  /** The restricted prefix zones of `host`: restricted_paths and the built-in protected paths. */
  async restrictedZones(host: Host): Promise<string[]> {
    const p = host.policy;
    const own = effectivePolicy(p, this.#app.settings).restricted_paths.map((r) =>
      normalizeRemote(r, p.platform)
    );
    const prot = await this.#app.paths.protectedZones(p, this.pathIo(host), false);
    return [...new Set([...own, ...prot.map((z) => z.path)])];
  }

  /** PATH-37: the listing filter of `host` (see ToolContext.filterListing). */
  async filterListing<T>(
    host: Host,
    items: readonly T[],
    pathOf: (item: T) => string,
  ): Promise<T[]> {
    const hide = await this.#app.paths.listingFilter(host.policy, this.pathIo(host));
    const kept = items.filter((i) => !hide(pathOf(i)));
    const n = items.length - kept.length;
    if (n > 0) this.#rec.warn(hiddenWarning(n));
    return kept;
  }
}

/** The context handed to `tool`'s handler (see `src/tools/context.ts`). */
export function buildContext(
  app: AppServices,
  tool: Tool,
  rec: CallRecord,
  door: CallDoor,
  extra: CallExtra,
  skills: AppServices["skills"] = app.skills,
): ToolContext {
  const requireHost = (): Host => {
    const h = door.primary;
    if (!h) throw new Error(`${tool.name} has no host field; ctx.host is unavailable`);
    return h;
  };
  return {
    correlationId: rec.correlationId,
    signal: extra.signal,
    logger: rec.logger,
    sessionKey: extra.sessionKey,
    settings: app.settings,
    env: app.config.env,
    get host() {
      return requireHost();
    },
    hosts: door.hosts,
    largeOutputs: () => extra.outputs ?? null,
    fs: (host) => door.fs(host ?? requireHost()),
    freshFs: async (host) =>
      await (await fsLayer()).RemoteFs.open(
        await raceAbort(app.pool.acquire(host.policy), extra.signal),
      ),
    exec: (cmd, opts) => door.exec(requireHost(), cmd, opts),
    execOn: (host, cmd, opts) => door.exec(host, cmd, opts),
    openSubsystem: async (host, name, signal) =>
      await (await door.connection(host, signal)).openSubsystem(name, signal),
    async connect(host) {
      const c = await door.connection(host ?? requireHost());
      return {
        hostKeyFingerprint: c.hostKeyFingerprint,
        serverBanner: c.serverBanner,
        connectAddress: c.target.connectAddress,
      };
    },
    proveHostKey: (host) => app.pool.checkHostKey(host.policy),
    elevation: () => {
      const s = app.settings;
      const optedIn = tool.elevation === "host-opt-in" &&
        (requireHost().policy.sudo_tool_groups ?? []).includes(tool.group) &&
        s.ALLOW_DANGEROUS_TOOLS && s.ALLOW_SUDO;
      if (tool.tier !== "sudo" && !optedIn) {
        throw new Error(`${tool.name} may not elevate on ${requireHost().policy.alias}`);
      }
      return door.elevation();
    },
    admitTarget(policy: HostPolicy, timeout) {
      if (!tool.fanOut) throw new Error(`${tool.name} does not declare fanOut`);
      app.hosts().assertNotBlocked(policy);
      platformGate(tool, policy);
      timeoutCeiling(timeout, policy, app.settings);
      return admitted(policy.alias, policy);
    },
    checkPath: (host, raw, opts) => door.checkPath(host, raw, opts),
    filterListing: (host, items, pathOf) => door.filterListing(host, items, pathOf),
    restrictedZones: (host) => door.restrictedZones(host),
    checkCommand: (host, raw, opts) => checkCommandOn(rec, app.commands, host.policy, raw, opts),
    rawPath(field: string) {
      const raw = door.rawPaths.get(field);
      if (raw === undefined) throw new Error(`${tool.name}: ${field} is not a declared path`);
      return raw;
    },
    rawCommand() {
      if (door.rawCommand === null) throw new Error(`${tool.name} has no declared command`);
      return door.rawCommand;
    },
    warn: (message) => rec.warn(message),
    audit(fields) {
      Object.assign(rec.fields, fields);
    },
    auditLine: (line) => rec.targetLine(line),
    async progress(message: string) {
      await extra.progress?.(message);
    },
    get inventory() {
      return app.hosts();
    },
    view: policyView(app, extra.signal),
    notes: app.notes,
    tasks: app.tasks,
    shells: app.shells,
    sudoCapabilities: app.sudoCapabilities,
    skills,
    server: {
      info: () => app.serverInfo(),
      reload: (opts) => app.reload(opts),
      sessions: () => app.pool.sessions(),
    },
  };
}
