/**
 * Rolling execution over a list of targets: a concurrency limit, `serial`
 * batches (counts, percentages, or a list of them where the last repeats, as
 * in Ansible), a failure threshold and an optional health check between
 * batches. Pure orchestration: what "run" and "health check" mean is supplied
 * by the caller, so this module is unit-tested without SSH.
 *
 * Semantics (documented in skills/ssh-broadcast):
 *
 * - Batches run one after the other; inside a batch at most `concurrency`
 *   targets run at once.
 * - `max_fail_percentage`: once the number of failed targets exceeds this
 *   percentage of ALL targets (strictly greater, as in Ansible), no new target
 *   is started; targets already running finish; the rest are `skipped`. `0`
 *   stops after the first failure. Checked every time a target finishes, so
 *   the stop happens at the threshold, not at the end of a batch.
 * - `health_check` runs after every batch except the last, on that batch's
 *   targets; a failing check stops the rollout (remaining targets skipped).
 * - Cancellation (the signal) stops starting targets; running ones see the
 *   same signal.
 *
 * @module
 */

import { ToolError } from "../errors.ts";

/** One `serial` step: a count or a percentage string such as `"25%"`. */
export type SerialStep = number | string;

/** Why a rollout ended before running every target. */
export type StopReason = "max_fail_percentage" | "health_check" | "cancelled";

/** Rollout knobs. */
export interface RolloutOptions {
  /** targets running at once (>= 1) */
  concurrency: number;
  /** batch sizes; null = one batch with every target */
  serial: SerialStep | SerialStep[] | null;
  /** 0..100, null = never stop on failures */
  maxFailPercentage: number | null;
  signal?: AbortSignal;
}

/** What the caller supplies. */
export interface RolloutHooks<R, H> {
  /** runs one target; should not throw (errors are results too) */
  run(target: string, signal: AbortSignal): Promise<R>;
  /** true when a result counts as a failure */
  failed(result: R): boolean;
  /** optional check between batches */
  healthCheck?(batch: string[], signal: AbortSignal): Promise<{ passed: boolean; detail: H }>;
  /** called after each target finishes (progress) */
  onDone?(target: string, result: R, done: number, total: number): void;
}

/** One executed batch. */
export interface BatchReport<H> {
  index: number;
  targets: string[];
  /** targets of this batch that ran */
  ran: number;
  failed: number;
  health_check: { passed: boolean; detail: H } | null;
}

/** The outcome of a rollout. */
export interface RolloutOutcome<R, H> {
  /** results of the targets that ran, in target order */
  results: Map<string, R>;
  /** targets never started, in target order */
  skipped: string[];
  batches: BatchReport<H>[];
  stopReason: StopReason | null;
  failed: number;
}

const PCT_RE = /^(\d{1,3}(?:\.\d+)?)%$/;

/** Validates one serial step and returns it as a count for `total` targets. */
function stepSize(step: SerialStep, total: number): number {
  if (typeof step === "number") {
    if (!Number.isInteger(step) || step < 1) {
      throw new ToolError("ValueError", `serial: ${step} must be an integer >= 1 or "N%".`);
    }
    return step;
  }
  const m = PCT_RE.exec(step.trim());
  const pct = m ? Number(m[1]) : NaN;
  if (!m || !(pct > 0) || pct > 100) {
    throw new ToolError(
      "ValueError",
      `serial: ${JSON.stringify(step)} must be an integer >= 1 or a percentage "1%".."100%".`,
    );
  }
  // Ansible rounds percentages down, with a minimum batch of one host
  return Math.max(1, Math.floor((total * pct) / 100));
}

/** Batch sizes for `total` targets (the last step repeats). */
export function batchSizes(total: number, serial: RolloutOptions["serial"]): number[] {
  if (total <= 0) return [];
  if (serial === null || serial === undefined) return [total];
  const steps = Array.isArray(serial) ? serial : [serial];
  if (!steps.length) throw new ToolError("ValueError", "serial: the list must not be empty.");
  const sizes: number[] = [];
  let left = total;
  let i = 0;
  while (left > 0) {
    const n = Math.min(left, stepSize(steps[Math.min(i, steps.length - 1)]!, total));
    sizes.push(n);
    left -= n;
    i++;
  }
  return sizes;
}

/** True when `failed` of `total` exceeds `pct` percent (strictly). */
export function overThreshold(failed: number, total: number, pct: number | null): boolean {
  if (pct === null || total === 0) return false;
  return failed * 100 > pct * total;
}

/** Runs a rollout (see module docs). */
export async function rollout<R, H>(
  targets: readonly string[],
  opts: RolloutOptions,
  hooks: RolloutHooks<R, H>,
): Promise<RolloutOutcome<R, H>> {
  if (!Number.isInteger(opts.concurrency) || opts.concurrency < 1) {
    throw new ToolError("ValueError", "concurrency must be an integer >= 1.");
  }
  const pct = opts.maxFailPercentage;
  if (pct !== null && !(pct >= 0 && pct <= 100)) {
    throw new ToolError("ValueError", "max_fail_percentage must be between 0 and 100.");
  }
  const sizes = batchSizes(targets.length, opts.serial);
  const internal = new AbortController();
  const signal = opts.signal ? AbortSignal.any([opts.signal, internal.signal]) : internal.signal;
  const results = new Map<string, R>();
  const batches: BatchReport<H>[] = [];
  let stopReason: StopReason | null = null;
  let failed = 0;
  let done = 0;
  let offset = 0;

  const stopping = () => {
    if (stopReason) return true;
    if (opts.signal?.aborted) {
      stopReason = "cancelled";
      return true;
    }
    return false;
  };

  for (let b = 0; b < sizes.length; b++) {
    if (stopping()) break;
    const batch = targets.slice(offset, offset + sizes[b]!);
    offset += batch.length;
    const report: BatchReport<H> = {
      index: b + 1,
      targets: batch,
      ran: 0,
      failed: 0,
      health_check: null,
    };
    batches.push(report);
    let next = 0;
    const worker = async () => {
      while (next < batch.length && !stopping()) {
        const t = batch[next++]!;
        report.ran++;
        const r = await hooks.run(t, signal);
        results.set(t, r);
        done++;
        if (hooks.failed(r)) {
          failed++;
          report.failed++;
          if (!stopReason && overThreshold(failed, targets.length, pct)) {
            stopReason = "max_fail_percentage";
          }
        }
        hooks.onDone?.(t, r, done, targets.length);
      }
    };
    await Promise.all(
      Array.from({ length: Math.min(opts.concurrency, batch.length) }, () => worker()),
    );
    if (stopping()) break;
    if (hooks.healthCheck && b < sizes.length - 1) {
      const ran = batch.filter((t) => results.has(t));
      const hc = await hooks.healthCheck(ran, signal);
      report.health_check = hc;
      if (!hc.passed) stopReason = "health_check";
    }
  }
  stopping();
  const skipped = targets.filter((t) => !results.has(t));
  return { results, skipped, batches, stopReason, failed };
}
