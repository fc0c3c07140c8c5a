/**
 * Group `shell` (TOOLS.md §13): persistent shell sessions. Open and exec carry
 * the `persistent-session` tag (hidden when ALLOW_PERSISTENT_SESSIONS=false);
 * close and list stay visible.
 *
 * @module
 */

import type { Tool } from "../define.ts";
import shellOpen from "./ssh_shell_open.ts";
import shellExec from "./ssh_shell_exec.ts";
import shellList from "./ssh_shell_list.ts";
import shellClose from "./ssh_shell_close.ts";

/** The group's tools in catalog order. */
export const TOOLS: readonly Tool[] = [shellOpen, shellExec, shellList, shellClose];
