/**
 * Lifecycle hooks (SECURITY.md §HOOK, NEW mechanism `SSH_HOOKS_COMMAND`).
 *
 * A local program, started once with an argv (no shell), receives one JSON
 * event per line on stdin: `startup` (awaited), `pre_tool_call` and
 * `post_tool_call` for every audited call (never awaited by the call), and
 * `shutdown` (awaited). Hooks observe; they cannot veto or change a call.
 *
 * - Events carry metadata only (tool, raw host argument, tier, correlation
 *   id, result, error class, duration): never arguments, commands, paths,
 *   outputs or secrets (HOOK-2). Every string is bounded: a long one becomes
 *   its length and hash (AUDIT-13).
 * - Each event's write is bounded by `SSH_HOOKS_TIMEOUT`; a timed-out write
 *   marks the event dropped and logs a WARNING (HOOK-3). While that write is
 *   still stuck in the pipe no further write is started, so memory stays
 *   bounded: the queue holds at most {@link QUEUE_MAX} events and overflow
 *   drops the oldest; every drop counts in `hook_events_dropped` (HOOK-4).
 * - A backlog WARNING is logged once when 100 events wait, re-armed below 50.
 * - The program inherits a minimal environment (no secrets); its stdout and
 *   stderr are drained and logged at DEBUG.
 * - If it exits, it is restarted with exponential backoff; a 6th restart
 *   within a minute disables hooks with an ERROR (HOOK-6).
 * - At shutdown it gets the `shutdown` event, then stdin EOF, then SIGTERM
 *   after `SSH_HOOKS_TIMEOUT` (SIGKILL if it ignores that too).
 *
 * @module
 */

import { boundRecord } from "../audit/audit.ts";
import type { Tier } from "../config/types.ts";
import type { Logger } from "../log.ts";

/** Event names (HOOK-1). */
export type HookEventName = "startup" | "shutdown" | "pre_tool_call" | "post_tool_call";

/** One event line (HOOK-2). */
export interface HookEvent {
  event: HookEventName;
  /** epoch seconds, like the audit `ts` */
  timestamp: number;
  tool: string | null;
  /** the raw `host` argument (`"?"` when absent), as in the audit line */
  host: string | null;
  tier: Tier | null;
  correlation_id: string | null;
  result?: "ok" | "error";
  /** error class name only */
  error?: string;
  duration_ms?: number;
  /** NEW (HTTP gateway): who made the call (token name or JWT subject); absent on stdio */
  principal?: string;
  payload: Record<string, string | number | boolean | null>;
}

/** What the registry needs: fire and forget. */
export interface HookSink {
  emit(event: HookEvent): void;
  /** events that were not delivered (queue overflow, timed-out writes, hooks disabled) */
  readonly dropped: number;
}

/** Bounded queue length (HOOK-4). */
export const QUEUE_MAX = 1000;
/** Backlog WARNING threshold and its re-arm level (HOOK-4, INC-021). */
export const BACKLOG_WARN = 100;
export const BACKLOG_REARM = 50;
/** More restarts than this within {@link RESTART_WINDOW_MS} disable hooks (HOOK-6). */
export const MAX_RESTARTS = 5;
export const RESTART_WINDOW_MS = 60_000;
/** First restart delay; doubled per consecutive failure, capped at {@link BACKOFF_MAX_MS}. */
export const BACKOFF_BASE_MS = 200;
const BACKOFF_MAX_MS = 10_000;
/** A run this long resets the backoff. */
const HEALTHY_RUN_MS = 10_000;
/** Grace after SIGTERM before SIGKILL at shutdown. */
const KILL_GRACE_MS = 2_000;
/** Variables the program inherits (HOOK-6: minimal, no secrets). */
const INHERITED_ENV = [
  "PATH",
  "HOME",
  "USER",
  "LOGNAME",
  "LANG",
  "LC_ALL",
  "LC_CTYPE",
  "TZ",
  "TMPDIR",
];
/** Longest output line logged (the rest is cut). */
const LOG_LINE_MAX = 1000;

/** Hooks off: nothing is started, nothing is counted. */
export const NO_HOOKS: HookSink = { emit() {}, dropped: 0 };

interface Running {
  child: Deno.ChildProcess;
  writer: WritableStreamDefaultWriter<Uint8Array>;
  startedAt: number;
  exited: Promise<Deno.CommandStatus>;
}

/** A hooks program (`SSH_HOOKS_COMMAND`) and its event queue. */
export class HookProgram implements HookSink {
  readonly #argv: readonly string[];
  readonly #timeoutMs: number;
  readonly #logger: Logger;
  readonly #env: Record<string, string>;
  readonly #cwd: string;
  #queue: HookEvent[] = [];
  #dropped = 0;
  #backlogWarned = false;
  #run: Running | null = null;
  /** a write that timed out and has not settled yet: no new write until it does */
  #stuck: Promise<unknown> | null = null;
  #pumping = false;
  /** the last write failed (warned once until a write succeeds) */
  #writeFailing = false;
  #restarts: number[] = [];
  #failures = 0;
  #restartTimer: ReturnType<typeof setTimeout> | null = null;
  #disabled = false;
  #stopping = false;
  /** resolved whenever the queue empties (or hooks are disabled) */
  #idle = Promise.withResolvers<void>();
  readonly #enc = new TextEncoder();

  /**
   * `argv[0]` is the resolved program; `env` is the server's environment
   * (only {@link INHERITED_ENV} is passed on).
   */
  constructor(
    argv: readonly string[],
    opts: { timeoutMs: number; logger: Logger; env: Record<string, string>; cwd: string },
  ) {
    if (!argv.length) throw new Error("hooks: empty argv");
    this.#argv = argv;
    this.#timeoutMs = opts.timeoutMs;
    this.#logger = opts.logger.child({ component: "hooks" });
    this.#cwd = opts.cwd;
    this.#env = {};
    for (const k of INHERITED_ENV) {
      const v = opts.env[k];
      if (v !== undefined) this.#env[k] = v;
    }
    this.#idle.resolve();
  }

  /** Undelivered events (reported by `ssh_server_info` as `hook_events_dropped`). */
  get dropped(): number {
    return this.#dropped;
  }

  /** True once the program failed too often and hooks were turned off. */
  get disabled(): boolean {
    return this.#disabled;
  }

  /** The running program's pid (null while restarting or disabled). */
  get pid(): number | null {
    return this.#run?.child.pid ?? null;
  }

  /** Starts the program and delivers `startup` (awaited, bounded by the timeout). */
  async start(payload: HookEvent["payload"]): Promise<void> {
    this.#spawn();
    this.emit(lifecycleEvent("startup", payload));
    await this.#drained(this.#timeoutMs);
  }

  /**
   * Queues one event; never blocks and never throws. Every string in it is
   * bounded first (AUDIT-13: a long value becomes its length and hash).
   */
  emit(raw: HookEvent): void {
    const event = boundRecord(raw);
    if (this.#disabled) {
      this.#dropped++;
      return;
    }
    if (this.#queue.length >= QUEUE_MAX) {
      this.#queue.shift();
      this.#dropped++;
    }
    this.#queue.push(event);
    if (this.#queue.length === 1) this.#idle = Promise.withResolvers<void>();
    if (this.#queue.length >= BACKLOG_WARN && !this.#backlogWarned) {
      this.#backlogWarned = true;
      this.#logger.warn(
        `hook backlog reached ${BACKLOG_WARN} events; the hooks program is not keeping up (events beyond ${QUEUE_MAX} are dropped, oldest first)`,
      );
    }
    void this.#pump();
  }

  /**
   * Delivers `shutdown` (awaited, bounded), closes stdin, waits for the
   * program to exit, then SIGTERM (and SIGKILL after a grace period).
   */
  async stop(): Promise<void> {
    if (this.#restartTimer !== null) {
      clearTimeout(this.#restartTimer);
      this.#restartTimer = null;
    }
    if (!this.#disabled && this.#run) {
      this.emit(lifecycleEvent("shutdown", {}));
      await this.#drained(this.#timeoutMs);
    }
    this.#stopping = true;
    const run = this.#run;
    this.#run = null;
    this.#disabled = true;
    this.#idle.resolve();
    if (!run) return;
    // EOF. A writer stuck on a full pipe cannot close; its abort settles only
    // once the stuck write does (when the program reads or dies), so it is
    // not awaited: the signals below end the program either way.
    const eof = run.writer.close();
    eof.catch(() => {});
    await withTimeout(eof, 200).catch(() => {
      run.writer.abort().catch(() => {});
    });
    if (await withTimeout(run.exited, this.#timeoutMs).then(() => true, () => false)) return;
    this.#logger.warn("hooks program did not exit after stdin EOF; sending SIGTERM", {
      pid: run.child.pid,
    });
    trySignal(run.child, "SIGTERM");
    if (await withTimeout(run.exited, KILL_GRACE_MS).then(() => true, () => false)) return;
    trySignal(run.child, "SIGKILL");
    await run.exited.catch(() => {});
  }

  /** Waits until the queue is empty, at most `ms`. */
  async #drained(ms: number): Promise<void> {
    await withTimeout(this.#idle.promise, ms).catch(() => {});
  }

  #spawn(): void {
    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command(this.#argv[0]!, {
        args: this.#argv.slice(1),
        cwd: this.#cwd,
        clearEnv: true,
        env: this.#env,
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
    } catch (e) {
      this.#logger.error("hooks program could not be started", {
        program: this.#argv[0],
        error: (e as Error).message,
      });
      this.#scheduleRestart({ program: this.#argv[0], error: (e as Error).message });
      return;
    }
    const writer = child.stdin.getWriter();
    const run: Running = { child, writer, startedAt: performance.now(), exited: child.status };
    this.#run = run;
    this.#stuck = null;
    void this.#drain(child.stdout, "stdout");
    void this.#drain(child.stderr, "stderr");
    run.exited.then((st) => this.#onExit(run, st), () => this.#onExit(run, null));
    void this.#pump();
  }

  async #drain(stream: ReadableStream<Uint8Array>, name: "stdout" | "stderr"): Promise<void> {
    const dec = new TextDecoder();
    let buf = "";
    const emit = (line: string) => {
      if (!line) return;
      this.#logger.debug("hooks program output", {
        stream: name,
        line: line.length > LOG_LINE_MAX ? line.slice(0, LOG_LINE_MAX) + "..." : line,
      });
    };
    try {
      for await (const chunk of stream) {
        buf += dec.decode(chunk, { stream: true });
        let nl: number;
        while ((nl = buf.indexOf("\n")) >= 0) {
          emit(buf.slice(0, nl));
          buf = buf.slice(nl + 1);
        }
        // a program that never prints a newline cannot grow this buffer without bound
        if (buf.length > LOG_LINE_MAX * 4) {
          emit(buf);
          buf = "";
        }
      }
    } catch {
      // the program went away
    }
    emit(buf);
  }

  #onExit(run: Running, status: Deno.CommandStatus | null): void {
    if (this.#run !== run) return; // stopped on purpose, or already replaced
    this.#run = null;
    run.writer.abort().catch(() => {});
    if (this.#stopping) return;
    const ranMs = performance.now() - run.startedAt;
    if (ranMs >= HEALTHY_RUN_MS) this.#failures = 0;
    this.#scheduleRestart({
      program: this.#argv[0],
      code: status?.code ?? null,
      signal: status?.signal ?? null,
    });
  }

  /** After an exit or a failed spawn: restart with backoff, or disable (HOOK-6). */
  #scheduleRestart(why: Record<string, unknown>): void {
    if (this.#stopping || this.#disabled) return;
    const now = performance.now();
    this.#restarts = this.#restarts.filter((t) => now - t < RESTART_WINDOW_MS);
    if (this.#restarts.length >= MAX_RESTARTS) {
      this.#disabled = true;
      this.#dropped += this.#queue.length;
      this.#queue = [];
      this.#idle.resolve();
      this.#logger.error(
        `hooks disabled: the hooks program stopped again after ${MAX_RESTARTS} restarts within a minute; no more events are sent (fix the program, then restart the server)`,
        why,
      );
      return;
    }
    const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** this.#failures);
    this.#logger.warn(`hooks program stopped; restarting it in ${delay} ms`, why);
    this.#failures++;
    this.#restarts.push(now);
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = null;
      if (!this.#stopping && !this.#disabled) this.#spawn();
    }, delay);
  }

  /** One writer at a time, in order; each write bounded by the timeout. */
  async #pump(): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (this.#queue.length && this.#run && !this.#stuck) {
        const run = this.#run;
        const event = this.#queue[0]!;
        const line = this.#enc.encode(JSON.stringify(event) + "\n");
        const write = run.writer.write(line);
        write.catch(() => {}); // settled below or abandoned as stuck
        let timer: ReturnType<typeof setTimeout> | undefined;
        const outcome = await Promise.race([
          write.then(() => "ok" as const, () => "failed" as const),
          new Promise<"timeout">((r) => (timer = setTimeout(() => r("timeout"), this.#timeoutMs))),
        ]);
        clearTimeout(timer);
        if (outcome === "failed" && this.#run !== run) continue; // it died; retry on the next program
        this.#queue.shift();
        if (this.#queue.length < BACKLOG_REARM) this.#backlogWarned = false;
        if (outcome === "ok") {
          this.#writeFailing = false;
          continue;
        }
        this.#dropped++;
        if (outcome === "failed" && !this.#writeFailing) {
          // e.g. the program closed its stdin but keeps running
          this.#writeFailing = true;
          this.#logger.warn(
            "hook events cannot be written to the hooks program's stdin; dropping them",
            {
              program: this.#argv[0],
            },
          );
        }
        if (outcome === "timeout") {
          this.#logger.warn(
            `hook event ${event.event} not taken within ${this.#timeoutMs} ms; dropped`,
            { correlation_id: event.correlation_id },
          );
          // no new write until this one settles (the pipe is full)
          const stuck = write.finally(() => {
            if (this.#stuck === stuck) this.#stuck = null;
            void this.#pump();
          });
          this.#stuck = stuck;
          stuck.catch(() => {});
        }
      }
    } finally {
      this.#pumping = false;
      if (!this.#queue.length) this.#idle.resolve();
    }
  }
}

/** A `startup` or `shutdown` event. */
function lifecycleEvent(
  event: "startup" | "shutdown",
  payload: HookEvent["payload"],
): HookEvent {
  return {
    event,
    timestamp: Date.now() / 1000,
    tool: null,
    host: null,
    tier: null,
    correlation_id: null,
    payload,
  };
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error("timeout")), ms))),
  ]).finally(() => clearTimeout(timer));
}

function trySignal(child: Deno.ChildProcess, sig: Deno.Signal): void {
  try {
    child.kill(sig);
  } catch {
    // already gone
  }
}
