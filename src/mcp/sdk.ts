/**
 * Typed re-exports of the MCP SDK for Deno.
 *
 * The SDK's wildcard export (`./*`) maps `types.js` and `shared/*.js` to
 * non-existent `*.js.d.ts` files, so under Deno those modules are silently
 * `any` (TESTBED.md). Subpath exports with a `types` condition (`/server`,
 * `/client`) are typed; for the rest we point `@ts-types` at the declaration
 * files. This is the only module that does so.
 *
 * The SDK's `StdioServerTransport` is not used: it closes the whole
 * connection when one line exceeds its buffer (issue 9 §5). `stdio.ts` is
 * the server's own line transport.
 *
 * @module
 */

export { Server } from "@modelcontextprotocol/sdk/server";
// @ts-types="../../node_modules/@modelcontextprotocol/sdk/dist/esm/shared/transport.d.ts"
export type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
// @ts-types="../../node_modules/@modelcontextprotocol/sdk/dist/esm/types.d.ts"
export {
  CallToolRequestSchema,
  type CallToolResult,
  ErrorCode,
  InitializeRequestSchema,
  type InitializeResult,
  type JSONRPCMessage,
  JSONRPCMessageSchema,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListToolsRequestSchema,
  McpError,
  ReadResourceRequestSchema,
} from "@modelcontextprotocol/sdk/types.js";
