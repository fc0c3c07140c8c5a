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
  InitializeRequestSchema,
  type InitializeResult,
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
import type { Settings } from "../config/types.ts";
import { enabledTiers } from "../registry/visibility.ts";
import {
  OUTPUT_URI_TEMPLATE,
  type OutputLink,
  OutputNotFound,
  OutputStore,
  type OutputStoreOptions,
  protocolHasResourceLinks,
} from "./outputs.ts";

/** URI of the server-info resource (SKILLS.md §3.2). */
export const SERVER_INFO_URI = "mcp://ssh-mcp/server-info";

/** The settings {@link instructionsFor} reads. */
export type InstructionSettings = Pick<
  Settings,
  | "ALLOW_LOW_ACCESS_TOOLS"
  | "ALLOW_DANGEROUS_TOOLS"
  | "ALLOW_SUDO"
  | "SSH_ENABLE_BM25"
  | "SSH_ENABLE_RUNBOOKS"
>;

/** Options of {@link instructionsFor}. */
export interface InstructionOptions {
  settings?: InstructionSettings;
  /** groups of the visible tools (named when not in search mode) */
  groups?: readonly string[];
}

/** Upper bound of the `instructions` text (issue 12 item 4). */
export const INSTRUCTIONS_MAX_CHARS = 1200;

/**
 * The `instructions` text: which tiers are on, how to find tools, where the
 * skills and runbooks are, and what to do about the refusals met most often.
 * It names only tools that are visible in this configuration (TIER-14:
 * hidden means absent, also in free text); `search_tools`/`call_tool` are
 * named only in search mode.
 */
export function instructionsFor(
  visible: ReadonlySet<string>,
  opts: InstructionOptions = {},
): string {
  const has = (t: string) => visible.has(t);
  const s = opts.settings;
  const parts = ["ssh-mcp gives you audited SSH access to the hosts an operator configured."];
  if (s) parts.push(`Tool tiers on: ${enabledTiers(s as Settings).join(", ")}.`);
  const start = ["ssh_host_list", "ssh_describe_host"].filter(has);
  if (start.length) {
    parts.push(
      `Start with ${start.join(" (or ")}${
        start.length > 1 ? ")" : ""
      } to see hosts and what policy allows there.`,
    );
  }
  if (s?.SSH_ENABLE_BM25) {
    parts.push(
      "tools/list shows only a few tools: find the others with search_tools(query) (it returns " +
        "their schemas) and run them with call_tool(name, arguments).",
    );
  } else if (opts.groups?.length) {
    parts.push(`Tool groups on: ${[...new Set(opts.groups)].sort().join(", ")}.`);
  }
  if (has("ssh_host_ping")) {
    parts.push("ssh_host_ping checks reachability and shows operator notes you must respect.");
  }
  parts.push(
    "Each tool has a usage guide: resource skill://ssh-<tool-name-with-dashes>/SKILL.md" +
      (has("ssh_skill_read") ? " (or ssh_skill_read)." : "."),
    "Host keys are pinned; never try to bypass a host-key error.",
  );
  if (s?.SSH_ENABLE_RUNBOOKS !== false) {
    parts.push("Runbooks (step-by-step workflows) are skill:// resources in resources/list.");
  }
  // the refusals met most often, and what to do instead
  const fixes: string[] = [];
  if (has("ssh_describe_host")) {
    fixes.push("PathNotAllowed: stay inside the allowed paths that ssh_describe_host shows");
  } else fixes.push("PathNotAllowed: stay inside the host's path allowlist");
  fixes.push(
    "CommandNotAllowed or CommandIsCheatsheetMatch: use the dedicated tool the error names",
    "UnknownHost/HostKeyMismatch: only the operator can pin the host key",
    "a tool you expect is missing: its tier or group is off, only the operator can enable it",
  );
  parts.push(`If a call is refused: ${fixes.join("; ")}.`);
  return parts.join(" ");
}

/** Poll interval suggested for MCP-native tasks (TOOLS.md §8: 3 s). */
export const TASK_POLL_INTERVAL_MS = 3000;

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

/** Options of {@link buildMcpServer}. */
export interface McpServerOptions {
  /** bounds of the large-output store (defaults: the OUTPUT_* constants) */
  outputs?: OutputStoreOptions;
}

/** Bounded log text of a resource URI; an output id (a capability) is shortened. */
function logUri(uri: string): string {
  if (OutputStore.owns(uri)) {
    return uri.replace(/^(ssh-mcp:\/\/output\/[0-9a-f]{0,8})[^?]*/, "$1...");
  }
  // AUDIT-13: client text in a log line is bounded
  return uri.length > 512 ? `${uri.slice(0, 512)}...` : uri;
}

/** Builds the MCP server for an app and its registry. */
export function buildMcpServer(
  app: App,
  registry: ToolRegistry,
  opts: McpServerOptions = {},
): Server {
  // issue 12 item 3: full outputs behind resource links, per server instance
  const outputs = new OutputStore(opts.outputs);
  app.onShutdown(() => outputs.clear());
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
      instructions: instructionsFor(new Set(registry.tools.map((t) => t.name)), {
        settings: app.settings,
        groups: registry.tools.map((t) => t.group),
      }),
      taskStore,
    },
  );

  // The capability signal for resource links: the protocol revision the client
  // asked for in `initialize` (resource_link content exists since 2025-06-18).
  // The SDK keeps only the client's info and capabilities, so the request is
  // observed here and handed on to the SDK's own initialize handling.
  let linksOk = false;
  const sdkInitialize = (server as unknown as {
    _oninitialize?: (r: unknown) => Promise<InitializeResult>;
  })._oninitialize;
  if (typeof sdkInitialize === "function") {
    server.setRequestHandler(InitializeRequestSchema, async (request) => {
      const result = await sdkInitialize.call(server, request);
      linksOk = protocolHasResourceLinks(result.protocolVersion);
      return result;
    });
  }
  const outputSink = (sessionKey: string, links: OutputLink[]) =>
    linksOk ? { outputs: outputs.sink(sessionKey, links) } : {};

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
        const links: OutputLink[] = [];
        const running = (async () => {
          const outcome = await registry.call(name, args, {
            signal: abort.signal,
            sessionKey,
            progress,
            ...outputSink(sessionKey, links),
          });
          if (!outcome || abort.signal.aborted) return;
          await store.storeTaskResult(
            task.taskId,
            outcome.isError ? "failed" : "completed",
            toCallResult(outcome, links),
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
      const links: OutputLink[] = [];
      const outcome = await registry.call(name, args, {
        signal: extra.signal,
        sessionKey,
        progress,
        ...outputSink(sessionKey, links),
      });
      if (!outcome) throw new McpError(ErrorCode.InvalidParams, `Tool ${name} not found`);
      return toCallResult(outcome, links);
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
    resourceTemplates: [
      ...app.skills.listTemplates(),
      {
        uriTemplate: OUTPUT_URI_TEMPLATE,
        name: "tool-output",
        description:
          "Full output behind a resource_link of a tool result (kept 15 min; page with offset/length)",
      },
    ],
  }));

  server.setRequestHandler(ReadResourceRequestSchema, (request, extra) => {
    const uri = request.params.uri;
    app.logger.debug("resource read", { uri: logUri(uri) });
    if (OutputStore.owns(uri)) {
      try {
        return { contents: [outputs.read(extra.sessionId ?? "stdio", uri)] };
      } catch (e) {
        if (e instanceof OutputNotFound || e instanceof RangeError) {
          app.logger.debug("resource read refused", { uri: logUri(uri), error: e.message });
          throw new McpError(ErrorCode.InvalidParams, e.message);
        }
        throw e;
      }
    }
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
