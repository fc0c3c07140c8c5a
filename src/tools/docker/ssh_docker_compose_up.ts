import { composeTool } from "./_compose_tools.ts";

/** Create and start a compose project (TOOLS.md §10.3). */
export default composeTool(
  "up",
  "Create and start (or update) a compose project's services; privileged configs refused.",
);
