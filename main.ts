/**
 * ssh-mcp entry point: `deno task start` runs the stdio MCP server.
 *
 * @module
 */

import { main } from "./src/cli.ts";

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
