import { composeTool } from "./_compose_tools.ts";

/** Create and start a compose project (TOOLS.md §10.3). */
export default composeTool(
  "up",
  "Create and start (or update) the services of a compose project, detached by default. The rendered configuration is refused if it asks for privileges unless ALLOW_DOCKER_PRIVILEGED. check=true reports what would be created.",
);
