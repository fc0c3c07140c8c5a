/**
 * Shared state of several server replicas (issue 14 item 5).
 *
 * One small interface, {@link SharedState}, with two back ends:
 *
 * - {@link MemoryState} (the default, `SSH_STATE_URL` unset): this process
 *   only; the stores keep their own in-memory tables exactly as before and
 *   use nothing of the state but its signing key;
 * - {@link RedisState} (`SSH_STATE_URL=redis://...` or `rediss://...`): async
 *   tasks, MCP tasks and their results, large outputs, resumable SSE events,
 *   approval grants, one-time nonces and the `shell id -> replica` table live
 *   in Redis, so any replica behind a load balancer answers for them.
 *
 * Rules every user of the state keeps:
 *
 * - every key has a TTL (`set`, `setIfAbsent` and `push` take one; the only
 *   key without one is the signing key of signed questions, which must not
 *   change while replicas run);
 * - keys are `ssh-mcp:<kind>:<id>`; caller keys (session ids, principals) are
 *   never written in clear: the stores write their SHA-256 ({@link ownerTag});
 * - nothing from the settings is written (no URL, token or password), but
 *   **task output and large tool outputs are**: bounded by the same caps as in
 *   memory and expired by TTL. Protect the Redis server like the audit log
 *   (network ACL, `requirepass`/ACL user, `rediss://` across hosts);
 * - a failing Redis never leaks its URL: errors are
 *   `ToolError("RuntimeError", "shared state (Redis) unavailable: ...")`.
 *
 * @module
 */

import type { Settings } from "../config/types.ts";
import { ToolError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { sha256 } from "../util/digest.ts";
import { randomHex } from "../util/random.ts";

/** Prefix of every key and channel. */
export const KEY_PREFIX = "ssh-mcp:";

/** What the stores need from a shared state. */
export interface SharedState {
  /** "memory" (this process only) or "redis" */
  readonly kind: "memory" | "redis";
  /** true when other replicas see what is written (the stores then use it) */
  readonly shared: boolean;
  /** random per process (per state object): names the replica holding a task or shell */
  readonly replicaId: string;
  /** HMAC key of signed questions: the same on every replica sharing the state */
  readonly signingKey: Uint8Array;
  /** a string value, or null when missing or expired */
  get(key: string): Promise<string | null>;
  /** several values at once (null for missing ones) */
  getMany(keys: readonly string[]): Promise<(string | null)[]>;
  /** stores a value for `ttlMs` milliseconds */
  set(key: string, value: string, ttlMs: number): Promise<void>;
  /** stores a value unless the key exists; true when it was stored (atomic) */
  setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean>;
  /** deletes a key (no error when missing) */
  del(key: string): Promise<void>;
  /** milliseconds the key has left; -2 when missing, -1 without TTL */
  ttl(key: string): Promise<number>;
  /** appends to a list, keeps its last `cap` items and sets its TTL; returns the length */
  push(key: string, value: string, cap: number, ttlMs: number): Promise<number>;
  /** every item of a list, oldest first */
  list(key: string): Promise<string[]>;
  /** sends a message to every subscriber of `channel` (on every replica) */
  publish(channel: string, message: string): Promise<void>;
  /** calls `fn` for every message on `channel`; resolves to the unsubscribe function */
  subscribe(channel: string, fn: (message: string) => void): Promise<() => Promise<void>>;
  /** waits for writes in flight, then closes the connections */
  close(): Promise<void>;
}

/** The SHA-256 (hex, 32 chars) of a caller key: what the state holds instead of it. */
export function ownerTag(owner: string): string {
  return sha256(`ssh-mcp-owner\0${owner}`).toHex().slice(0, 32);
}

/** A JSON value of the state, or null (missing, expired or unparsable). */
export async function getJson<T>(state: SharedState, key: string): Promise<T | null> {
  const v = await state.get(key);
  if (v === null) return null;
  try {
    return JSON.parse(v) as T;
  } catch {
    return null;
  }
}

function ttlOk(ttlMs: number): number {
  if (!Number.isFinite(ttlMs) || ttlMs <= 0) {
    throw new RangeError(`shared state: a TTL must be positive (got ${ttlMs})`);
  }
  return Math.ceil(ttlMs);
}

interface MemEntry {
  value: string | string[];
  /** epoch ms, Infinity without TTL */
  expires: number;
}

/**
 * The in-process state (default). The stores do not route their tables
 * through it (`shared` is false); it exists so that code and tests can run
 * the same contract against both back ends.
 */
export class MemoryState implements SharedState {
  readonly kind = "memory" as const;
  readonly shared = false;
  readonly replicaId: string = randomHex(8);
  readonly signingKey: Uint8Array = crypto.getRandomValues(new Uint8Array(32));
  readonly #data = new Map<string, MemEntry>();
  readonly #subs = new Map<string, Set<(m: string) => void>>();
  readonly #now: () => number;
  #writes = 0;

  constructor(opts: { now?: () => number } = {}) {
    this.#now = opts.now ?? Date.now;
  }

  #live(key: string): MemEntry | undefined {
    const e = this.#data.get(key);
    if (!e) return undefined;
    if (e.expires <= this.#now()) {
      this.#data.delete(key);
      return undefined;
    }
    return e;
  }

  #sweep(): void {
    if (++this.#writes % 256 !== 0) return;
    const now = this.#now();
    for (const [k, e] of this.#data) if (e.expires <= now) this.#data.delete(k);
  }

  get(key: string): Promise<string | null> {
    const e = this.#live(key);
    return Promise.resolve(e && typeof e.value === "string" ? e.value : null);
  }

  getMany(keys: readonly string[]): Promise<(string | null)[]> {
    return Promise.all(keys.map((k) => this.get(k)));
  }

  set(key: string, value: string, ttlMs: number): Promise<void> {
    const t = ttlOk(ttlMs);
    this.#sweep();
    this.#data.set(key, { value, expires: this.#now() + t });
    return Promise.resolve();
  }

  setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean> {
    const t = ttlOk(ttlMs);
    if (this.#live(key)) return Promise.resolve(false);
    this.#sweep();
    this.#data.set(key, { value, expires: this.#now() + t });
    return Promise.resolve(true);
  }

  del(key: string): Promise<void> {
    this.#data.delete(key);
    return Promise.resolve();
  }

  ttl(key: string): Promise<number> {
    const e = this.#live(key);
    if (!e) return Promise.resolve(-2);
    return Promise.resolve(e.expires === Infinity ? -1 : e.expires - this.#now());
  }

  push(key: string, value: string, cap: number, ttlMs: number): Promise<number> {
    const t = ttlOk(ttlMs);
    const e = this.#live(key);
    const list = e && Array.isArray(e.value) ? e.value : [];
    list.push(value);
    if (list.length > cap) list.splice(0, list.length - Math.max(1, cap));
    this.#sweep();
    this.#data.set(key, { value: list, expires: this.#now() + t });
    return Promise.resolve(list.length);
  }

  list(key: string): Promise<string[]> {
    const e = this.#live(key);
    return Promise.resolve(e && Array.isArray(e.value) ? [...e.value] : []);
  }

  publish(channel: string, message: string): Promise<void> {
    // asynchronous delivery, like Redis
    for (const fn of [...(this.#subs.get(channel) ?? [])]) queueMicrotask(() => fn(message));
    return Promise.resolve();
  }

  subscribe(channel: string, fn: (message: string) => void): Promise<() => Promise<void>> {
    let set = this.#subs.get(channel);
    if (!set) this.#subs.set(channel, set = new Set());
    const own = (m: string) => fn(m);
    set.add(own);
    return Promise.resolve(() => {
      set!.delete(own);
      return Promise.resolve();
    });
  }

  close(): Promise<void> {
    this.#data.clear();
    this.#subs.clear();
    return Promise.resolve();
  }
}

/** Redis connection options (tests shorten the timeouts). */
export interface RedisStateOptions {
  /** milliseconds one command may take before it fails (default 10 s) */
  commandTimeoutMs?: number;
  /** milliseconds the first connection may take (default 10 s) */
  connectTimeoutMs?: number;
}

/** The message of a Redis failure, without anything that could hold the URL. */
export function redisErrorText(e: unknown): string {
  const raw = e instanceof Error ? e.message : String(e);
  return raw.replace(/rediss?:\/\/\S*/gi, "redis://<redacted>").slice(0, 300) || "unknown error";
}

function unavailable(e: unknown): ToolError {
  if (e instanceof ToolError) return e;
  return new ToolError("RuntimeError", `shared state (Redis) unavailable: ${redisErrorText(e)}`);
}

// deno-lint-ignore no-explicit-any
type RedisClient = any;

/** The signing key's name (no TTL: it must not change while replicas run). */
const SIGNING_KEY = `${KEY_PREFIX}signing-key`;

/**
 * Redis through node-redis: one command connection and one subscriber
 * connection; the client reconnects by itself; commands issued while
 * disconnected fail at once (no offline queue) with the "unavailable" error.
 */
export class RedisState implements SharedState {
  readonly kind = "redis" as const;
  readonly shared = true;
  readonly replicaId: string = randomHex(8);
  signingKey: Uint8Array = new Uint8Array(0);
  readonly #cmd: RedisClient;
  readonly #sub: RedisClient;
  readonly #timeoutMs: number;
  readonly #inflight = new Set<Promise<unknown>>();
  readonly #handlers = new Map<string, Set<(m: string) => void>>();
  #closed = false;

  private constructor(cmd: RedisClient, sub: RedisClient, timeoutMs: number) {
    this.#cmd = cmd;
    this.#sub = sub;
    this.#timeoutMs = timeoutMs;
  }

  /** Connects both connections and loads (or creates) the shared signing key. */
  static async connect(
    url: string,
    logger: Logger,
    opts: RedisStateOptions = {},
  ): Promise<RedisState> {
    const { createClient } = await import("redis");
    const connectTimeout = opts.connectTimeoutMs ?? 10_000;
    let lastWarn = 0;
    const onError = (which: string) => (e: unknown) => {
      // the client reconnects by itself; one warning per 30 s at most
      const now = Date.now();
      if (now - lastWarn < 30_000) return;
      lastWarn = now;
      logger.warn("shared state (Redis) connection error", {
        connection: which,
        error: redisErrorText(e),
      });
    };
    const cmd = createClient({
      url,
      disableOfflineQueue: true,
      socket: {
        connectTimeout,
        reconnectStrategy: (retries: number) => Math.min(100 * 2 ** retries, 2000),
      },
    });
    cmd.on("error", onError("command"));
    const sub = cmd.duplicate();
    sub.on("error", onError("subscriber"));
    const state = new RedisState(cmd, sub, opts.commandTimeoutMs ?? 10_000);
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([
        Promise.all([cmd.connect(), sub.connect()]),
        new Promise((_, rej) => {
          timer = setTimeout(
            () => rej(new Error(`no connection within ${connectTimeout} ms`)),
            connectTimeout,
          );
        }),
      ]);
      state.signingKey = await state.#loadSigningKey();
    } catch (e) {
      await Promise.allSettled([cmd.destroy?.(), sub.destroy?.()].filter(Boolean));
      throw unavailable(e);
    } finally {
      clearTimeout(timer);
    }
    return state;
  }

  async #loadSigningKey(): Promise<Uint8Array> {
    const fresh = crypto.getRandomValues(new Uint8Array(32));
    const hex = [...fresh].map((b) => b.toString(16).padStart(2, "0")).join("");
    await this.#cmd.set(SIGNING_KEY, hex, { NX: true });
    const stored = String(await this.#cmd.get(SIGNING_KEY) ?? "");
    if (!/^[0-9a-f]{64}$/.test(stored)) throw new Error("the stored signing key is malformed");
    return new Uint8Array(stored.match(/../g)!.map((h) => parseInt(h, 16)));
  }

  /** Runs one command with the timeout and the error mapping. */
  async #run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#closed) throw unavailable(new Error("the state is closed"));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const p = Promise.race([
      fn(),
      new Promise<never>((_, rej) => {
        timer = setTimeout(
          () => rej(new Error(`no answer within ${this.#timeoutMs} ms`)),
          this.#timeoutMs,
        );
      }),
    ]);
    this.#inflight.add(p);
    try {
      return await p;
    } catch (e) {
      throw unavailable(e);
    } finally {
      clearTimeout(timer);
      this.#inflight.delete(p);
    }
  }

  get(key: string): Promise<string | null> {
    return this.#run(async () => {
      const v = await this.#cmd.get(KEY_PREFIX + key);
      return v === null || v === undefined ? null : String(v);
    });
  }

  getMany(keys: readonly string[]): Promise<(string | null)[]> {
    if (!keys.length) return Promise.resolve([]);
    return this.#run(async () => {
      const vs = await this.#cmd.mGet(keys.map((k) => KEY_PREFIX + k)) as unknown[];
      return vs.map((v) => (v === null || v === undefined ? null : String(v)));
    });
  }

  set(key: string, value: string, ttlMs: number): Promise<void> {
    const t = ttlOk(ttlMs);
    return this.#run(async () => {
      await this.#cmd.set(KEY_PREFIX + key, value, { PX: t });
    });
  }

  setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean> {
    const t = ttlOk(ttlMs);
    return this.#run(async () => {
      const r = await this.#cmd.set(KEY_PREFIX + key, value, { PX: t, NX: true });
      return r !== null && r !== undefined;
    });
  }

  del(key: string): Promise<void> {
    return this.#run(async () => {
      await this.#cmd.del(KEY_PREFIX + key);
    });
  }

  ttl(key: string): Promise<number> {
    return this.#run(async () => Number(await this.#cmd.pTTL(KEY_PREFIX + key)));
  }

  push(key: string, value: string, cap: number, ttlMs: number): Promise<number> {
    const t = ttlOk(ttlMs);
    const k = KEY_PREFIX + key;
    return this.#run(async () => {
      const r = await this.#cmd.multi()
        .rPush(k, value)
        .lTrim(k, -Math.max(1, cap), -1)
        .pExpire(k, t)
        .lLen(k)
        .exec() as unknown[];
      return Number(r[3]);
    });
  }

  list(key: string): Promise<string[]> {
    return this.#run(async () =>
      ((await this.#cmd.lRange(KEY_PREFIX + key, 0, -1)) as unknown[]).map(String)
    );
  }

  publish(channel: string, message: string): Promise<void> {
    return this.#run(async () => {
      await this.#cmd.publish(KEY_PREFIX + channel, message);
    });
  }

  subscribe(channel: string, fn: (message: string) => void): Promise<() => Promise<void>> {
    const ch = KEY_PREFIX + channel;
    return this.#run(async () => {
      let set = this.#handlers.get(ch);
      if (!set) {
        this.#handlers.set(ch, set = new Set());
        const handlers = set;
        await this.#sub.subscribe(ch, (m: unknown) => {
          for (const h of [...handlers]) {
            try {
              h(String(m));
            } catch {
              // a handler's failure is its own business
            }
          }
        });
      }
      const own = (m: string) => fn(m);
      set.add(own);
      return async () => {
        set!.delete(own);
        if (set!.size === 0 && this.#handlers.get(ch) === set && !this.#closed) {
          this.#handlers.delete(ch);
          await this.#sub.unsubscribe(ch).catch(() => {});
        }
      };
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    // writes issued before close (final task states) complete first
    await Promise.allSettled([...this.#inflight]);
    this.#closed = true;
    this.#handlers.clear();
    for (const c of [this.#sub, this.#cmd]) {
      try {
        await c.close();
      } catch {
        try {
          c.destroy();
        } catch {
          // already gone
        }
      }
    }
  }
}

/**
 * The state the settings ask for: Redis for `SSH_STATE_URL`, else memory.
 * Never logs the URL (it may hold a password).
 */
export async function openState(
  settings: Pick<Settings, "SSH_STATE_URL">,
  logger: Logger,
  opts: RedisStateOptions = {},
): Promise<SharedState> {
  const url = settings.SSH_STATE_URL;
  if (url === null || url === "") return new MemoryState();
  const state = await RedisState.connect(url, logger, opts);
  logger.info("shared state: Redis", { replica: state.replicaId });
  return state;
}
