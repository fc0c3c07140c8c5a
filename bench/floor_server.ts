/**
 * The floor for cold start and idle RSS: a minimal MCP server on the same
 * runtime and SDK as ssh-mcp (`@modelcontextprotocol/server` + zod, one tool,
 * stdio). The foundation bench starts it interleaved with the real server so
 * the ratio means "ssh-mcp's own start-up cost over what any server pays".
 *
 * @module
 */

import { McpServer } from "@modelcontextprotocol/server";
import { serveStdio } from "@modelcontextprotocol/server/stdio";
import { z } from "zod";

if (import.meta.main) {
  serveStdio(() => {
    const server = new McpServer({ name: "floor", version: "1" });
    server.registerTool(
      "echo",
      { description: "echo", inputSchema: z.object({ text: z.string() }) },
      ({ text }) => ({ content: [{ type: "text", text }] }),
    );
    return server;
  });
}
