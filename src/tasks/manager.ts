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
 *
 * @module
 */

import type { Settings } from "../config/types.ts";
import { ToolError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { RawExecResult } from "../ssh/exec.ts";
import { LineRing } from "./ring.ts";
import { randomHex } from "../util/random.ts";

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
  ring: LineRing;
  raw: RawExecResult | null;
  error: { code: string; message: string } | null;
  readonly abort: AbortController;
  /** resolves when the task reached a final state */
  done: Promise<void>;
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

  constructor(settings: Settings, logger: Logger) {
    this.#settings = settings;
    this.#logger = logger;
  }

  /** Running (non-final) tasks of the whole server. */
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
    t.done = this.#drive(t, spec);
    return t;
  }

  async #drive(t: TaskRecord, spec: TaskSpec): Promise<void> {
    // let the submitting call return first
    await Promise.resolve();
    try {
      if (t.abort.signal.aborted) throw new ToolError("Cancelled", "The task was cancelled.");
      const raw = await spec.run({
        signal: t.abort.signal,
        onData: (stream, chunk) => {
          if (stream === "stdout") t.bytesOut += chunk.length;
          else t.bytesErr += chunk.length;
          t.ring.push(stream, chunk);
        },
        started: () => {
          if (t.status === "pending") t.status = "running";
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
    t.ring.end();
    t.finishedAt = Date.now();
    this.#scheduleExpiry(t);
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

  /** The caller's task, or null (unknown, another session's, or expired: TASK-2, TASK-4). */
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

  /** The caller's tasks, newest first. */
  list(owner: string): TaskRecord[] {
    return [...this.#tasks.values()]
      .filter((t) => this.get(t.id, owner) !== null)
      .sort((a, b) => b.createdAt - a.createdAt);
  }

  /**
   * Cancels a running task with the kill procedure (TASK-5) and waits for it
   * to settle (bounded). False when the task had already finished.
   */
  async cancel(t: TaskRecord, waitMs = 15_000): Promise<boolean> {
    if (isFinal(t.status)) return false;
    t.abort.abort();
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      t.done,
      new Promise<void>((r) => (timer = setTimeout(r, waitMs))),
    ]);
    clearTimeout(timer);
    return true;
  }

  /** TASK-6: kills every running task, then forgets all tasks. */
  async shutdown(): Promise<void> {
    this.#closed = true;
    const running = [...this.#tasks.values()].filter((t) => !isFinal(t.status));
    await Promise.all(running.map((t) => this.cancel(t, 10_000)));
    for (const id of this.#expiry.values()) clearTimeout(id);
    this.#expiry.clear();
    this.#tasks.clear();
  }
}
