import { lifecycleTool } from "./_lifecycle.ts";

/** Start a stopped container (TOOLS.md §10.2). */
export default lifecycleTool(
  "start",
  "Start a stopped container.",
);
