/**
 * The SDK `TaskStore` behind MCP-native tasks (TOOLS.md §15 "MCP-native
 * tasks"): `tools/call` with a `task` parameter on a tool declaring
 * `execution.taskSupport: "optional"` returns a `CreateTaskResult` at once and
 * runs in the background; the client polls `tasks/get`, fetches
 * `tasks/result` and may `tasks/cancel`.
 *
 * Differences from the SDK's demo `InMemoryTaskStore`:
 *
 * - `tasks/cancel` (a status update to `cancelled`) aborts the running work
 *   through a registered callback, so the remote process group is killed
 *   (SECURITY.md §TIMEOUT) instead of the command running on unobserved;
 * - a TTL ceiling (`SSH_TASK_KEEPALIVE_S`) and a cap on running tasks
 *   (`SSH_TASK_MAX_CONCURRENT`), so memory stays bounded;
 * - tasks are bound to the caller that created them (its caller key: the
 *   session, or the authenticated principal on HTTP); any other caller gets
 *   "not found", as for `ssh_get_task_status`, and task ids are 128-bit
 *   random values, so a stateless 2026-07-28 request cannot reach another
 *   caller's task by guessing;
 * - `tasks/result` waits on a status-change signal instead of a poll loop.
 *
 * The SDK v2 has no task store: src/mcp/server.ts answers the 2025-11-25
 * `tasks/*` methods from this store.
 *
 * @module
 */

import type { CallToolResult, Task } from "@modelcontextprotocol/server";
import { randomHex } from "../util/random.ts";

/** What a task ends with: the `tools/call` result it stood in for. */
type Result = CallToolResult;

/** Parameters of {@link McpTaskStore.createTask}. */
export interface CreateTaskOptions {
  ttl?: number | null;
  pollInterval?: number;
}

interface Stored {
  task: Task;
  caller: string;
  result?: Result;
  /** resolved (and replaced) on every status change */
  changed: PromiseWithResolvers<void>;
  timer?: ReturnType<typeof setTimeout>;
}

function terminal(s: Task["status"]): boolean {
  return s === "completed" || s === "failed" || s === "cancelled";
}

/** Options of {@link McpTaskStore}. */
export interface McpTaskStoreOptions {
  /** TTL ceiling and default, milliseconds */
  maxTtlMs: number;
  /** suggested poll interval, milliseconds */
  pollIntervalMs: number;
  /** running tasks allowed at once */
  maxRunning: number;
}

/** Session-bound task store with cancellation callbacks (see module docs). */
export class McpTaskStore {
  readonly #opts: McpTaskStoreOptions;
  readonly #tasks = new Map<string, Stored>();
  readonly #onCancel = new Map<string, () => void>();

  constructor(opts: McpTaskStoreOptions) {
    this.#opts = opts;
  }

  /** Running (non-terminal) tasks. */
  get running(): number {
    let n = 0;
    for (const s of this.#tasks.values()) if (!terminal(s.task.status)) n++;
    return n;
  }

  /** Registers what to do when the client cancels `taskId`. */
  onCancel(taskId: string, fn: () => void): void {
    this.#onCancel.set(taskId, fn);
  }

  #lookup(taskId: string, caller: string): Stored | undefined {
    const s = this.#tasks.get(taskId);
    return s && s.caller === caller ? s : undefined;
  }

  #changed(s: Stored): void {
    const old = s.changed;
    s.changed = Promise.withResolvers<void>();
    old.resolve();
  }

  /**
   * Resolves when the task changes status, or at once if it is terminal;
   * rejects when `signal` aborts (the `tasks/result` request was cancelled).
   */
  async waitForTerminal(taskId: string, caller: string, signal: AbortSignal): Promise<Task | null> {
    for (;;) {
      const s = this.#lookup(taskId, caller);
      if (!s) return null;
      if (terminal(s.task.status)) return { ...s.task };
      if (signal.aborted) throw new Error("request cancelled");
      const aborted = Promise.withResolvers<void>();
      const onAbort = () => aborted.resolve();
      signal.addEventListener("abort", onAbort, { once: true });
      try {
        await Promise.race([s.changed.promise, aborted.promise]);
      } finally {
        signal.removeEventListener("abort", onAbort);
      }
    }
  }

  #expire(taskId: string, s: Stored): void {
    if (s.timer) clearTimeout(s.timer);
    const ttl = s.task.ttl ?? this.#opts.maxTtlMs;
    s.timer = setTimeout(() => {
      this.#tasks.delete(taskId);
      this.#onCancel.delete(taskId);
    }, ttl);
    Deno.unrefTimer(s.timer as unknown as number);
  }

  createTask(
    params: CreateTaskOptions,
    caller: string,
  ): Promise<Task> {
    if (this.running >= this.#opts.maxRunning) {
      return Promise.reject(
        new Error(`too many running tasks (${this.#opts.maxRunning}, SSH_TASK_MAX_CONCURRENT)`),
      );
    }
    const now = new Date().toISOString();
    const ttl = Math.min(params.ttl ?? this.#opts.maxTtlMs, this.#opts.maxTtlMs);
    const task: Task = {
      taskId: randomHex(16),
      status: "working",
      ttl,
      createdAt: now,
      lastUpdatedAt: now,
      pollInterval: params.pollInterval ?? this.#opts.pollIntervalMs,
    };
    this.#tasks.set(task.taskId, { task, caller, changed: Promise.withResolvers<void>() });
    return Promise.resolve({ ...task });
  }

  getTask(taskId: string, caller: string): Promise<Task | null> {
    const s = this.#lookup(taskId, caller);
    return Promise.resolve(s ? { ...s.task } : null);
  }

  storeTaskResult(
    taskId: string,
    status: "completed" | "failed",
    result: Result,
    caller: string,
  ): Promise<void> {
    const s = this.#lookup(taskId, caller);
    if (!s) return Promise.reject(new Error(`Task ${taskId} not found`));
    if (terminal(s.task.status)) {
      return Promise.reject(new Error(`Task ${taskId} is already ${s.task.status}`));
    }
    s.result = result;
    s.task.status = status;
    s.task.lastUpdatedAt = new Date().toISOString();
    this.#onCancel.delete(taskId);
    this.#expire(taskId, s);
    this.#changed(s);
    return Promise.resolve();
  }

  getTaskResult(taskId: string, caller: string): Promise<Result> {
    const s = this.#lookup(taskId, caller);
    if (!s) return Promise.reject(new Error(`Task ${taskId} not found`));
    if (!s.result) return Promise.reject(new Error(`Task ${taskId} has no result`));
    return Promise.resolve(s.result);
  }

  updateTaskStatus(
    taskId: string,
    status: Task["status"],
    statusMessage: string | undefined,
    caller: string,
  ): Promise<void> {
    const s = this.#lookup(taskId, caller);
    if (!s) return Promise.reject(new Error(`Task ${taskId} not found`));
    if (terminal(s.task.status)) {
      return Promise.reject(new Error(`Task ${taskId} is already ${s.task.status}`));
    }
    s.task.status = status;
    if (statusMessage) s.task.statusMessage = statusMessage;
    s.task.lastUpdatedAt = new Date().toISOString();
    if (terminal(status)) {
      this.#expire(taskId, s);
      const cancel = this.#onCancel.get(taskId);
      this.#onCancel.delete(taskId);
      if (status === "cancelled") cancel?.();
    }
    this.#changed(s);
    return Promise.resolve();
  }

  listTasks(
    cursor: string | undefined,
    caller: string,
  ): Promise<{ tasks: Task[]; nextCursor?: string }> {
    const ids = [...this.#tasks.keys()].filter((id) => this.#lookup(id, caller));
    let start = 0;
    if (cursor) {
      const i = ids.indexOf(cursor);
      if (i < 0) return Promise.reject(new Error(`Invalid cursor: ${cursor}`));
      start = i + 1;
    }
    const page = ids.slice(start, start + 50);
    const tasks = page.map((id) => ({ ...this.#tasks.get(id)!.task }));
    return Promise.resolve(
      start + 50 < ids.length ? { tasks, nextCursor: page[page.length - 1]! } : { tasks },
    );
  }

  /** Cancels every running task and forgets all of them (server shutdown). */
  close(): void {
    for (const [id, s] of this.#tasks) {
      if (!terminal(s.task.status)) this.#onCancel.get(id)?.();
      if (s.timer) clearTimeout(s.timer);
      s.changed.resolve();
    }
    this.#tasks.clear();
    this.#onCancel.clear();
  }
}
