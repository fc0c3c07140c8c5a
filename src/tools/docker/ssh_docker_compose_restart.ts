import { composeTool } from "./_compose_tools.ts";

/** Restart the containers of a compose project (TOOLS.md §10.2). */
export default composeTool(
  "restart",
  "Restart the containers of a compose project (configuration changes are NOT applied; use compose_up). check=true reports which services would restart.",
);
