import { composeTool } from "./_compose_tools.ts";

/** Start the existing containers of a compose project (TOOLS.md §10.2). */
export default composeTool(
  "start",
  "Start the existing (stopped) containers of a compose project; creates nothing. check=true reports which services would start.",
);
