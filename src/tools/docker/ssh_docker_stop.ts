import { lifecycleTool } from "./_lifecycle.ts";

/** Stop a running container (TOOLS.md §10.2). */
export default lifecycleTool(
  "stop",
  "Stop a running container.",
);
