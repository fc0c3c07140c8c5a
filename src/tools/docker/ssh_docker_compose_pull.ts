import { composeTool } from "./_compose_tools.ts";

/** Pull the images of a compose project (TOOLS.md §10.3). */
export default composeTool(
  "pull",
  "Pull the images of every service of a compose project (running containers are not changed until compose_up). check=true lists the services.",
);
