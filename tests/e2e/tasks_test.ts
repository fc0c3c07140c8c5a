/**
 * Async tasks end to end (TOOLS.md §15, SECURITY.md §TASK, AC-930..AC-934,
 * AUDIT-9) and MCP-native task mode for ssh_run_async, against real sshd
 * hosts through real MCP clients.
 */

import assert from "node:assert/strict";
// @ts-types="../../node_modules/@modelcontextprotocol/sdk/dist/esm/inMemory.d.ts"
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { type FleetServer, startFleet, withFleetServer } from "../_support/fleet.ts";
import { auditLines, Client, type InProcess, startInProcess } from "../_support/mcp.ts";
import { buildMcpServer } from "../../src/mcp/server.ts";
import { ToolRegistry } from "../../src/registry/pipeline.ts";
import { procsWith, sleeper, waitFor } from "../_support/procs.ts";

const ANY = { ALLOW_ANY_COMMAND: "true" };

/** `n` hosts, the dangerous tier on. */
const withHosts = (
  n: number,
  fn: (c: FleetServer) => Promise<void>,
  env: Record<string, string> = {},
  perHost?: (a: string) => string,
) => withFleetServer(n, fn, { tier: "dangerous", env, perHost });

/** A second MCP session on the same server process (its own session id). */
async function secondSession(s: InProcess, sessionId: string) {
  const server = buildMcpServer(s.app, new ToolRegistry(s.app));
  const [ct, st] = InMemoryTransport.createLinkedPair();
  st.sessionId = sessionId;
  await server.connect(st);
  const client = new Client({ name: "second", version: "1" });
  await client.connect(ct);
  await client.listTools();
  return {
    async call(name: string, args: Record<string, unknown>) {
      const r = await client.callTool({ name, arguments: args });
      assert.ok(!r.isError, JSON.stringify(r.content));
      return r.structuredContent as Record<string, unknown>;
    },
    async close() {
      await client.close();
      await server.close();
    },
  };
}

async function waitStatus(s: InProcess, id: unknown, want: string[], ms = 10_000) {
  let last = "";
  await waitFor(
    async () => {
      last = String((await s.ok("ssh_get_task_status", { task_id: id })).status);
      return want.includes(last);
    },
    ms,
    `task status in ${want.join("/")} (last: ${last})`,
  );
}

Deno.test("tasks survive the request that started them: status, live output, result, list; audit at start and finish (AUDIT-9)", async () => {
  await withHosts(1, async ({ s, fleet, auditPath }) => {
    const t = await s.ok("ssh_run_async", {
      host: "h1",
      command: "for i in 1 2 3 4 5; do echo line $i; sleep 0.4; done; ls /nonexistent-x; exit 4",
    });
    assert.match(String(t.task_id), /^async:h1:[0-9a-f]{32}$/);
    assert.equal(t.status, "pending");
    assert.equal(t.poll_interval_s, 3);
    assert.equal(t.keep_alive_s, 300);
    assert.equal(t.host, fleet.hosts[0]!.sshd.address);
    // the call returned; the command is still running
    await waitFor(
      async () => {
        const o = await s.ok<{ output_lines: string[]; status: string }>("ssh_get_task_output", {
          task_id: t.task_id,
        });
        return o.status === "running" && o.output_lines.includes("line 2");
      },
      5000,
      "live output while running",
    );
    const running = await s.ok("ssh_get_task_result", { task_id: t.task_id });
    assert.deepEqual(Object.keys(running).sort(), ["status", "task_id"]);
    await waitStatus(s, t.task_id, ["failed"]);
    const st = await s.ok("ssh_get_task_status", { task_id: t.task_id });
    assert.equal(st.exit_code, 4);
    assert.ok(Number(st.bytes_out) >= 35);
    assert.ok(Number(st.elapsed_ms) >= 1500);
    const r = await s.ok("ssh_get_task_result", { task_id: t.task_id });
    assert.equal(r.exit_code, 4);
    assert.equal(r.stdout, "line 1\nline 2\nline 3\nline 4\nline 5\n");
    assert.match(String(r.stderr), /nonexistent-x/);
    const out = await s.ok<{ output_lines: string[] }>("ssh_get_task_output", {
      task_id: t.task_id,
      max_lines: 2,
    });
    assert.equal(out.output_lines.length, 2);
    assert.match(out.output_lines[1]!, /^\[stderr\] .*nonexistent-x/);
    const list = await s.ok<{ tasks: { task_id: string; status: string }[] }>("ssh_task_list");
    assert.deepEqual(list.tasks.map((x) => [x.task_id, x.status]), [[t.task_id, "failed"]]);
    const lines = auditLines(await Deno.readTextFile(auditPath)).filter((l) =>
      l.type === "audit" && l.tool === "ssh_run_async"
    );
    assert.equal(lines.length, 2);
    assert.equal(lines[0]!.correlation_id, lines[1]!.correlation_id);
    assert.equal(lines[0]!.task_id, t.task_id);
    assert.equal(lines[1]!.task_id, t.task_id);
    assert.equal(lines[1]!.exit_code, 4);
    assert.equal(lines[1]!.timed_out, false);
    assert.equal(lines[1]!.cancelled, false);
  }, ANY);
});

Deno.test("AC-930: ssh_run_async with a denied or cheatsheet command fails at once and creates no task (TASK-1)", async () => {
  await withHosts(
    1,
    async ({ s }) => {
      const e = await s.err("ssh_run_async", { host: "h1", command: "curl https://evil" });
      assert.equal(e.code, "CommandNotAllowed");
      const c = await s.err("ssh_run_async", { host: "h1", command: "cat /etc/hosts" });
      assert.equal(c.code, "CommandIsCheatsheetMatch");
      const list = await s.ok<{ count: number }>("ssh_task_list");
      assert.equal(list.count, 0);
      assert.equal(s.app.pool.size, 0);
    },
    {},
    () => 'command_allowlist = ["uptime"]',
  );
});

Deno.test("AC-931: the 17th concurrent task is refused with 'too many running tasks' (TASK-3)", async () => {
  await withHosts(4, async ({ s }) => {
    const z = sleeper();
    const ids: unknown[] = [];
    for (let i = 0; i < 16; i++) {
      const t = await s.ok("ssh_run_async", { host: `h${(i % 4) + 1}`, command: z.cmd });
      ids.push(t.task_id);
    }
    const e = await s.err("ssh_run_async", { host: "h1", command: "uptime" });
    assert.equal(e.code, "RuntimeError");
    assert.match(e.message, /too many running tasks/);
    for (const id of ids) await s.ok("ssh_cancel_async_task", { task_id: id });
    await waitFor(async () => (await procsWith(z.token)).length === 0, 10_000, "all killed");
    // capacity is back
    const t = await s.ok("ssh_run_async", { host: "h1", command: "true" });
    await waitStatus(s, t.task_id, ["completed"]);
  }, ANY);
});

Deno.test("AC-932/TASK-2: another MCP session gets not_found for every task tool", async () => {
  await withHosts(1, async ({ s }) => {
    const z = sleeper();
    const t = await s.ok("ssh_run_async", { host: "h1", command: z.cmd });
    await waitFor(async () => (await procsWith(z.token)).length > 0, 5000, "running");
    const b = await secondSession(s, "session-B");
    try {
      assert.equal(
        (await b.call("ssh_get_task_status", { task_id: t.task_id })).status,
        "not_found",
      );
      assert.equal(
        (await b.call("ssh_get_task_result", { task_id: t.task_id })).status,
        "not_found",
      );
      assert.equal(
        (await b.call("ssh_get_task_output", { task_id: t.task_id })).status,
        "not_found",
      );
      const c = await b.call("ssh_cancel_async_task", { task_id: t.task_id });
      assert.deepEqual([c.cancelled, c.status], [false, "not_found"]);
      assert.equal((await b.call("ssh_task_list", {})).count, 0);
      assert.ok((await procsWith(z.token)).length > 0, "B must not be able to cancel A's task");
    } finally {
      await b.close();
    }
    assert.equal((await s.ok("ssh_get_task_status", { task_id: t.task_id })).status, "running");
    await s.ok("ssh_cancel_async_task", { task_id: t.task_id });
  }, ANY);
});

Deno.test("AC-933/TASK-4: a finished task is not_found once SSH_TASK_KEEPALIVE_S has passed", async () => {
  await withHosts(1, async ({ s }) => {
    const t = await s.ok("ssh_run_async", { host: "h1", command: "echo done" });
    await waitStatus(s, t.task_id, ["completed"]);
    assert.equal((await s.ok("ssh_get_task_result", { task_id: t.task_id })).stdout, "done\n");
    await new Promise((r) => setTimeout(r, 2100));
    assert.equal((await s.ok("ssh_get_task_status", { task_id: t.task_id })).status, "not_found");
    assert.equal((await s.ok("ssh_get_task_result", { task_id: t.task_id })).status, "not_found");
    assert.equal((await s.ok<{ count: number }>("ssh_task_list")).count, 0);
  }, { ...ANY, SSH_TASK_KEEPALIVE_S: "2" });
});

Deno.test("AC-934/TASK-5: cancelling a running task kills its process group; completion audit line has cancelled:true", async () => {
  await withHosts(1, async ({ s, auditPath }) => {
    const z = sleeper();
    const t = await s.ok("ssh_run_async", {
      host: "h1",
      command: `echo begun; ${z.cmd}; echo never`,
    });
    await waitFor(async () => (await procsWith(z.token)).length > 0, 5000, "running");
    const c = await s.ok("ssh_cancel_async_task", { task_id: t.task_id });
    assert.deepEqual([c.cancelled, c.status], [true, "cancelled"]);
    await waitFor(async () => (await procsWith(z.token)).length === 0, 5000, "killed");
    const r = await s.ok("ssh_get_task_result", { task_id: t.task_id });
    assert.equal(r.cancelled, true);
    assert.equal(r.stdout, "begun\n");
    const again = await s.ok("ssh_cancel_async_task", { task_id: t.task_id });
    assert.equal(again.cancelled, false);
    const fin = auditLines(await Deno.readTextFile(auditPath)).filter((l) =>
      l.tool === "ssh_run_async" && l.task_id === t.task_id
    );
    assert.equal(fin.length, 2);
    assert.deepEqual([fin[1]!.cancelled, fin[1]!.error, fin[1]!.result], [
      true,
      "Cancelled",
      "error",
    ]);
  }, ANY);
});

Deno.test("TASK-3: the output ring keeps SSH_TASK_OUTPUT_LINES lines; output is sanitized; timeout status", async () => {
  await withHosts(1, async ({ s }) => {
    const t = await s.ok("ssh_run_async", {
      host: "h1",
      command:
        "i=0; while [ $i -lt 1000 ]; do i=$((i+1)); echo n$i; done; printf 'x\\033[31mred\\033[0m\\n'",
    });
    await waitStatus(s, t.task_id, ["completed"]);
    const o = await s.ok<{
      output_lines: string[];
      total_lines_available: number;
      dropped_lines: number;
      output_warnings: string[];
    }>("ssh_get_task_output", { task_id: t.task_id, max_lines: 1000 });
    assert.equal(o.total_lines_available, 100);
    assert.equal(o.dropped_lines, 901);
    assert.equal(o.output_lines.at(-1), "xred");
    assert.equal(o.output_lines.at(-2), "n1000");
    assert.ok(o.output_warnings.includes("ANSI escape sequences stripped"));
    const bad = await s.err("ssh_get_task_output", { task_id: t.task_id, max_lines: 1001 });
    assert.equal(bad.code, "ValueError");
    const slow = await s.ok("ssh_run_async", { host: "h1", command: "sleep 30", timeout: 1 });
    await waitStatus(s, slow.task_id, ["timeout"]);
    const r = await s.ok("ssh_get_task_result", { task_id: slow.task_id });
    assert.equal(r.timed_out, true);
  }, { ...ANY, SSH_TASK_OUTPUT_LINES: "100" });
});

Deno.test("TASK-6: server shutdown kills running async and MCP-native tasks before connections close", async () => {
  const fleet = await startFleet(1);
  const s = await startInProcess(fleet.env({ ALLOW_DANGEROUS_TOOLS: "true", ...ANY }));
  const z = sleeper();
  const m = sleeper();
  try {
    await s.ok("ssh_run_async", { host: "h1", command: z.cmd });
    // and an MCP-native task
    const stream = s.client.experimental.tasks.callToolStream(
      {
        name: "ssh_exec_run_streaming",
        arguments: { host: "h1", command: m.cmd },
      },
      undefined,
      { task: { ttl: 60_000 } },
    );
    assert.equal((await stream.next()).value?.type, "taskCreated");
    await waitFor(
      async () => (await procsWith(z.token)).length > 0 && (await procsWith(m.token)).length > 0,
      5000,
      "running",
    );
  } finally {
    await s.close();
  }
  try {
    // killed before the connections closed: nothing left on the host right after close()
    assert.deepEqual(await procsWith(z.token), [], "async task survived shutdown");
    assert.deepEqual(await procsWith(m.token), [], "MCP task survived shutdown");
  } finally {
    await fleet.stop();
  }
});

Deno.test("MCP-native tasks: ssh_run_async as a task; tasks/cancel kills a streaming task's process group", async () => {
  await withHosts(1, async ({ s }) => {
    const z = sleeper();
    const stream = s.client.experimental.tasks.callToolStream(
      {
        name: "ssh_exec_run_streaming",
        arguments: { host: "h1", command: z.cmd },
      },
      undefined,
      { task: { ttl: 60_000 } },
    );
    const first = await stream.next();
    assert.equal(first.value?.type, "taskCreated", JSON.stringify(first.value));
    const taskId = (first.value as { task: { taskId: string } }).task.taskId;
    await waitFor(async () => (await procsWith(z.token)).length > 0, 5000, "running");
    const cancelled = await s.client.experimental.tasks.cancelTask(taskId);
    assert.equal(cancelled.status, "cancelled");
    await waitFor(
      async () => (await procsWith(z.token)).length === 0,
      5000,
      "killed by tasks/cancel",
    );
    await stream.return(undefined);
    const listed = await s.client.experimental.tasks.listTasks();
    assert.ok(listed.tasks.some((t) => t.taskId === taskId && t.status === "cancelled"));
  }, ANY);
});
