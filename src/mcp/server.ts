/**
 * The MCP layer: the only module that touches the SDK's server classes.
 *
 * We use the low-level `Server` (not `McpServer`) so that the registry owns the
 * whole call pipeline: argument validation failures become audited
 * `ValueError` results, and a hidden tool is indistinguishable from a name that
 * never existed (TIER-5).
 *
 * Errors: `isError: true` with text `"<Class>: <message>"` and the machine
 * readable form in `_meta["ssh-mcp/error"]` (`{error, message, ...attributes}`).
 * They are deliberately NOT in `structuredContent`: the SDK client validates
 * any `structuredContent` against the tool's output schema, even on errors.
 *
 * Progress and cancellation: a request carrying `_meta.progressToken` gets
 * `notifications/progress` from `ctx.progress()`; `notifications/cancelled`
 * aborts the call's signal, which kills the remote process group.
 *
 * MCP-native tasks (TOOLS.md §15): the low-level `Server` gets a
 * {@link McpTaskStore}, so the SDK answers `tasks/get`, `tasks/result`,
 * `tasks/list` and `tasks/cancel`; tools declaring `taskSupport` are listed with
 * `execution.taskSupport: "optional"`. A `tools/call` with a `task` parameter
 * on such a tool creates a task, returns the `CreateTaskResult` at once and
 * runs the call through the same registry pipeline in the background; a
 * `tasks/cancel` aborts it (remote kill). This mirrors what the SDK's
 * `McpServer.experimental.tasks.registerToolTask` does, without giving up the
 * registry's pipeline. Without a `task` parameter such a tool runs as a plain
 * call (no polling loop needed).
 *
 * @module
 */

import {
  CallToolRequestSchema,
  type CallToolResult,
  ErrorCode,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListToolsRequestSchema,
  McpError,
  ReadResourceRequestSchema,
  Server,
} from "./sdk.ts";
import type { App } from "../app.ts";
import type { CallOutcome, ToolRegistry } from "../registry/pipeline.ts";
import { McpTaskStore } from "../tasks/mcp_store.ts";

/** URI of the server-info resource (SKILLS.md §3.2). */
export const SERVER_INFO_URI = "mcp://ssh-mcp/server-info";

/**
 * The `instructions` text: it names only tools that are visible in this
 * configuration (TIER-14: hidden means absent, also in free text).
 */
export function instructionsFor(visible: ReadonlySet<string>): string {
  const has = (t: string) => visible.has(t);
  const parts = ["ssh-mcp gives you audited SSH access to the hosts an operator configured."];
  const start = ["ssh_host_list", "ssh_describe_host"].filter(has);
  if (start.length) {
    parts.push(
      `Start with ${start.join(" (or ")}${
        start.length > 1 ? ")" : ""
      } to see hosts and what policy allows there;`,
    );
  }
  if (has("ssh_host_ping")) {
    parts.push("ssh_host_ping checks reachability and shows operator notes you must respect.");
  }
  parts.push(
    "Each tool has a usage guide: resource skill://ssh-<tool-name-with-dashes>/SKILL.md" +
      (has("ssh_skill_read") ? " (or the ssh_skill_read tool)." : "."),
    "Host keys are pinned; never try to bypass a host-key error.",
  );
  return parts.join(" ");
}

/** Poll interval suggested for MCP-native tasks (TOOLS.md §8: 3 s). */
export const TASK_POLL_INTERVAL_MS = 3000;

function toCallResult(outcome: CallOutcome): CallToolResult {
  const result: CallToolResult = { content: [{ type: "text", text: outcome.text }] };
  if (outcome.isError) {
    result.isError = true;
    if (outcome.error) result._meta = { "ssh-mcp/error": outcome.error };
  } else if (outcome.structured) {
    result.structuredContent = outcome.structured;
  }
  return result;
}

/** Builds the MCP server for an app and its registry. */
export function buildMcpServer(app: App, registry: ToolRegistry): Server {
  const taskStore = new McpTaskStore({
    maxTtlMs: app.settings.SSH_TASK_KEEPALIVE_S * 1000,
    pollIntervalMs: TASK_POLL_INTERVAL_MS,
    maxRunning: app.settings.SSH_TASK_MAX_CONCURRENT,
  });
  // TASK-6: cancel running MCP tasks and wait (bounded) for their remote kills
  // before the connections close
  const runningTasks = new Set<Promise<void>>();
  app.onShutdown(async () => {
    taskStore.close();
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.allSettled([...runningTasks]),
      new Promise<void>((r) => (timer = setTimeout(r, 10_000))),
    ]);
    clearTimeout(timer);
  });
  const server = new Server(
    { name: "ssh-mcp", version: app.version },
    {
      capabilities: {
        tools: {},
        resources: {},
        tasks: { list: {}, cancel: {}, requests: { tools: { call: {} } } },
      },
      instructions: instructionsFor(new Set(registry.tools.map((t) => t.name))),
      taskStore,
    },
  );

  // transport and protocol errors (a bad line, a failed write) are logged, never fatal
  server.onerror = (e: Error) => {
    app.logger.debug("MCP protocol error", { error: e.message.slice(0, 500) });
  };

  server.setRequestHandler(ListToolsRequestSchema, () => ({
    tools: registry.list(),
  }));

  server.setRequestHandler(
    CallToolRequestSchema,
    async (request, extra) => {
      const { name, arguments: args } = request.params;
      const token = request.params._meta?.progressToken;
      let progressCount = 0;
      const progress = token === undefined ? undefined : async (message: string) => {
        await extra.sendNotification({
          method: "notifications/progress",
          params: { progressToken: token, progress: ++progressCount, message },
        });
      };
      const sessionKey = extra.sessionId ?? "stdio";
      if (request.params.task) {
        if (!registry.has(name)) {
          throw new McpError(ErrorCode.InvalidParams, `Tool ${name} not found`);
        }
        if (registry.get(name)?.taskSupport !== "optional" || !extra.taskStore) {
          throw new McpError(
            ErrorCode.MethodNotFound,
            `Tool ${name} does not support task-augmented calls (execution.taskSupport is not set)`,
          );
        }
        let task;
        try {
          task = await extra.taskStore.createTask({
            ttl: request.params.task.ttl ?? null,
            pollInterval: TASK_POLL_INTERVAL_MS,
          });
        } catch (e) {
          throw new McpError(ErrorCode.InvalidRequest, (e as Error).message);
        }
        const abort = new AbortController();
        taskStore.onCancel(task.taskId, () => abort.abort());
        const store = extra.taskStore;
        const running = (async () => {
          const outcome = await registry.call(name, args, {
            signal: abort.signal,
            sessionKey,
            progress,
          });
          if (!outcome || abort.signal.aborted) return;
          await store.storeTaskResult(
            task.taskId,
            outcome.isError ? "failed" : "completed",
            toCallResult(outcome),
          );
        })().catch((e) => {
          app.logger.warn("MCP task did not store its result", {
            task_id: task.taskId,
            error: (e as Error).message,
          });
        }).finally(() => runningTasks.delete(running));
        runningTasks.add(running);
        return { task };
      }
      const outcome = await registry.call(name, args, {
        signal: extra.signal,
        sessionKey,
        progress,
      });
      if (!outcome) throw new McpError(ErrorCode.InvalidParams, `Tool ${name} not found`);
      return toCallResult(outcome);
    },
  );

  server.setRequestHandler(ListResourcesRequestSchema, () => ({
    resources: [
      {
        uri: SERVER_INFO_URI,
        name: "server-info",
        description: "ssh-mcp version, visible tool count, enabled tiers and groups",
        mimeType: "application/json",
      },
      ...app.skills.listResources(),
    ],
  }));

  server.setRequestHandler(ListResourceTemplatesRequestSchema, () => ({
    resourceTemplates: app.skills.listTemplates(),
  }));

  server.setRequestHandler(ReadResourceRequestSchema, (request) => {
    const uri = request.params.uri;
    // AUDIT-13: client text in a log line is bounded
    app.logger.debug("resource read", { uri: uri.length > 512 ? `${uri.slice(0, 512)}...` : uri });
    if (uri === SERVER_INFO_URI) {
      return {
        contents: [{
          uri,
          mimeType: "application/json",
          text: JSON.stringify(app.serverInfo(), null, 2),
        }],
      };
    }
    const r = app.skills.read(uri);
    if (!r) throw new McpError(ErrorCode.InvalidParams, `Resource ${uri} not found`);
    return {
      contents: [
        r.text !== undefined
          ? { uri, mimeType: r.mimeType, text: r.text }
          : { uri, mimeType: r.mimeType, blob: r.blob ?? "" },
      ],
    };
  });

  return server;
}
