/**
 * The read side of the sudo file pipeline shared by read, read_redacted and
 * edit: the SUDO-8 re-check and the `cat` run as root, raw bytes back, a
 * size cap enforced before the bytes travel.
 *
 * @module
 */

import { z } from "zod";
import { ToolError } from "../../errors.ts";
import type { ElevatedResult } from "../../ssh/sudo.ts";
import { CODE_OVER_CAP, preCheckText, readScript } from "../../sudo/scripts.ts";
import type { CheckedPath } from "../../checked.ts";
import { assertRan, type Elevation, FILE_PIPELINE_TIMEOUT_S } from "../../sudo/elevation.ts";

/** Path argument of the sudo path tools. */
export const SudoPathArg = z.string().min(1).max(4096).describe(
  "Remote path",
);

/** `timeout` of the sudo file pipeline (TIMEOUT-7: default 60 s). */
export const PipelineTimeoutArg = z.number().int().min(1).nullish().describe(
  "Seconds (default 60)",
);

/** Milliseconds for a pipeline `timeout` argument. */
export function pipelineTimeoutMs(timeout: number | null | undefined): number {
  return (timeout ?? FILE_PIPELINE_TIMEOUT_S) * 1000;
}

/** SudoFileOpError for a failed pipeline step (stderr tail included, never secrets). */
export function stepError(r: ElevatedResult, step: string, path: string): ToolError {
  const known = preCheckText(r.exitCode);
  const err = r.stderr.trim().split("\n").slice(-3).join(" ").slice(0, 500);
  const text = known ?? `${step} failed (exit ${r.exitCode})${err ? `: ${err}` : ""}`;
  return new ToolError("SudoFileOpError", `${path}: ${text}`, { stage: step });
}

/** Reads a file as root after the in-shell re-check; throws SudoFileOpError when over `cap`. */
export async function readElevated(
  el: Elevation,
  raw: string,
  canonical: CheckedPath,
  cap: number,
  timeoutMs: number,
  capName: string,
): Promise<Uint8Array> {
  const r = await el.run({ kind: "shell", inner: readScript(raw, canonical, cap) }, {
    timeoutMs,
    stdoutCap: cap + 1,
    stderrCap: 64 * 1024,
  });
  assertRan(r, canonical);
  if (r.exitCode === CODE_OVER_CAP || r.stdoutTruncated || r.stdoutRaw.length > cap) {
    throw new ToolError(
      "SudoFileOpError",
      `${canonical}: file is larger than ${capName} (${cap} bytes).`,
      { stage: "cap" },
    );
  }
  if (r.exitCode !== 0) throw stepError(r, "cat", canonical);
  return r.stdoutRaw;
}
