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
import type { Settings, Tier } from "../config/types.ts";
import { isToolError, ToolError } from "../errors.ts";
import type { AppServices, CatalogInfo } from "../services.ts";
import { auditHash, commandHash } from "../audit/audit.ts";
import type { RemoteCommand } from "../ssh/command.ts";
import type { RawExecResult } from "../ssh/exec.ts";
import type { Connection } from "../ssh/connection.ts";
import {
  type AuditExtra,
  type CtxExecOptions,
  GROUPS,
  type ResolvedHost,
  TIERS,
  type Tool,
  type ToolContext,
} from "./define.ts";

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
}

function correlationId(): string {
  return Array.from(
    crypto.getRandomValues(new Uint8Array(8)),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
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
      }));
    }
    return this.#listed;
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
    const cid = correlationId();
    const started = performance.now();
    const logger = app.logger.child({ correlation_id: cid, tool: tool.name });
    const auditExtra: AuditExtra = {};
    const args = (rawArgs ?? {}) as Record<string, unknown>;
    const hostArg = typeof args.host === "string" ? args.host : "?";
    let resolved: ResolvedHost | undefined;
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
          (auditExtra as Record<string, string>)[field] = field === "command_hash"
            ? commandHash(v)
            : auditHash(v);
        }
      }
      const hostsResolved = new Map<string, ResolvedHost>();
      for (const f of tool.hostFieldNames) {
        const v = input[f];
        if (typeof v !== "string") continue;
        const policy = app.hosts().resolve(v);
        if (tool.posixOnly && policy.platform === "windows") {
          throw new ToolError(
            "PlatformNotSupported",
            `${tool.name} needs a POSIX host; ${policy.alias} is configured with platform = "windows".`,
          );
        }
        hostsResolved.set(f, { requested: v, policy });
      }
      resolved = hostsResolved.get("host") ?? hostsResolved.values().next().value;
      this.#checkTimeout(input, resolved);
      const ctx = this.#context(tool, resolved, cid, extra, logger, auditExtra);
      const result = await tool.handler(input as never, ctx);
      const checked = tool.output.safeParse(result);
      if (!checked.success) {
        logger.error("tool returned data that does not match its output schema", {
          issues: formatIssues(checked.error.issues),
        });
        throw new Error(`output schema violation in ${tool.name}`);
      }
      const structured = checked.data as Record<string, unknown>;
      if (typeof structured.exit_code === "number" && auditExtra.exit_code === undefined) {
        auditExtra.exit_code = structured.exit_code;
      }
      outcome = { isError: false, text: JSON.stringify(structured), structured };
    } catch (e) {
      if (isToolError(e)) {
        errorClass = e.code;
        logger.debug("tool error", { error: e.code, message: e.message });
        outcome = {
          isError: true,
          text: `${e.code}: ${e.message}`,
          error: { error: e.code, message: e.message, ...e.attributes },
        };
      } else {
        errorClass = "RuntimeError";
        logger.error("internal error in tool", {
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
    if (tool.audited !== false) {
      await app.audit.write({
        type: "audit",
        ts: Date.now() / 1000,
        correlation_id: cid,
        tool: tool.name,
        tier: tool.tier,
        host: hostArg,
        alias: resolved?.policy.alias ?? null,
        hostname: resolved?.policy.hostname ?? null,
        result: outcome.isError ? "error" : "ok",
        duration_ms: Math.round(performance.now() - started),
        ...(errorClass ? { error: errorClass } : {}),
        ...auditExtra,
      });
    }
    return outcome;
  }

  #checkTimeout(input: Record<string, unknown>, host: ResolvedHost | undefined): void {
    const t = input.timeout;
    if (typeof t !== "number") return;
    const max = host?.policy.max_command_timeout ?? this.#app.settings.SSH_MAX_COMMAND_TIMEOUT;
    if (t > max) {
      throw new ToolError(
        "ValueError",
        `timeout ${t} s is above the maximum of ${max} s (${
          host?.policy.max_command_timeout
            ? `max_command_timeout of ${host.policy.alias}`
            : "SSH_MAX_COMMAND_TIMEOUT"
        }).`,
      );
    }
  }

  #context(
    tool: Tool,
    host: ResolvedHost | undefined,
    cid: string,
    extra: CallExtra,
    logger: ToolContext["logger"],
    auditExtra: AuditExtra,
  ): ToolContext {
    const app = this.#app;
    let conn: Promise<Connection> | null = null;
    const requireHost = (): ResolvedHost => {
      if (!host) throw new Error(`${tool.name} has no host field; ctx.host is unavailable`);
      return host;
    };
    const connection = (): Promise<Connection> => {
      const h = requireHost();
      if (!conn) {
        conn = app.pool.acquire(h.policy).then((c) => {
          auditExtra.target_ip = c.target.connectAddress;
          return c;
        });
      }
      return raceAbort(conn, extra.signal);
    };
    return {
      app,
      correlationId: cid,
      signal: extra.signal,
      logger,
      sessionKey: extra.sessionKey,
      get host() {
        return requireHost();
      },
      connection,
      async exec(cmd: RemoteCommand, opts: CtxExecOptions = {}): Promise<RawExecResult> {
        const h = requireHost();
        const c = await connection();
        const s = app.settings;
        return await c.exec(cmd, {
          timeoutMs: opts.timeoutMs ?? (h.policy.command_timeout ?? s.SSH_COMMAND_TIMEOUT) * 1000,
          stdoutCap: opts.stdoutCap ?? h.policy.stdout_cap_bytes ?? s.SSH_STDOUT_CAP_BYTES,
          stderrCap: opts.stderrCap ?? h.policy.stderr_cap_bytes ?? s.SSH_STDERR_CAP_BYTES,
          signal: opts.signal ?? extra.signal,
          ...(opts.stdin !== undefined ? { stdin: opts.stdin } : {}),
          ...(opts.onOutput ? { onOutput: opts.onOutput } : {}),
          ...(opts.env ? { env: opts.env } : {}),
        });
      },
      audit(fields: AuditExtra) {
        Object.assign(auditExtra, fields);
      },
      async progress(message: string) {
        await extra.progress?.(message);
      },
    };
  }
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
