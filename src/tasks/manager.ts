/**
 * Async tasks (TOOLS.md §15, SECURITY.md §TASK): commands that outlive the
 * tool call that started them.
 *
 * - One manager per server, built by `App`, whose shutdown kills every
 *   running task before connections close (TASK-6).
 * - Ids `async:<alias>:<32 hex>`; a task belongs to the MCP session that
 *   created it; other sessions see `not_found` (TASK-2).
 * - At most `SSH_TASK_MAX_CONCURRENT` running tasks per server (TASK-3).
 * - Output goes to a bounded {@link LineRing}; the final result keeps the
 *   usual head+tail capped buffers (OUT-1).
 * - Finished tasks are kept `SSH_TASK_KEEPALIVE_S` seconds, then forgotten
 *   (TASK-4).
 * - With a shared state (Redis, `SSH_STATE_URL`; see src/state/state.ts) the
 *   record of every task (status, byte counts, the ring's lines, the final
 *   result) is also written there: at every status change, at most every
 *   {@link PERSIST_EVERY_MS} while output arrives, and when it ends; key TTL
 *   `SSH_TASK_KEEPALIVE_S` after the end, {@link RUNNING_GRACE_MS} beyond that
 *   while running (refreshed by a heartbeat). Any replica then answers
 *   `get`/`list` (owner check included: a foreign owner sees not_found), a
 *   cancel on another replica is published to the replica running the task
 *   (which aborts it: remote kill), and a finished result outlives the
 *   replica that ran it. A task whose replica stopped without writing its end
 *   is reported `failed` once its heartbeat is stale. The running-task cap
 *   stays per replica. The record holds command output (bounded by the ring
 *   and the exec caps, expired by TTL).
 *
 * @module
 */

import type { Settings } from "../config/types.ts";
import { ToolError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { RawExecResult } from "../ssh/exec.ts";
import { LineRing } from "./ring.ts";
import { randomHex } from "../util/random.ts";
import { getJson, ownerTag, type SharedState } from "../state/state.ts";

/** Shortest gap between two writes of a running task's record (shared state). */
export const PERSIST_EVERY_MS = 200;
/** Heartbeat of running tasks in the shared state. */
export const HEARTBEAT_MS = 30_000;
/** A running task whose heartbeat is older than this is reported failed (its replica stopped). */
export const STALE_AFTER_MS = 100_000;
/** Extra TTL of a running task's record beyond the keep-alive. */
export const RUNNING_GRACE_MS = 120_000;
/** Most task ids kept in one owner's index (shared state). */
const OWNER_INDEX_CAP = 1000;
const CANCEL_CHANNEL = "tasks:cancel";

/** Lifecycle of a task (`not_found` is reported for unknown/foreign/expired ids). */
export type TaskStatus = "pending" | "running" | "completed" | "failed" | "cancelled" | "timeout";

/** What a task runner gets. */
export interface TaskRunContext {
  signal: AbortSignal;
  /** every output chunk (the ring bounds memory) */
  onData(stream: "stdout" | "stderr", chunk: Uint8Array): void;
  /** marks the task running (after the connection was acquired) */
  started(): void;
}

/** A submitted task. */
export interface TaskSpec {
  owner: string;
  alias: string;
  hostname: string;
  commandHash: string;
  correlationId: string;
  /** ring byte bound (stdout cap + stderr cap of the host) */
  ringBytes: number;
  run(ctx: TaskRunContext): Promise<RawExecResult>;
  /** called once when the task reaches a final state (audit line) */
  onFinish?(task: TaskRecord): Promise<void> | void;
}

/** What the tools read of a task's output ring ({@link LineRing} or a snapshot of one). */
export interface RingView {
  tail(n: number): { lines: string[]; available: number };
  readonly dropped: number;
}

/** Everything known about one task. */
export interface TaskRecord {
  readonly id: string;
  readonly owner: string;
  readonly alias: string;
  readonly hostname: string;
  readonly commandHash: string;
  readonly correlationId: string;
  readonly createdAt: number;
  status: TaskStatus;
  finishedAt: number | null;
  bytesOut: number;
  bytesErr: number;
  ring: RingView;
  raw: RawExecResult | null;
  error: { code: string; message: string } | null;
  readonly abort: AbortController;
  /** resolves when the task reached a final state */
  done: Promise<void>;
  /** the replica running it, when it runs on another one (a snapshot from the shared state) */
  readonly remoteReplica?: string;
}

/** A task as written to the shared state. */
interface TaskDoc {
  v: 1;
  id: string;
  owner: string;
  alias: string;
  hostname: string;
  commandHash: string;
  correlationId: string;
  createdAt: number;
  status: TaskStatus;
  finishedAt: number | null;
  bytesOut: number;
  bytesErr: number;
  ring: { lines: string[]; available: number; dropped: number };
  raw:
    | (Omit<RawExecResult, "stdoutRaw" | "stderrRaw"> & { stdoutB64: string; stderrB64: string })
    | null;
  error: { code: string; message: string } | null;
  replica: string;
  beat: number;
}

function b64(u: Uint8Array): string {
  let s = "";
  for (let i = 0; i < u.length; i += 0x8000) {
    s += String.fromCharCode(...u.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

function unb64(s: string): Uint8Array {
  const bin = atob(s);
  const u = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) u[i] = bin.charCodeAt(i);
  return u;
}

/** A frozen ring (the lines of a snapshot). */
class RingSnapshot implements RingView {
  readonly #lines: string[];
  readonly dropped: number;
  constructor(lines: string[], dropped: number) {
    this.#lines = lines;
    this.dropped = dropped;
  }
  tail(n: number): { lines: string[]; available: number } {
    const l = this.#lines;
    return { lines: l.slice(Math.max(0, l.length - n)), available: l.length };
  }
}

/** True for final states. */
export function isFinal(s: TaskStatus): boolean {
  return s !== "pending" && s !== "running";
}

/** The task table of one server. */
export class TaskManager {
  readonly #settings: Settings;
  readonly #logger: Logger;
  readonly #tasks = new Map<string, TaskRecord>();
  readonly #expiry = new Map<string, ReturnType<typeof setTimeout>>();
  #closed = false;
  #state: SharedState | null = null;
  #unsubscribe: (() => Promise<void>) | null = null;
  #heartbeat: ReturnType<typeof setInterval> | undefined;
  /** per task: the write chain (writes of one task never overtake each other) */
  readonly #writes = new Map<string, Promise<void>>();
  /** per task: a pending throttled write */
  readonly #pending = new Map<string, ReturnType<typeof setTimeout>>();

  constructor(settings: Settings, logger: Logger) {
    this.#settings = settings;
    this.#logger = logger;
  }

  /**
   * Shares the task table through `state` (only a state with `shared` set
   * changes anything). Called once, before the first task.
   */
  async useState(state: SharedState): Promise<void> {
    if (!state.shared) return;
    this.#state = state;
    this.#unsubscribe = await state.subscribe(CANCEL_CHANNEL, (id) => {
      const t = this.#tasks.get(id);
      if (t && !isFinal(t.status)) t.abort.abort();
    });
    const hb = setInterval(() => {
      for (const t of this.#tasks.values()) if (!isFinal(t.status)) this.#persist(t, true);
    }, HEARTBEAT_MS);
    Deno.unrefTimer(hb as unknown as number);
    this.#heartbeat = hb;
  }

  /** Running (non-final) tasks of this replica. */
  get running(): number {
    let n = 0;
    for (const t of this.#tasks.values()) if (!isFinal(t.status)) n++;
    return n;
  }

  /** Starts a task; throws when the server already runs the maximum (TASK-3). */
  submit(spec: TaskSpec): TaskRecord {
    if (this.#closed) throw new ToolError("RuntimeError", "The server is shutting down.");
    const max = this.#settings.SSH_TASK_MAX_CONCURRENT;
    if (this.running >= max) {
      throw new ToolError(
        "RuntimeError",
        `too many running tasks (${max}, SSH_TASK_MAX_CONCURRENT): wait for one to finish or cancel one with ssh_cancel_async_task.`,
        { limit: max },
      );
    }
    const id = `async:${spec.alias}:${randomHex(16)}`;
    const abort = new AbortController();
    const t: TaskRecord = {
      id,
      owner: spec.owner,
      alias: spec.alias,
      hostname: spec.hostname,
      commandHash: spec.commandHash,
      correlationId: spec.correlationId,
      createdAt: Date.now(),
      status: "pending",
      finishedAt: null,
      bytesOut: 0,
      bytesErr: 0,
      ring: new LineRing(this.#settings.SSH_TASK_OUTPUT_LINES, spec.ringBytes),
      raw: null,
      error: null,
      abort,
      done: Promise.resolve(),
    };
    this.#tasks.set(id, t);
    if (this.#state) {
      this.#persist(t, true);
      const st = this.#state;
      void st.push(
        `tasks:owner:${ownerTag(t.owner)}`,
        id,
        OWNER_INDEX_CAP,
        this.#settings.SSH_TASK_KEEPALIVE_S * 1000 + RUNNING_GRACE_MS + 24 * 3600_000,
      ).catch((e) => this.#writeFailed(t, e));
    }
    t.done = this.#drive(t, spec);
    return t;
  }

  #writeFailed(t: TaskRecord, e: unknown): void {
    this.#logger.warn("async task: shared state write failed", {
      task_id: t.id,
      error: (e as Error).message,
    });
  }

  #doc(t: TaskRecord): TaskDoc {
    const all = t.ring.tail(Number.MAX_SAFE_INTEGER);
    const r = t.raw;
    let raw: TaskDoc["raw"] = null;
    if (r) {
      const { stdoutRaw, stderrRaw, ...rest } = r;
      raw = { ...rest, stdoutB64: b64(stdoutRaw), stderrB64: b64(stderrRaw) };
    }
    return {
      v: 1,
      id: t.id,
      owner: ownerTag(t.owner),
      alias: t.alias,
      hostname: t.hostname,
      commandHash: t.commandHash,
      correlationId: t.correlationId,
      createdAt: t.createdAt,
      status: t.status,
      finishedAt: t.finishedAt,
      bytesOut: t.bytesOut,
      bytesErr: t.bytesErr,
      ring: { lines: all.lines, available: all.available, dropped: t.ring.dropped },
      raw,
      error: t.error,
      replica: this.#state!.replicaId,
      beat: Date.now(),
    };
  }

  /**
   * Writes the record to the shared state: at once when `now`, else at most
   * every {@link PERSIST_EVERY_MS}. Resolves when the write is done.
   */
  #persist(t: TaskRecord, now: boolean): Promise<void> {
    const st = this.#state;
    if (!st) return Promise.resolve();
    if (!now) {
      if (this.#pending.has(t.id)) return Promise.resolve();
      const timer = setTimeout(() => {
        this.#pending.delete(t.id);
        void this.#persist(t, true);
      }, PERSIST_EVERY_MS);
      Deno.unrefTimer(timer as unknown as number);
      this.#pending.set(t.id, timer);
      return Promise.resolve();
    }
    const pending = this.#pending.get(t.id);
    if (pending !== undefined) {
      clearTimeout(pending);
      this.#pending.delete(t.id);
    }
    const keep = this.#settings.SSH_TASK_KEEPALIVE_S * 1000;
    const doc = this.#doc(t);
    const ttl = doc.finishedAt !== null
      ? Math.max(1, doc.finishedAt + keep - Date.now())
      : keep + RUNNING_GRACE_MS;
    const prev = this.#writes.get(t.id) ?? Promise.resolve();
    const next = prev.then(() => st.set(`task:${t.id}`, JSON.stringify(doc), ttl))
      .catch((e) => this.#writeFailed(t, e));
    this.#writes.set(t.id, next);
    void next.then(() => {
      if (this.#writes.get(t.id) === next) this.#writes.delete(t.id);
    });
    return next;
  }

  /** A record of another replica, from the shared state (null when unknown or foreign). */
  async #remote(id: string, owner: string): Promise<TaskRecord | null> {
    const st = this.#state!;
    if (!/^async:[^\s]{1,200}$/.test(id)) return null;
    const d = await getJson<TaskDoc>(st, `task:${id}`);
    if (!d || d.v !== 1 || d.owner !== ownerTag(owner)) return null;
    const keep = this.#settings.SSH_TASK_KEEPALIVE_S * 1000;
    if (d.finishedAt !== null && Date.now() - d.finishedAt >= keep) return null;
    let status = d.status;
    let error = d.error;
    let finishedAt = d.finishedAt;
    if (!isFinal(status) && Date.now() - d.beat > STALE_AFTER_MS) {
      status = "failed";
      finishedAt = d.beat;
      error = {
        code: "RuntimeError",
        message:
          `the server replica running this task (${d.replica}) stopped before the task finished`,
      };
    }
    let raw: RawExecResult | null = null;
    if (d.raw) {
      const { stdoutB64, stderrB64, ...rest } = d.raw;
      raw = { ...rest, stdoutRaw: unb64(stdoutB64), stderrRaw: unb64(stderrB64) };
    }
    return {
      id: d.id,
      owner,
      alias: d.alias,
      hostname: d.hostname,
      commandHash: d.commandHash,
      correlationId: d.correlationId,
      createdAt: d.createdAt,
      status,
      finishedAt,
      bytesOut: d.bytesOut,
      bytesErr: d.bytesErr,
      ring: new RingSnapshot(d.ring.lines, d.ring.dropped),
      raw,
      error,
      abort: new AbortController(),
      done: Promise.resolve(),
      remoteReplica: d.replica,
    };
  }

  async #drive(t: TaskRecord, spec: TaskSpec): Promise<void> {
    const ring = t.ring as LineRing;
    // let the submitting call return first
    await Promise.resolve();
    try {
      if (t.abort.signal.aborted) throw new ToolError("Cancelled", "The task was cancelled.");
      const raw = await spec.run({
        signal: t.abort.signal,
        onData: (stream, chunk) => {
          if (stream === "stdout") t.bytesOut += chunk.length;
          else t.bytesErr += chunk.length;
          ring.push(stream, chunk);
          void this.#persist(t, false);
        },
        started: () => {
          if (t.status === "pending") {
            t.status = "running";
            void this.#persist(t, true);
          }
        },
      });
      t.raw = raw;
      t.bytesOut = raw.stdoutBytes;
      t.bytesErr = raw.stderrBytes;
      t.status = raw.cancelled
        ? "cancelled"
        : raw.timedOut
        ? "timeout"
        : raw.exitCode === 0
        ? "completed"
        : "failed";
    } catch (e) {
      const code = e instanceof ToolError ? e.code : "RuntimeError";
      if (code === "Cancelled" || t.abort.signal.aborted) {
        t.status = "cancelled";
        t.error = { code: "Cancelled", message: "The task was cancelled before it started." };
      } else {
        t.status = "failed";
        t.error = {
          code,
          message: e instanceof ToolError ? e.message : "internal error (see the server log)",
        };
        if (!(e instanceof ToolError)) {
          this.#logger.error("async task failed", {
            task_id: t.id,
            error: e instanceof Error ? `${e.name}: ${e.message}` : String(e),
          });
        }
      }
    }
    ring.end();
    t.finishedAt = Date.now();
    this.#scheduleExpiry(t);
    // the final record is written before `done` resolves (shutdown waits for it)
    await this.#persist(t, true);
    try {
      await spec.onFinish?.(t);
    } catch (e) {
      this.#logger.warn("task finish hook failed", { error: (e as Error).message });
    }
  }

  #scheduleExpiry(t: TaskRecord): void {
    if (this.#closed) return;
    const id = setTimeout(() => {
      this.#tasks.delete(t.id);
      this.#expiry.delete(t.id);
    }, this.#settings.SSH_TASK_KEEPALIVE_S * 1000);
    Deno.unrefTimer(id as unknown as number);
    this.#expiry.set(t.id, id);
  }

  /**
   * The caller's task on any replica, or null (unknown, another session's,
   * or expired: TASK-2, TASK-4). Without a shared state this is {@link get};
   * with one, a task of another replica is a snapshot read from the state
   * (`remoteReplica` set; {@link cancel} accepts it). The tools use this.
   */
  lookup(id: string, owner: string): Promise<TaskRecord | null> {
    const local = this.get(id, owner);
    if (local || !this.#state || this.#tasks.has(id)) return Promise.resolve(local);
    return this.#remote(id, owner);
  }

  /** The caller's task held by this replica, or null (unknown, another session's, or expired). */
  get(id: string, owner: string): TaskRecord | null {
    const t = this.#tasks.get(id);
    if (!t || t.owner !== owner) return null;
    if (t.finishedAt !== null) {
      const ttl = this.#settings.SSH_TASK_KEEPALIVE_S * 1000;
      if (Date.now() - t.finishedAt >= ttl) {
        this.#tasks.delete(id);
        return null;
      }
    }
    return t;
  }

  /** The caller's tasks held by this replica, newest first. */
  list(owner: string): TaskRecord[] {
    return [...this.#tasks.values()]
      .filter((t) => this.get(t.id, owner) !== null)
      .sort((a, b) => b.createdAt - a.createdAt);
  }

  /** The caller's tasks of every replica (with a shared state; else {@link list}), newest first. */
  async listAll(owner: string): Promise<TaskRecord[]> {
    const out = this.list(owner);
    if (this.#state) {
      const ids = new Set(await this.#state.list(`tasks:owner:${ownerTag(owner)}`));
      for (const t of out) ids.delete(t.id);
      for (const id of ids) if (this.#tasks.has(id)) ids.delete(id);
      const remote = await Promise.all([...ids].map((id) => this.#remote(id, owner)));
      for (const r of remote) if (r) out.push(r);
    }
    return out.sort((a, b) => b.createdAt - a.createdAt);
  }

  /**
   * Cancels a running task with the kill procedure (TASK-5) and waits for it
   * to settle (bounded). False when the task had already finished.
   */
  async cancel(t: TaskRecord, waitMs = 15_000): Promise<boolean> {
    if (isFinal(t.status)) return false;
    if (t.remoteReplica !== undefined && this.#tasks.get(t.id) !== t) {
      return await this.#cancelRemote(t, waitMs);
    }
    t.abort.abort();
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      t.done,
      new Promise<void>((r) => (timer = setTimeout(r, waitMs))),
    ]);
    clearTimeout(timer);
    return true;
  }

  /**
   * A task of another replica: publishes the cancel to the replica running
   * it, then follows the shared record until it is final (bounded) and
   * copies the outcome into `t`.
   */
  async #cancelRemote(t: TaskRecord, waitMs: number): Promise<boolean> {
    const st = this.#state!;
    await st.publish(CANCEL_CHANNEL, t.id);
    const end = Date.now() + waitMs;
    while (Date.now() < end) {
      await new Promise((r) => setTimeout(r, 100));
      const now = await this.#remote(t.id, t.owner);
      if (!now) break;
      if (isFinal(now.status)) {
        Object.assign(t, {
          status: now.status,
          finishedAt: now.finishedAt,
          bytesOut: now.bytesOut,
          bytesErr: now.bytesErr,
          ring: now.ring,
          raw: now.raw,
          error: now.error,
        });
        break;
      }
    }
    return true;
  }

  /** TASK-6: kills every running task, then forgets all tasks. */
  async shutdown(): Promise<void> {
    this.#closed = true;
    const running = [...this.#tasks.values()].filter((t) => !isFinal(t.status));
    await Promise.all(running.map((t) => this.cancel(t, 10_000)));
    clearInterval(this.#heartbeat);
    this.#heartbeat = undefined;
    await Promise.allSettled([...this.#writes.values()]);
    await this.#unsubscribe?.().catch(() => {});
    this.#unsubscribe = null;
    for (const id of this.#expiry.values()) clearTimeout(id);
    this.#expiry.clear();
    this.#tasks.clear();
  }
}
