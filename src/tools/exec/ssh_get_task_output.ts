import { z } from "zod";
import { mergeWarnings, sanitize } from "../../policy/sanitize.ts";
import { OutputWarnings } from "../_schemas.ts";
import { defineTool } from "../define.ts";
import { TaskIdArg, TaskStatusEnum } from "./_tasks.ts";

/** The latest output lines of an async task, from its bounded ring buffer. */
export default defineTool({
  name: "ssh_get_task_output",
  group: "exec",
  tier: "dangerous",
  hints: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  description: "Latest output lines of an async task.",
  input: z.strictObject({
    task_id: TaskIdArg,
    max_lines: z.number().int().min(1).max(1000).default(50).describe(
      "Last N lines",
    ),
  }),
  output: z.strictObject({
    task_id: z.string(),
    status: TaskStatusEnum,
    output_lines: z.array(z.string()),
    total_lines_available: z.number().int(),
    dropped_lines: z.number().int(),
    output_warnings: OutputWarnings,
  }),
  async handler({ task_id, max_lines }, ctx) {
    ctx.audit({ task_id });
    const t = await ctx.tasks.lookup(task_id, ctx.sessionKey);
    if (!t) {
      return Promise.resolve({
        task_id,
        status: "not_found" as const,
        output_lines: [],
        total_lines_available: 0,
        dropped_lines: 0,
        output_warnings: [],
      });
    }
    const tail = t.ring.tail(max_lines);
    const warnings: string[][] = [];
    const lines = tail.lines.map((l) => {
      const s = sanitize(l);
      warnings.push(s.warnings);
      return s.text;
    });
    return Promise.resolve({
      task_id,
      status: t.status,
      output_lines: lines,
      total_lines_available: tail.available,
      dropped_lines: t.ring.dropped,
      output_warnings: mergeWarnings(...warnings),
    });
  },
});
