/**
 * Async-task and streaming building blocks without SSH: the output line ring
 * (TASK-3), the task manager (TASK-2..6), the MCP task store, the progress
 * pump (AC-011, AC-815) and the TTY hint (OUT-8).
 */

import assert from "node:assert/strict";
import { defaultSettings } from "../../src/config/settings.ts";
import { ToolError } from "../../src/errors.ts";
import { Logger } from "../../src/log.ts";
import type { RawExecResult } from "../../src/ssh/exec.ts";
import { TaskManager } from "../../src/tasks/manager.ts";
import { McpTaskStore } from "../../src/tasks/mcp_store.ts";
import { LineRing, STDERR_PREFIX } from "../../src/tasks/ring.ts";
import { ttyHint } from "../../src/tools/exec_result.ts";
import { ProgressPump } from "../../src/tools/exec/_stream.ts";

const enc = new TextEncoder();

function raw(extra: Partial<RawExecResult> = {}): RawExecResult {
  return {
    exitCode: 0,
    signal: null,
    stdout: "",
    stderr: "",
    stdoutRaw: new Uint8Array(),
    stderrRaw: new Uint8Array(),
    stdoutBytes: 0,
    stderrBytes: 0,
    stdoutTruncated: false,
    stderrTruncated: false,
    timedOut: false,
    cancelled: false,
    durationMs: 1,
    ...extra,
  };
}

Deno.test("LineRing: interleaves streams, prefixes stderr, keeps the newest lines", () => {
  const r = new LineRing(3, 1_000_000);
  r.push("stdout", enc.encode("a\nb\n"));
  r.push("stderr", enc.encode("oops\n"));
  r.push("stdout", enc.encode("c\nd"));
  assert.deepEqual(r.tail(10).lines, ["b", `${STDERR_PREFIX}oops`, "c", "d"]);
  assert.equal(r.tail(10).available, 4);
  assert.equal(r.dropped, 1);
  r.end();
  assert.deepEqual(r.tail(2).lines, ["c", "d"]);
});

Deno.test("LineRing: bounded by bytes and by line length (endless line without newline)", () => {
  const r = new LineRing(10_000, 10_000, 100);
  for (let i = 0; i < 1000; i++) r.push("stdout", enc.encode("x".repeat(1000)));
  const t = r.tail(1000);
  assert.ok(t.lines.every((l) => l.length <= 100));
  assert.ok(t.lines.join("").length <= 10_100);
  assert.ok(r.dropped > 0);
});

Deno.test("LineRing: UTF-8 split across chunks is decoded once", () => {
  const r = new LineRing(10, 1000);
  const b = enc.encode("h\u00e9llo\n");
  r.push("stdout", b.subarray(0, 2));
  r.push("stdout", b.subarray(2));
  assert.deepEqual(r.tail(1).lines, ["h\u00e9llo"]);
});

function manager(extra: Partial<ReturnType<typeof defaultSettings>> = {}) {
  return new TaskManager({ ...defaultSettings(), ...extra }, new Logger({ level: "CRITICAL" }));
}

const spec = (run: () => Promise<RawExecResult>, owner = "A") => ({
  owner,
  alias: "h1",
  hostname: "10.0.0.1",
  commandHash: "sha256:0",
  correlationId: "c",
  ringBytes: 1_000_000,
  run,
});

Deno.test("TaskManager: ids, ownership (TASK-2), statuses, cap (TASK-3)", async () => {
  const m = manager({ SSH_TASK_MAX_CONCURRENT: 2 });
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const t1 = m.submit(spec(async () => (await gate, raw({ exitCode: 0 }))));
  const t2 = m.submit(spec(async () => (await gate, raw({ exitCode: 2 }))));
  assert.match(t1.id, /^async:h1:[0-9a-f]{32}$/);
  assert.equal(m.get(t1.id, "B"), null);
  assert.throws(
    () => m.submit(spec(() => Promise.resolve(raw()))),
    (e: unknown) => e instanceof ToolError && /too many running tasks/.test(e.message),
  );
  release();
  await Promise.all([t1.done, t2.done]);
  assert.equal(m.get(t1.id, "A")?.status, "completed");
  assert.equal(m.get(t2.id, "A")?.status, "failed");
  assert.equal(await m.cancel(t1), false);
  await m.shutdown();
});

Deno.test("TaskManager: cancel aborts the runner; timeout and errors map to statuses; expiry (TASK-4)", async () => {
  const m = manager({ SSH_TASK_KEEPALIVE_S: 1 });
  const t = m.submit(spec(() => Promise.resolve(raw())));
  const c = m.submit({
    ...spec(() => Promise.resolve(raw())),
    run: ({ signal }) =>
      new Promise((resolve) =>
        signal.addEventListener("abort", () => resolve(raw({ cancelled: true, exitCode: -1 })))
      ),
  });
  const to = m.submit(spec(() => Promise.resolve(raw({ timedOut: true, exitCode: -1 }))));
  const er = m.submit(spec(() => Promise.reject(new ToolError("ConnectError", "down"))));
  assert.equal(await m.cancel(c), true);
  await Promise.all([t.done, to.done, er.done]);
  assert.equal(c.status, "cancelled");
  assert.equal(to.status, "timeout");
  assert.equal(er.status, "failed");
  assert.deepEqual(er.error, { code: "ConnectError", message: "down" });
  assert.equal(m.list("A").length, 4);
  await new Promise((r) => setTimeout(r, 1100));
  assert.equal(m.get(t.id, "A"), null);
  await m.shutdown();
});

Deno.test("TaskManager: shutdown cancels running tasks (TASK-6)", async () => {
  const m = manager();
  let aborted = false;
  let running!: () => void;
  const started = new Promise<void>((r) => (running = r));
  m.submit({
    ...spec(() => Promise.resolve(raw())),
    run: ({ signal }) =>
      new Promise((resolve) => {
        running();
        signal.addEventListener("abort", () => {
          aborted = true;
          resolve(raw({ cancelled: true }));
        });
      }),
  });
  await started;
  await m.shutdown();
  assert.equal(aborted, true);
  assert.throws(() => m.submit(spec(() => Promise.resolve(raw()))), ToolError);
});

Deno.test("McpTaskStore: caller-bound, cancel callback, cap, results", async () => {
  const s = new McpTaskStore({ maxTtlMs: 60_000, pollIntervalMs: 3000, maxRunning: 1 });
  const t = await s.createTask({ ttl: 999_999_999 }, "A");
  assert.equal(t.ttl, 60_000);
  assert.equal(t.pollInterval, 3000);
  assert.equal(await s.getTask(t.taskId, "B"), null);
  await assert.rejects(s.createTask({}, "A"), /too many running tasks/);
  let cancelled = false;
  s.onCancel(t.taskId, () => (cancelled = true));
  await s.updateTaskStatus(t.taskId, "cancelled", "client", "A");
  assert.equal(cancelled, true);
  await assert.rejects(s.storeTaskResult(t.taskId, "completed", { content: [] }, "A"));
  const t2 = await s.createTask({}, "A");
  const waiting = s.waitForTerminal(t2.taskId, "A", new AbortController().signal);
  await s.storeTaskResult(t2.taskId, "completed", { content: [] }, "A");
  assert.equal((await waiting)?.status, "completed");
  assert.equal(await s.waitForTerminal(t2.taskId, "B", new AbortController().signal), null);
  assert.deepEqual(await s.getTaskResult(t2.taskId, "A"), { content: [] });
  assert.equal((await s.listTasks(undefined, "A")).tasks.length, 2);
  assert.equal((await s.listTasks(undefined, "B")).tasks.length, 0);
  s.close();
});

Deno.test("ProgressPump: last line per stream, sanitized (AC-815), <= 200 chars, nothing past the cap (AC-011)", async () => {
  const sent: string[] = [];
  const p = new ProgressPump(
    (m) => (sent.push(m), Promise.resolve()),
    { stdout: 10, stderr: 100 },
    0,
  );
  p.onData("stdout", enc.encode("one\n\x1b[31mred\x1b[0m\n"));
  p.onOutput("stdout", enc.encode("one\n\x1b[31mred\x1b[0m\n"));
  await new Promise((r) => setTimeout(r, 5));
  p.onData("stdout", enc.encode("SECRET-BEYOND-CAP\n"));
  await new Promise((r) => setTimeout(r, 5));
  p.onOutput("stderr", enc.encode("e".repeat(500)));
  await p.close();
  assert.equal(sent[0], "stdout: red");
  assert.ok(sent.some((m) => /^stdout: \[\d+ bytes so far; output past the 10-byte cap/.test(m)));
  assert.ok(!sent.some((m) => m.includes("SECRET")));
  const err = sent.find((m) => m.startsWith("stderr: "))!;
  assert.ok(err.length <= "stderr: ".length + 200);
});

Deno.test("OUT-8: TTY hint only for the terminal-needed phrases", () => {
  assert.match(
    ttyHint("sudo: sorry, you must have a tty\nstdin: not a tty") ?? "",
    /never allocates a PTY/,
  );
  assert.ok(ttyHint("the input device is not a TTY"));
  assert.ok(ttyHint("Error: must be run from a terminal"));
  assert.equal(ttyHint("permission denied"), null);
});
