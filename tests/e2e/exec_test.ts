/**
 * The exec group end to end against real sshd hosts, through a real MCP client:
 * ssh_exec_run, ssh_exec_script, ssh_exec_run_streaming, ssh_plan, and the
 * MCP-native task mode. Rows: SECURITY.md §24.6 (script/plan rows), OUT-*,
 * AC-001, AC-011, AC-019, AC-062, AC-434, AC-815.
 */

import assert from "node:assert/strict";
import { type FleetServer, type FleetServerOptions, withFleetServer } from "../_support/fleet.ts";
import { auditLines } from "../_support/mcp.ts";
import { procsWith } from "../_support/procs.ts";

/** `n` hosts, the dangerous tier on. */
const withHosts = (
  n: number,
  fn: (c: FleetServer) => Promise<void>,
  opts: Omit<FleetServerOptions, "tier"> = {},
) => withFleetServer(n, fn, { tier: "dangerous", ...opts });

async function audit(path: string) {
  return auditLines(await Deno.readTextFile(path).catch(() => ""));
}

const ANY = { ALLOW_ANY_COMMAND: "true" };

Deno.test("ssh_exec_run: exit code is data, stdout/stderr, sanitizer, audit + policy_decision (OUT-7, AUDIT-8)", async () => {
  await withHosts(1, async ({ s, fleet, auditPath }) => {
    const r = await s.ok("ssh_exec_run", {
      host: "h1",
      command: "echo hello; ls /nonexistent-dir-x; printf 'a\\033[31mred\\033[0m\\n'; exit 3",
    });
    assert.equal(r.host, fleet.hosts[0]!.sshd.address);
    assert.equal(r.exit_code, 3);
    assert.equal(r.stdout, "hello\nared\n");
    assert.match(String(r.stderr), /No such file/);
    assert.ok((r.output_warnings as string[]).includes("ANSI escape sequences stripped"));
    assert.deepEqual([r.timed_out, r.cancelled, r.hint, r.stdout_truncated], [
      false,
      false,
      null,
      false,
    ]);
    assert.equal(r.stdout_bytes, "hello\nared\n".length + 9);
    const lines = await audit(auditPath);
    const a = lines.find((l) => l.type === "audit" && l.tool === "ssh_exec_run")!;
    assert.equal(a.exit_code, 3);
    assert.equal(a.result, "ok");
    assert.match(String(a.command_hash), /^sha256:[0-9a-f]{16}$/);
    assert.equal(a.target_ip, fleet.hosts[0]!.sshd.address);
    const pd = lines.find((l) => l.type === "policy_decision")!;
    assert.deepEqual([pd.decision, pd.tool, pd.alias], ["allow", "ssh_exec_run", "h1"]);
    assert.equal(pd.command_hash, a.command_hash);
    assert.ok(!JSON.stringify(lines).includes("nonexistent-dir-x"), "command text in audit");
  }, { env: ANY });
});

Deno.test("AC-001/AC-400/AC-404: fail closed without an allowlist; not-allowlisted program; no connection opened", async () => {
  await withHosts(1, async ({ s, auditPath }) => {
    const e = await s.err("ssh_exec_run", { host: "h1", command: "uname -a" });
    assert.equal(e.code, "CommandNotAllowed");
    assert.match(e.message, /ALLOW_ANY_COMMAND/);
    assert.match(e.message, /command_allowlist|SSH_COMMAND_ALLOWLIST/);
    assert.equal(s.app.pool.size, 0, "a refused command must not open a connection");
    const lines = await audit(auditPath);
    assert.equal(lines.find((l) => l.type === "policy_decision")?.decision, "deny");
    assert.equal(lines.find((l) => l.type === "audit")?.error, "CommandNotAllowed");
  });
  await withHosts(1, async ({ s }) => {
    const e = await s.err("ssh_exec_run", { host: "h1", command: "curl https://evil" });
    assert.equal(e.code, "CommandNotAllowed");
    assert.equal(e.meta.reason, "not-allowlisted");
    const ok = await s.ok("ssh_exec_run", { host: "h1", command: "uptime" });
    assert.equal(ok.exit_code, 0);
  }, { perHost: () => 'command_allowlist = ["uptime", "systemctl", "nginx"]' });
});

Deno.test("AC-429/AC-430/SCRIPT-1/SCRIPT-5: scripts need allow-any, denylist applies, body only on stdin", async () => {
  await withHosts(1, async ({ s }) => {
    const e = await s.err("ssh_exec_script", { host: "h1", script: "rm -rf /home\n" });
    assert.equal(e.code, "CommandNotAllowed");
    assert.equal(e.meta.reason, "script-needs-allow-any");
    assert.equal(s.app.pool.size, 0);
  }, { perHost: () => 'command_allowlist = ["ls"]' });
  await withHosts(1, async ({ s, auditPath }) => {
    const d = await s.err("ssh_exec_script", {
      host: "h1",
      script: "echo x\nmkfs.ext4 /dev/sda\n",
    });
    assert.equal(d.code, "CommandNotAllowed");
    assert.equal(d.meta.reason, "denylist");
    const marker = `body-marker-${crypto.randomUUID().slice(0, 8)}`;
    const script = `# ${marker}\necho start\nsleep 1.5\nx=$((6*7))\necho "answer $x"\n`;
    const call = s.ok("ssh_exec_script", { host: "h1", script });
    await new Promise((r) => setTimeout(r, 700));
    assert.deepEqual(await procsWith(marker), [], "script body visible in a process argv");
    const r = await call;
    assert.equal(r.exit_code, 0);
    assert.equal(r.stdout, "start\nanswer 42\n");
    const lines = await audit(auditPath);
    const a = lines.filter((l) =>
      l.type === "audit" && l.tool === "ssh_exec_script" && l.result === "ok"
    )[0]!;
    assert.equal(a.script_len, script.length);
    assert.match(String(a.script_hash), /^sha256:/);
    assert.equal(a.command_hash, undefined);
    assert.ok(!JSON.stringify(lines).includes(marker), "script body in the audit log");
  }, { env: ANY });
});

Deno.test("AC-062/AC-537/CHEAT-2: cheatsheet refuses before the policy and before any connection; opt-out warns", async () => {
  await withHosts(1, async ({ s, auditPath }) => {
    const e = await s.err("ssh_exec_run", { host: "h1", command: "cat /etc/hosts" });
    assert.equal(e.code, "CommandIsCheatsheetMatch");
    assert.equal(e.meta.pattern_id, "read-single");
    assert.equal(e.meta.suggested_tool, "ssh_sftp_download");
    assert.equal(s.app.pool.size, 0);
    const lines = await audit(auditPath);
    assert.equal(lines.filter((l) => l.type === "audit").length, 0);
    assert.equal(lines.find((l) => l.type === "policy_decision")?.decision, "cheatsheet");
    const b = await s.err("ssh_exec_run_streaming", {
      host: "h1",
      command: "systemctl restart nginx",
    });
    assert.equal(b.code, "CommandIsCheatsheetMatch");
  }, { env: ANY });
  await withHosts(1, async ({ s, auditPath }) => {
    const r = await s.ok("ssh_exec_run", { host: "h1", command: "cat /etc/hostname" });
    assert.equal(r.exit_code, 0);
    assert.match((r.output_warnings as string[])[0]!, /matched cheatsheet pattern 'read-single'/);
    const a = (await audit(auditPath)).find((l) => l.type === "audit")!;
    assert.equal(a.cheatsheet_pattern_id, "read-single");
  }, { env: { ...ANY, SSH_EXEC_ALLOW_CHEATSHEET_PATTERNS: "true" } });
});

Deno.test("AC-019/OUT-8: terminal-needed stderr gets the TTY hint; no PTY is allocated", async () => {
  await withHosts(1, async ({ s }) => {
    const r = await s.ok("ssh_exec_run", {
      host: "h1",
      command: "tty; sh -c 'echo \"stdin: not a tty\" 1>&2; exit 1'",
    });
    assert.equal(r.exit_code, 1);
    assert.match(String(r.stdout), /not a tty/);
    assert.match(String(r.hint), /never allocates a PTY/);
    assert.match(String(r.hint), /ssh_exec_script/);
  }, { env: ANY });
});

Deno.test("TIER-8: exec tools refuse Windows hosts before I/O (PlatformNotSupported)", async () => {
  await withHosts(1, async ({ s }) => {
    for (const tool of ["ssh_exec_run", "ssh_exec_run_streaming", "ssh_run_async"]) {
      const e = await s.err(tool, { host: "h1", command: "uptime" });
      assert.equal(e.code, "PlatformNotSupported", tool);
    }
    const e = await s.err("ssh_exec_script", { host: "h1", script: "uptime" });
    assert.equal(e.code, "PlatformNotSupported");
    assert.equal(s.app.pool.size, 0);
  }, { env: ANY, perHost: () => 'platform = "windows"' });
});

Deno.test("AC-011/AC-815/AC-005: streaming progress carries sanitized output tails, never bytes past the cap", async () => {
  await withHosts(1, async ({ s }) => {
    const progress: string[] = [];
    const r = await s.client.callTool(
      {
        name: "ssh_exec_run_streaming",
        arguments: {
          host: "h1",
          command:
            "for i in 1 2 3; do printf 'step %s \\033[32mok\\033[0m\\n' $i; sleep 0.3; done; head -c 3000 /dev/zero | tr '\\0' a; echo; echo BEYOND-CAP-TOKEN",
        },
      },
      undefined,
      { onprogress: (p) => progress.push(String(p.message)) },
    );
    assert.ok(!r.isError, JSON.stringify(r.content));
    const sc = r.structuredContent as Record<string, unknown>;
    assert.equal(sc.stdout_truncated, true);
    assert.ok(progress.includes("stdout: step 1 ok"), JSON.stringify(progress));
    assert.ok(progress.includes("stdout: step 3 ok"));
    assert.ok(!progress.some((m) => m.includes("\x1b")), "ANSI in a progress notification");
    assert.ok(
      !progress.some((m) => m.includes("BEYOND-CAP-TOKEN")),
      "bytes past the cap were streamed",
    );
    assert.ok(progress.every((m) => m.length <= "stdout: ".length + 200));
    // AC-005: prints past the cap, then sleeps past the timeout
    const t = await s.ok("ssh_exec_run_streaming", {
      host: "h1",
      command: "head -c 5000 /dev/zero | tr '\\0' b; sleep 30",
      timeout: 1,
    });
    assert.equal(t.timed_out, true);
    assert.equal(t.exit_code, -1);
    assert.equal(t.stdout_truncated, true);
    assert.ok(Number(t.stdout_bytes) >= 1000);
  }, { env: { ...ANY, SSH_STDOUT_CAP_BYTES: "1000" } });
});

Deno.test("AC-434/EXEC-20: ssh_plan gives the same decision and reason as execution, with no remote I/O", async () => {
  const cases: { command: string; tool?: string }[] = [
    { command: "ls /" },
    { command: "uptime" },
    { command: "systemctl status nginx; rm -rf /" },
    { command: "uptime $(reboot)" },
    { command: "uptime > /etc/cron.d/evil" },
    { command: "PATH=/tmp/evil:$PATH uptime" },
    { command: "$CMD -la" },
    { command: "(rm -rf /)" },
    { command: '"unclosed' },
    { command: "   " },
    { command: "rm -rf /home\n", tool: "ssh_exec_script" },
    { command: "cat /etc/hosts" },
  ];
  await withHosts(1, async ({ s, fleet }) => {
    const before = (await fleet.hosts[0]!.sshd.log()).split("Accepted publickey").length;
    const plans: Record<string, unknown>[] = [];
    for (const c of cases) {
      const p = await s.ok<{ targets: Record<string, unknown>[] }>("ssh_plan", {
        host: "h1",
        tool: c.tool ?? "ssh_exec_run",
        command: c.command,
      });
      plans.push(p.targets[0]!);
    }
    assert.equal(s.app.pool.size, 0, "ssh_plan opened a connection");
    assert.equal((await fleet.hosts[0]!.sshd.log()).split("Accepted publickey").length, before);
    for (const [i, c] of cases.entries()) {
      const plan = plans[i]!;
      const tool = c.tool ?? "ssh_exec_run";
      const args = tool === "ssh_exec_script"
        ? { host: "h1", script: c.command }
        : { host: "h1", command: c.command };
      const r = await s.call(tool, args);
      const meta = ((r._meta ?? {})["ssh-mcp/error"] ?? {}) as Record<string, unknown>;
      if (meta.error === "CommandIsCheatsheetMatch") {
        assert.equal((plan.cheatsheet_match as { refused: boolean }).refused, true, c.command);
        assert.equal(plan.would_execute, false);
      } else if (r.isError) {
        assert.equal(plan.command_decision, "deny", c.command);
        assert.equal(plan.command_reason, meta.reason, c.command);
        assert.equal(plan.would_execute, false);
      } else {
        assert.equal(plan.command_decision, "allow", c.command);
        assert.equal(plan.would_execute, true);
      }
    }
    assert.equal(plans[0]!.command_decision, "deny");
    assert.equal(plans[1]!.command_decision, "allow");
    assert.equal(plans[2]!.command_reason, "denylist");
    assert.equal(plans[2]!.denylist_hit !== null, true);
    assert.equal(plans[10]!.command_reason, "script-needs-allow-any");
  }, { perHost: () => 'command_allowlist = ["uptime", "systemctl"]' });
});

Deno.test("ssh_plan: tag and pattern targets, blocked host, tier visibility, limits, bad input", async () => {
  await withHosts(3, async ({ s, fleet }) => {
    const p = await s.ok<{ targets: Record<string, unknown>[]; would_execute_on: string[] }>(
      "ssh_plan",
      { tag: "web", tool: "ssh_host_info" },
    );
    assert.deepEqual(p.targets.map((t) => t.alias), ["h1", "h2"]);
    const h2 = p.targets[1]!;
    assert.equal(h2.host_blocked, true);
    assert.equal(h2.would_execute, false);
    assert.deepEqual(p.would_execute_on, ["h1"]);
    // TIER-12 (hidden means hidden): the dangerous tier is off, so ssh_plan answers for
    // ssh_exec_run exactly as for a tool that does not exist
    const hidden = await s.err("ssh_plan", { tag: "web", command: "uptime" });
    const none = await s.err("ssh_plan", { tag: "web", tool: "ssh_nope_exec", command: "uptime" });
    assert.equal(hidden.code, "ValueError");
    assert.equal(hidden.message, none.message.replace("ssh_nope_exec", "ssh_exec_run"));
    assert.deepEqual(p.targets[0]!.limits, {
      timeout_s: 60,
      max_timeout_s: 3600,
      stdout_cap: 1048576,
      stderr_cap: 1048576,
    });
    const q = await s.ok<{ targets: Record<string, unknown>[]; would_execute_on: string[] }>(
      "ssh_plan",
      { pattern: "all:!h2", tool: "ssh_host_info" },
    );
    assert.deepEqual(q.targets.map((t) => t.alias), ["h1", "h3"]);
    assert.equal(q.targets[0]!.tier_visible, true);
    assert.equal(q.targets[0]!.command_decision, null);
    assert.deepEqual(q.would_execute_on, ["h1", "h3"]);
    for (
      const bad of [
        {},
        { host: "h1", tag: "web" },
        { host: "h1", tool: "ssh_nope" },
        { host: "h1", tool: "ssh_host_info", command: "x" },
        { host: "nope" },
      ]
    ) {
      const e = await s.err("ssh_plan", bad);
      assert.ok(["ValueError", "HostNotAllowed"].includes(e.code), JSON.stringify(bad));
    }
    assert.equal(fleet.hosts.length, 3);
  }, {
    env: (f) => ({
      ...ANY,
      ALLOW_DANGEROUS_TOOLS: "false",
      SSH_HOSTS_BLOCKLIST: f.hosts[1]!.sshd.address,
    }),
    perHost: (a) => (a === "h3" ? 'tags = ["db"]' : 'tags = ["web"]'),
  });
});

Deno.test("MCP-native tasks: ssh_exec_run_streaming declares taskSupport optional and runs as a task", async () => {
  await withHosts(1, async ({ s }) => {
    const tools = (await s.client.listTools()).tools;
    const byName = new Map(tools.map((t) => [t.name, t]));
    assert.equal(byName.get("ssh_exec_run_streaming")?.execution?.taskSupport, "optional");
    assert.equal(byName.get("ssh_run_async")?.execution?.taskSupport, "optional");
    assert.equal(byName.get("ssh_exec_run")?.execution, undefined);
    const stream = s.client.experimental.tasks.callToolStream(
      {
        name: "ssh_exec_run_streaming",
        arguments: { host: "h1", command: "sleep 0.5; echo task-done" },
      },
      undefined,
      { task: { ttl: 60_000 } },
    );
    const kinds: string[] = [];
    let result: Record<string, unknown> | undefined;
    for await (const m of stream) {
      kinds.push(m.type);
      if (m.type === "result") result = m.result as Record<string, unknown>;
      if (m.type === "error") throw m.error;
    }
    assert.equal(kinds[0], "taskCreated");
    const sc = result!.structuredContent as Record<string, unknown>;
    assert.equal(sc.stdout, "task-done\n");
    // a tool without task support refuses task-augmented calls
    await assert.rejects(
      s.client.request(
        {
          method: "tools/call",
          params: { name: "ssh_exec_run", arguments: { host: "h1", command: "true" }, task: {} },
        },
        (await import("@modelcontextprotocol/sdk/experimental/tasks")).CreateTaskResultSchema,
      ),
      /does not support task-augmented calls/,
    );
  }, { env: ANY });
});
