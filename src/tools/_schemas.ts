/**
 * Schema pieces shared by several tools.
 *
 * @module
 */

import { z } from "zod";
import { REDACT_FORMATS } from "../policy/redact.ts";

/** Sanitizer flags and tool-specific warnings (TOOLS.md §2.1). */
export const OutputWarnings = z.array(z.string()).describe("Sanitizer flags and tool warnings");

/** `R_USERNAME` (TOOLS.md §3). */
export const R_USERNAME = /^[a-z_][a-z0-9_-]{0,31}\$?$/;

/** `^[A-Za-z0-9._-]{1,50}$` host tag. */
export const R_TAG = /^[A-Za-z0-9._-]{1,50}$/;

/** RedactedReadResult (TOOLS.md §2.2), shared by ssh_read_redacted and ssh_sudo_read_redacted. */
export const RedactedReadResult = z.strictObject({
  host: z.string(),
  path: z.string().describe("Canonical path"),
  size_original: z.number().int(),
  content: z.string(),
  format_detected: z.enum(REDACT_FORMATS),
  redactions: z.array(z.strictObject({
    key: z.string().nullable(),
    hash: z.string(),
    line: z.number().int().nullable(),
    kind: z.enum(["key_match", "entropy_base64", "entropy_hex", "pem_block"]),
  })),
  truncated: z.boolean(),
  output_warnings: OutputWarnings,
});
