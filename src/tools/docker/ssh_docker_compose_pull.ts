import { composeTool } from "./_compose_tools.ts";

/** Pull the images of a compose project (TOOLS.md §10.3). */
export default composeTool(
  "pull",
  "Pull the images of a compose project.",
);
