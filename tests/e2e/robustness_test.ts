/**
 * Issue 9 §5 "Robust under bad input", against the real server (`deno run
 * main.ts serve`, what `deno task start` runs) and real sshd hosts:
 *
 * - TRANS-7/TRANS-8/TRANS-10/TRANS-11: a JSON-RPC message over the transport's
 *   limit gets an error answer (or is dropped and logged without an id); the
 *   server never exits because of input, calls and tasks in flight go on; a
 *   result over the limit becomes an error for its id; an 8 MiB inline upload
 *   works with the default caps;
 * - TIMEOUT-8: a login shell printing a banner to stderr before the command
 *   (bash sourcing a `.bashrc` that prints): the process-group marker is
 *   found after it, stripped, and a timed-out `sleep` is killed on the host;
 * - AUDIT-13: a 2 MB `host` argument becomes length + hash in the audit line
 *   and in the hook events, never the content;
 * - TIMEOUT-9: a hostile `.bashrc` that reads the marker's nonce and prints a
 *   fake marker with pid 1 first cannot turn the kill into `kill -- -1`;
 * - INPUT-8: host tools whose probes print absurd numbers answer with null
 *   fields or a clear error, never RuntimeError.
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { ErrorCode, McpError } from "../_support/mcp.ts";
import { auditHash } from "../../src/audit/audit.ts";
import { startFleet, withFleetServer } from "../_support/fleet.ts";
import { auditLines, baseEnv, START_PERMS, startInProcess, startStdio } from "../_support/mcp.ts";
import { procsWith, sleeper, waitFor } from "../_support/procs.ts";
import { tempDir } from "../_support/sshd.ts";
import { userDir } from "./_files_fixture.ts";

const ROOT = new URL("../..", import.meta.url).pathname;
const MIB = 1024 * 1024;
/** Caps that make the message limit its minimum, 16 MiB. */
const SMALL_CAPS = {
  SSH_UPLOAD_MAX_FILE_BYTES: String(8 * MIB),
  SSH_EDIT_MAX_FILE_BYTES: String(MIB),
};

async function rejectsWith(p: Promise<unknown>, code: number, re: RegExp): Promise<McpError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof McpError, `expected McpError, got ${e}`);
    assert.equal(e.code, code, e.message);
    assert.match(e.message, re);
    return e;
  }
  throw new Error("expected the request to fail");
}

Deno.test("TRANS-7/TRANS-11: a 20 MiB request over stdio gets a JSON-RPC error; calls and tasks in flight go on; the server stays up", async () => {
  const fleet = await startFleet(1);
  try {
    const s = await startStdio(
      fleet.env({
        ALLOW_DANGEROUS_TOOLS: "true",
        ALLOW_ANY_COMMAND: "true",
        LOG_LEVEL: "WARNING",
        ...SMALL_CAPS,
      }),
    );
    try {
      const task = await s.ok<{ task_id: string }>("ssh_run_async", {
        host: "h1",
        command: "sleep 2; echo task-done",
      });
      const inFlight = s.ok<{ stdout: string }>("ssh_exec_run", {
        host: "h1",
        command: "sleep 1; echo call-done",
      });
      const huge = "h".repeat(20 * MIB);
      await rejectsWith(
        s.client.callTool({ name: "ssh_host_info", arguments: { host: huge } }),
        ErrorCode.InvalidRequest,
        /Request too large: the message is 20\.0 MiB .* over this server's limit of 16\.0 MiB .*local_path/,
      );
      assert.equal((await inFlight).stdout, "call-done\n");
      await waitFor(
        async () => {
          const st = await s.ok<{ status: string }>("ssh_get_task_status", {
            task_id: task.task_id,
          });
          return st.status === "completed";
        },
        15_000,
        "the async task to complete",
      );
      const r = await s.ok<{ stdout: string }>("ssh_get_task_result", { task_id: task.task_id });
      assert.equal(r.stdout, "task-done\n");
      // still serving, and said why it refused
      assert.ok((await s.client.listTools()).tools.length > 10);
      assert.match(s.stderr(), /refused a bad JSON-RPC request/);
    } finally {
      await s.close();
    }
  } finally {
    await fleet.stop();
  }
});

/** The server as `deno task start` runs it, spoken to line by line. */
function rawServer(env: Record<string, string>) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", ...START_PERMS, `${ROOT}main.ts`, "serve"],
    env,
    clearEnv: true,
    cwd: ROOT,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  const enc = new TextEncoder();
  const received: Record<string, unknown>[] = [];
  let stderr = "";
  void (async () => {
    const dec = new TextDecoder();
    for await (const c of child.stderr) stderr += dec.decode(c, { stream: true });
  })();
  const reading = (async () => {
    const dec = new TextDecoder();
    let buf = "";
    for await (const c of child.stdout) {
      buf += dec.decode(c, { stream: true });
      let nl;
      while ((nl = buf.indexOf("\n")) >= 0) {
        received.push(JSON.parse(buf.slice(0, nl)));
        buf = buf.slice(nl + 1);
      }
    }
  })();
  return {
    child,
    stderr: () => stderr,
    async send(text: string) {
      await writer.write(enc.encode(text + "\n"));
    },
    async reply(id: string | number): Promise<Record<string, unknown>> {
      await waitFor(
        () => Promise.resolve(received.some((m) => m.id === id)),
        30_000,
        `an answer for id ${id}`,
      );
      return received.find((m) => m.id === id)!;
    },
    async close() {
      await writer.close();
      const st = await child.status;
      await reading;
      return st;
    },
  };
}

Deno.test("TRANS-7/TRANS-11: raw stdio: over-limit lines with the id anywhere, a nested id, a notification, broken JSON and non-JSON-RPC lines never end the server", async () => {
  const srv = rawServer(baseEnv({ ...SMALL_CAPS, LOG_LEVEL: "INFO" }));
  const junk = "j".repeat(17 * MIB);
  await srv.send(JSON.stringify({
    jsonrpc: "2.0",
    id: 1,
    method: "initialize",
    params: {
      protocolVersion: "2025-06-18",
      capabilities: {},
      clientInfo: { name: "raw", version: "1" },
    },
  }));
  assert.ok((await srv.reply(1)).result);
  await srv.send(JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }));
  // over the limit, id first
  await srv.send(JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/list", params: { junk } }));
  // over the limit, id last, a decoy id nested in params
  await srv.send(
    `{"params":{"id":999,"x":${
      JSON.stringify(junk)
    }},"method":"tools/list","id":"late-id","jsonrpc":"2.0"}`,
  );
  // over the limit without an id: dropped and logged
  await srv.send(JSON.stringify({ jsonrpc: "2.0", method: "notifications/x", params: { junk } }));
  // broken JSON with a readable id; valid JSON that is not JSON-RPC
  await srv.send(`{"jsonrpc":"2.0","id":3,"method":"tools/list",`);
  await srv.send(`{"jsonrpc":"1.0","id":4,"method":"tools/list"}`);
  await srv.send(`just some text`);
  await srv.send(JSON.stringify({ jsonrpc: "2.0", id: 5, method: "tools/list" }));

  for (const id of [2, "late-id"]) {
    const e = (await srv.reply(id)).error as { code: number; message: string };
    assert.equal(e.code, ErrorCode.InvalidRequest);
    assert.match(e.message, /^Request too large: the message is 17\.0 MiB/);
  }
  assert.equal(((await srv.reply(3)).error as { code: number }).code, ErrorCode.ParseError);
  assert.equal(((await srv.reply(4)).error as { code: number }).code, ErrorCode.InvalidRequest);
  const tools = (await srv.reply(5)).result as { tools: unknown[] };
  assert.ok(tools.tools.length > 10);
  const st = await srv.close();
  assert.equal(st.code, 0, srv.stderr());
  assert.match(srv.stderr(), /dropped a bad JSON-RPC message without a request id/);
  assert.ok(!srv.stderr().includes("jjjjjjjj"), "message content reached the log");
});

Deno.test("TRANS-8: with the default caps an 8 MiB inline upload goes through stdio (the message is 10.7 MiB)", async () => {
  const dir = await userDir("sshmcp-big-");
  const fleet = await startFleet(1, { perHost: () => `path_allowlist = ["${dir}"]` });
  try {
    const s = await startStdio(fleet.env({ ALLOW_LOW_ACCESS_TOOLS: "true" }));
    try {
      const data = new Uint8Array(8 * MIB).map((_, i) => (i * 7 + (i >> 11)) % 256);
      const b64 = btoa(Array.from(data, (b) => String.fromCharCode(b)).join(""));
      assert.ok(b64.length > 10 * MIB);
      const r = await s.ok<{ bytes_written: number }>("ssh_upload", {
        host: "h1",
        path: `${dir}/big.bin`,
        content_base64: b64,
      });
      assert.equal(r.bytes_written, data.length);
      const got = await Deno.readFile(`${dir}/big.bin`);
      assert.equal(
        createHash("sha256").update(got).digest("hex"),
        createHash("sha256").update(data).digest("hex"),
      );
    } finally {
      await s.close();
    }
  } finally {
    await fleet.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

Deno.test("TRANS-10: a result over the message limit becomes a JSON-RPC error for its id; the client and server go on", async () => {
  const dir = await userDir("sshmcp-bigout-");
  const fleet = await startFleet(1, { perHost: () => `path_allowlist = ["${dir}"]` });
  try {
    // 7 MiB inline download = 9.3 MiB base64, sent twice (text + structured) = 18.7 MiB > 16 MiB
    await Deno.writeFile(`${dir}/seven.bin`, new Uint8Array(7 * MIB).fill(0x41));
    await Deno.chmod(`${dir}/seven.bin`, 0o644);
    const s = await startStdio(fleet.env(SMALL_CAPS));
    try {
      await rejectsWith(
        s.client.callTool({
          name: "ssh_sftp_download",
          arguments: { host: "h1", path: `${dir}/seven.bin` },
        }),
        ErrorCode.InternalError,
        /^MCP error -32603: The result is 18\.7 MiB .* over this server's limit of 16\.0 MiB .*local_path/,
      );
      const ok = await s.ok<{ size: number }>("ssh_sftp_stat", {
        host: "h1",
        path: `${dir}/seven.bin`,
      });
      assert.equal(ok.size, 7 * MIB);
    } finally {
      await s.close();
    }
  } finally {
    await fleet.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

Deno.test("TRANS-9: inline caps beyond the largest message are refused at start-up with a ConfigError naming the setting and the largest value", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", ...START_PERMS, `${ROOT}main.ts`, "serve"],
    env: baseEnv({ SSH_UPLOAD_MAX_FILE_BYTES: String(1024 * MIB) }),
    clearEnv: true,
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const err = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 3, err);
  assert.match(
    err,
    /configuration error: SSH_UPLOAD_MAX_FILE_BYTES=1073741824 .* Fix: set SSH_UPLOAD_MAX_FILE_BYTES to at most 313786368 \(299\.3 MiB\)/,
  );
});

Deno.test("TIMEOUT-8: a bash login shell that prints a banner to stderr first: the marker is found after it and stripped, the timed-out sleep is killed on the host", async () => {
  // bash run by sshd for a command sources ~/.bashrc (not BASH_ENV); sshd's
  // SetEnv HOME points this host's login user at its own .bashrc, so no other
  // test sees the banner
  const home = await tempDir("sshmcp-banner-");
  // a MOTD-like banner, the last line without a newline
  await Deno.writeTextFile(`${home}/.bashrc`, "printf 'Welcome to h1\\nLast login: today' >&2\n");
  await Deno.chmod(`${home}/.bashrc`, 0o644);
  await withFleetServer(1, async ({ s }) => {
    const r = await s.ok<{ stdout: string; stderr: string }>("ssh_exec_run", {
      host: "h1",
      command: "echo out; echo err >&2",
    });
    assert.equal(r.stdout, "out\n");
    // the banner stays (it is the host's output), the marker is gone
    assert.equal(r.stderr, "Welcome to h1\nLast login: todayerr\n");
    const z = sleeper();
    const t = await s.ok<{ timed_out: boolean; stderr: string }>("ssh_exec_run", {
      host: "h1",
      command: z.cmd,
      timeout: 1,
    });
    assert.equal(t.timed_out, true);
    assert.ok(!t.stderr.includes("__SSHMCP_PID_"), t.stderr);
    await waitFor(async () => (await procsWith(z.token)).length === 0, 5000, "sleep killed");
    const ps = await s.ok<{ stdout: string }>("ssh_exec_run", {
      host: "h1",
      command: "ps -eo pid,args",
    });
    assert.ok(!ps.stdout.includes(z.token), ps.stdout);
  }, {
    tier: "dangerous",
    // `>&2` is this test's business, not the cheatsheet's
    env: { ALLOW_ANY_COMMAND: "true", SSH_EXEC_ALLOW_CHEATSHEET_PATTERNS: "true" },
    sshd: { loginShell: "bash", extraConfig: [`SetEnv HOME=${home}`] },
  });
});

Deno.test("TIMEOUT-9: a .bashrc that forges our marker with pid 1 (it can read the nonce) cannot make the kill hit every process of the user", async () => {
  const home = await tempDir("sshmcp-forge-");
  await Deno.writeTextFile(
    `${home}/.bashrc`,
    [
      `n=$(tr '\\000' '\\n' < /proc/$$/cmdline | grep -o '__SSHMCP_PID_[0-9a-f]*__' | head -n 1)`,
      `[ -n "$n" ] && printf '%s 1\\n' "$n" >&2`,
      "",
    ].join("\n"),
  );
  await Deno.chmod(`${home}/.bashrc`, 0o644);
  await withFleetServer(1, async ({ s }) => {
    const by = sleeper();
    const task = await s.ok<{ task_id: string }>("ssh_run_async", {
      host: "h1",
      command: by.cmd,
      timeout: 120,
    });
    await waitFor(async () => (await procsWith(by.token)).length > 0, 5000, "bystander running");
    const z = sleeper();
    const r = await s.ok<{ timed_out: boolean; stderr: string }>("ssh_exec_run", {
      host: "h1",
      command: z.cmd,
      timeout: 1,
    });
    assert.equal(r.timed_out, true);
    // the forged line is the host's output and stays; ours is gone
    assert.match(r.stderr, /^__SSHMCP_PID_[0-9a-f]{16}__ 1\n$/);
    await waitFor(async () => (await procsWith(z.token)).length === 0, 5000, "victim killed");
    assert.ok((await procsWith(by.token)).length > 0, "the kill reached another process group");
    await s.ok("ssh_cancel_async_task", { task_id: task.task_id });
    await waitFor(async () => (await procsWith(by.token)).length === 0, 5000, "bystander stopped");
  }, {
    tier: "dangerous",
    env: { ALLOW_ANY_COMMAND: "true" },
    sshd: { loginShell: "bash", extraConfig: [`SetEnv HOME=${home}`] },
  });
});

Deno.test("AUDIT-13: a 2 MB host argument is recorded by length and hash in the audit line and the hook events, never its content", async () => {
  const dir = await tempDir("sshmcp-bound-");
  const hook = `${dir}/hook.sh`;
  await Deno.writeTextFile(hook, `#!/bin/sh\ncat >> "$1"\n`);
  await Deno.chmod(hook, 0o755);
  const fleet = await startFleet(1);
  try {
    const s = await startInProcess(fleet.env({
      SSH_AUDIT_LOG: `${dir}/audit.log`,
      SSH_HOOKS_COMMAND: `${hook} ${dir}/events.jsonl`,
    }));
    const host = "x".repeat(2 * 1000 * 1000);
    try {
      const e = await s.err("ssh_host_info", { host });
      assert.equal(e.code, "ValueError");
      assert.ok(e.message.length < 2000, `error text of ${e.message.length} chars`);
    } finally {
      await s.close();
    }
    const audit = await Deno.readTextFile(`${dir}/audit.log`);
    assert.ok(audit.length < 2000, `audit log of ${audit.length} bytes`);
    const line = auditLines(audit).find((l) => l.tool === "ssh_host_info")!;
    assert.deepEqual(
      [line.host, line.host_len, line.host_hash, line.error],
      ["?", host.length, auditHash(host), "ValueError"],
    );
    const events = (await Deno.readTextFile(`${dir}/events.jsonl`)).trim().split("\n")
      .map((l) => JSON.parse(l));
    const calls = events.filter((e) => e.tool === "ssh_host_info");
    assert.equal(calls.length, 2);
    for (const ev of calls) {
      assert.equal(ev.host, "?");
      assert.deepEqual(ev.payload, { host_len: host.length, host_hash: auditHash(host) });
    }
    assert.ok(!(await Deno.readTextFile(`${dir}/events.jsonl`)).includes("xxxxxxxxxx"));
  } finally {
    await fleet.stop();
  }
});

Deno.test("INPUT-8: host tools on a host whose probes print absurd numbers answer with nulls or a clear error, never RuntimeError", async () => {
  const bin = await tempDir("sshmcp-oddbin-");
  const tool = async (name: string, body: string) => {
    await Deno.writeTextFile(`${bin}/${name}`, `#!/bin/sh\n${body}\n`);
    await Deno.chmod(`${bin}/${name}`, 0o755);
  };
  await tool("nproc", "echo 99999999999999999999");
  await tool(
    "ps",
    "printf 'PID USER %%CPU %%MEM COMMAND\\n99999999999999999999 root 1.0 0.1 huge\\n42 root 1e999 0.1 inf\\n7 root 0.5 0.2 fine\\n'",
  );
  await tool("getent", "echo 'u:x:99999999999999999999:1:g:/home/u:/bin/sh'");
  await tool(
    "ip",
    `echo '[{"ifname":"eth0","operstate":"UP","address":"aa","addr_info":[{"family":"inet","local":"10.0.0.1","prefixlen":1e30},{"family":"inet","local":"10.0.0.2","prefixlen":24}]}]'`,
  );
  await withFleetServer(1, async ({ s }) => {
    const info = await s.ok<{ cpu_count: number | null }>("ssh_host_info", { host: "h1" });
    assert.equal(info.cpu_count, null);
    const ps = await s.ok<{ entries: { pid: number; command: string }[] }>(
      "ssh_host_processes",
      { host: "h1" },
    );
    assert.deepEqual(ps.entries.map((e) => [e.pid, e.command]), [[7, "fine"]]);
    const net = await s.ok<{ interfaces: { addresses: { address: string }[] }[] }>(
      "ssh_host_network",
      { host: "h1" },
    );
    assert.deepEqual(net.interfaces[0]!.addresses.map((a) => a.address), ["10.0.0.2"]);
    const e = await s.err("ssh_user_info", { host: "h1", username: "u" });
    assert.equal(e.code, "ValueError");
    assert.match(e.message, /passwd entry of "u" on h1 is malformed/);
  }, { sshd: { extraConfig: [`SetEnv PATH=${bin}:/usr/bin:/bin`] } });
});

Deno.test("MCP-2026: a 2025-06-18 client (raw stdio) initializes at its revision, lists and calls", async () => {
  const srv = rawServer(baseEnv({ SSH_HOSTS_FILE: "/nonexistent/hosts.toml" }));
  try {
    await srv.send(JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: {
        protocolVersion: "2025-06-18",
        capabilities: {},
        clientInfo: { name: "raw-2025-06-18", version: "1.0.0" },
      },
    }));
    const init = (await srv.reply(1)).result as Record<string, unknown>;
    assert.equal(init.protocolVersion, "2025-06-18");
    assert.equal((init.serverInfo as { name: string }).name, "ssh-mcp");
    assert.ok((init.capabilities as Record<string, unknown>).logging, "logging capability");
    await srv.send(JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }));
    await srv.send(JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/list" }));
    const tools = ((await srv.reply(2)).result as { tools: { name: string }[] }).tools;
    assert.ok(tools.some((t) => t.name === "ssh_host_list"));
    // 2025-era results carry no 2026 fields
    assert.equal(((await srv.reply(2)).result as Record<string, unknown>).resultType, undefined);
    await srv.send(JSON.stringify({
      jsonrpc: "2.0",
      id: 3,
      method: "tools/call",
      params: { name: "ssh_host_list", arguments: {} },
    }));
    const call = (await srv.reply(3)).result as { structuredContent?: { hosts: unknown[] } };
    assert.ok(Array.isArray(call.structuredContent?.hosts));
  } finally {
    await srv.close();
  }
});
