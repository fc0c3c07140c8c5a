/**
 * Typed re-exports of the MCP SDK for Deno.
 *
 * The SDK's wildcard export (`./*`) maps `server/stdio.js` to a non-existent
 * `stdio.js.d.ts`, so under Deno those modules are silently `any` (TESTBED.md).
 * Subpath exports with a `types` condition (`/server`, `/client`) are typed;
 * for the rest we point `@ts-types` at the declaration files. This is the only
 * module that does so.
 *
 * @module
 */

export { Server } from "@modelcontextprotocol/sdk/server";
// @ts-types="../../node_modules/@modelcontextprotocol/sdk/dist/esm/server/stdio.d.ts"
export { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
// @ts-types="../../node_modules/@modelcontextprotocol/sdk/dist/esm/types.d.ts"
export {
  CallToolRequestSchema,
  type CallToolResult,
  ErrorCode,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListToolsRequestSchema,
  McpError,
  ReadResourceRequestSchema,
} from "@modelcontextprotocol/sdk/types.js";
