/**
 * Several replicas behind a load balancer (issue 14 item 5): two in-process
 * servers sharing a real redis-server, against the same real sshd fleet,
 * each behind its own real MCP client (same caller key). Async tasks,
 * outputs, MCP tasks and approval state answer on any replica; a cancel on
 * B kills the process A runs; a finished result outlives A; a shell stays on
 * its replica with a clear error elsewhere.
 */

import assert from "node:assert/strict";
import { startFleet } from "../_support/fleet.ts";
import { procsWith, sleeper, waitFor } from "../_support/procs.ts";
import { startRedis } from "../_support/redis.ts";
import { startReplicas } from "../_support/replicas.ts";
import type { InProcess } from "../_support/mcp.ts";
// @ts-types="../../node_modules/@modelcontextprotocol/sdk/dist/esm/types.d.ts"
import { CallToolResultSchema } from "@modelcontextprotocol/sdk/types.js";

async function withReplicas(
  fn: (r: Awaited<ReturnType<typeof startReplicas>>) => Promise<void>,
  env: Record<string, string> = {},
): Promise<void> {
  const redis = await startRedis();
  try {
    const fleet = await startFleet(1);
    try {
      const r = await startReplicas(fleet, redis.url, env);
      try {
        await fn(r);
      } finally {
        await r.close();
      }
    } finally {
      await fleet.stop();
    }
  } finally {
    await redis.stop();
  }
}

async function status(s: InProcess, id: unknown): Promise<string> {
  return String((await s.ok("ssh_get_task_status", { task_id: id })).status);
}

Deno.test("replicas: an async task started on A is read, followed and cancelled on B (remote kill)", async () => {
  await withReplicas(async ({ a, b }) => {
    const z = sleeper();
    const t = await a.ok("ssh_run_async", {
      host: "h1",
      command: `echo started-on-a; ${z.cmd}`,
    });
    const id = t.task_id;
    await waitFor(async () => (await procsWith(z.token)).length > 0, 10_000, "running on h1");
    // B answers status and output from the shared state
    await waitFor(async () => (await status(b, id)) === "running", 5000, "running on B");
    await waitFor(
      async () => {
        const o = await b.ok<{ output_lines: string[] }>("ssh_get_task_output", { task_id: id });
        return o.output_lines.includes("started-on-a");
      },
      5000,
      "output on B",
    );
    const listed = await b.ok<{ tasks: { task_id: string }[] }>("ssh_task_list");
    assert.ok(listed.tasks.some((x) => x.task_id === id), "listed on B");
    // cancel on B reaches A: the remote process is killed
    const c = await b.ok("ssh_cancel_async_task", { task_id: id });
    assert.equal(c.cancelled, true);
    assert.equal(c.status, "cancelled");
    await waitFor(async () => (await procsWith(z.token)).length === 0, 10_000, "killed");
    assert.equal(await status(a, id), "cancelled");
    assert.equal(await status(b, id), "cancelled");
    // an unknown id is not_found on both
    assert.equal(await status(b, "async:h1:" + "0".repeat(32)), "not_found");
  });
});

Deno.test("replicas: a finished result outlives the replica that ran it", async () => {
  await withReplicas(async (r) => {
    const t = await r.a.ok("ssh_run_async", {
      host: "h1",
      command: "echo out-line; echo err-line >&2; exit 3",
    });
    await waitFor(async () => (await status(r.a, t.task_id)) === "failed", 10_000, "finished");
    await r.a.close();
    const res = await r.b.ok("ssh_get_task_result", { task_id: t.task_id });
    assert.equal(res.status, "failed");
    assert.equal(res.exit_code, 3);
    assert.equal(res.stdout, "out-line\n");
    assert.equal(res.stderr, "err-line\n");
    const out = await r.b.ok<{ output_lines: string[] }>("ssh_get_task_output", {
      task_id: t.task_id,
    });
    assert.deepEqual(out.output_lines, ["out-line", "[stderr] err-line"]);
  });
});

Deno.test("replicas: a shell opened on A gets the 'another replica' error on B", async () => {
  await withReplicas(async ({ a, b }) => {
    const open = await a.ok<{ session_id: string }>("ssh_shell_open", { host: "h1" });
    const id = open.session_id;
    await a.ok("ssh_shell_exec", { session_id: id, command: "pwd" });
    let e;
    await waitFor(
      async () => {
        e = await b.err("ssh_shell_exec", { session_id: id, command: "pwd" });
        return e.message.includes("another server replica");
      },
      3000,
      "the replica error",
    );
    assert.equal(e!.code, "ValueError");
    assert.match(
      e!.message,
      new RegExp(
        `^shell session ${id} lives on another server replica \\([0-9a-f]{16}\\); persistent shells stay on the replica that opened them`,
      ),
    );
    // an id nobody holds is still the plain unknown-session error
    const unknown = await b.err("ssh_shell_exec", { session_id: "f".repeat(32), command: "pwd" });
    assert.match(unknown.message, /^Unknown shell session/);
    // closed on A: B says unknown again
    assert.equal((await a.ok("ssh_shell_close", { session_id: id })).closed, true);
    await waitFor(
      async () => {
        const u = await b.err("ssh_shell_exec", { session_id: id, command: "pwd" });
        return /^Unknown shell session/.test(u.message);
      },
      3000,
      "unknown after close",
    );
  }, { ALLOW_LOW_ACCESS_TOOLS: "true" });
});

Deno.test("replicas: a large output linked by A is paged on B", async () => {
  await withReplicas(async ({ a, b }) => {
    const r = await a.call("ssh_exec_run", { host: "h1", command: "seq 1 20000" });
    assert.ok(!r.isError);
    const link = (r.content as { type: string; uri?: string }[]).find((c) =>
      c.type === "resource_link"
    );
    assert.ok(link?.uri, "a resource link");
    const page = await b.client.readResource({ uri: `${link.uri}?offset=0&length=100` });
    const c = page.contents[0] as { text?: string };
    assert.equal(c.text, Array.from({ length: 50 }, (_, i) => `${i + 1}\n`).join("").slice(0, 100));
    await assert.rejects(
      () => b.client.readResource({ uri: "ssh-mcp://output/" + "0".repeat(32) }),
      /not found/,
    );
  }, { SSH_STDOUT_CAP_BYTES: "4096" });
});

Deno.test("replicas: an MCP task created on A is polled, cancelled and awaited on B", async () => {
  await withReplicas(async ({ a, b }) => {
    const z = sleeper();
    const stream = a.client.experimental.tasks.callToolStream(
      { name: "ssh_exec_run_streaming", arguments: { host: "h1", command: z.cmd } },
      undefined,
      { task: { ttl: 60_000 } },
    );
    const first = await stream.next();
    assert.equal(first.value?.type, "taskCreated", JSON.stringify(first.value));
    const taskId = (first.value as { task: { taskId: string } }).task.taskId;
    await waitFor(async () => (await procsWith(z.token)).length > 0, 10_000, "running");
    const got = await b.client.experimental.tasks.getTask(taskId);
    assert.equal(got.status, "working");
    const cancelled = await b.client.experimental.tasks.cancelTask(taskId);
    assert.equal(cancelled.status, "cancelled");
    await waitFor(async () => (await procsWith(z.token)).length === 0, 10_000, "killed");
    await stream.return(undefined);
    const listed = await b.client.experimental.tasks.listTasks();
    assert.ok(listed.tasks.some((t) => t.taskId === taskId && t.status === "cancelled"));
    // a task that completes on A: B's tasks/result waits for it and returns it
    const s2 = a.client.experimental.tasks.callToolStream(
      { name: "ssh_run_async", arguments: { host: "h1", command: "sleep 1; echo done-x" } },
      undefined,
      { task: { ttl: 60_000 } },
    );
    const f2 = await s2.next();
    const id2 = (f2.value as { task: { taskId: string } }).task.taskId;
    const result = await b.client.experimental.tasks.getTaskResult(id2, CallToolResultSchema);
    assert.ok(JSON.stringify(result).includes("async:h1:"), JSON.stringify(result));
    await s2.return(undefined);
  });
});
