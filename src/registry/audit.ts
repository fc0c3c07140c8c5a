/**
 * The audit record of one call (SECURITY.md §AUDIT, §HOOK): the correlation
 * id, the fields stages and the handler add, the `policy_decision` lines of
 * the gates, extra per-target lines, the hooks' `pre_tool_call` /
 * `post_tool_call` events and the one final audit line. Built from the
 * declaration and the pipeline's state, never guessed from arguments.
 *
 * @module
 */

import { principalField } from "../audit/principal.ts";
import { auditHash, type AuditLog } from "../audit/audit.ts";
import type { HostPolicy } from "../config/types.ts";
import type { HookEvent, HookSink } from "../hooks/hooks.ts";
import type { Logger } from "../log.ts";
import { randomHex } from "../util/random.ts";
import type { Tool } from "../tools/define.ts";
import type { AuditExtra, Host, TargetAuditLine } from "../tools/context.ts";

/** The services the audit record writes to. */
export interface AuditSinks {
  audit: AuditLog;
  hooks: HookSink;
  logger: Logger;
}

/** How a call ended, for the final audit line and the post-call hook. */
export interface CallResult {
  isError: boolean;
  /** the error class (`ValueError`, `RuntimeError`, ...) of a failed call */
  errorClass?: string;
}

/** One call's audit state (see module docs). */
export class CallRecord {
  readonly correlationId: string = randomHex(8);
  readonly tool: Tool;
  readonly logger: Logger;
  /** fields of the final audit line added by stages and the handler */
  readonly fields: AuditExtra = {};
  /** path-policy / cheatsheet warnings, prepended to output_warnings */
  readonly warnings: string[] = [];
  /**
   * the raw `host` argument (or the derived host), as the audit line shows
   * it; `"?"` when absent, not a string or not valid for the tool (then
   * {@link hostProblem} holds its length and hash, AUDIT-13)
   */
  hostArg: string;
  /** length and hash of a `host` argument that failed validation (never its content) */
  readonly hostProblem: { host_len: number; host_hash: string } | null;
  /** the host of the call (alias / hostname in the audit line) */
  primary: Host | undefined;
  /** a cheatsheet refusal writes a policy_decision line instead (CHEAT-3) */
  suppressed = false;
  readonly #sinks: AuditSinks;
  readonly #started = performance.now();

  /** names of the tools visible in this configuration (what a message may name) */
  readonly visibleTools: ReadonlySet<string>;

  constructor(
    sinks: AuditSinks,
    tool: Tool,
    rawArgs: unknown,
    visibleTools: ReadonlySet<string> = new Set(),
  ) {
    this.#sinks = sinks;
    this.tool = tool;
    this.visibleTools = visibleTools;
    this.logger = sinks.logger.child({ correlation_id: this.correlationId, tool: tool.name });
    const args = (rawArgs !== null && typeof rawArgs === "object" ? rawArgs : {}) as Record<
      string,
      unknown
    >;
    const host = args.host;
    const schema = tool.input.shape.host;
    if (typeof host !== "string") {
      this.hostArg = "?";
      this.hostProblem = null;
    } else if (schema && schema.safeParse(host).success) {
      this.hostArg = host;
      this.hostProblem = null;
    } else {
      // AUDIT-13: input that failed validation is recorded by length and hash
      this.hostArg = "?";
      this.hostProblem = { host_len: host.length, host_hash: auditHash(host) };
    }
    // AUDIT-14: read tools go on while the sink fails, with one WARNING per failure period
    if (tool.tier === "read" && !sinks.audit.healthy) sinks.audit.warnUnaudited(tool.name);
  }

  /** Adds a warning once (first added comes first). */
  warn(message: string): void {
    if (!this.warnings.includes(message)) this.warnings.push(message);
  }

  /**
   * HOOK-1/2: metadata only, never arguments; fired even when the audit line
   * is replaced by a policy_decision line (cheatsheet refusals, CHEAT-3).
   */
  hook(event: "pre_tool_call" | "post_tool_call", extra: Partial<HookEvent> = {}): void {
    if (this.tool.audited === false) return;
    this.#sinks.hooks.emit({
      event,
      timestamp: Date.now() / 1000,
      tool: this.tool.name,
      host: this.hostArg,
      tier: this.tool.tier,
      correlation_id: this.correlationId,
      payload: this.hostProblem ? { ...this.hostProblem } : {},
      ...principalField(),
      ...extra,
    });
  }

  /** A `policy_decision` line for one gate's verdict on `policy`. */
  async policyDecision(policy: HostPolicy, fields: Record<string, unknown>): Promise<void> {
    await this.#sinks.audit.write({
      type: "policy_decision",
      ts: Date.now() / 1000,
      correlation_id: this.correlationId,
      ...principalField(),
      tool: this.tool.name,
      alias: policy.alias,
      hostname: policy.hostname,
      ...fields,
    });
  }

  /** One more audit line of this call for one target (fan-out hosts, a finished task). */
  async targetLine(line: TargetAuditLine): Promise<void> {
    await this.#sinks.audit.write({
      type: "audit",
      ts: Date.now() / 1000,
      correlation_id: this.correlationId,
      ...principalField(),
      tool: this.tool.name,
      tier: this.tool.tier,
      ...line,
    });
  }

  /**
   * The call's own audit line (unless `audited: false` or replaced by a
   * cheatsheet `policy_decision`), awaited, then the post-call hook.
   */
  async finish(r: CallResult): Promise<void> {
    const durationMs = Math.round(performance.now() - this.#started);
    const p = this.primary?.policy;
    if (this.tool.audited !== false && !this.suppressed) {
      await this.#sinks.audit.write({
        type: "audit",
        ts: Date.now() / 1000,
        correlation_id: this.correlationId,
        ...principalField(),
        tool: this.tool.name,
        tier: this.tool.tier,
        host: this.hostArg,
        alias: p?.alias ?? null,
        hostname: p?.hostname ?? null,
        result: r.isError ? "error" : "ok",
        duration_ms: durationMs,
        ...(r.errorClass ? { error: r.errorClass } : {}),
        ...(this.hostProblem ?? {}),
        ...this.fields,
      });
    }
    this.hook("post_tool_call", {
      result: r.isError ? "error" : "ok",
      ...(r.errorClass ? { error: r.errorClass } : {}),
      duration_ms: durationMs,
    });
  }
}
