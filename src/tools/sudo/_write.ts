/**
 * The write side of the sudo file pipeline (SUDO-8..10): one root shell that
 * re-checks the path, inherits owner and mode where not given, and replaces
 * the file atomically with the payload from stdin.
 *
 * @module
 */

import { z } from "zod";
import { ToolError } from "../../errors.ts";
import { parseWriteInfo, type WriteInfo, writeScript, writeStage } from "../../sudo/scripts.ts";
import type { CheckedPath } from "../../checked.ts";
import { OutputWarnings } from "../_schemas.ts";
import { assertRan, type Elevation } from "../../sudo/elevation.ts";

/** Result of ssh_sudo_write and ssh_sudo_edit (TOOLS.md §2.2 WriteResult). */
export const SudoWriteResult = z.strictObject({
  host: z.string(),
  path: z.string().describe("Canonical path"),
  success: z.boolean(),
  bytes_written: z.number().int(),
  message: z.string().nullable(),
  local_path_written: z.string().nullable(),
  output_warnings: OutputWarnings,
});

/** Arguments of one atomic write. */
export interface AtomicWrite {
  raw: string;
  canonical: CheckedPath;
  /** the new content; a stream (local file) is sent chunk by chunk after the handshake */
  payload: Uint8Array | AsyncIterable<Uint8Array>;
  /** payload length in bytes (checked by the script before the rename) */
  size: number;
  mode: string | null;
  user: string | null;
  group: string | null;
  allowSpecial: boolean;
  expectSha256?: string;
  timeoutMs: number;
}

/** Runs the atomic write; throws SudoFileOpError naming the failed stage (AC-616). */
export async function writeElevated(el: Elevation, w: AtomicWrite): Promise<WriteInfo> {
  const r = await el.run({
    kind: "shell",
    inner: writeScript({
      raw: w.raw,
      expect: w.canonical,
      mode: w.mode,
      user: w.user,
      group: w.group,
      allowSpecial: w.allowSpecial,
      size: w.size,
      ...(w.expectSha256 ? { expectSha256: w.expectSha256 } : {}),
    }),
  }, { payload: w.payload, timeoutMs: w.timeoutMs, stdoutCap: 64 * 1024, stderrCap: 64 * 1024 });
  assertRan(r, w.canonical);
  if (r.exitCode !== 0) {
    const stage = writeStage(r.exitCode);
    const err = r.stderr.trim().split("\n").slice(-3).join(" ").slice(0, 500);
    throw new ToolError(
      "SudoFileOpError",
      `${w.canonical}: sudo write failed at stage ${stage}${err ? `: ${err}` : ""}`,
      { stage },
    );
  }
  const info = parseWriteInfo(r.stdout);
  if (!info) {
    throw new ToolError(
      "SudoFileOpError",
      `${w.canonical}: unparsable output of the write script`,
      {
        stage: "parse",
      },
    );
  }
  return info;
}
