/**
 * Group `file-ops` (TOOLS.md §7).
 *
 * @module
 */

import type { Tool } from "../define.ts";

/** The group's tools in catalog order. */
export const TOOLS: readonly Tool[] = [];
