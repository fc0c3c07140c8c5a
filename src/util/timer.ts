/**
 * A one-shot timer for code that runs before the server's first answer.
 *
 * Deno 2.9's global `setTimeout` and `setInterval` are Node's timers
 * (they return a `Timeout` object): the first call in an isolate evaluates
 * that part of Deno's Node layer, measured at 12-16 ms in a fresh Worker
 * (issue 17, start-up; bench/README.md). `AbortSignal.timeout` runs on the
 * runtime's own web timers and costs ~0.4 ms the first time. Like it, this
 * timer does not keep the process alive by itself; the callers wait on stdin,
 * which does.
 *
 * @module
 */

/** Calls `fn` once after `ms` milliseconds; the returned function cancels it. */
export function afterMs(ms: number, fn: () => void): () => void {
  const signal = AbortSignal.timeout(Math.max(0, ms));
  const fire = () => fn();
  signal.addEventListener("abort", fire, { once: true });
  return () => signal.removeEventListener("abort", fire);
}
