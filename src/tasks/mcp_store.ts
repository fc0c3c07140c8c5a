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
 * With a shared state (`McpTaskStoreOptions.state`, Redis; src/state/state.ts)
 * every task and its stored result are also written there (key TTL: the
 * task's TTL once terminal, TTL + {@link WORKING_GRACE_MS} while working,
 * refreshed by a heartbeat), so `tasks/get`, `tasks/result`, `tasks/list`
 * and `tasks/cancel` work on any replica: a status change is published, a
 * `waitForTerminal` on another replica wakes on it (and re-reads at the
 * task's poll interval as a fallback), and a cancel written by another
 * replica reaches the running one, which aborts the work. A working task
 * whose replica stopped is reported `failed` once its heartbeat is stale.
 * The running-task cap stays per replica. Stored results hold tool output
 * (bounded like any tool result, expired by TTL).
 *
 * @module
 */

import type { CallToolResult, Task } from "@modelcontextprotocol/server";
import { randomHex } from "../util/random.ts";
import { getJson, ownerTag, type SharedState } from "../state/state.ts";

/** Extra TTL of a working task's record in the shared state. */
export const WORKING_GRACE_MS = 3600_000;
/** Heartbeat of working tasks in the shared state. */
const HEARTBEAT_MS = 30_000;
/** A working task whose heartbeat is older than this is reported failed. */
const STALE_AFTER_MS = 100_000;
const OWNER_INDEX_CAP = 1000;
const CHANGED_CHANNEL = "mcptasks:changed";

/** A task as written to the shared state. */
interface TaskDoc {
  v: 1;
  task: Task;
  caller: string;
  result?: CallToolResult;
  replica: string;
  beat: number;
}

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
  /** running tasks allowed at once (per replica) */
  maxRunning: number;
  /** shared state of several replicas (only a state with `shared` set changes anything) */
  state?: SharedState;
}

/** Session-bound task store with cancellation callbacks (see module docs). */
export class McpTaskStore {
  readonly #opts: McpTaskStoreOptions;
  readonly #tasks = new Map<string, Stored>();
  readonly #onCancel = new Map<string, () => void>();
  readonly #state: SharedState | null;
  /** resolves once subscribed to status changes (shared state) */
  readonly #subscribed: Promise<(() => Promise<void>) | null>;
  /** waiters on tasks of other replicas, woken by change messages */
  readonly #waiters = new Map<string, Set<() => void>>();
  readonly #writes = new Set<Promise<void>>();
  #heartbeat: ReturnType<typeof setInterval> | undefined;

  constructor(opts: McpTaskStoreOptions) {
    this.#opts = opts;
    this.#state = opts.state?.shared ? opts.state : null;
    const st = this.#state;
    this.#subscribed = st
      ? st.subscribe(CHANGED_CHANNEL, (id) => void this.#onChanged(id)).catch(() => null)
      : Promise.resolve(null);
    if (st) {
      const hb = setInterval(() => {
        for (const [id, s] of this.#tasks) if (!terminal(s.task.status)) this.#write(id, s);
      }, HEARTBEAT_MS);
      Deno.unrefTimer(hb as unknown as number);
      this.#heartbeat = hb;
    }
  }

  /** A change published by some replica (maybe this one). */
  async #onChanged(id: string): Promise<void> {
    for (const w of [...(this.#waiters.get(id) ?? [])]) w();
    const s = this.#tasks.get(id);
    if (!s || terminal(s.task.status) || !this.#state) return;
    // cancelled by another replica: apply it here, where the work runs
    const d = await getJson<TaskDoc>(this.#state, `mcptask:${id}`).catch(() => null);
    if (d?.task.status === "cancelled" && !terminal(s.task.status)) {
      s.task.status = "cancelled";
      if (d.task.statusMessage) s.task.statusMessage = d.task.statusMessage;
      s.task.lastUpdatedAt = d.task.lastUpdatedAt;
      this.#expire(id, s);
      const cancel = this.#onCancel.get(id);
      this.#onCancel.delete(id);
      cancel?.();
      this.#changed(s);
    }
  }

  #doc(s: Stored): TaskDoc {
    return {
      v: 1,
      task: { ...s.task },
      caller: ownerTag(s.caller),
      ...(s.result ? { result: s.result } : {}),
      replica: this.#state!.replicaId,
      beat: Date.now(),
    };
  }

  #ttlOf(task: Task): number {
    const ttl = task.ttl ?? this.#opts.maxTtlMs;
    return terminal(task.status) ? ttl : ttl + WORKING_GRACE_MS;
  }

  /** Writes a task of this replica to the shared state (and publishes the change). */
  #write(id: string, s: Stored, publish = false): Promise<void> {
    const st = this.#state;
    if (!st) return Promise.resolve();
    const doc = this.#doc(s);
    const p = st.set(`mcptask:${id}`, JSON.stringify(doc), this.#ttlOf(doc.task))
      .then(() => (publish ? st.publish(CHANGED_CHANNEL, id) : undefined))
      .catch(() => {});
    this.#writes.add(p);
    void p.finally(() => this.#writes.delete(p));
    return p;
  }

  /** A task of another replica (null when unknown or another caller's). */
  async #remote(taskId: string, caller: string): Promise<TaskDoc | null> {
    const st = this.#state;
    if (!st || !/^[0-9a-f]{32}$/.test(taskId)) return null;
    const d = await getJson<TaskDoc>(st, `mcptask:${taskId}`);
    if (!d || d.v !== 1 || d.caller !== ownerTag(caller)) return null;
    if (!terminal(d.task.status) && Date.now() - d.beat > STALE_AFTER_MS) {
      d.task = {
        ...d.task,
        status: "failed",
        statusMessage: `the server replica running this task (${d.replica}) stopped`,
      };
    }
    return d;
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
      if (!s) {
        return this.#state && !this.#tasks.has(taskId)
          ? await this.#waitRemote(taskId, caller, signal)
          : null;
      }
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

  /** {@link waitForTerminal} for a task of another replica: change messages, else polling. */
  async #waitRemote(taskId: string, caller: string, signal: AbortSignal): Promise<Task | null> {
    await this.#subscribed;
    for (;;) {
      if (signal.aborted) throw new Error("request cancelled");
      const wake = Promise.withResolvers<void>();
      let set = this.#waiters.get(taskId);
      if (!set) this.#waiters.set(taskId, set = new Set());
      const w = () => wake.resolve();
      set.add(w);
      const onAbort = () => wake.resolve();
      signal.addEventListener("abort", onAbort, { once: true });
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        // read after registering, so a change between the two is not missed
        const d = await this.#remote(taskId, caller);
        if (!d) return null;
        if (terminal(d.task.status)) return { ...d.task };
        const poll = Math.max(100, d.task.pollInterval ?? this.#opts.pollIntervalMs);
        timer = setTimeout(w, poll);
        await wake.promise;
      } finally {
        clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
        set.delete(w);
        if (set.size === 0 && this.#waiters.get(taskId) === set) this.#waiters.delete(taskId);
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
    const stored: Stored = { task, caller, changed: Promise.withResolvers<void>() };
    this.#tasks.set(task.taskId, stored);
    if (this.#state) {
      const st = this.#state;
      return Promise.all([
        this.#write(task.taskId, stored),
        st.push(
          `mcptasks:owner:${ownerTag(caller)}`,
          task.taskId,
          OWNER_INDEX_CAP,
          this.#opts.maxTtlMs + WORKING_GRACE_MS,
        ).catch(() => 0),
      ]).then(() => ({ ...task }));
    }
    return Promise.resolve({ ...task });
  }

  async getTask(taskId: string, caller: string): Promise<Task | null> {
    const s = this.#lookup(taskId, caller);
    if (s) return { ...s.task };
    if (!this.#state || this.#tasks.has(taskId)) return null;
    const d = await this.#remote(taskId, caller);
    return d ? { ...d.task } : null;
  }

  async storeTaskResult(
    taskId: string,
    status: "completed" | "failed",
    result: Result,
    caller: string,
  ): Promise<void> {
    const s = this.#lookup(taskId, caller);
    if (!s) throw new Error(`Task ${taskId} not found`);
    if (terminal(s.task.status)) throw new Error(`Task ${taskId} is already ${s.task.status}`);
    if (this.#state) {
      // cancelled by another replica in the meantime?
      const d = await getJson<TaskDoc>(this.#state, `mcptask:${taskId}`).catch(() => null);
      if (d && terminal(d.task.status)) {
        await this.#onChanged(taskId);
        throw new Error(`Task ${taskId} is already ${d.task.status}`);
      }
      if (terminal(s.task.status)) throw new Error(`Task ${taskId} is already ${s.task.status}`);
    }
    s.result = result;
    s.task.status = status;
    s.task.lastUpdatedAt = new Date().toISOString();
    this.#onCancel.delete(taskId);
    this.#expire(taskId, s);
    this.#changed(s);
    await this.#write(taskId, s, true);
  }

  async getTaskResult(taskId: string, caller: string): Promise<Result> {
    const s = this.#lookup(taskId, caller);
    if (s) {
      if (!s.result) throw new Error(`Task ${taskId} has no result`);
      return s.result;
    }
    const d = this.#state && !this.#tasks.has(taskId) ? await this.#remote(taskId, caller) : null;
    if (!d) throw new Error(`Task ${taskId} not found`);
    if (!d.result) throw new Error(`Task ${taskId} has no result`);
    return d.result;
  }

  async updateTaskStatus(
    taskId: string,
    status: Task["status"],
    statusMessage: string | undefined,
    caller: string,
  ): Promise<void> {
    const s = this.#lookup(taskId, caller);
    if (!s) {
      if (!this.#state || this.#tasks.has(taskId)) throw new Error(`Task ${taskId} not found`);
      return await this.#updateRemote(taskId, status, statusMessage, caller);
    }
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
    await this.#write(taskId, s, true);
  }

  /** A status change of a task running on another replica (a cancel): written, then published. */
  async #updateRemote(
    taskId: string,
    status: Task["status"],
    statusMessage: string | undefined,
    caller: string,
  ): Promise<void> {
    const st = this.#state!;
    const d = await this.#remote(taskId, caller);
    if (!d) throw new Error(`Task ${taskId} not found`);
    if (terminal(d.task.status)) throw new Error(`Task ${taskId} is already ${d.task.status}`);
    d.task.status = status;
    if (statusMessage) d.task.statusMessage = statusMessage;
    d.task.lastUpdatedAt = new Date().toISOString();
    await st.set(`mcptask:${taskId}`, JSON.stringify(d), this.#ttlOf(d.task));
    await st.publish(CHANGED_CHANNEL, taskId);
  }

  async listTasks(
    cursor: string | undefined,
    caller: string,
  ): Promise<{ tasks: Task[]; nextCursor?: string }> {
    const ids = [...this.#tasks.keys()].filter((id) => this.#lookup(id, caller));
    const remote = new Map<string, Task>();
    if (this.#state) {
      const all = await this.#state.list(`mcptasks:owner:${ownerTag(caller)}`);
      const others = [...new Set(all)].filter((id) => !this.#tasks.has(id));
      const docs = await Promise.all(others.map((id) => this.#remote(id, caller)));
      docs.forEach((d, i) => {
        if (d) {
          remote.set(others[i]!, d.task);
          ids.push(others[i]!);
        }
      });
    }
    let start = 0;
    if (cursor) {
      const i = ids.indexOf(cursor);
      if (i < 0) throw new Error(`Invalid cursor: ${cursor}`);
      start = i + 1;
    }
    const page = ids.slice(start, start + 50);
    const tasks = page.map((id) => ({ ...(this.#tasks.get(id)?.task ?? remote.get(id)!) }));
    return start + 50 < ids.length ? { tasks, nextCursor: page[page.length - 1]! } : { tasks };
  }

  /** Cancels every running task and forgets all of them (server shutdown). */
  close(): void {
    for (const [id, s] of this.#tasks) {
      if (!terminal(s.task.status)) {
        this.#onCancel.get(id)?.();
        if (this.#state) {
          // other replicas see the end instead of a task working forever
          s.task.status = "cancelled";
          s.task.statusMessage = "The server replica running the task shut down.";
          s.task.lastUpdatedAt = new Date().toISOString();
          void this.#write(id, s, true);
        }
      }
      if (s.timer) clearTimeout(s.timer);
      s.changed.resolve();
    }
    this.#tasks.clear();
    this.#onCancel.clear();
    clearInterval(this.#heartbeat);
    for (const set of this.#waiters.values()) for (const w of set) w();
    void this.#subscribed.then((unsub) => unsub?.()).catch(() => {});
  }

  /** Resolves when the writes to the shared state issued so far are done. */
  async flush(): Promise<void> {
    await Promise.allSettled([...this.#writes]);
  }
}
