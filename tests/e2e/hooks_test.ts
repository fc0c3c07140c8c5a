/**
 * Lifecycle hooks (SECURITY.md §HOOK, AC-021, AC-537, AC-857..AC-861): a real
 * `SSH_HOOKS_COMMAND` program (a shell script) receives the events of a real
 * server driven by a real MCP client against real sshd hosts.
 *
 * @module
 */

import assert from "node:assert/strict";
import { type Fleet, startFleet } from "../_support/fleet.ts";
import { auditLines, type InProcess, startInProcess, startStdio } from "../_support/mcp.ts";
import { Logger } from "../../src/log.ts";
import { BACKOFF_BASE_MS, MAX_RESTARTS, QUEUE_MAX } from "../../src/hooks/hooks.ts";

type Ev = Record<string, unknown>;

/** A temp dir holding `hook.sh` (the given body) and whatever the script writes. */
async function hookScript(body: string): Promise<{ dir: string; script: string }> {
  const dir = await Deno.makeTempDir({ prefix: "sshmcp-hooks-" });
  const script = `${dir}/hook.sh`;
  await Deno.writeTextFile(script, `#!/bin/sh\n${body}\n`);
  await Deno.chmod(script, 0o755);
  return { dir, script };
}

async function events(path: string): Promise<Ev[]> {
  const text = await Deno.readTextFile(path).catch(() => "");
  return text.split("\n").filter((l) => l.trim()).map((l) => JSON.parse(l));
}

function processGone(pid: number): boolean {
  try {
    Deno.kill(pid, "SIGCONT"); // harmless probe
    return false;
  } catch {
    return true;
  }
}

async function until(cond: () => boolean | Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    // deno-lint-ignore no-await-in-loop
    if (await cond()) return true;
    // deno-lint-ignore no-await-in-loop
    await new Promise((r) => setTimeout(r, 25));
  }
  return await cond();
}

/**
 * The hook program's pid from `<dir>/pid`. The shell creates the file before
 * `echo` writes to it, so an early read can see it empty (and `Number("")` is
 * 0, the process group): wait for the digits.
 */
async function hookPid(dir: string): Promise<number> {
  let text = "";
  const read = async () => {
    text = (await Deno.readTextFile(`${dir}/pid`).catch(() => "")).trim();
    return /^[0-9]+$/.test(text);
  };
  assert.ok(await until(read, 5000), `no pid in ${dir}/pid (read ${JSON.stringify(text)})`);
  return Number(text);
}

interface Ctx {
  fleet: Fleet;
  s: InProcess;
  dir: string;
  logs: string[];
}

/** One sshd host, the server in process with the hook program `body`, a capturing logger. */
async function withHooks(
  body: string,
  fn: (c: Ctx) => Promise<void>,
  env: Record<string, string> = {},
): Promise<void> {
  const { dir, script } = await hookScript(body);
  const fleet = await startFleet(1);
  const logs: string[] = [];
  try {
    const s = await startInProcess(
      fleet.env({
        SSH_HOOKS_COMMAND: `${script} '${dir}'`,
        SSH_AUDIT_LOG: `${dir}/audit.log`,
        ALLOW_DANGEROUS_TOOLS: "true",
        ALLOW_ANY_COMMAND: "true",
        ...env,
      }),
      { logger: new Logger({ level: "DEBUG", sink: (l) => logs.push(l) }) },
    );
    let closed = false;
    try {
      await fn({ fleet, s: { ...s, close: () => (closed = true, s.close()) }, dir, logs });
    } finally {
      if (!closed) await s.close();
    }
  } finally {
    await fleet.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

Deno.test("HOOK-1/HOOK-2/AC-861: startup, pre/post for every audited call, shutdown; metadata only", async () => {
  await withHooks('exec cat >> "$1/events"', async ({ s, dir }) => {
    await s.ok("ssh_exec_run", {
      host: "h1",
      command: "echo --password=hunter2 /srv/very-private-path",
    });
    const e = await s.err("ssh_exec_run", { host: "nosuchhost", command: "true" });
    assert.equal(e.code, "HostNotAllowed");
    await s.ok("ssh_server_info"); // not audited: no hook events either
    await s.close(); // delivers shutdown and waits for it
    const ev = await events(`${dir}/events`);
    assert.deepEqual(ev.map((x) => x.event), [
      "startup",
      "pre_tool_call",
      "post_tool_call",
      "pre_tool_call",
      "post_tool_call",
      "shutdown",
    ]);
    const [start, pre1, post1, pre2, post2, stop] = ev as [Ev, Ev, Ev, Ev, Ev, Ev];
    assert.equal(typeof (start.payload as Ev).version, "string");
    assert.equal(typeof (start.payload as Ev).total_tools, "number");
    assert.equal(start.tool, null);
    assert.equal(stop.correlation_id, null);
    // pre and post of one call share the audit line's correlation id
    const audit = auditLines(await Deno.readTextFile(`${dir}/audit.log`)).filter((l) =>
      l.type === "audit"
    );
    assert.equal(audit.length, 2);
    assert.equal(pre1.correlation_id, audit[0]!.correlation_id);
    assert.equal(post1.correlation_id, audit[0]!.correlation_id);
    assert.equal(pre2.correlation_id, audit[1]!.correlation_id);
    assert.deepEqual(
      { tool: pre1.tool, host: pre1.host, tier: pre1.tier, payload: pre1.payload },
      { tool: "ssh_exec_run", host: "h1", tier: "dangerous", payload: {} },
    );
    assert.equal(pre1.result, undefined);
    assert.equal(post1.result, "ok");
    assert.equal(post1.error, undefined);
    assert.equal(typeof post1.duration_ms, "number");
    assert.equal(post2.result, "error");
    assert.equal(post2.error, "HostNotAllowed");
    assert.equal(post2.host, "nosuchhost");
    assert.equal(typeof pre2.timestamp, "number");
    // exactly the HOOK-2 fields, nothing of the arguments or the output
    for (const x of ev) {
      for (const k of Object.keys(x)) {
        assert.ok(
          [
            "event",
            "timestamp",
            "tool",
            "host",
            "tier",
            "correlation_id",
            "result",
            "error",
            "duration_ms",
            "payload",
          ].includes(k),
          k,
        );
      }
    }
    const raw = await Deno.readTextFile(`${dir}/events`);
    for (const secret of ["hunter2", "very-private-path", "echo", "password"]) {
      assert.ok(!raw.includes(secret), `${secret} leaked into a hook event`);
    }
  });
});

Deno.test("AC-537/AC-858/CHEAT-3: a cheatsheet refusal fires PRE and POST (error CommandIsCheatsheetMatch) without an audit tool line", async () => {
  await withHooks('exec cat >> "$1/events"', async ({ s, dir }) => {
    const e = await s.err("ssh_exec_run", { host: "h1", command: "cat /etc/hosts" });
    assert.equal(e.code, "CommandIsCheatsheetMatch");
    assert.equal(s.app.pool.size, 0);
    await s.close();
    const ev = (await events(`${dir}/events`)).filter((x) => x.tool === "ssh_exec_run");
    assert.deepEqual(ev.map((x) => x.event), ["pre_tool_call", "post_tool_call"]);
    assert.equal(ev[1]!.result, "error");
    assert.equal(ev[1]!.error, "CommandIsCheatsheetMatch");
    const lines = auditLines(await Deno.readTextFile(`${dir}/audit.log`));
    assert.equal(lines.filter((l) => l.type === "audit").length, 0);
    const decision = lines.find((l) => l.type === "policy_decision")!;
    assert.equal(decision.decision, "cheatsheet");
    assert.equal(decision.correlation_id, ev[0]!.correlation_id);
  });
});

Deno.test("AC-857/AC-021/HOOK-3/HOOK-4: a hook that never reads: calls complete, events time out and drop (bounded queue, counter), one backlog WARNING; SIGTERM at shutdown", async () => {
  // the program never reads stdin: once the pipe is full every write stalls
  await withHooks('echo $$ > "$1/pid"; exec sleep 600', async ({ s, dir, logs }) => {
    const pid = await hookPid(dir);
    const backlogWarnings = () => logs.filter((l) => l.includes("hook backlog reached 100")).length;
    const burst = async (n: number) => {
      for (let i = 0; i < n; i += 100) {
        // deno-lint-ignore no-await-in-loop
        await Promise.all(Array.from({ length: 100 }, () => s.ok("ssh_host_list")));
      }
    };
    // 1. fill the pipe until a write stalls (the pipe takes a few hundred events first)
    await burst(500);
    assert.ok(
      await until(() => logs.some((l) => /hook event \w+ not taken within 1000 ms/.test(l)), 5000),
      "no WARNING for a timed-out hook write",
    );
    const atStall = backlogWarnings();
    // 2. while it stays stuck the backlog never drops below 50: at most one more WARNING
    await burst(1000);
    const calls = 1500;
    const info = await s.ok<{ hook_events_dropped: number }>("ssh_server_info");
    // 3000 events: the pipe's share and QUEUE_MAX waiting; the rest dropped and counted
    assert.ok(
      info.hook_events_dropped >= 2 * calls - QUEUE_MAX - 1000,
      `dropped ${info.hook_events_dropped}`,
    );
    assert.ok(backlogWarnings() >= 1);
    assert.ok(backlogWarnings() - atStall <= 1, logs.join("\n"));
    assert.ok(!processGone(pid));
    await s.close(); // shutdown cannot be delivered; EOF is not noticed; SIGTERM
    assert.ok(processGone(pid), `hook program ${pid} survived shutdown`);
    assert.ok(logs.some((l) => l.includes("sending SIGTERM")));
  }, { SSH_HOOKS_TIMEOUT: "1" });
});

Deno.test("AC-860/HOOK-6: a hook program that keeps exiting is restarted with backoff, then disabled with an ERROR", async () => {
  await withHooks('date +%s%N >> "$1/starts"; exit 3', async ({ s, dir, logs }) => {
    assert.ok(
      await until(() => logs.some((l) => l.includes("hooks disabled")), 20_000),
      "hooks were never disabled",
    );
    const starts = (await Deno.readTextFile(`${dir}/starts`)).trim().split("\n").map((l) =>
      Number(l) / 1e6
    );
    assert.equal(starts.length, 1 + MAX_RESTARTS, "one start plus MAX_RESTARTS restarts");
    // exponential backoff: each pause at least the doubled base delay
    for (let i = 1; i < starts.length; i++) {
      const gap = starts[i]! - starts[i - 1]!;
      const want = BACKOFF_BASE_MS * 2 ** (i - 1);
      assert.ok(gap >= want * 0.9, `restart ${i} after ${gap.toFixed(0)} ms, backoff ${want}`);
    }
    const restarts = logs.filter((l) => l.includes("hooks program stopped; restarting it in"));
    assert.equal(restarts.length, MAX_RESTARTS);
    assert.ok(logs.some((l) => /ERROR/.test(l) && l.includes("hooks disabled")));
    // the server keeps working; undelivered events are counted
    const before = (await s.ok<{ hook_events_dropped: number }>("ssh_server_info"))
      .hook_events_dropped;
    await s.ok("ssh_host_list");
    const after = (await s.ok<{ hook_events_dropped: number }>("ssh_server_info"))
      .hook_events_dropped;
    assert.equal(after, before + 2);
  });
});

Deno.test("HOOK-6: the program gets a minimal environment (no secrets); its stdout and stderr are logged at DEBUG", async () => {
  await withHooks(
    'env > "$1/env"; echo hello-from-hook; echo complaint-from-hook >&2; exec cat >> "$1/events"',
    async ({ s, dir, logs }) => {
      await s.ok("ssh_host_list");
      await s.close();
      const env = await Deno.readTextFile(`${dir}/env`);
      const names = env.split("\n").filter(Boolean).map((l) => l.split("=")[0]);
      assert.ok(names.includes("PATH"));
      assert.ok(!env.includes("tok-123-secret"), "a secret variable reached the hook");
      assert.ok(!env.includes("SSH_MCP_SECRET_DB"));
      assert.ok(!env.includes("SSH_HOOKS_COMMAND"));
      assert.ok(
        logs.some((l) => l.includes("DEBUG") && l.includes("hello-from-hook") && /stdout/.test(l)),
      );
      assert.ok(logs.some((l) => l.includes("complaint-from-hook") && /stderr/.test(l)));
      assert.equal((await events(`${dir}/events`)).at(-1)!.event, "shutdown");
    },
    { MY_API_TOKEN: "tok-123-secret", SSH_MCP_SECRET_DB: "tok-123-secret" },
  );
});

Deno.test("HOOK-6: at shutdown the program gets `shutdown`, then EOF, and exits by itself", async () => {
  await withHooks(
    'echo $$ > "$1/pid"; cat >> "$1/events"; echo eof >> "$1/eof"',
    async ({ s, dir, logs }) => {
      await s.ok("ssh_host_list");
      const pid = await hookPid(dir);
      await s.close();
      assert.equal(await Deno.readTextFile(`${dir}/eof`), "eof\n");
      assert.equal((await events(`${dir}/events`)).at(-1)!.event, "shutdown");
      assert.ok(processGone(pid));
      assert.ok(!logs.some((l) => l.includes("SIGTERM")), "a well-behaved program was signalled");
    },
  );
});

Deno.test("HOOK-1/AC-859: `deno task start` (stdio) runs the hooks program (startup/pre/post/shutdown); SSH_HOOKS_MODULE only warns", async () => {
  const { dir, script } = await hookScript('exec cat >> "$1/events"');
  const fleet = await startFleet(1);
  try {
    const s = await startStdio(
      fleet.env({
        SSH_HOOKS_COMMAND: `${script} ${dir}`,
        SSH_HOOKS_MODULE: "mycompany.hooks",
        LOG_LEVEL: "WARNING",
      }),
    );
    await s.ok("ssh_host_ping", { host: "h1" });
    await s.close();
    // the reference's Python hook module cannot load: a warning, and the server runs without it
    assert.match(s.stderr(), /WARNING.*SSH_HOOKS_MODULE.*SSH_HOOKS_COMMAND/);
    assert.ok(
      await until(async () => (await events(`${dir}/events`)).at(-1)?.event === "shutdown", 10_000),
    );
    assert.deepEqual((await events(`${dir}/events`)).map((x) => `${x.event}:${x.tool}`), [
      "startup:null",
      "pre_tool_call:ssh_host_ping",
      "post_tool_call:ssh_host_ping",
      "shutdown:null",
    ]);
  } finally {
    await fleet.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

Deno.test("AC-857/HOOK-3: a program that closes its stdin but keeps running: events are dropped and counted, one WARNING, calls unaffected", async () => {
  await withHooks('echo $$ > "$1/pid"; exec 0<&-; exec sleep 600', async ({ s, dir, logs }) => {
    const pid = await hookPid(dir);
    for (let i = 0; i < 20; i++) {
      // deno-lint-ignore no-await-in-loop
      await s.ok("ssh_host_list");
    }
    assert.ok(
      await until(
        async () =>
          (await s.ok<{ hook_events_dropped: number }>("ssh_server_info")).hook_events_dropped >=
            40,
        5000,
      ),
    );
    const warned = logs.filter((l) => l.includes("cannot be written to the hooks program's stdin"));
    assert.equal(warned.length, 1, warned.join("\n"));
    await s.close();
    assert.ok(processGone(pid), `hook program ${pid} survived shutdown`);
  }, { SSH_HOOKS_TIMEOUT: "1" });
});
