import { composeTool } from "./_compose_tools.ts";

/** Restart the containers of a compose project (TOOLS.md §10.2). */
export default composeTool(
  "restart",
  "Restart a compose project's containers (config changes not applied).",
);
