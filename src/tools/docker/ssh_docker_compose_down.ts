import { composeTool } from "./_compose_tools.ts";

/** Stop and remove a compose project (TOOLS.md §10.3). */
export default composeTool(
  "down",
  "Stop and remove the containers and default network of a compose project; volumes=true also deletes its volumes. check=true reports what would be removed.",
);
