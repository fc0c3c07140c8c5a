/**
 * Group `session` (TOOLS.md §5).
 *
 * @module
 */

import type { Tool } from "../define.ts";
import ssh_session_list from "./ssh_session_list.ts";

/** The group's tools. */
export const TOOLS: readonly Tool[] = [ssh_session_list];
