/**
 * Deep freezing for values shared with tool handlers (settings, host
 * policies): a handler that tries to change one throws in strict mode instead
 * of widening the policy for later calls.
 *
 * @module
 */

/** Freezes `v` and every plain object and array reachable from it; returns `v`. */
export function deepFreeze<T>(v: T): T {
  if (v === null || typeof v !== "object" || Object.isFrozen(v)) return v;
  if (!Array.isArray(v) && Object.getPrototypeOf(v) !== Object.prototype) return v;
  Object.freeze(v);
  for (const x of Object.values(v as Record<string, unknown>)) deepFreeze(x);
  return v;
}
