/**
 * The fan-out engine behind `ssh_broadcast` and `ssh_run_on_tag`: per-host
 * gating before any I/O, then a rolling execution with per-host isolation.
 *
 * Per target, in memory and before anything runs (TOOLS.md §8, SECURITY.md
 * §EXEC/§CHEAT): blocklist (pattern/tag selections only), POSIX gate, timeout
 * ceiling of the host, then cheatsheet and command policy through
 * `ctx.checkCommand` (one `policy_decision` audit line per host). A cheatsheet
 * match refuses the whole call (it is the same advice for every host); any
 * other refusal only marks that host failed (AC-425, AC-427). A
 * `health_check` command must be admitted on every target up front, or
 * nothing runs.
 *
 * Then {@link rollout} runs the admitted hosts with `concurrency`, `serial`,
 * `max_fail_percentage` and the health check between batches. Every target
 * gets its own audit line (AC-428 NEW) with the call's correlation id.
 *
 * @module
 */

import { z } from "zod";
import type { HostPolicy } from "../../config/types.ts";
import { isToolError, ToolError } from "../../errors.ts";
import { groupOutputs } from "../../fleet/group.ts";
import { rollout, type SerialStep, type StopReason } from "../../fleet/rolling.ts";
import { effectivePolicy } from "../../policy/effective.ts";
import { mergeWarnings } from "../../policy/sanitize.ts";
import type { CheckedCommand } from "../../checked.ts";
import type { RawExecResult } from "../../ssh/exec.ts";
import { OutputWarnings } from "../_schemas.ts";
import type { Host, ToolContext } from "../context.ts";
import { EXEC_RESULT_FIELDS, execResult, type ExecResultT } from "../exec_result.ts";
import { commandHash } from "../../audit/audit.ts";

/** Output kept per stream across all hosts of one fan-out (per-host caps shrink to fit). */
export const FANOUT_OUTPUT_BUDGET = 32 * 1024 * 1024;
/** Smallest per-host cap the budget may impose. */
export const FANOUT_MIN_HOST_CAP = 8 * 1024;
/** Default number of hosts running at once. */
export const DEFAULT_CONCURRENCY = 64;

const SerialStepArg = z.union([
  z.number().int().min(1),
  z.string().regex(/^\d{1,3}(\.\d+)?%$/, 'must look like "25%"'),
]);

/** Input fields shared by the fan-out tools. */
export const FANOUT_INPUT = {
  concurrency: z.number().int().min(1).max(1000).nullish().describe(
    `Hosts running at once (default ${DEFAULT_CONCURRENCY})`,
  ),
  serial: z.union([SerialStepArg, z.array(SerialStepArg).min(1).max(100)]).nullish().describe(
    'Batch size: 5, "25%" or [1, "25%"]; default one batch',
  ),
  max_fail_percentage: z.number().min(0).max(100).nullish().describe(
    "Stop above this failure %",
  ),
  health_check: z.string().min(1).max(10_000).nullish().describe(
    "Run after each batch; failure stops",
  ),
  group_output: z.boolean().default(true).describe(
    "Group identical outputs",
  ),
};

const HostResult = z.strictObject({
  ...EXEC_RESULT_FIELDS,
  output_group: z.number().int().nullable().describe(
    "Index into output_groups holding this host's stdout/stderr (null when not grouped)",
  ),
});

const OutputGroup = z.strictObject({
  hosts: z.array(z.string()),
  count: z.number().int(),
  exit_code: z.number().int(),
  timed_out: z.boolean(),
  stdout: z.string(),
  stderr: z.string(),
  stdout_truncated: z.boolean(),
  stderr_truncated: z.boolean(),
});

const Batch = z.strictObject({
  index: z.number().int(),
  hosts: z.array(z.string()),
  ran: z.number().int(),
  failed: z.number().int(),
  health_check: z.strictObject({
    passed: z.boolean(),
    checked: z.array(z.string()),
    failed: z.array(z.string()),
    details: z.record(z.string(), z.string()),
  }).nullable(),
});

/** Output fields shared by the fan-out tools. */
export const FANOUT_OUTPUT = {
  command: z.string(),
  results: z.record(z.string(), HostResult),
  succeeded: z.array(z.string()),
  failed: z.array(z.string()),
  errors: z.record(z.string(), z.string()),
  error_messages: z.record(z.string(), z.string()),
  skipped: z.array(z.string()),
  output_groups: z.array(OutputGroup),
  batches: z.array(Batch),
  stop_reason: z.enum(["max_fail_percentage", "health_check", "cancelled"]).nullable(),
  summary: z.strictObject({
    total: z.number().int(),
    succeeded: z.number().int(),
    failed: z.number().int(),
    timeout: z.number().int(),
    errors: z.number().int(),
    skipped: z.number().int(),
  }),
  elapsed_ms: z.number().int(),
  output_warnings: OutputWarnings,
};

const FanoutOutputSchema = z.strictObject(FANOUT_OUTPUT);
/** The fan-out result. */
export type FanoutOutput = z.output<typeof FanoutOutputSchema>;

/** Arguments of one fan-out. */
export interface FanoutArgs {
  command: string;
  timeout?: number | null;
  concurrency?: number | null;
  serial?: SerialStep | SerialStep[] | null;
  max_fail_percentage?: number | null;
  health_check?: string | null;
  group_output: boolean;
}

/** One host's outcome. */
interface HostOutcome {
  raw?: RawExecResult;
  result?: ExecResultT;
  error?: { code: string; message: string };
  durationMs: number;
}

function errorOf(e: unknown): { code: string; message: string } {
  if (isToolError(e)) return { code: e.code, message: e.message };
  return { code: "RuntimeError", message: "internal error (see the server log)" };
}

function lastLine(s: string): string {
  const lines = s.split("\n").map((l) => l.trim()).filter(Boolean);
  const l = lines[lines.length - 1] ?? "";
  return l.length > 200 ? l.slice(0, 197) + "..." : l;
}

/** Runs a fan-out (see module docs). */
export async function fanOut(
  ctx: ToolContext,
  targets: readonly HostPolicy[],
  args: FanoutArgs,
): Promise<FanoutOutput> {
  const started = performance.now();
  const s = ctx.settings;
  const max = s.SSH_BROADCAST_MAX_HOSTS;
  if (!targets.length) throw new ToolError("ValueError", "No target hosts.");
  if (targets.length > max) {
    throw new ToolError(
      "ValueError",
      `${targets.length} target hosts exceed the limit of ${max} (SSH_BROADCAST_MAX_HOSTS); narrow the selection or use serial batches over several calls.`,
      { limit: max },
    );
  }
  const byAlias = new Map(targets.map((p) => [p.alias, p]));
  const aliases = [...byAlias.keys()];
  const n = aliases.length;
  const budgetCap = Math.max(FANOUT_MIN_HOST_CAP, Math.floor(FANOUT_OUTPUT_BUDGET / n));

  // per-host gating, in memory, before any I/O
  const admitted = new Map<
    string,
    { host: Host; cmd: CheckedCommand; health: CheckedCommand | null }
  >();
  const refused = new Map<string, { code: string; message: string }>();
  for (const [alias, p] of byAlias) {
    let host: Host;
    try {
      host = ctx.admitTarget(p, args.timeout);
    } catch (e) {
      if (!isToolError(e)) throw e;
      refused.set(alias, errorOf(e));
      continue;
    }
    let health: CheckedCommand | null = null;
    if (args.health_check) {
      try {
        health = await ctx.checkCommand(host, args.health_check, {
          kind: "command",
          cheatsheet: false,
        });
      } catch (e) {
        if (!isToolError(e)) throw e;
        throw new ToolError(
          e.code,
          `health_check refused on ${alias}, nothing was run: ${e.message}`,
          e.attributes,
        );
      }
    }
    try {
      const cmd = await ctx.checkCommand(host, args.command, {
        kind: "command",
        cheatsheet: true,
      });
      admitted.set(alias, { host, cmd, health });
    } catch (e) {
      if (isToolError(e, "CommandIsCheatsheetMatch")) throw e;
      if (!isToolError(e)) throw e;
      refused.set(alias, errorOf(e));
    }
  }
  ctx.audit({ command_hash: commandHash(args.command) });

  const execOpts = (p: HostPolicy, timeout: number | null | undefined, signal: AbortSignal) => {
    const eff = effectivePolicy(p, s);
    return {
      ...(typeof timeout === "number" ? { timeoutMs: timeout * 1000 } : {}),
      stdoutCap: Math.min(eff.stdout_cap_bytes, budgetCap),
      stderrCap: Math.min(eff.stderr_cap_bytes, budgetCap),
      signal,
    };
  };

  const auditTarget = async (alias: string, o: HostOutcome) => {
    const p = byAlias.get(alias)!;
    await ctx.auditLine({
      host: alias,
      alias: p.alias,
      hostname: p.hostname,
      result: o.error ? "error" : "ok",
      duration_ms: Math.round(o.durationMs),
      command_hash: commandHash(args.command),
      ...(o.error ? { error: o.error.code } : {}),
      ...(o.raw
        ? {
          exit_code: o.raw.exitCode,
          timed_out: o.raw.timedOut,
          bytes_out: o.raw.stdoutBytes,
          bytes_err: o.raw.stderrBytes,
          ...(o.raw.cancelled ? { cancelled: true } : {}),
        }
        : {}),
    });
  };

  let lastProgress = 0;
  const outcome = await rollout<HostOutcome, {
    checked: string[];
    failed: string[];
    details: Record<string, string>;
  }>(aliases, {
    concurrency: args.concurrency ?? DEFAULT_CONCURRENCY,
    serial: args.serial ?? null,
    maxFailPercentage: args.max_fail_percentage ?? null,
    signal: ctx.signal,
  }, {
    run: async (alias, signal) => {
      const t0 = performance.now();
      const pre = refused.get(alias);
      let o: HostOutcome;
      if (pre) {
        o = { error: pre, durationMs: 0 };
      } else {
        const p = byAlias.get(alias)!;
        const a = admitted.get(alias)!;
        try {
          const raw = await ctx.execOn(
            a.host,
            a.cmd,
            execOpts(p, args.timeout, signal),
          );
          o = { raw, result: execResult(p.hostname, raw), durationMs: performance.now() - t0 };
        } catch (e) {
          if (!isToolError(e)) {
            ctx.logger.error("fan-out host failed", {
              alias,
              error: e instanceof Error ? `${e.name}: ${e.message}` : String(e),
            });
          }
          o = { error: errorOf(e), durationMs: performance.now() - t0 };
        }
      }
      await auditTarget(alias, o);
      return o;
    },
    failed: (o) => Boolean(o.error) || o.result!.exit_code !== 0 || o.result!.timed_out,
    healthCheck: args.health_check
      ? async (batch, signal) => {
        const checked = batch.filter((a) => admitted.has(a));
        const failed: string[] = [];
        const details: Record<string, string> = {};
        await Promise.all(checked.map(async (alias) => {
          const p = byAlias.get(alias)!;
          const a = admitted.get(alias)!;
          try {
            const r = await ctx.execOn(
              a.host,
              a.health!,
              execOpts(p, args.timeout, signal),
            );
            if (r.exitCode !== 0 || r.timedOut) {
              failed.push(alias);
              const res = execResult(p.hostname, r);
              details[alias] = r.timedOut
                ? "timed out"
                : `exit ${r.exitCode}: ${lastLine(res.stderr) || lastLine(res.stdout)}`;
            }
          } catch (e) {
            failed.push(alias);
            const er = errorOf(e);
            details[alias] = `${er.code}: ${er.message}`;
          }
        }));
        failed.sort((a, b) => aliases.indexOf(a) - aliases.indexOf(b));
        return { passed: failed.length === 0, detail: { checked, failed, details } };
      }
      : undefined,
    onDone: (_alias, _o, done, total) => {
      const now = Date.now();
      if (done === total || now - lastProgress >= 250) {
        lastProgress = now;
        ctx.progress(`${done}/${total} hosts finished`).catch(() => {});
      }
    },
  });

  if (ctx.signal.aborted) {
    throw new ToolError(
      "Cancelled",
      "The request was cancelled; running commands were killed (process group) and no new host was started.",
    );
  }
  return buildOutput(args, aliases, outcome.results, outcome.skipped, {
    batches: outcome.batches.map((b) => ({
      index: b.index,
      hosts: b.targets,
      ran: b.ran,
      failed: b.failed,
      health_check: b.health_check
        ? { passed: b.health_check.passed, ...b.health_check.detail }
        : null,
    })),
    stopReason: outcome.stopReason,
    elapsedMs: performance.now() - started,
    budgetCapped: budgetCap < Math.max(s.SSH_STDOUT_CAP_BYTES, s.SSH_STDERR_CAP_BYTES)
      ? budgetCap
      : null,
  });
}

function buildOutput(
  args: FanoutArgs,
  aliases: string[],
  results: Map<string, HostOutcome>,
  skipped: string[],
  extra: {
    batches: FanoutOutput["batches"];
    stopReason: StopReason | null;
    elapsedMs: number;
    budgetCapped: number | null;
  },
): FanoutOutput {
  const ran = new Map<string, ExecResultT>();
  const errors: Record<string, string> = {};
  const errorMessages: Record<string, string> = {};
  const succeeded: string[] = [];
  const failed: string[] = [];
  let timeouts = 0;
  for (const a of aliases) {
    const o = results.get(a);
    if (!o) continue;
    if (o.error) {
      errors[a] = o.error.code;
      errorMessages[a] = o.error.message;
      failed.push(a);
    } else {
      const r = o.result!;
      ran.set(a, r);
      if (r.timed_out) timeouts++;
      if (r.exit_code === 0 && !r.timed_out) succeeded.push(a);
      else failed.push(a);
    }
  }
  const out: FanoutOutput["results"] = {};
  let groups: FanoutOutput["output_groups"] = [];
  if (args.group_output) {
    const g = groupOutputs(ran);
    groups = g.groups;
    for (const [a, r] of ran) {
      out[a] = { ...r, stdout: "", stderr: "", output_group: g.indexOf.get(a)! };
    }
  } else {
    for (const [a, r] of ran) out[a] = { ...r, output_group: null };
  }
  const warnings: string[] = [];
  if (args.health_check && extra.batches.length <= 1 && extra.stopReason === null) {
    warnings.push(
      "health_check did not run: it runs between batches and there was only one (set serial)",
    );
  }
  if (
    extra.budgetCapped !== null &&
    [...ran.values()].some((r) => r.stdout_truncated || r.stderr_truncated)
  ) {
    warnings.push(
      `per-host output was capped at ${extra.budgetCapped} bytes per stream to keep the result of ${aliases.length} hosts bounded`,
    );
  }
  return {
    command: args.command,
    results: out,
    succeeded,
    failed,
    errors,
    error_messages: errorMessages,
    skipped,
    output_groups: groups,
    batches: extra.batches,
    stop_reason: extra.stopReason,
    summary: {
      total: aliases.length,
      succeeded: succeeded.length,
      failed: failed.length,
      timeout: timeouts,
      errors: Object.keys(errors).length,
      skipped: skipped.length,
    },
    elapsed_ms: Math.round(extra.elapsedMs),
    output_warnings: mergeWarnings(warnings),
  };
}
