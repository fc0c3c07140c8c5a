/**
 * ssh-mcp entry point: `deno task start` runs the stdio MCP server.
 *
 * The process holds broad static grants (deno.json `start`, baked into the
 * compiled binary); launcher.ts computes the command's permissions from the
 * configuration and runs the program in a Worker holding only those
 * (docs/PERMISSIONS.md).
 *
 * @module
 */

import { launch } from "./src/launcher.ts";

if (import.meta.main) {
  Deno.exit(await launch(Deno.args));
}
