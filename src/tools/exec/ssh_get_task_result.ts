import { z } from "zod";
import { isFinal } from "../../tasks/manager.ts";
import { defineTool } from "../define.ts";
import { EXEC_RESULT_FIELDS, execResult } from "../exec_result.ts";
import { TaskIdArg, TaskStatusEnum } from "./_tasks.ts";

const OPTIONAL_EXEC = Object.fromEntries(
  Object.entries(EXEC_RESULT_FIELDS).map(([k, v]) => [k, v.optional()]),
) as { [K in keyof typeof EXEC_RESULT_FIELDS]: z.ZodOptional<(typeof EXEC_RESULT_FIELDS)[K]> };

/** The ExecResult of a finished async task. */
export default defineTool({
  name: "ssh_get_task_result",
  group: "exec",
  tier: "dangerous",
  hints: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  description: "Result of a finished async task (exit code, stdout, stderr).",
  input: z.strictObject({ task_id: TaskIdArg }),
  output: z.strictObject({
    task_id: z.string(),
    status: TaskStatusEnum,
    error: z.string().nullable().optional().describe(
      "Error class and message when the task failed before the command ran",
    ),
    ...OPTIONAL_EXEC,
  }),
  async handler({ task_id }, ctx) {
    ctx.audit({ task_id });
    const t = await ctx.tasks.lookup(task_id, ctx.sessionKey);
    if (!t) return Promise.resolve({ task_id, status: "not_found" as const });
    if (!isFinal(t.status)) return Promise.resolve({ task_id, status: t.status });
    if (!t.raw) {
      return Promise.resolve({
        task_id,
        status: t.status,
        error: t.error ? `${t.error.code}: ${t.error.message}` : null,
      });
    }
    ctx.audit({ exit_code: t.raw.exitCode });
    return Promise.resolve({
      task_id,
      status: t.status,
      error: null,
      ...execResult(t.hostname, t.raw),
    });
  },
});
