/**
 * Start-up timeline (issue 17): where the time between the runtime's start
 * and the first answer goes. Marks are wall-clock instants (epoch ms with
 * sub-millisecond precision, `performance.timeOrigin + performance.now()`),
 * so marks taken in the launcher's isolate and in the Worker's isolate share
 * one clock.
 *
 * The launcher marks `launcher` (its module graph evaluated) and `plan`
 * (configuration loaded, permission plan computed) and hands its marks to the
 * Worker with the plan; the Worker marks `worker` (its module graph
 * evaluated), then the serving code marks `config`, `app` and `serving`. The
 * "serving MCP" log line carries {@link startupFields}: each mark in ms since
 * the launcher's runtime origin, plus the origin itself, so `deno task bench`
 * can place the phases between the process spawn and the `tools/list` answer.
 *
 * No dependencies, no I/O: the launcher imports this before anything else.
 *
 * @module
 */

/** What the launcher hands the Worker (structured-clone safe). */
export interface StartupMarks {
  /** epoch ms at which the launcher's runtime started (its `performance.timeOrigin`) */
  origin: number;
  /** mark name -> epoch ms */
  marks: Record<string, number>;
}

let origin = performance.timeOrigin;
const marks = new Map<string, number>();

/** The current instant as epoch ms. */
export function now(): number {
  return performance.timeOrigin + performance.now();
}

/** Records `name` at `at` (default now); the first record of a name wins. */
export function mark(name: string, at: number = now()): void {
  if (!marks.has(name)) marks.set(name, at);
}

/** The marks so far (to hand to the Worker). */
export function snapshot(): StartupMarks {
  return { origin, marks: Object.fromEntries(marks) };
}

/**
 * Takes over the launcher's origin and marks (in the Worker). Anything that
 * is not a finite number is ignored: the timeline is diagnostics, never input.
 */
export function adopt(from: unknown): void {
  const f = from as Partial<StartupMarks> | null;
  if (!f || typeof f !== "object") return;
  if (typeof f.origin === "number" && Number.isFinite(f.origin)) origin = f.origin;
  if (f.marks && typeof f.marks === "object") {
    for (const [k, v] of Object.entries(f.marks)) {
      if (typeof v === "number" && Number.isFinite(v)) mark(k, v);
    }
  }
}

/**
 * Log fields: `startup_ms` (each mark in ms since the runtime origin, in the
 * order taken, 0.1 ms resolution) and `startup_origin_epoch_ms`.
 */
export function startupFields(): Record<string, unknown> {
  const ms: Record<string, number> = {};
  for (const [k, v] of [...marks].sort((a, b) => a[1] - b[1])) {
    ms[k] = Math.round((v - origin) * 10) / 10;
  }
  return { startup_ms: ms, startup_origin_epoch_ms: Math.round(origin * 10) / 10 };
}
