import { composeTool } from "./_compose_tools.ts";

/** Stop and remove a compose project (TOOLS.md §10.3). */
export default composeTool(
  "down",
  "Stop and remove a compose project's containers and network.",
);
