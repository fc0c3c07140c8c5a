/**
 * Group `exec` (TOOLS.md §8 and §15: fleet, plan, async tasks).
 *
 * @module
 */

import type { Tool } from "../define.ts";

/** The group's tools in catalog order. */
export const TOOLS: readonly Tool[] = [];
