/**
 * The policy pipeline every tool call goes through (docs/ARCHITECTURE.md):
 *
 * 1. tier gate: hidden tools are not registered at all; an unknown and a
 *    hidden name are indistinguishable (TIER-5);
 * 2. input parsed by the tool's strict zod schema; failures are `ValueError`s
 *    naming the parameter (INPUT-7), audited like any other error;
 * 3. host resolution for the declared host fields (alias / hostname /
 *    allowlist, blocklist) and the platform gate, all before any I/O;
 * 4. handler with a {@link ToolContext} (pooled connection, exec with the
 *    host's timeout and caps, cancellation signal, progress);
 * 5. output validated against the tool's strict output schema;
 * 6. one audit line (never for `ssh_server_info`), written before the result
 *    is returned;
 * 7. error mapping: `ToolError` -> `isError` result `"<Class>: <message>"`;
 *    anything else -> a generic message with a correlation id, details only in
 *    the server log.
 *
 * @module
 */

import { z } from "zod";
import type { HostPolicy, Settings, Tier } from "../config/types.ts";
import { isToolError, ToolError } from "../errors.ts";
import type { AppServices, CatalogInfo } from "../services.ts";
import type { PathIo } from "../policy/paths.ts";
import { auditHash, commandHash } from "../audit/audit.ts";
import type { HookEvent } from "../hooks/hooks.ts";
import type { CheckedCommand, RemoteCommand } from "../checked.ts";
import type { RawExecResult } from "../ssh/exec.ts";
import type { Connection } from "../ssh/connection.ts";
import {
  type AuditExtra,
  type CheckCommandOptions,
  type CtxExecOptions,
  GROUPS,
  type ResolvedHost,
  TIERS,
  type Tool,
  type ToolContext,
} from "./define.ts";
import type { Logger } from "../log.ts";
import { mergeWarnings } from "../policy/sanitize.ts";
import { randomHex } from "../util/random.ts";

/** Per-call information from the transport. */
export interface CallExtra {
  signal: AbortSignal;
  /** owner key for per-session state (shells, tasks) */
  sessionKey: string;
  /** sends `notifications/progress` when the request carried a progress token */
  progress?: (message: string) => Promise<void>;
}

/** What a call produced (the MCP layer turns it into a `CallToolResult`). */
export interface CallOutcome {
  isError: boolean;
  text: string;
  structured?: Record<string, unknown>;
  /** machine-readable error details (`_meta["ssh-mcp/error"]`) */
  error?: Record<string, unknown>;
}

/** Which tools a configuration shows (SECURITY.md §TIER). */
export function isVisible(tool: Tool, settings: Settings): boolean {
  const tierOk = tool.tier === "read" ||
    (tool.tier === "low-access" && settings.ALLOW_LOW_ACCESS_TOOLS) ||
    (tool.tier === "dangerous" && settings.ALLOW_DANGEROUS_TOOLS) ||
    (tool.tier === "sudo" && settings.ALLOW_DANGEROUS_TOOLS && settings.ALLOW_SUDO);
  if (!tierOk) return false;
  if (tool.tags?.includes("persistent-session") && !settings.ALLOW_PERSISTENT_SESSIONS) {
    return false;
  }
  const groups = settings.SSH_ENABLED_GROUPS.filter((g) =>
    (GROUPS as readonly string[]).includes(g)
  );
  if (groups.length && !groups.includes(tool.group)) return false;
  return true;
}

/** Enabled tiers in flag order (TOOLS.md §4 ssh_server_info). */
export function enabledTiers(settings: Settings): Tier[] {
  const t: Tier[] = ["read"];
  if (settings.ALLOW_LOW_ACCESS_TOOLS) t.push("low-access");
  if (settings.ALLOW_DANGEROUS_TOOLS) t.push("dangerous");
  if (settings.ALLOW_DANGEROUS_TOOLS && settings.ALLOW_SUDO) t.push("sudo");
  return t;
}

/** Builds the catalog view for a configuration. */
export function catalogFor(all: readonly Tool[], settings: Settings): CatalogInfo {
  return {
    registered: all,
    visible: all.filter((t) => isVisible(t, settings)),
    enabledTiers: enabledTiers(settings),
    enabledGroups: [...settings.SSH_ENABLED_GROUPS],
  };
}

/** JSON Schema of a zod object for `tools/list` (draft-7, like the SDK). */
export function jsonSchemaOf(schema: z.ZodObject, io: "input" | "output"): Record<string, unknown> {
  const js = z.toJSONSchema(schema, { target: "draft-7", io, unrepresentable: "any" }) as Record<
    string,
    unknown
  >;
  delete js.$schema;
  return js;
}

/** One entry of `tools/list`. */
export interface ListedTool {
  name: string;
  title?: string;
  description: string;
  inputSchema: Record<string, unknown>;
  outputSchema: Record<string, unknown>;
  annotations: Tool["annotations"];
  execution?: { taskSupport: "optional" };
}

/** Formats zod issues as one line naming each offending parameter. */
export function formatIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues.map((i) => {
    const path = i.path.length ? i.path.join(".") : "(arguments)";
    if (i.code === "unrecognized_keys") {
      return `unknown parameter(s) ${
        (i as { keys: string[] }).keys.map((k) => JSON.stringify(k)).join(", ")
      }`;
    }
    return `${path}: ${i.message}`;
  }).join("; ");
}

/** The registry: visible tools plus the call pipeline. */
export class ToolRegistry {
  readonly #app: AppServices;
  readonly #byName: Map<string, Tool>;
  #listed: ListedTool[] | null = null;

  constructor(app: AppServices) {
    this.#app = app;
    this.#byName = new Map(app.catalog.visible.map((t) => [t.name, t]));
  }

  /** Visible tools. */
  get tools(): Tool[] {
    return [...this.#byName.values()];
  }

  /** `tools/list` payload (schemas computed once). */
  list(): ListedTool[] {
    if (!this.#listed) {
      this.#listed = this.tools.map((t) => ({
        name: t.name,
        ...(t.title ? { title: t.title } : {}),
        description: t.description,
        inputSchema: jsonSchemaOf(t.input, "input"),
        outputSchema: jsonSchemaOf(t.output, "output"),
        annotations: t.annotations,
        ...(t.taskSupport ? { execution: { taskSupport: t.taskSupport } } : {}),
      }));
    }
    return this.#listed;
  }

  /** The visible tool `name`, if any. */
  get(name: string): Tool | undefined {
    return this.#byName.get(name);
  }

  /** True when `name` is callable in this configuration. */
  has(name: string): boolean {
    return this.#byName.has(name);
  }

  /**
   * Runs one call through the pipeline. Returns null for a name that is not
   * visible (the MCP layer answers exactly as for a name that never existed).
   */
  async call(name: string, rawArgs: unknown, extra: CallExtra): Promise<CallOutcome | null> {
    const tool = this.#byName.get(name);
    if (!tool) return null;
    const app = this.#app;
    const cid = randomHex(8);
    const st: CallState = {
      cid,
      tool,
      extra,
      auditExtra: {},
      warnings: [],
      logger: app.logger.child({ correlation_id: cid, tool: tool.name }),
      hosts: new Map(),
      suppressAudit: false,
    };
    const started = performance.now();
    const args = (rawArgs ?? {}) as Record<string, unknown>;
    let hostArg = typeof args.host === "string" ? args.host : "?";
    // HOOK-1/2: metadata only, never arguments; fired even when the audit line is
    // replaced by a policy_decision line (cheatsheet refusals, CHEAT-3)
    const hook = (event: "pre_tool_call" | "post_tool_call", extra: Partial<HookEvent> = {}) => {
      if (tool.audited === false) return;
      app.hooks.emit({
        event,
        timestamp: Date.now() / 1000,
        tool: tool.name,
        host: hostArg,
        tier: tool.tier,
        correlation_id: cid,
        payload: {},
        ...extra,
      });
    };
    hook("pre_tool_call");
    let outcome: CallOutcome;
    let errorClass: string | undefined;
    try {
      const parsed = tool.input.safeParse(rawArgs ?? {});
      if (!parsed.success) {
        throw new ToolError(
          "ValueError",
          `Invalid arguments for ${tool.name}: ${formatIssues(parsed.error.issues)}`,
        );
      }
      const input = parsed.data as Record<string, unknown>;
      for (const [field, hashKey] of Object.entries(tool.auditHash ?? {})) {
        const v = input[hashKey as string];
        if (typeof v === "string") {
          (st.auditExtra as Record<string, string>)[field] = field === "command_hash"
            ? commandHash(v)
            : auditHash(v);
        }
      }
      // hosts (in-memory), then cheatsheet, platform gate, command policy: all before I/O
      for (const f of tool.hostFieldNames) {
        const v = input[f];
        if (typeof v !== "string") continue;
        st.hosts.set(f, { requested: v, policy: app.hosts().resolve(v) });
      }
      if (tool.hostFrom) {
        const derived = tool.hostFrom(input, { app, sessionKey: extra.sessionKey });
        hostArg = derived;
        st.hosts.set("host", { requested: derived, policy: app.hosts().resolve(derived) });
      }
      const primary = st.hosts.get("host") ?? st.hosts.values().next().value;
      const ctx = this.#context(st, primary);
      if (tool.command && primary) {
        const raw = input[tool.command.field];
        if (typeof raw === "string") {
          // the platform gate sits between cheatsheet and policy (TOOLS.md §8)
          input[tool.command.field] = await this.#checkCommand(st, ctx, primary.policy, raw, {
            kind: tool.command.kind,
            cheatsheet: tool.command.cheatsheet,
          }, () => this.#platformGate(tool, st.hosts));
        }
      }
      this.#platformGate(tool, st.hosts);
      this.#checkTimeout(input.timeout, primary?.policy);
      // declared remote paths: canonicalized on their host, then the policy chain
      for (const decl of tool.paths ?? []) {
        const raw = input[decl.field];
        if (raw === null || raw === undefined) continue;
        if (typeof raw !== "string") {
          throw new ToolError("ValueError", `${decl.field} must be a string.`);
        }
        const host = decl.hostField ? st.hosts.get(decl.hostField) : primary;
        if (!host) throw new Error(`${tool.name}: path ${decl.field} has no resolved host`);
        input[decl.field] = await ctx.checkPath(host.policy, raw, {
          mustExist: typeof decl.mustExist === "function" ? decl.mustExist(input) : decl.mustExist,
          redactGate: decl.redactGate !== false,
          follow: decl.followField ? input[decl.followField] !== false : true,
          audit: decl.audit ?? "path_hash",
        });
      }
      const result = await tool.handler(input as never, ctx);
      const withWarnings = st.warnings.length && "output_warnings" in tool.output.shape
        ? {
          ...result,
          output_warnings: mergeWarnings(st.warnings, asStrings(result.output_warnings)),
        }
        : result;
      const checked = tool.output.safeParse(withWarnings);
      if (!checked.success) {
        st.logger.error("tool returned data that does not match its output schema", {
          issues: formatIssues(checked.error.issues),
        });
        throw new Error(`output schema violation in ${tool.name}`);
      }
      const structured = checked.data as Record<string, unknown>;
      if (typeof structured.exit_code === "number" && st.auditExtra.exit_code === undefined) {
        st.auditExtra.exit_code = structured.exit_code;
      }
      outcome = { isError: false, text: JSON.stringify(structured), structured };
    } catch (e) {
      if (isToolError(e)) {
        errorClass = e.code;
        st.logger.debug("tool error", { error: e.code, message: e.message });
        outcome = {
          isError: true,
          text: `${e.code}: ${e.message}`,
          error: { error: e.code, message: e.message, ...e.attributes },
        };
      } else {
        errorClass = "RuntimeError";
        st.logger.error("internal error in tool", {
          error: e instanceof Error ? `${e.name}: ${e.message}` : String(e),
          stack: e instanceof Error ? e.stack : undefined,
        });
        outcome = {
          isError: true,
          text:
            `RuntimeError: internal error in ${tool.name} (correlation id ${cid}); the details are in the server log.`,
          error: { error: "RuntimeError", message: "internal error", correlation_id: cid },
        };
      }
    }
    const primary = st.hosts.get("host") ?? st.hosts.values().next().value;
    const durationMs = Math.round(performance.now() - started);
    if (tool.audited !== false && !st.suppressAudit) {
      await app.audit.write({
        type: "audit",
        ts: Date.now() / 1000,
        correlation_id: cid,
        tool: tool.name,
        tier: tool.tier,
        host: hostArg,
        alias: primary?.policy.alias ?? null,
        hostname: primary?.policy.hostname ?? null,
        result: outcome.isError ? "error" : "ok",
        duration_ms: durationMs,
        ...(errorClass ? { error: errorClass } : {}),
        ...st.auditExtra,
      });
    }
    hook("post_tool_call", {
      result: outcome.isError ? "error" : "ok",
      ...(errorClass ? { error: errorClass } : {}),
      duration_ms: durationMs,
    });
    return outcome;
  }

  /** PlatformNotSupported before any remote I/O (TIER-8). */
  #platformGate(tool: Tool, hosts: ReadonlyMap<string, ResolvedHost>): void {
    for (const h of hosts.values()) this.#platformGateOne(tool, h.policy);
  }

  #platformGateOne(tool: Tool, policy: HostPolicy): void {
    if (tool.posixOnly && policy.platform === "windows") {
      throw new ToolError(
        "PlatformNotSupported",
        `${tool.name} needs a POSIX host; ${policy.alias} is configured with platform = "windows".`,
      );
    }
  }

  async #policyDecision(
    st: CallState,
    policy: HostPolicy,
    fields: Record<string, unknown>,
  ): Promise<void> {
    await this.#app.audit.write({
      type: "policy_decision",
      ts: Date.now() / 1000,
      correlation_id: st.cid,
      tool: st.tool.name,
      alias: policy.alias,
      hostname: policy.hostname,
      ...fields,
    });
  }

  /**
   * Cheatsheet (CHEAT-1..3), then `between` (the platform gate), then the
   * command policy (EXEC-*, SCRIPT-*), with one `policy_decision` line.
   */
  async #checkCommand(
    st: CallState,
    ctx: ToolContext,
    policy: HostPolicy,
    raw: string,
    opts: CheckCommandOptions,
    between?: () => void,
  ): Promise<CheckedCommand> {
    const commands = this.#app.commands;
    const req = { tool: st.tool.name, policy, command: raw, kind: opts.kind };
    const hash = opts.kind === "script" ? null : commandHash(raw);
    if (opts.kind === "script") {
      st.auditExtra.script_len = raw.length;
      st.auditExtra.script_hash = auditHash(raw);
    } else {
      st.auditExtra.command_hash = hash!;
    }
    if (opts.cheatsheet) {
      try {
        const hit = commands.cheatsheet(req);
        if (hit.warning) ctx.warn(hit.warning);
        if (hit.patternId) st.auditExtra.cheatsheet_pattern_id = hit.patternId;
      } catch (e) {
        if (isToolError(e, "CommandIsCheatsheetMatch")) {
          // CHEAT-3: a policy_decision line replaces the tool audit line
          st.suppressAudit = true;
          await this.#policyDecision(st, policy, {
            decision: "cheatsheet",
            reason: "cheatsheet",
            rule: typeof e.attributes.pattern_id === "string" ? e.attributes.pattern_id : null,
            ...(hash ? { command_hash: hash } : {}),
          });
        }
        throw e;
      }
    }
    between?.();
    try {
      const r = commands.admit(req);
      await this.#policyDecision(st, policy, {
        decision: "allow",
        reason: r.decision.reason,
        rule: r.decision.rule,
        ...(hash ? { command_hash: hash } : {}),
      });
      return r.command;
    } catch (e) {
      if (isToolError(e)) {
        await this.#policyDecision(st, policy, {
          decision: "deny",
          reason: typeof e.attributes.reason === "string" ? e.attributes.reason : e.code,
          rule: typeof e.attributes.rule === "string" ? e.attributes.rule : null,
          ...(hash ? { command_hash: hash } : {}),
        });
      }
      throw e;
    }
  }

  /** The `timeout` input against the host's (or the global) ceiling. */
  #checkTimeout(t: unknown, policy: HostPolicy | undefined): void {
    if (typeof t !== "number") return;
    const max = policy?.max_command_timeout ?? this.#app.settings.SSH_MAX_COMMAND_TIMEOUT;
    if (t > max) {
      throw new ToolError(
        "ValueError",
        `timeout ${t} s is above the maximum of ${max} s (${
          policy?.max_command_timeout
            ? `max_command_timeout of ${policy.alias}`
            : "SSH_MAX_COMMAND_TIMEOUT"
        }).`,
      );
    }
  }

  #context(st: CallState, host: ResolvedHost | undefined): ToolContext {
    const app = this.#app;
    const { tool, extra, auditExtra } = st;
    const conns = new Map<string, Promise<Connection>>();
    const requireHost = (): ResolvedHost => {
      if (!host) throw new Error(`${tool.name} has no host field; ctx.host is unavailable`);
      return host;
    };
    const connectionTo = (policy: HostPolicy): Promise<Connection> => {
      let c = conns.get(policy.alias);
      if (!c) {
        c = app.pool.acquire(policy).then((conn) => {
          if (policy === host?.policy) auditExtra.target_ip = conn.target.connectAddress;
          return conn;
        });
        conns.set(policy.alias, c);
      }
      return raceAbort(c, extra.signal);
    };
    const execOn = async (
      policy: HostPolicy,
      cmd: RemoteCommand,
      opts: CtxExecOptions = {},
    ): Promise<RawExecResult> => {
      const c = await connectionTo(policy);
      const s = app.settings;
      return await c.exec(cmd, {
        ...opts,
        timeoutMs: opts.timeoutMs ?? (policy.command_timeout ?? s.SSH_COMMAND_TIMEOUT) * 1000,
        stdoutCap: opts.stdoutCap ?? policy.stdout_cap_bytes ?? s.SSH_STDOUT_CAP_BYTES,
        stderrCap: opts.stderrCap ?? policy.stderr_cap_bytes ?? s.SSH_STDERR_CAP_BYTES,
        signal: opts.signal ?? extra.signal,
      });
    };
    const ctx: ToolContext = {
      app,
      correlationId: st.cid,
      signal: extra.signal,
      logger: st.logger,
      sessionKey: extra.sessionKey,
      get host() {
        return requireHost();
      },
      hosts: st.hosts,
      connection: () => connectionTo(requireHost().policy),
      connectionTo,
      async sftp() {
        return await (await connectionTo(requireHost().policy)).sftp();
      },
      exec: (cmd, opts) => execOn(requireHost().policy, cmd, opts),
      execOn,
      warn(message: string) {
        if (!st.warnings.includes(message)) st.warnings.push(message);
      },
      checkPath: async (policy, raw, opts) => {
        const paths = app.paths;
        const io: PathIo = opts.io ?? {
          exec: async (cmd, timeoutMs) => await execOn(policy, cmd, timeoutMs ? { timeoutMs } : {}),
          sftp: async () => await (await connectionTo(policy)).sftp(),
        };
        try {
          const r = await paths.check({
            tool: tool.name,
            policy,
            raw,
            mustExist: opts.mustExist,
            redactGate: opts.redactGate !== false,
            follow: opts.follow !== false,
            lexical: opts.lexical === true,
            io,
          });
          for (const w of r.warnings) ctx.warn(w);
          if (r.redactBypass) auditExtra.redact_bypass = true;
          auditExtra[opts.audit ?? "path_hash"] = auditHash(r.path);
          return r.path;
        } catch (e) {
          if (isToolError(e)) {
            await this.#policyDecision(st, policy, {
              decision: "deny",
              reason: e.code,
              rule: typeof e.attributes.rule === "string" ? e.attributes.rule : null,
              path_hash: auditHash(raw),
            });
          }
          throw e;
        }
      },
      checkCommand: (policy, raw, opts) => this.#checkCommand(st, ctx, policy, raw, opts),
      checkTarget: (policy, timeout) => {
        app.hosts().assertNotBlocked(policy);
        this.#platformGateOne(tool, policy);
        this.#checkTimeout(timeout, policy);
      },
      audit(fields: AuditExtra) {
        Object.assign(auditExtra, fields);
      },
      async progress(message: string) {
        await extra.progress?.(message);
      },
    };
    return ctx;
  }
}

/** Per-call state shared by the pipeline stages. */
interface CallState {
  cid: string;
  tool: Tool;
  extra: CallExtra;
  auditExtra: AuditExtra;
  /** path-policy / cheatsheet warnings, prepended to output_warnings */
  warnings: string[];
  logger: Logger;
  hosts: Map<string, ResolvedHost>;
  /** a cheatsheet refusal writes a policy_decision line instead (CHEAT-3) */
  suppressAudit: boolean;
}

function asStrings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
}

function raceAbort<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    return Promise.reject(new ToolError("Cancelled", "The request was cancelled."));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new ToolError("Cancelled", "The request was cancelled."));
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

/** Tier list for docs and tests. */
export const ALL_TIERS = TIERS;
