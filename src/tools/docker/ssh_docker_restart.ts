import { lifecycleTool } from "./_lifecycle.ts";

/** Restart a container (TOOLS.md §10.2). */
export default lifecycleTool(
  "restart",
  "Restart a container (stop, then start). check=true reports its state now and after without changing it.",
);
