/**
 * The MCP SDK v2 surface this server uses, re-exported from one place
 * (`@modelcontextprotocol/server` 2.4, the successor of
 * `@modelcontextprotocol/sdk`): it serves 2025-era clients (`initialize`,
 * 2025-06-18 and 2025-11-25) and 2026-07-28 clients (`server/discover`,
 * per-request envelope, multi round-trip `input_required` results) from one
 * server factory.
 *
 * The SDK's `StdioServerTransport` is not used: it closes the whole
 * connection when one line exceeds its buffer (issue 9 §5). `stdio.ts` is
 * the server's own line transport, handed to `serveStdio`.
 *
 * @module
 */

export {
  acceptedContent,
  type AuthInfo,
  type CallToolResult,
  type ClientCapabilities,
  createMcpHandler,
  type EventStore,
  inputRequired,
  type InputRequiredResult,
  isLegacyRequest,
  type JSONRPCMessage,
  localhostAllowedHostnames,
  localhostAllowedOrigins,
  type LoggingLevel,
  McpServer,
  parseJSONRPCMessage,
  ProtocolError,
  ProtocolErrorCode,
  ResourceTemplate,
  Server,
  type ServerContext,
  type Task,
  type Transport,
  UriTemplate,
  validateHostHeader,
  validateOriginHeader,
  WebStandardStreamableHTTPServerTransport,
} from "@modelcontextprotocol/server";
export { serveStdio, type StdioServerHandle } from "@modelcontextprotocol/server/stdio";
