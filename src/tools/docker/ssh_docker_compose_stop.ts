import { composeTool } from "./_compose_tools.ts";

/** Stop the containers of a compose project (TOOLS.md §10.2). */
export default composeTool(
  "stop",
  "Stop the running containers of a compose project without removing them. check=true reports which services would stop.",
);
