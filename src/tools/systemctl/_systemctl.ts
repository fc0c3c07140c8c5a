/**
 * Pieces shared by the systemctl group's tools: argument schemas, the read
 * runner (probe, platform checks, sanitizing) and the `prepare` stage that
 * turns the unit argument into a checked {@link UnitName}.
 *
 * @module
 */

import { z } from "zod";
import type { ShellCommand } from "../../checked.ts";
import { mergeWarnings, sanitize } from "../../policy/sanitize.ts";
import type { ToolContext } from "../context.ts";
import { timeoutOpts } from "../exec_result.ts";
import { runRead } from "../_runner.ts";
import { UNIT_MAX, type UnitName, unitName } from "./_words.ts";

/** The `unit` parameter (R_UNIT, checked in `prepare`). */
export const UnitArg = z.string().max(UNIT_MAX).describe(
  "Unit, e.g. nginx",
);

/** The `check` parameter of every mutating tool. */
export const CheckArg = z.boolean().default(false).describe(
  "Dry run",
);

/** `prepare` of a tool with a `unit` input: the checked unit name. */
export function prepareUnit({ unit }: { unit: string }): { unit: UnitName } {
  return { unit: unitName(unit) };
}

/** A read's sanitized output (SECURITY.md OUT-3/4). */
export interface ReadOutput {
  exitCode: number;
  stdout: string;
  stderr: string;
  warnings: string[];
}

/** Runs `systemctl`/`journalctl` read commands as the login user and sanitizes the output. */
export async function readSystemd(
  ctx: ToolContext,
  program: "systemctl" | "journalctl",
  body: ShellCommand,
  timeout?: number | null,
): Promise<ReadOutput> {
  const r = await runRead(ctx, program, body, timeoutOpts(timeout));
  ctx.audit({ exit_code: r.exitCode, timed_out: r.timedOut });
  const out = sanitize(r.stdout);
  const err = sanitize(r.stderr);
  const warnings = mergeWarnings(out.warnings, err.warnings);
  if (r.timedOut) warnings.push(`${program} timed out; output so far is returned`);
  if (r.stdoutTruncated) warnings.push("stdout exceeded the output cap and was truncated");
  const said = err.text.trim();
  if (said && (r.exitCode !== 0 || /^Hint:/m.test(said))) {
    warnings.push(`${program} stderr: ${said.length > 300 ? said.slice(0, 297) + "..." : said}`);
  }
  return { exitCode: r.exitCode, stdout: out.text, stderr: err.text, warnings };
}
