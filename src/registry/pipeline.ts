/**
 * The call pipeline every tool call goes through, as named stages, each gate
 * once (docs/ARCHITECTURE.md "The request pipeline"):
 *
 * parse -> audit gate -> resolve -> cheatsheet -> platform -> command -> limits
 * -> prepare -> paths -> approval -> handler -> output -> audit
 *
 * A name that is not visible returns null before any of them (TIER-5). A
 * `ToolError` becomes an `isError` result `"<Class>: <message>"`; anything
 * else becomes a generic message with a correlation id, the details only in
 * the server log. One audit line per call is written before the result is
 * returned.
 *
 * @module
 */

import type { z } from "zod";
import { auditHash, commandHash } from "../audit/audit.ts";
import { isToolError, ToolError } from "../errors.ts";
import { mergeWarnings } from "../policy/sanitize.ts";
import type { AppServices } from "../services.ts";
import type { CheckedPath } from "../checked.ts";
import type { SkillLibrary } from "../skills/library.ts";
import type { CheckPathOptions, Host } from "../tools/context.ts";
import type { Tool, ToolMeta } from "../tools/define.ts";
import { metaOf } from "../tools/meta.ts";
import { CallRecord } from "./audit.ts";
import { cheatsheetGate, commandGate } from "./checks.ts";
import { type ApprovalRequest, buildContext, CallDoor, type CallExtra } from "./context.ts";
import { admitted, platformGate, timeoutCeiling } from "./gates.ts";
import { type ListedTool, listedTools } from "./visibility.ts";
import { ProtocolError, ProtocolErrorCode } from "../mcp/sdk.ts";
import { callSpan, endCall } from "../telemetry/otel.ts";
import {
  CALL_TOOL,
  CALL_TOOL_DECL,
  CallInput,
  metaListing,
  SEARCH_TOOLS,
  searchToolsFor,
  ToolSearch,
} from "./search.ts";

export type { CallExtra };

/** What a call produced (the MCP layer turns it into a `CallToolResult`). */
export interface CallOutcome {
  isError: boolean;
  text: string;
  structured?: Record<string, unknown>;
  /** machine-readable error details (`_meta["ssh-mcp/error"]`) */
  error?: Record<string, unknown>;
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

/** The state the stages share for one call. */
interface Call {
  app: AppServices;
  tool: Tool;
  rec: CallRecord;
  door: CallDoor;
  extra: CallExtra;
  input: Record<string, unknown>;
}

/** Stage parse: the tool's strict zod schema; failures name each parameter (INPUT-7). */
function parse(tool: Tool, rawArgs: unknown, rec: CallRecord): Record<string, unknown> {
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
      (rec.fields as Record<string, string>)[field] = field === "command_hash"
        ? commandHash(v)
        : auditHash(v);
    }
  }
  return input;
}

/**
 * Stage audit: a call that changes hosts needs a working audit sink; while the
 * sink fails, tools above the read tier refuse (read tools go on).
 */
function auditGate(c: Call): void {
  if (c.tool.tier === "read" || c.app.audit.healthy) return;
  throw new ToolError(
    "AuditUnavailable",
    `The audit log cannot be written, so ${c.tool.name} (${c.tool.tier} tier) is refused until it works again; read tools still run. Ask the operator to fix SSH_AUDIT_LOG (disk space, permissions) -- ssh-mcp doctor checks it.`,
  );
}

/**
 * Stage resolve: every declared host field (and `hostFrom`) through the host
 * registry: alias -> hostname -> allowlist, then the blocklist. In memory.
 */
function resolve(c: Call): void {
  const { app, tool, door, rec, input } = c;
  for (const f of tool.hostFieldNames) {
    const v = input[f];
    if (typeof v !== "string") continue;
    door.hosts.set(f, admitted(v, app.hosts().resolve(v)));
    rec.primary = door.primary;
  }
  if (tool.hostFrom) {
    const derived = tool.hostFrom(input, { sessionKey: c.extra.sessionKey, shells: app.shells });
    rec.hostArg = derived;
    door.hosts.set("host", admitted(derived, app.hosts().resolve(derived)));
    rec.primary = door.primary;
  }
}

/** The declared command field's text, or null when the tool has none (or it was omitted). */
function commandText(c: Call): string | null {
  if (!c.tool.command || !c.door.primary) return null;
  const raw = c.input[c.tool.command.field];
  return typeof raw === "string" ? raw : null;
}

/** Stage cheatsheet (CHEAT-1..3), for a declared command field that asks for it. */
async function cheatsheet(c: Call): Promise<void> {
  const raw = commandText(c);
  if (raw === null || !c.tool.command!.cheatsheet) return;
  await cheatsheetGate(c.rec, c.app.commands, c.door.primary!.policy, raw, c.tool.command!.kind);
}

/** Stage platform: a `posixOnly` tool on a windows host fails before any I/O (TIER-8). */
function platform(c: Call): void {
  for (const h of c.door.hosts.values()) platformGate(c.tool, h.policy);
}

/** Stage command: the command policy turns the declared field into a `CheckedCommand`. */
async function command(c: Call): Promise<void> {
  const raw = commandText(c);
  if (raw === null) return;
  const decl = c.tool.command!;
  c.door.rawCommand = raw;
  c.input[decl.field] = await commandGate(
    c.rec,
    c.app.commands,
    c.door.primary!.policy,
    raw,
    decl.kind,
  );
}

/** Stage limits: a `timeout` above the host's (or the global) ceiling is refused. */
function limits(c: Call): void {
  timeoutCeiling(c.input.timeout, c.door.primary?.policy, c.app.settings);
}

/** Stage prepare: the tool's own validation before any remote I/O (INV-2). */
async function prepare(c: Call): Promise<unknown> {
  if (!c.tool.prepare) return undefined;
  return await c.tool.prepare(c.input as never, {
    settings: c.app.settings,
    env: c.app.config.env,
    signal: c.extra.signal,
    hosts: c.door.hosts,
  });
}

/**
 * Stage paths: each declared path field canonicalized on its host (as the
 * SSH user, or inside the call's elevation), then the policy chain; the
 * handler gets `CheckedPath` values.
 */
async function paths(c: Call): Promise<void> {
  const { tool, door, input } = c;
  const decls = tool.paths ?? [];
  const hostOf = (d: (typeof decls)[number]): Host => {
    const host = d.hostField ? door.hosts.get(d.hostField) : door.primary;
    if (!host) throw new Error(`${tool.name}: path ${d.field} has no resolved host`);
    return host;
  };
  const checked = new Map<string, { path: CheckedPath; host: Host }>();
  for (const decl of decls) {
    const raw = input[decl.field];
    if (raw === null || raw === undefined) continue;
    if (typeof raw !== "string") {
      throw new ToolError("ValueError", `${decl.field} must be a string.`);
    }
    const host = hostOf(decl);
    door.rawPaths.set(decl.field, raw);
    const io = decl.canonicalize === "elevated" ? await door.elevatedPathIo(host) : undefined;
    const path = await door.checkPath(host, raw, {
      mustExist: typeof decl.mustExist === "function" ? decl.mustExist(input) : decl.mustExist,
      redactGate: decl.redactGate !== false,
      follow: decl.followField ? input[decl.followField] !== false : true,
      audit: decl.audit ?? "path_hash",
      ...(decl.notRoot ? { notRoot: decl.notRoot } : {}),
      ...subtreeOf(tool, decl, checked),
    }, io);
    checked.set(decl.field, { path, host });
    input[decl.field] = path;
  }
}

/**
 * Stage approval (NEW, issue 13): a call in a tier listed in
 * `SSH_APPROVAL_TIERS` runs only after a human accepted exactly this call
 * (or the identical call within `SSH_APPROVAL_GRANT_S`). It runs after every
 * policy gate, so the human is never asked about a call policy refuses, and
 * is shown the command and paths the handler will get.
 */
function approval(c: Call): void {
  const { tool, door, app } = c;
  if (!app.settings.SSH_APPROVAL_TIERS.includes(tool.tier)) return;
  const request: ApprovalRequest = {
    tool: tool.name,
    tier: tool.tier,
    hosts: [...new Set([...door.hosts.values()].map((h) => h.policy.alias))],
    command: door.rawCommand ?? null,
    paths: Object.fromEntries(door.rawPaths),
  };
  if (c.extra.approval?.(request)) return;
  throw new ToolError(
    "ApprovalRequired",
    `${tool.name} is in the ${tool.tier} tier, which the operator set to need a human's approval ` +
      `for every call (SSH_APPROVAL_TIERS); ` +
      (c.extra.approval
        ? "it was not approved, so nothing ran."
        : "this client cannot ask its user (no elicitation support), so nothing ran. Use a client " +
          "that supports elicitation, or ask the operator."),
    { tier: tool.tier },
  );
}

/**
 * The subtree option of a declared path (PATH-33..PATH-36): the subtree as
 * it is, or the subtree of an earlier declared field landing here.
 */
function subtreeOf(
  tool: Tool,
  decl: NonNullable<Tool["paths"]>[number],
  checked: ReadonlyMap<string, { path: CheckedPath; host: Host }>,
): Pick<CheckPathOptions, "subtree"> {
  const st = decl.subtree;
  if (!st) return {};
  if (st === true) return { subtree: true };
  const from = checked.get(st.receives);
  if (!from) {
    if (!(tool.paths ?? []).some((d) => d.field === st.receives)) {
      throw new Error(`${tool.name}: ${decl.field} receives the undeclared path ${st.receives}`);
    }
    // the source field was omitted (optional) or is declared later: nothing lands here yet
    return { subtree: true };
  }
  return { subtree: { receives: from.path, host: from.host } };
}

/** Stage output: pipeline warnings merged, the result validated against the output schema. */
function output(c: Call, result: Record<string, unknown>): CallOutcome {
  const { tool, rec } = c;
  const withWarnings = rec.warnings.length && "output_warnings" in tool.output.shape
    ? {
      ...result,
      output_warnings: mergeWarnings(rec.warnings, asStrings(result.output_warnings)),
    }
    : result;
  const checked = tool.output.safeParse(withWarnings);
  if (!checked.success) {
    rec.logger.error("tool returned data that does not match its output schema", {
      issues: formatIssues(checked.error.issues),
    });
    throw new Error(`output schema violation in ${tool.name}`);
  }
  const structured = checked.data as Record<string, unknown>;
  if (typeof structured.exit_code === "number" && rec.fields.exit_code === undefined) {
    rec.fields.exit_code = structured.exit_code;
  }
  return { isError: false, text: JSON.stringify(structured), structured };
}

/** Error mapping: a `ToolError` keeps its class; anything else is an internal error. */
function failure(rec: CallRecord, e: unknown): { outcome: CallOutcome; errorClass: string } {
  if (isToolError(e)) {
    rec.logger.debug("tool error", { error: e.code, message: e.message });
    return {
      errorClass: e.code,
      outcome: {
        isError: true,
        text: `${e.code}: ${e.message}`,
        error: { error: e.code, message: e.message, ...e.attributes },
      },
    };
  }
  rec.logger.error("internal error in tool", {
    error: e instanceof Error ? `${e.name}: ${e.message}` : String(e),
    stack: e instanceof Error ? e.stack : undefined,
  });
  const cid = rec.correlationId;
  return {
    errorClass: "RuntimeError",
    outcome: {
      isError: true,
      text:
        `RuntimeError: internal error in ${rec.tool.name} (correlation id ${cid}); the details are in the server log.`,
      error: { error: "RuntimeError", message: "internal error", correlation_id: cid },
    },
  };
}

function asStrings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
}

/** Calls `Symbol.dispose` of a prepared value (an opened local file, ...). */
function dispose(v: unknown): void {
  const d = (v as { [Symbol.dispose]?: () => void } | null | undefined)?.[Symbol.dispose];
  if (typeof d === "function") {
    try {
      d.call(v);
    } catch {
      // already released
    }
  }
}

/** The registry: the visible tools and the call pipeline. */
export class ToolRegistry {
  readonly #app: AppServices;
  /** the skills this registry's callers may see (search index, ssh_skill_read) */
  readonly #skills: SkillLibrary;
  readonly #byName: Map<string, ToolMeta>;
  readonly #visibleNames: ReadonlySet<string>;
  #listed: ListedTool[] | null = null;
  /** search mode (SSH_ENABLE_BM25): the synthetic tools, else null */
  readonly #meta: ReadonlyMap<string, ToolMeta> | null;
  #search: Promise<ToolSearch> | null = null;
  #searchListed: ListedTool[] | null = null;

  /**
   * @param tiers when given, only tools of these tiers are visible (an HTTP
   *   principal whose token grants fewer tiers than the env enables): hidden
   *   means absent, exactly as for a tier the env switched off (TIER-5).
   */
  constructor(app: AppServices, tiers?: ReadonlySet<string>, skills?: SkillLibrary) {
    this.#app = app;
    this.#skills = skills ?? app.skills;
    const visible = tiers
      ? app.catalog.visible.filter((t) => tiers.has(t.tier))
      : app.catalog.visible;
    this.#byName = new Map(visible.map((t) => [t.name, t]));
    this.#visibleNames = new Set(this.#byName.keys());
    this.#meta = app.settings.SSH_ENABLE_BM25
      ? new Map([
        [SEARCH_TOOLS, metaOf(searchToolsFor(() => this.#index()))],
        [CALL_TOOL, metaOf(CALL_TOOL_DECL)],
      ])
      : null;
  }

  /** Visible tools (metadata; a declaration loads on its first call). */
  get tools(): ToolMeta[] {
    return [...this.#byName.values()];
  }

  /**
   * `tools/list` payload (schemas computed once). In search mode: the
   * synthetic `search_tools` and `call_tool` plus the visible pinned tools
   * (`SSH_BM25_ALWAYS_VISIBLE`).
   */
  list(): ListedTool[] {
    this.#listed ??= listedTools(this.tools);
    if (!this.#meta) return this.#listed;
    if (!this.#searchListed) {
      const [search, call] = listedTools([...this.#meta.values()]);
      const pinned = new Set(this.#app.settings.SSH_BM25_ALWAYS_VISIBLE);
      this.#searchListed = [
        ...metaListing(search!, call!, this.tools),
        ...this.#listed.filter((l) => pinned.has(l.name)),
      ];
    }
    return this.#searchListed;
  }

  /** The search index over the visible tools (built on first use). */
  #index(): Promise<ToolSearch> {
    this.#listed ??= listedTools(this.tools);
    this.#search ??= ToolSearch.create(
      this.tools,
      this.#listed,
      this.#skills,
      this.#app.settings.SSH_BM25_MAX_RESULTS,
    );
    return this.#search;
  }

  /** The visible tool `name` (or a synthetic tool of search mode), if any. */
  get(name: string): ToolMeta | undefined {
    return this.#byName.get(name) ?? this.#meta?.get(name);
  }

  /** True when `name` is callable in this configuration. */
  has(name: string): boolean {
    return this.#byName.has(name) || (this.#meta?.has(name) ?? false);
  }

  /**
   * `call_tool`: the named visible tool through this same pipeline with the
   * caller's `extra`. A hidden or unknown name gets exactly the answer of a
   * direct call to an unknown tool (TIER-7); the synthetic tools themselves
   * are not callable through it. `call_tool` gets its own audit line.
   */
  async #callTool(rawArgs: unknown, extra: CallExtra): Promise<CallOutcome | null> {
    const parsed = CallInput.safeParse(rawArgs ?? {});
    // malformed arguments: the pipeline's parse stage refuses them (and audits the refusal)
    if (!parsed.success) return await this.#run(CALL_TOOL_DECL, rawArgs, extra);
    const inner = parsed.data.name;
    if (!this.#byName.has(inner)) {
      throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Tool ${inner} not found`);
    }
    return await callSpan(CALL_TOOL, CALL_TOOL_DECL.tier, extra.trace, async (span) => {
      const rec = new CallRecord(this.#app, CALL_TOOL_DECL, rawArgs, this.#visibleNames);
      rec.hook("pre_tool_call");
      const outcome = (await this.call(inner, parsed.data.arguments ?? {}, extra))!;
      const errorClass = outcome.error?.error;
      await rec.finish({
        isError: outcome.isError,
        ...(typeof errorClass === "string" ? { errorClass } : {}),
      });
      endCall(span, rec, outcome.isError, typeof errorClass === "string" ? errorClass : undefined);
      return outcome;
    });
  }

  /**
   * Runs one call through the pipeline. Returns null for a name that is not
   * visible (the MCP layer answers exactly as for a name that never existed).
   */
  async call(name: string, rawArgs: unknown, extra: CallExtra): Promise<CallOutcome | null> {
    if (this.#meta && name === CALL_TOOL) return await this.#callTool(rawArgs, extra);
    const meta = this.get(name);
    if (!meta) return null;
    // the group module is imported on the group's first call (catalog_lazy.ts)
    return await this.#run(await meta.load(), rawArgs, extra);
  }

  /** The pipeline for one resolved tool, inside the call's span (issue 14). */
  async #run(tool: Tool, rawArgs: unknown, extra: CallExtra): Promise<CallOutcome> {
    return await callSpan(
      tool.name,
      tool.tier,
      extra.trace,
      (span) =>
        this.#pipeline(
          tool,
          rawArgs,
          extra,
          (rec, o, errorClass) => endCall(span, rec, o.isError, errorClass),
        ),
    );
  }

  /** The stages of one call; `done` sees the record and outcome once the audit line is written. */
  async #pipeline(
    tool: Tool,
    rawArgs: unknown,
    extra: CallExtra,
    done: (rec: CallRecord, outcome: CallOutcome, errorClass: string | undefined) => void,
  ): Promise<CallOutcome> {
    const app = this.#app;
    const rec = new CallRecord(app, tool, rawArgs, this.#visibleNames);
    const door = new CallDoor(app, rec, extra);
    rec.hook("pre_tool_call");
    let outcome: CallOutcome;
    let errorClass: string | undefined;
    let prepared: unknown;
    try {
      const c: Call = { app, tool, rec, door, extra, input: parse(tool, rawArgs, rec) };
      auditGate(c);
      resolve(c);
      await cheatsheet(c);
      platform(c);
      await command(c);
      limits(c);
      prepared = await prepare(c);
      await paths(c);
      approval(c);
      const ctx = buildContext(app, tool, rec, door, extra, this.#skills);
      const result = await tool.handler(c.input as never, ctx, prepared);
      outcome = output(c, result);
    } catch (e) {
      ({ outcome, errorClass } = failure(rec, e));
    } finally {
      dispose(prepared);
    }
    await rec.finish({ isError: outcome.isError, ...(errorClass ? { errorClass } : {}) });
    done(rec, outcome, errorClass);
    return outcome;
  }
}
