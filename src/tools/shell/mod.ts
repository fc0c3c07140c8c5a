/**
 * Group `shell` (TOOLS.md §13).
 *
 * @module
 */

import type { Tool } from "../define.ts";

/** The group's tools in catalog order. */
export const TOOLS: readonly Tool[] = [];
