import { z } from "zod";
import { defineTool } from "../define.ts";
import { TaskIdArg, TaskStatusEnum } from "./_tasks.ts";

/** Cancels a running async task with the process-group kill (SECURITY.md TASK-5). */
export default defineTool({
  name: "ssh_cancel_async_task",
  group: "exec",
  tier: "dangerous",
  hints: { idempotentHint: true },
  description: "Cancel a running async task (TERM, then KILL).",
  input: z.strictObject({ task_id: TaskIdArg }),
  output: z.strictObject({
    task_id: z.string(),
    cancelled: z.boolean(),
    status: TaskStatusEnum,
  }),
  async handler({ task_id }, ctx) {
    ctx.audit({ task_id });
    const tasks = ctx.tasks;
    const t = await tasks.lookup(task_id, ctx.sessionKey);
    if (!t) return { task_id, cancelled: false, status: "not_found" as const };
    const cancelled = await tasks.cancel(t);
    return { task_id, cancelled, status: t.status };
  },
});
