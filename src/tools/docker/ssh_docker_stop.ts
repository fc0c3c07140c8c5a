import { lifecycleTool } from "./_lifecycle.ts";

/** Stop a running container (TOOLS.md §10.2). */
export default lifecycleTool(
  "stop",
  "Stop a running container (SIGTERM, then SIGKILL after the engine's grace period). check=true reports its state now and after without changing it.",
);
