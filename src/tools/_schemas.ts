/**
 * Schema pieces shared by several tools.
 *
 * @module
 */

import { z } from "zod";

/** Sanitizer flags and tool-specific warnings (TOOLS.md §2.1). */
export const OutputWarnings = z.array(z.string()).describe("Sanitizer flags and tool warnings");

/** `R_USERNAME` (TOOLS.md §3). */
export const R_USERNAME = /^[a-z_][a-z0-9_-]{0,31}\$?$/;

/** `^[A-Za-z0-9._-]{1,50}$` host tag. */
export const R_TAG = /^[A-Za-z0-9._-]{1,50}$/;
