/**
 * Per-principal request rate limit of the HTTP gateway (`MCP_HTTP_RATE_LIMIT`
 * requests per minute, burst = the limit): a token bucket per principal,
 * refilled lazily on each `take` (no timers, nothing keeps the process
 * alive). Memory is bounded: full (idle) buckets are dropped since a fresh
 * bucket is equivalent, and past `maxBuckets` the least recently used go.
 *
 * @module
 */

/** The outcome of {@link RateLimiter.take}. */
export type RateLimitResult = { readonly ok: true } | {
  readonly ok: false;
  /** whole seconds until one request is allowed again (>= 1) */
  readonly retryAfterS: number;
};

/** Options of {@link RateLimiter}. */
export interface RateLimiterOptions {
  /** requests per minute per principal (>= 1); also the burst */
  limit: number;
  /** milliseconds clock; default `performance.now` (monotonic) */
  now?: () => number;
  /** most buckets kept; default 10000 */
  maxBuckets?: number;
}

interface Bucket {
  tokens: number;
  /** clock value of the last refill */
  at: number;
}

/** A token bucket per principal. */
export class RateLimiter {
  readonly limit: number;
  readonly #perMs: number;
  readonly #now: () => number;
  readonly #max: number;
  /** insertion order = least recently used first */
  readonly #buckets = new Map<string, Bucket>();
  #sinceSweep = 0;

  constructor(opts: RateLimiterOptions) {
    if (!Number.isFinite(opts.limit) || opts.limit < 1) {
      throw new RangeError("RateLimiter: limit must be at least 1 request per minute");
    }
    this.limit = opts.limit;
    this.#perMs = opts.limit / 60_000;
    this.#now = opts.now ?? (() => performance.now());
    this.#max = Math.max(1, opts.maxBuckets ?? 10_000);
  }

  /** Takes one request for `principal`. */
  take(principal: string): RateLimitResult {
    const now = this.#now();
    let b = this.#buckets.get(principal);
    if (b === undefined) {
      b = { tokens: this.limit, at: now };
    } else {
      this.#buckets.delete(principal); // re-inserted below: most recently used
      this.#refill(b, now);
    }
    this.#buckets.set(principal, b);
    let result: RateLimitResult;
    if (b.tokens >= 1) {
      b.tokens -= 1;
      result = { ok: true };
    } else {
      result = {
        ok: false,
        retryAfterS: Math.max(1, Math.ceil((1 - b.tokens) / this.#perMs / 1000)),
      };
    }
    // after the take: this principal's bucket is no longer full, so it survives the sweep
    if (++this.#sinceSweep >= 1000 || this.#buckets.size > this.#max) this.#sweep(now);
    return result;
  }

  /** Number of buckets held (tests, metrics). */
  get size(): number {
    return this.#buckets.size;
  }

  #refill(b: Bucket, now: number): void {
    const elapsed = Math.max(0, now - b.at);
    b.tokens = Math.min(this.limit, b.tokens + elapsed * this.#perMs);
    b.at = now;
  }

  /** drops full buckets, then the least recently used beyond the cap */
  #sweep(now: number): void {
    this.#sinceSweep = 0;
    for (const [k, b] of this.#buckets) {
      if (b.tokens + Math.max(0, now - b.at) * this.#perMs >= this.limit) this.#buckets.delete(k);
    }
    for (const k of this.#buckets.keys()) {
      if (this.#buckets.size <= this.#max) break;
      this.#buckets.delete(k);
    }
  }
}

/** The limiter for `MCP_HTTP_RATE_LIMIT`, or null when it is 0 (no limit). */
export function rateLimiterFromSettings(
  settings: { readonly MCP_HTTP_RATE_LIMIT: number },
  opts: Omit<RateLimiterOptions, "limit"> = {},
): RateLimiter | null {
  return settings.MCP_HTTP_RATE_LIMIT > 0
    ? new RateLimiter({ ...opts, limit: settings.MCP_HTTP_RATE_LIMIT })
    : null;
}

/** The 429 answer for a refused `take`. */
export function rateLimitResponse(retryAfterS: number): Response {
  return Response.json(
    { error: "rate_limited", error_description: "Too many requests; retry later" },
    { status: 429, headers: { "Retry-After": String(retryAfterS) } },
  );
}
