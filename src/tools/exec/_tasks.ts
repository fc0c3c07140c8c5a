/**
 * Shared pieces of the async task tools (TOOLS.md §15, SECURITY.md §TASK).
 *
 * @module
 */

import { z } from "zod";
import type { TaskRecord } from "../../tasks/manager.ts";

/** Poll interval suggested to clients. */
export const POLL_INTERVAL_S = 3;

/** `task_id` input (TOOLS.md §15 input limits: <= 200 chars). */
export const TaskIdArg = z.string().min(1).max(200).describe(
  "Id from ssh_run_async",
);

/** Task states as reported (`not_found`: unknown, another session's, or expired). */
export const TaskStatusEnum = z.enum([
  "pending",
  "running",
  "completed",
  "failed",
  "cancelled",
  "timeout",
  "not_found",
]);

/** Milliseconds since the task was created (frozen once finished). */
export function elapsedMs(t: TaskRecord): number {
  return (t.finishedAt ?? Date.now()) - t.createdAt;
}
