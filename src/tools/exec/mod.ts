/**
 * Group `exec` (TOOLS.md §8 and §15: fleet, plan, async tasks).
 *
 * @module
 */

import type { Tool } from "../define.ts";
import ssh_exec_run from "./ssh_exec_run.ts";
import ssh_exec_script from "./ssh_exec_script.ts";
import ssh_exec_run_streaming from "./ssh_exec_run_streaming.ts";
import ssh_broadcast from "./ssh_broadcast.ts";
import ssh_run_on_tag from "./ssh_run_on_tag.ts";
import ssh_plan from "./ssh_plan.ts";
import ssh_run_async from "./ssh_run_async.ts";
import ssh_get_task_status from "./ssh_get_task_status.ts";
import ssh_get_task_result from "./ssh_get_task_result.ts";
import ssh_get_task_output from "./ssh_get_task_output.ts";
import ssh_cancel_async_task from "./ssh_cancel_async_task.ts";
import ssh_task_list from "./ssh_task_list.ts";

/** The group's tools in catalog order. */
export const TOOLS: readonly Tool[] = [
  ssh_exec_run,
  ssh_exec_script,
  ssh_exec_run_streaming,
  ssh_broadcast,
  ssh_run_on_tag,
  ssh_plan,
  ssh_run_async,
  ssh_get_task_status,
  ssh_get_task_result,
  ssh_get_task_output,
  ssh_cancel_async_task,
  ssh_task_list,
];
