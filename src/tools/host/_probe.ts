/**
 * Helpers shared by the host read tools.
 *
 * @module
 */

import { nested, sh, type ShellCommand } from "../../checked.ts";
import type { ToolContext } from "../context.ts";
import { randomHex } from "../../util/random.ts";

/** Trimmed text or null when empty. */
export function nonEmpty(s: string): string | null {
  const t = s.trim();
  return t ? t : null;
}

/** Output of one section of {@link multiProbe}. */
export interface ProbeResult {
  stdout: string;
  exitCode: number;
}

/**
 * Runs several independent read-only probes in ONE channel and splits their
 * outputs. Each probe runs in its own `{ ...; }` group (same shell, so a probe
 * may set a variable for the later ones) with stderr discarded;
 * its exit status follows a marker line carrying a per-call random nonce, so
 * remote output cannot forge section boundaries. A probe that is missing or
 * fails yields `exitCode != 0` and never fails the call (TOOLS.md §4); a
 * connection failure still throws.
 */
export async function multiProbe(
  ctx: ToolContext,
  probes: readonly ShellCommand[],
): Promise<ProbeResult[]> {
  const mark = `__SSHMCP_SEC_${randomHex(8)}__`;
  let cmd = sh``;
  for (const p of probes) {
    cmd = sh`${nested(cmd)}{ ${nested(p)} ; } 2>/dev/null; printf '\n%s %s\n' ${mark} "$?"; `;
  }
  const r = await ctx.exec(cmd);
  const out: ProbeResult[] = [];
  let rest = r.stdout;
  const re = new RegExp(`\\n${mark} (\\d+)\\n`);
  for (let i = 0; i < probes.length; i++) {
    const m = re.exec(rest);
    if (!m) {
      out.push({ stdout: "", exitCode: -1 });
      continue;
    }
    out.push({ stdout: rest.slice(0, m.index), exitCode: Number(m[1]) });
    rest = rest.slice(m.index + m[0].length);
  }
  return out;
}

/** stdout of a probe that succeeded, else "". */
export function okText(p: ProbeResult | undefined): string {
  return p && p.exitCode === 0 ? p.stdout : "";
}

/** Runs a single read-only probe; non-zero exit or timeout gives "". */
export async function probe(ctx: ToolContext, cmd: ShellCommand): Promise<string> {
  const r = await ctx.exec(cmd);
  if (r.exitCode !== 0 || r.timedOut) return "";
  return r.stdout;
}
