import { lifecycleTool } from "./_lifecycle.ts";

/** Restart a container (TOOLS.md §10.2). */
export default lifecycleTool(
  "restart",
  "Restart a container.",
);
