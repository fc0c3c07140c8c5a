/**
 * Shared pieces of the `file-ops` tools: the NEW `expected_sha256` and
 * `check` parameters, mode validation (PATH-27), the WriteResult shape with
 * `changed`/`check`, strict UTF-8 decoding (PATH-29), diffs and remote hashes.
 *
 * @module
 */

import { z } from "zod";
import { invalidUtf8Offset } from "../../util/text.ts";
import { createTwoFilesPatch } from "diff";
import type { Settings } from "../../config/types.ts";
import { ToolError } from "../../errors.ts";
import { scan } from "../../policy/sanitize.ts";
import type { RemoteFs } from "../../ssh/fs.ts";
import type { ToolContext } from "../context.ts";
import type { CheckedPath } from "../../checked.ts";
import { OutputWarnings } from "../_schemas.ts";

/** `expected_sha256` (NEW): refuse when the remote file no longer has this content. */
export const ExpectedSha256 = z.string().regex(/^[0-9a-fA-F]{64}$/, "must be 64 hex characters")
  .nullish().describe(
    "Refuse if sha256 differs",
  );

/** `check` (NEW): dry run. */
export const CheckArg = z.boolean().default(false).describe(
  "Dry run",
);

/** A `mode` parameter: 0..0o7777, special bits refused at call time unless allowed. */
export function modeArg(what: string): z.ZodNullable<z.ZodOptional<z.ZodNumber>> {
  return z.number().int().min(0).max(0o7777).optional().nullable().describe(what);
}

/** PATH-27: setuid/setgid/sticky bits need ALLOW_SPECIAL_MODE_BITS. */
export function assertMode(mode: number, settings: Settings, field = "mode"): void {
  if ((mode & 0o7000) !== 0 && !settings.ALLOW_SPECIAL_MODE_BITS) {
    throw new ToolError(
      "ValueError",
      `${field} 0o${
        mode.toString(8)
      } sets setuid/setgid/sticky bits (0o7000); they are refused unless the operator sets ALLOW_SPECIAL_MODE_BITS=true. Use a mode within 0..0o777.`,
    );
  }
}

/** WriteResult (TOOLS.md §2.2) plus the NEW `changed`, `check`, `diff`, `sha256`. */
export const writeResultShape = {
  host: z.string(),
  path: z.string(),
  success: z.boolean(),
  bytes_written: z.number().int(),
  message: z.string().nullable(),
  local_path_written: z.string().nullable().optional(),
  changed: z.boolean(),
  check: z.boolean(),
  diff: z.string().nullable().optional(),
  sha256: z.string().nullable().optional(),
  output_warnings: OutputWarnings,
};

/** Largest diff returned in a result. */
export const DIFF_CAP_CHARS = 256 * 1024;

/**
 * Unified diff of two texts (the `diff` package), capped at
 * {@link DIFF_CAP_CHARS}; warnings flag a cap and suspicious content (OUT-5).
 */
export function unifiedDiff(
  path: string,
  before: string | null,
  after: string,
): { diff: string; warnings: string[] } {
  let d = createTwoFilesPatch(
    before === null ? "/dev/null" : path,
    path,
    before ?? "",
    after,
    undefined,
    undefined,
    { context: 3 },
  );
  const warnings = scan(d).map((w) => `diff: ${w}`);
  if (d.length > DIFF_CAP_CHARS) {
    d = d.slice(0, DIFF_CAP_CHARS) + "\n[... diff truncated ...]\n";
    warnings.push(`diff truncated at ${DIFF_CAP_CHARS} characters`);
  }
  return { diff: d, warnings };
}

const fatal = new TextDecoder("utf-8", { fatal: true });

/** PATH-29 / AC-010: strict UTF-8 or WriteError naming the byte offset. */
export function strictUtf8(b: Uint8Array, path: string, tool: string): string {
  try {
    return fatal.decode(b);
  } catch {
    const at = invalidUtf8Offset(b);
    throw new ToolError(
      "WriteError",
      `${path} is not valid UTF-8 (first invalid byte at offset ${at}); ${tool} edits text only and left the file untouched. For binary or other encodings use ssh_sftp_download and ssh_upload.`,
      { byte_offset: at },
    );
  }
}

/**
 * sha256 of a remote file: `sha256sum` on POSIX hosts (no transfer; read
 * through a pinned, checked descriptor on hardened hosts, PATH-51), else
 * streamed over SFTP.
 */
export async function remoteSha256(
  ctx: ToolContext,
  fs: RemoteFs,
  path: CheckedPath,
): Promise<string> {
  if (fs.platform === "posix" && await fs.posixShell()) {
    const r = await fs.digest(path, "sha256", { signal: ctx.signal });
    const d = (r.stdout.split("\n")[0] ?? "").trim().split(/\s+/)[0]?.replace(/^\\/, "") ?? "";
    if (r.exitCode === 0 && /^[0-9a-f]{64}$/.test(d)) return d;
  }
  return await fs.sha256(path, ctx.signal);
}

/** NEW `expected_sha256`: refuse a stale view. */
export function assertExpected(
  expected: string | null | undefined,
  actual: string | null,
  path: string,
): void {
  if (!expected) return;
  const want = expected.toLowerCase();
  if (actual === null) {
    throw new ToolError(
      "WriteError",
      `expected_sha256 was given but ${path} does not exist (any more); nothing was changed. Re-read the directory and decide again.`,
      { reason: "stale", expected_sha256: want },
    );
  }
  if (actual !== want) {
    throw new ToolError(
      "WriteError",
      `${path} changed since you read it: its sha256 is ${actual}, not the expected ${want}. Nothing was changed; read the file again (ssh_sftp_download / ssh_file_hash) and redo the change on the current content.`,
      { reason: "stale", expected_sha256: want, actual_sha256: actual },
    );
  }
}

/** Reads a bounded, existing regular file (for edit/patch/check diffs). */
export async function readBounded(
  fs: RemoteFs,
  path: CheckedPath,
  cap: number,
  setting: string,
  signal: AbortSignal,
): Promise<Uint8Array> {
  const st = await fs.lstatChecked(path, signal);
  if (st.kind !== "file") {
    throw new ToolError("WriteError", `${path} is not a regular file (${st.kind}).`);
  }
  if (st.size > cap) {
    throw new ToolError(
      "WriteError",
      `${path} is ${st.size} bytes, over ${setting} (${cap}); edit it locally (ssh_sftp_download, then ssh_upload) instead.`,
    );
  }
  return await fs.readFile(path, cap + 1, signal);
}

/** True when bytes look like text we can diff (valid UTF-8, no NUL). */
export function isDiffableText(b: Uint8Array): boolean {
  return !b.includes(0) && invalidUtf8Offset(b) === -1;
}
