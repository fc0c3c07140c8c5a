/**
 * Timeouts, MCP cancellation and bounded output against real sshd hosts
 * (SECURITY.md §TIMEOUT, §OUT; §24.8 AC-550..AC-555; AC-005, AC-016, AC-035,
 * AC-814). The hosts run on this machine, so "no process left behind" is
 * checked in /proc, and once over SSH with `ps` on the host itself.
 */

import assert from "node:assert/strict";
// @ts-types="../../node_modules/@modelcontextprotocol/sdk/dist/esm/client/stdio.d.ts"
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { type FleetServer, startFleet, withFleetServer } from "../_support/fleet.ts";
import { auditLines, baseEnv, Client, START_PERMS } from "../_support/mcp.ts";
import { procsWith, sleeper, waitFor } from "../_support/procs.ts";

const ROOT = new URL("../..", import.meta.url).pathname;
const ANY = { ALLOW_ANY_COMMAND: "true" };

/** `n` hosts, the dangerous tier on, any command allowed. */
const withHosts = (
  n: number,
  fn: (c: FleetServer) => Promise<void>,
  env: Record<string, string> = {},
) => withFleetServer(n, fn, { tier: "dangerous", env: { ...ANY, ...env } });

Deno.test("AC-016/TIMEOUT-1/2: no timeout argument -> killed at SSH_COMMAND_TIMEOUT, partial output kept, nothing left behind", async () => {
  await withHosts(1, async ({ s, auditPath }) => {
    const z = sleeper();
    const t0 = Date.now();
    const r = await s.ok("ssh_exec_run", {
      host: "h1",
      command: `echo before; ${z.cmd}; echo after`,
    });
    const took = Date.now() - t0;
    assert.equal(r.timed_out, true);
    assert.equal(r.exit_code, -1);
    assert.equal(r.stdout, "before\n");
    assert.ok(took >= 1900 && took < 8000, `took ${took} ms`);
    await waitFor(async () => (await procsWith(z.token)).length === 0, 5000, "sleep to be gone");
    // ps on the host itself (over SSH) agrees
    const ps = await s.ok("ssh_exec_run", { host: "h1", command: "ps -eo pid,args" });
    assert.ok(!String(ps.stdout).includes(z.token), String(ps.stdout));
    const a = auditLines(await Deno.readTextFile(auditPath)).find((l) =>
      l.tool === "ssh_exec_run" && l.timed_out === true
    )!;
    assert.equal(a.exit_code, -1);
  }, { SSH_COMMAND_TIMEOUT: "2" });
});

Deno.test("AC-550: the kill touches only the command's process group (a command text like `|.` kills nothing else)", async () => {
  await withHosts(1, async ({ s }) => {
    const by = sleeper();
    const task = await s.ok("ssh_run_async", { host: "h1", command: by.cmd, timeout: 120 });
    await waitFor(async () => (await procsWith(by.token)).length > 0, 5000, "bystander running");
    const z = sleeper();
    const r = await s.ok("ssh_exec_run", { host: "h1", command: `${z.cmd}; true |.`, timeout: 1 });
    assert.equal(r.timed_out, true);
    await waitFor(async () => (await procsWith(z.token)).length === 0, 5000, "victim gone");
    assert.ok(
      (await procsWith(by.token)).length > 0,
      "an unrelated process of the same user was killed",
    );
    await s.ok("ssh_cancel_async_task", { task_id: task.task_id });
    await waitFor(
      async () => (await procsWith(by.token)).length === 0,
      5000,
      "bystander cancelled",
    );
  });
});

Deno.test("AC-551/AC-035/TIMEOUT-5: `yes` with timeout=2 returns partial output <= cap, readers torn down cleanly", async () => {
  await withHosts(1, async ({ s }) => {
    const word = `sshmcp-yes-${crypto.randomUUID().slice(0, 8)}`;
    const r = await s.ok("ssh_exec_run", { host: "h1", command: `yes ${word}`, timeout: 2 });
    assert.equal(r.timed_out, true);
    assert.equal(r.stdout_truncated, true);
    assert.ok(Number(r.stdout_bytes) > 64 * 1024);
    const text = String(r.stdout);
    assert.ok(text.startsWith(`${word}\n${word}\n`));
    assert.ok(text.length <= 64 * 1024 + 200, `kept ${text.length}`);
    await waitFor(async () => (await procsWith(`yes ${word}`)).length === 0, 5000, "yes gone");
    // the connection is still usable afterwards
    const ok = await s.ok("ssh_exec_run", { host: "h1", command: "echo still-fine" });
    assert.equal(ok.stdout, "still-fine\n");
  }, { SSH_STDOUT_CAP_BYTES: String(64 * 1024) });
});

Deno.test("AC-552/TIMEOUT-1: timeout 0, -5, 1.5 and above the maximum are ValueErrors before I/O", async () => {
  await withHosts(1, async ({ s }) => {
    for (const timeout of [0, -5, 1.5, 999999]) {
      const e = await s.err("ssh_exec_run", { host: "h1", command: "true", timeout });
      assert.equal(e.code, "ValueError", String(timeout));
    }
    const e = await s.err("ssh_exec_run", { host: "h1", command: "true", timeout: 3601 });
    assert.match(e.message, /SSH_MAX_COMMAND_TIMEOUT/);
    assert.equal(s.app.pool.size, 0);
  });
});

Deno.test("AC-553/TIMEOUT-4: notifications/cancelled during ssh_exec_run_streaming kills the remote group; audit error Cancelled", async () => {
  await withHosts(1, async ({ s, auditPath }) => {
    const z = sleeper();
    const ac = new AbortController();
    let progressed = false;
    const call = s.client.callTool(
      {
        name: "ssh_exec_run_streaming",
        arguments: { host: "h1", command: `echo started; ${z.cmd}` },
      },
      undefined,
      {
        signal: ac.signal,
        onprogress: () => {
          progressed = true;
        },
      },
    );
    await waitFor(async () => progressed && (await procsWith(z.token)).length > 0, 5000, "running");
    ac.abort();
    await assert.rejects(call);
    await waitFor(async () => (await procsWith(z.token)).length === 0, 5000, "killed after cancel");
    await waitFor(
      async () => {
        const lines = auditLines(await Deno.readTextFile(auditPath));
        return lines.some((l) => l.tool === "ssh_exec_run_streaming" && l.error === "Cancelled");
      },
      5000,
      "audit line with error Cancelled",
    );
    const a = auditLines(await Deno.readTextFile(auditPath)).find((l) =>
      l.tool === "ssh_exec_run_streaming" && l.error === "Cancelled"
    )!;
    assert.equal(a.result, "error");
    assert.equal(a.cancelled, true);
  });
});

Deno.test("TIMEOUT-4: cancelling a plain ssh_exec_run and an ssh_exec_script (stdin already closed) kills them", async () => {
  await withHosts(1, async ({ s }) => {
    for (const tool of ["ssh_exec_run", "ssh_exec_script"]) {
      const z = sleeper();
      const ac = new AbortController();
      const args = tool === "ssh_exec_run"
        ? { host: "h1", command: z.cmd }
        : { host: "h1", script: `echo a\n${z.cmd}\necho b\n` };
      const call = s.client.callTool({ name: tool, arguments: args }, undefined, {
        signal: ac.signal,
      });
      await waitFor(async () => (await procsWith(z.token)).length > 0, 5000, `${tool} running`);
      ac.abort();
      await assert.rejects(call);
      await waitFor(async () => (await procsWith(z.token)).length === 0, 5000, `${tool} killed`);
    }
    // script timeout: `sh -s` got EOF on stdin, so an SSH signal alone would be dropped
    const z = sleeper();
    const r = await s.ok("ssh_exec_script", { host: "h1", script: `${z.cmd}\n`, timeout: 1 });
    assert.equal(r.timed_out, true);
    await waitFor(async () => (await procsWith(z.token)).length === 0, 5000, "script killed");
  });
});

Deno.test("AC-554: a daemon that left the process group survives (documented); the command itself is killed", async () => {
  await withHosts(1, async ({ s }) => {
    const d = sleeper();
    const z = sleeper();
    const r = await s.ok("ssh_exec_run", {
      host: "h1",
      command: `setsid nohup ${d.cmd} >/dev/null 2>&1 </dev/null & ${z.cmd}`,
      timeout: 1,
    });
    assert.equal(r.timed_out, true);
    await waitFor(async () => (await procsWith(z.token)).length === 0, 5000, "command killed");
    const daemons = await procsWith(d.token);
    assert.ok(daemons.length > 0, "the setsid daemon should survive");
    for (const pid of daemons) Deno.kill(pid, "SIGKILL");
  });
});

Deno.test("AC-555: a fake PID marker printed by the command is ignored (nonce mismatch) and stays in stderr", async () => {
  await withHosts(1, async ({ s }) => {
    const z = sleeper();
    const fake = "__SSHMCP_PID_0000000000000000__ 1";
    const r = await s.ok("ssh_exec_run", {
      host: "h1",
      command: `sh -c 'echo "${fake}" 1>&2'; ${z.cmd}`,
      timeout: 1,
    });
    assert.equal(r.timed_out, true);
    // our own marker line was removed; the fake one is ordinary stderr
    assert.equal(String(r.stderr).trim(), fake);
    await waitFor(async () => (await procsWith(z.token)).length === 0, 5000, "command killed");
  });
});

Deno.test("AC-814/OUT-1: a command printing 1 GiB keeps the server's memory bounded (stdio server, VmHWM)", async () => {
  const fleet = await startFleet(1);
  const transport = new StdioClientTransport({
    command: Deno.execPath(),
    // as `deno task start` runs it (its permissions and its V8 flags: the 1 MiB young generation
    // returns dropped output buffers sooner; with bare -A the peak was 285-293 MiB, with these 209-213)
    args: ["run", "--quiet", ...START_PERMS, `${ROOT}main.ts`, "serve"],
    env: fleet.env({ ALLOW_DANGEROUS_TOOLS: "true", ...ANY }),
    cwd: ROOT,
    stderr: "pipe",
  });
  transport.stderr?.on("data", () => {});
  const client = new Client({ name: "mem-test", version: "1" });
  try {
    await client.connect(transport);
    await client.listTools();
    const pid = transport.pid!;
    const hwm = async () =>
      Number(/VmHWM:\s+(\d+)/.exec(await Deno.readTextFile(`/proc/${pid}/status`))![1]) / 1024;
    const warm = await client.callTool({
      name: "ssh_exec_run",
      arguments: { host: "h1", command: "echo warm" },
    });
    assert.ok(!warm.isError, JSON.stringify(warm.content));
    const before = await hwm();
    const r = await client.callTool(
      {
        name: "ssh_exec_run",
        arguments: {
          host: "h1",
          command: "yes 0123456789abcdef0123456789abcdef | head -c 1073741824",
          timeout: 300,
        },
      },
      undefined,
      { timeout: 400_000 },
    );
    assert.ok(!r.isError, JSON.stringify(r.content).slice(0, 500));
    const sc = r.structuredContent as Record<string, unknown>;
    assert.equal(sc.stdout_bytes, 1073741824);
    assert.equal(sc.stdout_truncated, true);
    assert.equal(sc.exit_code, 0);
    const peak = await hwm();
    assert.ok(
      peak < 320,
      `server peak RSS ${peak.toFixed(0)} MiB (before: ${before.toFixed(0)} MiB)`,
    );
    assert.ok(peak - before < 200, `grew by ${(peak - before).toFixed(0)} MiB`);
  } finally {
    await client.close();
    await fleet.stop();
  }
});

Deno.test("stdio: baseEnv helper sanity (no dotenv, audit off)", () => {
  assert.equal(baseEnv().SSH_AUDIT_LOG, "off");
});
