import { composeTool } from "./_compose_tools.ts";

/** Stop the containers of a compose project (TOOLS.md §10.2). */
export default composeTool(
  "stop",
  "Stop a compose project's containers.",
);
