import { z } from "zod";
import { defineTool } from "../define.ts";
import { elapsedMs, TaskStatusEnum } from "./_tasks.ts";

/** This session's async tasks (TOOLS.md §15 optional). */
export default defineTool({
  name: "ssh_task_list",
  group: "exec",
  tier: "dangerous",
  hints: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  description: "List this session's async tasks.",
  input: z.strictObject({}),
  output: z.strictObject({
    tasks: z.array(z.strictObject({
      task_id: z.string(),
      status: TaskStatusEnum,
      alias: z.string(),
      host: z.string(),
      command_hash: z.string(),
      elapsed_ms: z.number().int(),
      exit_code: z.number().int().nullable(),
    })),
    count: z.number().int(),
    running: z.number().int(),
  }),
  async handler(_args, ctx) {
    const tasks = (await ctx.tasks.listAll(ctx.sessionKey)).map((t) => ({
      task_id: t.id,
      status: t.status,
      alias: t.alias,
      host: t.hostname,
      command_hash: t.commandHash,
      elapsed_ms: elapsedMs(t),
      exit_code: t.raw && !t.raw.timedOut && !t.raw.cancelled ? t.raw.exitCode : null,
    }));
    return Promise.resolve({
      tasks,
      count: tasks.length,
      running: tasks.filter((t) => t.status === "pending" || t.status === "running").length,
    });
  },
});
