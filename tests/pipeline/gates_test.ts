/**
 * The in-memory gates of the call pipeline (src/registry/pipeline.ts): parse,
 * resolve, cheatsheet, platform and limits, each refusing before any I/O. The
 * hosts are fake SSH servers (tests/_support/fake_ssh.ts), so "before any I/O"
 * is observed on the host side: no TCP connection, no command, no subsystem.
 */

import assert from "node:assert/strict";
import { type PipeCtx, q, withFakeHosts } from "./_fixture.ts";

/** h1: plain POSIX host; h2: on SSH_HOSTS_BLOCKLIST (own address); hwin: platform = windows. */
function withGateHosts(fn: (c: PipeCtx) => Promise<void>): Promise<void> {
  return withFakeHosts(
    [
      {
        alias: "h1",
        toml: (f) => `path_allowlist = [${q(f.home)}]\nmax_command_timeout = 30`,
      },
      { alias: "h2", fake: { address: "127.0.0.2" } },
      { alias: "hwin", fake: { address: "127.0.0.3" }, toml: 'platform = "windows"' },
    ],
    fn,
    {
      tier: "dangerous",
      env: { ALLOW_ANY_COMMAND: "true", SSH_HOSTS_BLOCKLIST: "127.0.0.2" },
    },
  );
}

/** Nothing reached any fake host: no TCP connection, no exec, no subsystem. */
function assertNoHostIo(c: PipeCtx, why: string): void {
  assert.equal(c.connections(), 0, `${why}: a TCP connection reached a host`);
  assert.equal(c.records(), 0, `${why}: something ran on a host`);
  assert.equal(c.s.app.pool.opened, 0, `${why}: the pool opened a connection`);
}

/** The one final audit line of the one call in `lines`. */
function onlyAudit(lines: Record<string, unknown>[], tool: string): Record<string, unknown> {
  const a = lines.filter((l) => l.type === "audit");
  assert.equal(a.length, 1, `expected exactly one audit line, got ${JSON.stringify(lines)}`);
  assert.equal(a[0]!.tool, tool);
  return a[0]!;
}

Deno.test("pipeline parse: unknown parameter and wrong type are ValueErrors naming the parameter; one error audit line; no I/O", async () => {
  await withGateHosts(async (c) => {
    const { s } = c;
    const unknown = await s.err("ssh_exec_run", { host: "h1", command: "ls", bogus_flag: 1 });
    assert.equal(unknown.code, "ValueError");
    assert.match(unknown.message, /^Invalid arguments for ssh_exec_run: /);
    assert.match(unknown.message, /unknown parameter\(s\) "bogus_flag"/);
    let lines = await c.fresh();
    assert.equal(lines.length, 1, JSON.stringify(lines));
    let a = onlyAudit(lines, "ssh_exec_run");
    assert.deepEqual([a.result, a.error, a.host, a.alias], ["error", "ValueError", "h1", null]);
    assert.equal(a.command_hash, undefined, "a call refused at parse has no command hash");

    const wrongType = await s.err("ssh_sftp_stat", { host: "h1", path: 42 });
    assert.equal(wrongType.code, "ValueError");
    assert.match(wrongType.message, /ssh_sftp_stat: path: /);
    assert.ok(!/host:/.test(wrongType.message), "only the offending parameter is named");
    lines = await c.fresh();
    assert.equal(lines.length, 1);
    a = onlyAudit(lines, "ssh_sftp_stat");
    assert.deepEqual([a.result, a.error], ["error", "ValueError"]);

    const missing = await s.err("ssh_exec_run", { host: "h1" });
    assert.equal(missing.code, "ValueError");
    assert.match(missing.message, /command: /);
    await c.fresh();
    assertNoHostIo(c, "parse");
  });
});

Deno.test("pipeline resolve: unknown host -> HostNotAllowed, blocklisted -> HostBlocked (alias or hostname); never dialled", async () => {
  await withGateHosts(async (c) => {
    const { s } = c;
    const unknown = await s.err("ssh_exec_run", { host: "no-such-host", command: "ls" });
    assert.equal(unknown.code, "HostNotAllowed");
    assert.match(unknown.message, /"no-such-host" is not configured/);
    assert.match(unknown.message, /Known aliases: h1, h2, hwin/);
    let a = onlyAudit(await c.fresh(), "ssh_exec_run");
    assert.deepEqual([a.error, a.host, a.alias], ["HostNotAllowed", "no-such-host", null]);

    for (const host of ["h2", "127.0.0.2"]) {
      const b = await s.err("ssh_exec_run", { host, command: "ls" });
      assert.equal(b.code, "HostBlocked", host);
      assert.match(b.message, /SSH_HOSTS_BLOCKLIST/);
      assert.equal(b.meta.reason, "blocklist");
      const lines = await c.fresh();
      a = onlyAudit(lines, "ssh_exec_run");
      assert.equal(a.error, "HostBlocked");
      // the command is hashed by the cheatsheet/command stages, which come after resolve
      assert.equal(a.command_hash, undefined);
      assert.equal(lines.filter((l) => l.type === "policy_decision").length, 0);
    }
    // a read tool and a path tool: same gate, same answer
    assert.equal((await s.err("ssh_host_info", { host: "h2" })).code, "HostBlocked");
    assert.equal(
      (await s.err("ssh_sftp_stat", { host: "h2", path: "/etc/hostname" })).code,
      "HostBlocked",
    );
    assertNoHostIo(c, "resolve");
    assert.equal(c.fakes.h2!.connections, 0);
  });
});

Deno.test("pipeline cheatsheet: a redirected command is refused with a policy_decision 'cheatsheet' line instead of the audit line; before platform", async () => {
  await withGateHosts(async (c) => {
    const { s } = c;
    const e = await s.err("ssh_exec_run", { host: "h1", command: "cat /etc/hosts" });
    assert.equal(e.code, "CommandIsCheatsheetMatch");
    assert.equal(e.meta.pattern_id, "read-single");
    assert.equal(e.meta.suggested_tool, "ssh_sftp_download");
    let lines = await c.fresh();
    assert.equal(lines.length, 1, JSON.stringify(lines));
    const pd = lines[0]!;
    assert.deepEqual(
      [pd.type, pd.decision, pd.reason, pd.rule, pd.tool, pd.alias],
      ["policy_decision", "cheatsheet", "cheatsheet", "read-single", "ssh_exec_run", "h1"],
    );
    assert.match(String(pd.command_hash), /^sha256:[0-9a-f]{16}$/);
    assert.ok(!JSON.stringify(pd).includes("/etc/hosts"), "command text in the audit log");

    const sys = await s.err("ssh_exec_run", { host: "h1", command: "systemctl status nginx" });
    assert.equal(sys.code, "CommandIsCheatsheetMatch");
    lines = await c.fresh();
    assert.deepEqual(lines.map((l) => [l.type, l.decision]), [["policy_decision", "cheatsheet"]]);

    // stage order: cheatsheet runs before the platform gate
    const win = await s.err("ssh_exec_run", { host: "hwin", command: "cat /etc/hosts" });
    assert.equal(win.code, "CommandIsCheatsheetMatch");
    lines = await c.fresh();
    assert.deepEqual(lines.map((l) => [l.type, l.decision, l.alias]), [[
      "policy_decision",
      "cheatsheet",
      "hwin",
    ]]);
    assertNoHostIo(c, "cheatsheet");
  });
});

Deno.test("pipeline platform: posixOnly tools on a windows host -> PlatformNotSupported before the command policy and any I/O", async () => {
  await withGateHosts(async (c) => {
    const { s } = c;
    const e = await s.err("ssh_exec_run", { host: "hwin", command: "ls" });
    assert.equal(e.code, "PlatformNotSupported");
    assert.match(
      e.message,
      /ssh_exec_run needs a POSIX host; hwin is configured with platform = "windows"/,
    );
    let lines = await c.fresh();
    assert.equal(lines.filter((l) => l.type === "policy_decision").length, 0, "command stage ran");
    const a = onlyAudit(lines, "ssh_exec_run");
    assert.deepEqual([a.error, a.alias, a.hostname], ["PlatformNotSupported", "hwin", "127.0.0.3"]);

    const info = await s.err("ssh_host_info", { host: "hwin" });
    assert.equal(info.code, "PlatformNotSupported");
    lines = await c.fresh();
    assert.equal(onlyAudit(lines, "ssh_host_info").error, "PlatformNotSupported");
    assertNoHostIo(c, "platform");
  });
});

Deno.test("pipeline limits: timeout above max_command_timeout -> ValueError after the command policy, before any I/O", async () => {
  await withGateHosts(async (c) => {
    const { s } = c;
    const e = await s.err("ssh_exec_run", { host: "h1", command: "ls", timeout: 31 });
    assert.equal(e.code, "ValueError");
    assert.match(
      e.message,
      /timeout 31 s is above the maximum of 30 s \(max_command_timeout of h1\)/,
    );
    const lines = await c.fresh();
    // the command stage (before limits) admitted it and said so
    assert.deepEqual(
      lines.map((l) => [l.type, l.decision ?? l.error]),
      [["policy_decision", "allow"], ["audit", "ValueError"]],
    );
    assert.equal(lines[0]!.correlation_id, lines[1]!.correlation_id);
    assertNoHostIo(c, "limits");
    // at the ceiling it runs (and only now the host is reached)
    const ok = await s.ok("ssh_exec_run", { host: "h1", command: "true", timeout: 30 });
    assert.equal(ok.exit_code, 0);
    assert.equal(c.fakes.h1!.connections, 1);
    assert.deepEqual(c.fakes.h1!.commands(), ["true"]);
  });
});
