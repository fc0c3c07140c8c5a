import { composeTool } from "./_compose_tools.ts";

/** Start the existing containers of a compose project (TOOLS.md §10.2). */
export default composeTool(
  "start",
  "Start a compose project's stopped containers.",
);
