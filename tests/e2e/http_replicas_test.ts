/**
 * Issue 14 item 5 over the real transport: two gateway PROCESSES
 * (`MCP_TRANSPORT=http`, as `deno task start` runs them) share one real
 * `redis-server` (`SSH_STATE_URL`) in front of the same sshd host, reached by
 * 2026-07-28 clients with the same token (one client behind a load
 * balancer): a task started on A is read and cancelled through B (the remote
 * process dies), and a finished result survives A being killed.
 *
 * @module
 */

import assert from "node:assert/strict";
import { z } from "zod";
import { startFleet } from "../_support/fleet.ts";
import { modernHttpClient, startHttpServer } from "../_support/http.ts";
import { startRedis } from "../_support/redis.ts";
import { procsWith, sleeper, waitFor } from "../_support/procs.ts";

const TOKEN = "r".repeat(40);

type Call = (name: string, args?: Record<string, unknown>) => Promise<Record<string, unknown>>;

async function caller(url: string): Promise<{ call: Call; close(): Promise<void> }> {
  const c = await modernHttpClient(url, TOKEN);
  return {
    async call(name, args = {}) {
      const r = await c.callTool({ name, arguments: args });
      if (r.isError) throw new Error(`${name}: ${JSON.stringify(r.content)}`);
      return r.structuredContent as Record<string, unknown>;
    },
    close: () => c.close(),
  };
}

Deno.test("HTTP replicas on Redis: start on A, read and cancel through B; a finished result outlives A", async () => {
  const redis = await startRedis();
  const fleet = await startFleet(1);
  const env = fleet.env({
    SSH_STATE_URL: redis.url,
    MCP_HTTP_TOKEN: TOKEN,
    ALLOW_DANGEROUS_TOOLS: "true",
    ALLOW_ANY_COMMAND: "true",
  });
  const a = await startHttpServer(env);
  const b = await startHttpServer(env);
  const ca = await caller(a.url);
  const cb = await caller(b.url);
  try {
    const z = sleeper();
    const t = await ca.call("ssh_run_async", { host: "h1", command: `echo from-a; ${z.cmd}` });
    const id = String(t.task_id);
    await waitFor(async () => (await procsWith(z.token)).length > 0, 10_000, "running on h1");
    await waitFor(
      async () => (await cb.call("ssh_get_task_status", { task_id: id })).status === "running",
      5000,
      "running as seen by B",
    );
    await waitFor(
      async () =>
        ((await cb.call("ssh_get_task_output", { task_id: id })).output_lines as string[])
          .includes("from-a"),
      5000,
      "output through B",
    );
    const c = await cb.call("ssh_cancel_async_task", { task_id: id });
    assert.equal(c.cancelled, true);
    await waitFor(async () => (await procsWith(z.token)).length === 0, 10_000, "remote kill");
    assert.equal((await ca.call("ssh_get_task_status", { task_id: id })).status, "cancelled");

    // a finished task, then replica A is killed (no clean shutdown): B still has the result
    const done = await ca.call("ssh_run_async", { host: "h1", command: "echo kept; exit 4" });
    const doneId = String(done.task_id);
    await waitFor(
      async () => (await ca.call("ssh_get_task_status", { task_id: doneId })).status === "failed",
      10_000,
      "finished on A",
    );
    await ca.close().catch(() => {});
    await a.kill();
    const res = await cb.call("ssh_get_task_result", { task_id: doneId });
    assert.equal(res.exit_code, 4);
    assert.equal(res.stdout, "kept\n");
  } finally {
    await ca.close().catch(() => {});
    await cb.close().catch(() => {});
    await a.stop().catch(() => 0);
    await b.stop().catch(() => 0);
    await fleet.stop();
    await redis.stop();
  }
});

Deno.test("HTTP replicas on Redis: an approval asked by A is answered through B (shared signing key), once", async () => {
  const redis = await startRedis();
  const fleet = await startFleet(1);
  const env = fleet.env({
    SSH_STATE_URL: redis.url,
    MCP_HTTP_TOKEN: TOKEN,
    ALLOW_DANGEROUS_TOOLS: "true",
    ALLOW_ANY_COMMAND: "true",
    SSH_APPROVAL_TIERS: "dangerous",
  });
  const a = await startHttpServer(env);
  const b = await startHttpServer(env);
  const opts = { capabilities: { elicitation: { form: {} } }, autoFulfill: false };
  const ca = await modernHttpClient(a.url, TOKEN, opts);
  const cb = await modernHttpClient(b.url, TOKEN, opts);
  type Ir = {
    resultType?: string;
    requestState?: string;
    isError?: boolean;
    content?: { text: string }[];
  };
  const call = async (c: typeof ca, params: Record<string, unknown>) =>
    await c.request(
      { method: "tools/call", params } as never,
      z.looseObject({}),
      { allowInputRequired: true } as never,
    ) as unknown as Ir;
  try {
    const home = fleet.hosts[0]!.sshd.user.home;
    const args = { host: "h1", command: `touch ${home}/approved-across` };
    const asked = await call(ca, { name: "ssh_exec_run", arguments: args });
    assert.equal(asked.resultType, "input_required");
    const answer = { decision: { action: "accept", content: { decision: "approve" } } };
    const retry = {
      name: "ssh_exec_run",
      arguments: args,
      inputResponses: answer,
      requestState: asked.requestState,
    };
    const ran = await call(cb, retry);
    assert.notEqual(ran.isError, true, JSON.stringify(ran));
    assert.ok((await Deno.lstat(`${home}/approved-across`)).isFile);
    await Deno.remove(`${home}/approved-across`);
    // the same answer replayed on A: refused (the nonce is shared too)
    const replay = await call(ca, retry);
    assert.equal(replay.isError, true);
    assert.match(replay.content![0]!.text, /already used/);
    const gone = await Deno.lstat(`${home}/approved-across`).then(() => false, () => true);
    assert.ok(gone, "the replay ran the command");
  } finally {
    await ca.close().catch(() => {});
    await cb.close().catch(() => {});
    await a.stop().catch(() => 0);
    await b.stop().catch(() => 0);
    await fleet.stop();
    await redis.stop();
  }
});
