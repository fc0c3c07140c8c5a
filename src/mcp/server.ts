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
import type { ToolRegistry } from "../tools/registry.ts";

/** URI of the server-info resource (SKILLS.md §3.2). */
export const SERVER_INFO_URI = "mcp://ssh-mcp/server-info";

const INSTRUCTIONS = [
  "ssh-mcp gives you audited SSH access to the hosts an operator configured.",
  "Start with ssh_host_list (or ssh_describe_host) to see hosts and what policy allows there;",
  "ssh_host_ping checks reachability and shows operator notes you must respect.",
  "Each tool has a usage guide: resource skill://ssh-<tool-name-with-dashes>/SKILL.md",
  "(or the ssh_skill_read tool). Host keys are pinned; never try to bypass a host-key error.",
].join(" ");

/** Builds the MCP server for an app and its registry. */
export function buildMcpServer(app: App, registry: ToolRegistry): Server {
  const server = new Server(
    { name: "ssh-mcp", version: app.version },
    { capabilities: { tools: {}, resources: {} }, instructions: INSTRUCTIONS },
  );

  server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: registry.list() }));

  server.setRequestHandler(
    CallToolRequestSchema,
    async (request, extra): Promise<CallToolResult> => {
      const { name, arguments: args } = request.params;
      const token = request.params._meta?.progressToken;
      let progressCount = 0;
      const outcome = await registry.call(name, args, {
        signal: extra.signal,
        sessionKey: extra.sessionId ?? "stdio",
        progress: token === undefined ? undefined : async (message: string) => {
          await extra.sendNotification({
            method: "notifications/progress",
            params: { progressToken: token, progress: ++progressCount, message },
          });
        },
      });
      if (!outcome) throw new McpError(ErrorCode.InvalidParams, `Tool ${name} not found`);
      const result: CallToolResult = { content: [{ type: "text", text: outcome.text }] };
      if (outcome.isError) {
        result.isError = true;
        if (outcome.error) result._meta = { "ssh-mcp/error": outcome.error };
      } else if (outcome.structured) {
        result.structuredContent = outcome.structured;
      }
      return result;
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
    app.logger.debug("resource read", { uri });
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
