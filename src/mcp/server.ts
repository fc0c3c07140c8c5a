/**
 * The MCP layer: the only module that touches the SDK's server classes
 * (SDK v2, `@modelcontextprotocol/server`).
 *
 * One {@link McpService} holds what outlives a connection (large outputs,
 * MCP tasks, signed questions, grants); {@link McpService.create} builds one
 * `McpServer` per connection, as `serveStdio` (and the HTTP handler) ask of
 * a factory. The same instance serves 2025-era clients (`initialize`:
 * 2025-06-18, 2025-11-25) and 2026-07-28 clients (`server/discover`, the
 * per-request envelope, `input_required` round trips).
 *
 * Tools go through the low-level `tools/list` / `tools/call` handlers so the
 * registry owns the whole call pipeline: argument validation failures become
 * audited `ValueError` results, and a hidden tool is indistinguishable from
 * a name that never existed (TIER-5). `tools/list` is in catalog order
 * (deterministic); 2026-07-28 list results carry cache hints
 * ({@link LIST_CACHE_TTL_MS}); the catalog only changes with a new server
 * process, whose list a client re-reads after the hint expires.
 *
 * Errors: `isError: true` with text `"<Class>: <message>"` and the machine
 * readable form in `_meta["ssh-mcp/error"]` (`{error, message, ...attributes}`).
 * They are deliberately NOT in `structuredContent`: a client validates any
 * `structuredContent` against the tool's output schema, even on errors.
 *
 * Progress and cancellation: a request carrying `_meta.progressToken` gets
 * `notifications/progress` from `ctx.progress()`; `notifications/cancelled`
 * aborts the call's signal, which kills the remote process group.
 *
 * Human questions (issue 13, {@link Interactions}): a call in a tier listed in
 * `SSH_APPROVAL_TIERS`, and a first connection to a host with no pinned key
 * (`SSH_CONFIRM_NEW_HOST_KEYS`), return `input_required` with one form
 * elicitation and a signed state; only an explicit accept runs the call or
 * pins the key.
 *
 * MCP-native tasks (TOOLS.md §15, 2025-11-25 revision): tools declaring
 * `taskSupport` are listed with `execution.taskSupport: "optional"`; a
 * `tools/call` with a `task` parameter creates a task in the
 * {@link McpTaskStore}, returns the `CreateTaskResult` at once and runs the
 * call through the same pipeline in the background; `tasks/get`,
 * `tasks/result`, `tasks/list` and `tasks/cancel` are answered here (the v2
 * SDK has no task store), bound to the caller. A call that needs a human's
 * approval runs as a plain call. On 2026-07-28 (where tasks moved to an
 * extension) such tools run as plain calls; the `ssh_*_async` tools give
 * background work on every revision.
 *
 * Logging: the logging capability is declared; a client that sent
 * `logging/setLevel` gets the server's WARNING/ERROR lines as
 * `notifications/message` (fields that could carry command text, paths or
 * secrets are dropped); stderr keeps every line.
 *
 * @module
 */

import {
  type AuthInfo,
  type CallToolResult,
  type LoggingLevel,
  McpServer,
  ProtocolError,
  ProtocolErrorCode,
  ResourceTemplate,
  type ServerContext,
  UriTemplate,
} from "./sdk.ts";
import { z } from "zod";
import type { SkillLibrary } from "../skills/library.ts";
import type { App } from "../app.ts";
import { type CallOutcome, ToolRegistry } from "../registry/pipeline.ts";
import type { ApprovalGate, ApprovalRequest } from "../registry/context.ts";
import { McpTaskStore } from "../tasks/mcp_store.ts";
import { instructionsFor } from "./instructions.ts";
import { isToolError } from "../errors.ts";
import type { LogLevel } from "../log.ts";
import {
  OUTPUT_URI_PREFIX,
  OUTPUT_URI_TEMPLATE,
  type OutputLink,
  OutputNotFound,
  OutputStore,
  type OutputStoreOptions,
  protocolHasResourceLinks,
} from "./outputs.ts";
import {
  callDigest,
  callerKey,
  canElicit,
  type HostKeyOffer,
  Interactions,
  keyFromBase64,
  keyToBase64,
  type QuestionState,
  readAnswer,
} from "./interaction.ts";
import { firstContact, OfferCollector } from "../ssh/first_contact.ts";
import { principalField, principalScope } from "../audit/principal.ts";
import { skillsExtension } from "./skills_ext.ts";

export {
  type InstructionOptions,
  INSTRUCTIONS_MAX_CHARS,
  type InstructionSettings,
  instructionsFor,
} from "./instructions.ts";

/** URI of the server-info resource (SKILLS.md §3.2). */
export const SERVER_INFO_URI = "mcp://ssh-mcp/server-info";

/** Cache hint of list results on 2026-07-28 (the catalog is fixed for a process). */
export const LIST_CACHE_TTL_MS = 300_000;

/** Poll interval suggested for MCP-native tasks (TOOLS.md §8: 3 s). */
export const TASK_POLL_INTERVAL_MS = 3000;

const RELATED_TASK = "io.modelcontextprotocol/related-task";

function toCallResult(outcome: CallOutcome, links: readonly OutputLink[] = []): CallToolResult {
  const result: CallToolResult = { content: [{ type: "text", text: outcome.text }] };
  // issue 12 item 3: the full outputs behind truncated inline fields
  if (!outcome.isError) { for (const l of links) result.content.push(l); }
  if (outcome.isError) {
    result.isError = true;
    if (outcome.error) result._meta = { "ssh-mcp/error": outcome.error };
  } else if (outcome.structured) {
    result.structuredContent = outcome.structured;
  }
  return result;
}

/** W3C trace context of a request (`_meta.traceparent` / `tracestate`), for the call span. */
function traceOf(ctx: ServerContext): { traceparent?: string; tracestate?: string } {
  const m = (ctx.mcpReq._meta ?? {}) as Record<string, unknown>;
  return {
    ...(typeof m.traceparent === "string" ? { traceparent: m.traceparent } : {}),
    ...(typeof m.tracestate === "string" ? { tracestate: m.tracestate } : {}),
  };
}

/** An error result that never reached the pipeline (a refused answer). */
function refusal(code: string, message: string): CallToolResult {
  return toCallResult({
    isError: true,
    text: `${code}: ${message}`,
    error: { error: code, message },
  });
}

/** Options of {@link McpService}. */
export interface McpServerOptions {
  /** bounds of the large-output store (defaults: the OUTPUT_* constants) */
  outputs?: OutputStoreOptions;
  /** HMAC key of signed questions (default: 32 random bytes for this process) */
  stateKey?: Uint8Array;
}

/** Bounded log text of a resource URI; an output id (a capability) is shortened. */
function logUri(uri: string): string {
  if (OutputStore.owns(uri)) {
    return uri.replace(/^(ssh-mcp:\/\/output\/[0-9a-f]{0,8})[^?]*/, "$1...");
  }
  // AUDIT-13: client text in a log line is bounded
  return uri.length > 512 ? `${uri.slice(0, 512)}...` : uri;
}

const MCP_LEVELS: readonly LoggingLevel[] = [
  "debug",
  "info",
  "notice",
  "warning",
  "error",
  "critical",
  "alert",
  "emergency",
];
/** Log fields never sent to a client, whatever they hold. */
const UNSENT_FIELD =
  /command|cmd|argv|args|stdout|stderr|output|text|content|path|file|secret|password|passphrase|token|key|env|stack|uri|query|pattern/i;

/** A log line as a `notifications/message` payload: message + safe scalar fields. */
function logData(msg: string, fields: Record<string, unknown>): Record<string, unknown> {
  const data: Record<string, unknown> = { message: msg.slice(0, 500) };
  for (const [k, v] of Object.entries(fields)) {
    if (UNSENT_FIELD.test(k)) continue;
    if (typeof v === "number" || typeof v === "boolean" || v === null) data[k] = v;
    else if (typeof v === "string") data[k] = v.slice(0, 200);
  }
  return data;
}

/** What a caller of one tier set sees: tools, instructions, skills, server info. */
interface Scope {
  registry: ToolRegistry;
  instructions: string;
  skills: SkillLibrary;
  info: () => ReturnType<App["serverInfo"]>;
}

/** What outlives one connection; builds a server per connection. */
export class McpService {
  readonly #app: App;
  readonly outputs: OutputStore;
  readonly tasks: McpTaskStore;
  readonly interactions: Interactions;
  readonly #running = new Set<Promise<void>>();
  /** registries (and their instructions) per tier subset of an HTTP principal */
  readonly #scoped = new Map<string, Scope>();

  constructor(app: App, registry: ToolRegistry, opts: McpServerOptions = {}) {
    this.#app = app;
    // issue 12 item 3: full outputs behind resource links
    const state = app.state;
    this.outputs = new OutputStore({ ...opts.outputs, state });
    this.tasks = new McpTaskStore({
      state,
      maxTtlMs: app.settings.SSH_TASK_KEEPALIVE_S * 1000,
      pollIntervalMs: TASK_POLL_INTERVAL_MS,
      maxRunning: app.settings.SSH_TASK_MAX_CONCURRENT,
    });
    this.interactions = new Interactions({
      grantSeconds: app.settings.SSH_APPROVAL_GRANT_S,
      state,
      ...(opts.stateKey ? { key: opts.stateKey } : {}),
    });
    this.#scoped.set("", {
      registry,
      instructions: this.#instructionsOf(registry),
      skills: app.skills,
      info: () => app.serverInfo(),
    });
    app.onShutdown(() => this.outputs.clear());
    // TASK-6: cancel running MCP tasks and wait (bounded) for their remote kills
    // before the connections close
    app.onShutdown(async () => {
      this.tasks.close();
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        Promise.allSettled([...this.#running]),
        new Promise<void>((r) => (timer = setTimeout(r, 10_000))),
      ]);
      clearTimeout(timer);
    });
  }

  #instructionsOf(registry: ToolRegistry): string {
    return instructionsFor(new Set(registry.tools.map((t) => t.name)), {
      settings: this.#app.settings,
      groups: registry.tools.map((t) => t.group),
    });
  }

  /**
   * The registry for a principal whose token grants only `tiers` (OAuth
   * scopes): tools of other tiers are absent from every surface of that
   * principal's connections, whatever the env enables.
   */
  #registryFor(tiers: readonly string[] | undefined): Scope {
    const key = tiers ? [...new Set(tiers)].sort().join(",") : "";
    let r = this.#scoped.get(key);
    if (!r) {
      const app = this.#app;
      const allowed = new Set(tiers);
      // TIER-12 for this principal: the skills and runbooks of the tools it cannot see are absent
      const hidden = new Set(
        app.catalog.visible.filter((t) => !allowed.has(t.tier)).map((t) => t.name),
      );
      const skills = app.skills.narrowed(hidden);
      const registry = new ToolRegistry(app, allowed, skills);
      r = {
        registry,
        instructions: this.#instructionsOf(registry),
        skills,
        info: () => ({
          ...app.serverInfo(),
          total_tools: registry.tools.length,
          enabled_tiers: app.serverInfo().enabled_tiers.filter((t) => allowed.has(t)),
          enabled_groups: [...new Set(registry.tools.map((t) => t.group))].sort(),
          embedded_skills: skills.size,
        }),
      };
      this.#scoped.set(key, r);
    }
    return r;
  }

  /**
   * A server for one connection or one HTTP request (the `serveStdio` /
   * `createMcpHandler` factory). `authInfo.extra.tiers` (set by the HTTP
   * gateway from the token's scopes) narrows the visible tiers.
   */
  create(ctx: { authInfo?: AuthInfo } = {}): McpServer {
    const app = this.#app;
    const tiers = ctx.authInfo?.extra?.tiers;
    const scope = this.#registryFor(
      Array.isArray(tiers) ? tiers.filter((t): t is string => typeof t === "string") : undefined,
    );
    const { registry, instructions } = scope;
    const mcp = new McpServer(
      { name: "ssh-mcp", version: app.version },
      {
        capabilities: {
          logging: {},
          tasks: { list: {}, cancel: {}, requests: { tools: { call: {} } } },
        },
        instructions,
        cacheHints: {
          "tools/list": { ttlMs: LIST_CACHE_TTL_MS, cacheScope: "private" },
          "resources/list": { ttlMs: LIST_CACHE_TTL_MS, cacheScope: "private" },
          "resources/templates/list": { ttlMs: LIST_CACHE_TTL_MS, cacheScope: "private" },
          "server/discover": { ttlMs: LIST_CACHE_TTL_MS, cacheScope: "private" },
        },
        requestState: { verify: (state, ctx) => this.interactions.codec.verify(state, ctx) },
        inputRequired: { roundTimeoutMs: 300_000 },
      },
    );
    const srv = mcp.server;
    srv.registerCapabilities({ tools: {} });
    // transport and protocol errors (a bad line, a failed write) are logged, never fatal
    srv.onerror = (e: Error) => {
      app.logger.debug("MCP protocol error", { error: e.message.slice(0, 500) });
    };
    this.#logging(mcp);

    srv.setRequestHandler("tools/list", () => ({ tools: registry.list() as never }));
    srv.setRequestHandler("tools/call", async (request, ctx) => {
      const { name, arguments: args } = request.params;
      return await principalScope.run(
        ctx.http?.authInfo?.clientId,
        () => this.#call(mcp, registry, name, args, ctx),
      ) as never;
    });
    this.#taskAugmentedCalls(mcp, registry);
    this.#taskHandlers(mcp);
    this.#resources(mcp, scope);
    return mcp;
  }

  /**
   * A task-augmented `tools/call` (2025-11-25) answers with a
   * `CreateTaskResult`, which the SDK's `tools/call` result validation (built
   * for `CallToolResult`) refuses, and the v2 SDK no longer creates tasks
   * itself. So the stored `tools/call` handler is put behind a dispatcher that
   * sends exactly those requests to {@link #startTask}; every other call goes
   * through the SDK's wrapped handler unchanged. This reaches the SDK's
   * handler map (`_requestHandlers`, read through its protected accessor's
   * field): tests/e2e/tasks_test.ts fails if that changes.
   */
  #taskAugmentedCalls(mcp: McpServer, registry: ToolRegistry): void {
    type Handler = (request: { params?: Record<string, unknown> }, ctx: ServerContext) => unknown;
    const map = (mcp.server as unknown as { _requestHandlers?: Map<string, Handler> })
      ._requestHandlers;
    const sdkCall = map?.get("tools/call");
    if (!map || !sdkCall) {
      throw new Error("SDK changed: no tools/call handler map; MCP-native tasks need a new hook");
    }
    map.set("tools/call", async (request, ctx) => {
      const p = request.params ?? {};
      const task = p.task as { ttl?: number } | undefined;
      const name = typeof p.name === "string" ? p.name : "";
      const tool = registry.get(name);
      if (
        task && typeof task === "object" && !this.#modern(mcp) &&
        !(tool && this.#needsApproval(tool.tier))
      ) {
        return await principalScope.run(
          ctx.http?.authInfo?.clientId,
          () => this.#startTask(mcp, registry, name, p.arguments, task, ctx),
        );
      }
      return await sdkCall(request, ctx);
    });
  }

  #modern(mcp: McpServer): boolean {
    return (mcp.server.getNegotiatedProtocolVersion() ?? "") >= "2026-07-28";
  }

  #needsApproval(tier: string): boolean {
    return this.#app.settings.SSH_APPROVAL_TIERS.includes(tier as never);
  }

  #progress(ctx: ServerContext): ((message: string) => Promise<void>) | undefined {
    const token = ctx.mcpReq._meta?.progressToken;
    if (token === undefined) return undefined;
    let n = 0;
    return async (message: string) => {
      await ctx.mcpReq.notify({
        method: "notifications/progress",
        params: { progressToken: token, progress: ++n, message },
      });
    };
  }

  #outputSink(mcp: McpServer, caller: string, links: OutputLink[]) {
    const v = mcp.server.getNegotiatedProtocolVersion();
    return protocolHasResourceLinks(v) ? { outputs: this.outputs.sink(caller, links) } : {};
  }

  async #audit(fields: Record<string, unknown>): Promise<void> {
    await this.#app.audit.write({
      type: "human_decision",
      ts: Date.now() / 1000,
      ...principalField(),
      ...fields,
    });
  }

  /** One interactive `tools/call`: answers to earlier questions, the pipeline, new questions. */
  async #call(
    mcp: McpServer,
    registry: ToolRegistry,
    name: string,
    args: unknown,
    ctx: ServerContext,
  ): Promise<unknown> {
    const app = this.#app;
    const caller = callerKey(ctx);
    // the call's digest (stable JSON + SHA-256 of the arguments) binds answers and grants to
    // this exact call; computed only when a question, an answer or a grant is involved
    let digestMemo: string | undefined;
    const callId = () => (digestMemo ??= callDigest(name, args ?? {}));
    const inter = this.interactions;
    let approvedNow = false;
    const state = ctx.mcpReq.requestState<QuestionState>();
    if (state !== undefined) {
      if (
        typeof state !== "object" || state === null || !(await inter.consumeAsync(state, callId()))
      ) {
        return refusal(
          "ValueError",
          "The answer sent with this call belongs to another call or was already used, so it " +
            "was ignored and nothing ran. Call the tool again to be asked again.",
        );
      }
      if (state.kind === "approval") {
        const answer = readAnswer(ctx.mcpReq.inputResponses, "approve");
        await this.#audit({ kind: "approval", tool: name, decision: answer, call: callId() });
        if (answer !== "accept") {
          return refusal(
            "ApprovalRequired",
            `${name} needs a human's approval (SSH_APPROVAL_TIERS) and the user ${
              answer === "decline" ? "declined it" : "did not answer (cancelled or timed out)"
            }, so nothing ran.`,
          );
        }
        approvedNow = true;
        await inter.grantAsync(caller, callId());
      } else {
        const offer = state.offer;
        const answer = readAnswer(ctx.mcpReq.inputResponses, "yes");
        await this.#audit({
          kind: "host_key",
          tool: name,
          alias: offer.alias,
          fingerprint: offer.fingerprint,
          decision: answer,
        });
        if (answer !== "accept") {
          return refusal(
            "UnknownHost",
            `The host key of ${offer.alias} (${offer.fingerprint}) was not pinned: the user ${
              answer === "decline" ? "declined" : "did not answer (cancelled or timed out)"
            }. Nothing was pinned and nothing ran.`,
          );
        }
        try {
          const pinned = await app.knownHosts.pin(offer.lookupKey, keyFromBase64(offer.key));
          app.logger.warn("host key pinned after a human's confirmation", {
            host: offer.alias,
            fingerprint: pinned.fingerprint,
          });
        } catch (e) {
          if (!isToolError(e)) throw e;
          return refusal(e.code, e.message);
        }
        approvedNow = state.approved === true;
      }
    }
    const elicit = canElicit(ctx, mcp.server.getClientCapabilities());
    let pending: ApprovalRequest | undefined;
    // a grant matters only to the approval stage, which runs for the tiers of
    // SSH_APPROVAL_TIERS (with none listed it never consults the gate)
    const granted = approvedNow ||
      (app.settings.SSH_APPROVAL_TIERS.length > 0 && await inter.grantedAsync(caller, callId()));
    const gate: ApprovalGate | undefined = elicit || granted
      ? (req) => {
        if (granted) return true;
        pending = req;
        return false;
      }
      : undefined;
    const links: OutputLink[] = [];
    const offers = new OfferCollector();
    const outcome = await firstContact.run(offers, () =>
      registry.call(name, args, {
        signal: ctx.mcpReq.signal,
        sessionKey: caller,
        progress: this.#progress(ctx),
        trace: traceOf(ctx),
        approval: gate,
        ...this.#outputSink(mcp, caller, links),
      }));
    if (!outcome) {
      throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Tool ${name} not found`);
    }
    const code = outcome.error?.error;
    if (pending && code === "ApprovalRequired") {
      await this.#audit({ kind: "approval", tool: name, decision: "asked", call: callId() });
      return await inter.askApproval(pending, args, callId(), ctx);
    }
    const offer = offers.offers[0];
    if (
      offer && elicit && app.settings.SSH_CONFIRM_NEW_HOST_KEYS &&
      (code === "UnknownHost" || registry.get(name)?.tier === "read")
    ) {
      const o: HostKeyOffer = {
        alias: offer.alias,
        lookupKey: offer.lookupKey,
        address: offer.address,
        port: offer.port,
        keyType: offer.keyType,
        key: keyToBase64(offer.keyBlob),
        fingerprint: offer.fingerprint,
      };
      await this.#audit({
        kind: "host_key",
        tool: name,
        alias: o.alias,
        fingerprint: o.fingerprint,
        decision: "asked",
      });
      return await inter.askHostKey(o, callId(), app.knownHosts.pinPath, ctx, approvedNow);
    }
    await this.outputs.flush();
    return toCallResult(outcome, links);
  }

  /** A task-augmented `tools/call` (2025-11-25): the task at once, the call in the background. */
  async #startTask(
    mcp: McpServer,
    registry: ToolRegistry,
    name: string,
    args: unknown,
    params: { ttl?: number },
    ctx: ServerContext,
  ): Promise<unknown> {
    if (!registry.has(name)) {
      throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Tool ${name} not found`);
    }
    if (registry.get(name)?.taskSupport !== "optional") {
      throw new ProtocolError(
        ProtocolErrorCode.MethodNotFound,
        `Tool ${name} does not support task-augmented calls (execution.taskSupport is not set)`,
      );
    }
    const caller = callerKey(ctx);
    let task;
    try {
      task = await this.tasks.createTask({ ttl: params.ttl ?? null }, caller);
    } catch (e) {
      throw new ProtocolError(ProtocolErrorCode.InvalidRequest, (e as Error).message);
    }
    const abort = new AbortController();
    this.tasks.onCancel(task.taskId, () => abort.abort());
    const links: OutputLink[] = [];
    const progress = this.#progress(ctx);
    const running = (async () => {
      const outcome = await registry.call(name, args, {
        signal: abort.signal,
        sessionKey: caller,
        progress,
        trace: traceOf(ctx),
        ...this.#outputSink(mcp, caller, links),
      });
      if (!outcome || abort.signal.aborted) return;
      await this.outputs.flush();
      await this.tasks.storeTaskResult(
        task.taskId,
        outcome.isError ? "failed" : "completed",
        toCallResult(outcome, links),
        caller,
      );
    })().catch((e) => {
      this.#app.logger.warn("MCP task did not store its result", {
        task_id: task.taskId,
        error: (e as Error).message,
      });
    }).finally(() => this.#running.delete(running));
    this.#running.add(running);
    return { task };
  }

  /** `tasks/*` of the 2025-11-25 revision, from the caller-bound store. */
  #taskHandlers(mcp: McpServer): void {
    const srv = mcp.server;
    const store = this.tasks;
    const notFound = (id: string) =>
      new ProtocolError(ProtocolErrorCode.InvalidParams, `Task not found: ${id}`);
    const byId = { params: z.looseObject({ taskId: z.string() }) };
    srv.setRequestHandler("tasks/get", byId, async (params, ctx) => {
      const t = await store.getTask(params.taskId, callerKey(ctx));
      if (!t) throw notFound(params.taskId);
      return t;
    });
    srv.setRequestHandler("tasks/result", byId, async (params, ctx) => {
      const id = params.taskId;
      const caller = callerKey(ctx);
      let t;
      try {
        t = await store.waitForTerminal(id, caller, ctx.mcpReq.signal);
      } catch {
        throw new ProtocolError(ProtocolErrorCode.InvalidRequest, "Request cancelled");
      }
      if (!t) throw notFound(id);
      let result: CallToolResult;
      try {
        result = await store.getTaskResult(id, caller);
      } catch (e) {
        throw new ProtocolError(ProtocolErrorCode.InvalidParams, (e as Error).message);
      }
      return { ...result, _meta: { ...result._meta, [RELATED_TASK]: { taskId: id } } };
    });
    const list = { params: z.looseObject({ cursor: z.string().optional() }).optional() };
    srv.setRequestHandler("tasks/list", list, async (params, ctx) => {
      try {
        const r = await store.listTasks(params?.cursor, callerKey(ctx));
        return { ...r, _meta: {} };
      } catch (e) {
        throw new ProtocolError(
          ProtocolErrorCode.InvalidParams,
          `Failed to list tasks: ${(e as Error).message}`,
        );
      }
    });
    srv.setRequestHandler("tasks/cancel", byId, async (params, ctx) => {
      const id = params.taskId;
      const caller = callerKey(ctx);
      const t = await store.getTask(id, caller);
      if (!t) throw notFound(id);
      if (t.status === "completed" || t.status === "failed" || t.status === "cancelled") {
        throw new ProtocolError(
          ProtocolErrorCode.InvalidParams,
          `Cannot cancel task in terminal status: ${t.status}`,
        );
      }
      await store.updateTaskStatus(id, "cancelled", "Client cancelled task execution.", caller);
      const after = await store.getTask(id, caller);
      if (!after) throw notFound(id);
      return { _meta: {}, ...after };
    });
  }

  /** Resources: server info, large outputs, and the skills (also through the Skills extension). */
  #resources(mcp: McpServer, scope: Scope): void {
    const app = this.#app;
    mcp.registerResource("server-info", SERVER_INFO_URI, {
      description: "ssh-mcp version, visible tool count, enabled tiers and groups",
      mimeType: "application/json",
    }, (uri) => ({
      contents: [{
        uri: uri.toString(),
        mimeType: "application/json",
        text: JSON.stringify(scope.info(), null, 2),
      }],
    }));
    // the SDK's UriTemplate cannot match form-style query expansions ({?offset,length}):
    // list the documented template, match with a reserved expansion of the same prefix
    const output = new ResourceTemplate(OUTPUT_URI_TEMPLATE, { list: undefined });
    const matcher = new UriTemplate(`${OUTPUT_URI_PREFIX}{+rest}`);
    Object.defineProperty(output.uriTemplate, "match", {
      value: (uri: string) => OutputStore.owns(uri) ? matcher.match(uri) : null,
    });
    mcp.registerResource(
      "tool-output",
      output,
      {
        description:
          "Full output behind a resource_link of a tool result (kept 15 min; page with offset/length)",
      },
      async (url, _vars, ctx) => {
        const uri = url.toString();
        app.logger.debug("resource read", { uri: logUri(uri) });
        try {
          const { text, blob, ...page } = await this.outputs.fetch(callerKey(ctx), uri);
          return {
            contents: [text !== undefined ? { ...page, text } : { ...page, blob: blob ?? "" }],
          };
        } catch (e) {
          if (e instanceof OutputNotFound || e instanceof RangeError) {
            app.logger.debug("resource read refused", { uri: logUri(uri), error: e.message });
            throw new ProtocolError(ProtocolErrorCode.InvalidParams, e.message);
          }
          throw e;
        }
      },
    );
    skillsExtension(scope.skills, { logger: app.logger }).attach(mcp);
    // the per-skill templates stay listed (`skill://<name>/{path*}`); reads of
    // skill:// URIs are answered by the extension's template, registered first
    for (const t of scope.skills.listTemplates()) {
      mcp.registerResource(
        t.name,
        new ResourceTemplate(t.uriTemplate, { list: undefined }),
        { description: t.description },
        async (url) => {
          const uri = url.toString();
          await scope.skills.ready();
          const r = scope.skills.read(uri);
          if (!r) {
            throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Resource ${uri} not found`);
          }
          return {
            contents: [
              r.text !== undefined
                ? { uri, mimeType: r.mimeType, text: r.text }
                : { uri, mimeType: r.mimeType, blob: r.blob ?? "" },
            ],
          };
        },
      );
    }
  }

  /**
   * Declared logging: WARNING/ERROR lines to a client that asked with
   * `logging/setLevel`, besides stderr.
   */
  #logging(mcp: McpServer): void {
    const srv = mcp.server;
    let threshold: number | null = null;
    srv.setRequestHandler("logging/setLevel", (request) => {
      const i = MCP_LEVELS.indexOf(request.params.level);
      if (i < 0) {
        throw new ProtocolError(
          ProtocolErrorCode.InvalidParams,
          `unknown log level ${String(request.params.level).slice(0, 40)}`,
        );
      }
      threshold = i;
      return {};
    });
    const remove = this.#app.logger.addTap((level: LogLevel, msg, fields) => {
      if (threshold === null || !mcp.isConnected()) return;
      const l: LoggingLevel = level === "WARNING"
        ? "warning"
        : level === "ERROR"
        ? "error"
        : "critical";
      if (MCP_LEVELS.indexOf(l) < threshold) return;
      srv.notification({
        method: "notifications/message",
        params: { level: l, logger: "ssh-mcp", data: logData(msg, fields) },
      }).catch(() => {});
    });
    const prev = srv.onclose;
    srv.onclose = () => {
      remove();
      prev?.();
    };
  }
}

/** Builds the service and one server (tests and single-connection callers). */
export function buildMcpServer(
  app: App,
  registry: ToolRegistry,
  opts: McpServerOptions = {},
): McpServer {
  return new McpService(app, registry, opts).create();
}
