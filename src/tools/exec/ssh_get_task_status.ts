import { z } from "zod";
import { defineTool } from "../define.ts";
import { elapsedMs, TaskIdArg, TaskStatusEnum } from "./_tasks.ts";

/** Status of one of this session's async tasks. */
export default defineTool({
  name: "ssh_get_task_status",
  group: "exec",
  tier: "dangerous",
  hints: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  description: "Status of an async task of this session.",
  input: z.strictObject({ task_id: TaskIdArg }),
  output: z.strictObject({
    task_id: z.string(),
    status: TaskStatusEnum,
    elapsed_ms: z.number().int(),
    bytes_out: z.number().int(),
    bytes_err: z.number().int(),
    exit_code: z.number().int().nullable(),
  }),
  async handler({ task_id }, ctx) {
    ctx.audit({ task_id });
    const t = await ctx.tasks.lookup(task_id, ctx.sessionKey);
    if (!t) {
      return Promise.resolve({
        task_id,
        status: "not_found" as const,
        elapsed_ms: 0,
        bytes_out: 0,
        bytes_err: 0,
        exit_code: null,
      });
    }
    return Promise.resolve({
      task_id,
      status: t.status,
      elapsed_ms: elapsedMs(t),
      bytes_out: t.bytesOut,
      bytes_err: t.bytesErr,
      exit_code: t.raw && !t.raw.timedOut && !t.raw.cancelled ? t.raw.exitCode : null,
    });
  },
});
