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
import type { PathIo } from "../policy/paths.ts";
import type { AppServices } from "../services.ts";
import type { Connection } from "../ssh/connection.ts";
import type { RawExecResult } from "../ssh/exec.ts";
import { RemoteFs } from "../ssh/fs.ts";
import { assertStarted, createElevation, type Elevation } from "../sudo/elevation.ts";
import type { Tool } from "../tools/define.ts";
import type { CheckPathOptions, CtxExecOptions, Host, ToolContext } from "../tools/context.ts";
import type { CallRecord } from "./audit.ts";
import { checkCommandOn, pathGate } from "./checks.ts";
import { admitted, platformGate, timeoutCeiling } from "./gates.ts";
import { policyView } from "./preview.ts";

/** Per-call information from the transport. */
export interface CallExtra {
  signal: AbortSignal;
  /** owner key for per-session state (shells, tasks) */
  sessionKey: string;
  /** sends `notifications/progress` when the request carried a progress token */
  progress?: (message: string) => Promise<void>;
}

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
  #elevation: Promise<Elevation> | null = null;
  /** the declared host fields, admitted by the pipeline */
  readonly hosts = new Map<string, Host>();
  /** the caller's text of each declared path field */
  readonly rawPaths = new Map<string, string>();

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
  connection(host: Host): Promise<Connection> {
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
    return raceAbort(c, this.#extra.signal);
  }

  /** Runs a command with the host's timeout and caps unless overridden. */
  async exec(
    host: Host,
    cmd: Parameters<Connection["exec"]>[0],
    opts: CtxExecOptions = {},
  ): Promise<RawExecResult> {
    const c = await this.connection(host);
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
    this.#elevation ??= createElevation({
      policy: host.policy,
      settings: this.#app.settings,
      env: this.#app.config.env,
      logger: this.#rec.logger,
      signal: this.#extra.signal,
      exec: (cmd, o) => this.exec(host, cmd, o),
    });
    return this.#elevation;
  }

  /** Path-check I/O that canonicalizes inside a root shell of the call's elevation (SUDO-8). */
  async elevatedPathIo(host: Host): Promise<PathIo> {
    const el = await this.elevation();
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

  /** The §PATH chain for one path on `host`, through `io` (default: as the SSH user). */
  checkPath(host: Host, raw: string, opts: CheckPathOptions, io?: PathIo): Promise<CheckedPath> {
    return pathGate(this.#rec, this.#app.paths, host.policy, raw, opts, io ?? this.pathIo(host));
  }
}

/** The context handed to `tool`'s handler (see `src/tools/context.ts`). */
export function buildContext(
  app: AppServices,
  tool: Tool,
  rec: CallRecord,
  door: CallDoor,
  extra: CallExtra,
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
    fs: async (host) => await RemoteFs.open(await door.connection(host ?? requireHost())),
    freshFs: async (host) =>
      await RemoteFs.open(await raceAbort(app.pool.acquire(host.policy), extra.signal)),
    exec: (cmd, opts) => door.exec(requireHost(), cmd, opts),
    execOn: (host, cmd, opts) => door.exec(host, cmd, opts),
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
      if (tool.tier !== "sudo") throw new Error(`${tool.name} is not a sudo-tier tool`);
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
    checkCommand: (host, raw, opts) => checkCommandOn(rec, app.commands, host.policy, raw, opts),
    rawPath(field: string) {
      const raw = door.rawPaths.get(field);
      if (raw === undefined) throw new Error(`${tool.name}: ${field} is not a declared path`);
      return raw;
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
    skills: app.skills,
    server: {
      info: () => app.serverInfo(),
      reload: (opts) => app.reload(opts),
      sessions: () => app.pool.sessions(),
    },
  };
}
