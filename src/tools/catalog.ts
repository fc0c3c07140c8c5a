/**
 * The one catalog: every tool of every group, in order. Visibility is decided
 * per configuration by the registry.
 *
 * @module
 */

import type { Tool } from "./define.ts";
import { TOOLS as HOST } from "./host/mod.ts";
import { TOOLS as SESSION } from "./session/mod.ts";

/** Every registered tool. */
export const ALL_TOOLS: readonly Tool[] = [...HOST, ...SESSION];
