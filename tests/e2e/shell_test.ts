/**
 * Persistent shell sessions end to end: real sshd hosts, the real server and
 * a real MCP client (TOOLS.md §13, SECURITY.md §SESS, AC-023, AC-154..156,
 * AC-433, AC-910..914).
 */

import assert from "node:assert/strict";
import { type Fleet, startFleet } from "../_support/fleet.ts";
import { type InProcess, startInProcess } from "../_support/mcp.ts";
import { ToolRegistry } from "../../src/registry/pipeline.ts";

type Exec = { exit_code: number; stdout: string; stderr: string; cwd: string; session_id: string };

async function withShells(
  fn: (c: { fleet: Fleet; s: InProcess; dir: string }) => Promise<void>,
  opts: { env?: Record<string, string>; perHost?: (a: string) => string } = {},
) {
  const fleet = await startFleet(2, {
    perHost: opts.perHost ??
      ((a) => (a === "h2" ? 'command_allowlist = ["pwd", "cd", "ls"]' : "")),
  });
  const dir = await Deno.makeTempDir({ prefix: "sshmcp-shell-" });
  await Deno.chmod(dir, 0o777);
  const s = await startInProcess(fleet.env({
    ALLOW_LOW_ACCESS_TOOLS: "true",
    ALLOW_DANGEROUS_TOOLS: "true",
    ALLOW_ANY_COMMAND: "true",
    ...opts.env,
  }));
  try {
    await fn({ fleet, s, dir });
  } finally {
    await s.close();
    await fleet.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("SESS-1/SESS-4: open -> exec; cd persists between calls; initial cwd is the login directory", async () => {
  await withShells(async ({ s, fleet, dir }) => {
    const open = await s.ok<{ session_id: string; host: string; cwd: string }>("ssh_shell_open", {
      host: "h1",
    });
    assert.match(open.session_id, /^[0-9a-f]{32}$/);
    assert.equal(open.host, fleet.hosts[0]!.sshd.address);
    assert.equal(open.cwd, "~");
    const id = open.session_id;
    const first = await s.ok<Exec>("ssh_shell_exec", { session_id: id, command: "pwd" });
    assert.equal(first.stdout, `${fleet.hosts[0]!.sshd.user.home}\n`);
    assert.equal(first.stderr, "", "no `cd '~'` noise (REF quirk fixed)");
    const cd = await s.ok<Exec>("ssh_shell_exec", { session_id: id, command: `cd ${dir}` });
    assert.equal(cd.cwd, dir);
    const again = await s.ok<Exec>("ssh_shell_exec", { session_id: id, command: "pwd" });
    assert.equal(again.stdout, `${dir}\n`);
    assert.ok(!again.stdout.includes("__SSHMCP_STATE_"));
    const list = await s.ok<
      { sessions: { id: string; host: string; cwd: string }[]; count: number }
    >(
      "ssh_shell_list",
    );
    assert.equal(list.count, 1);
    assert.deepEqual([list.sessions[0]!.id, list.sessions[0]!.host, list.sessions[0]!.cwd], [
      id,
      "h1",
      dir,
    ]);
    assert.deepEqual(await s.ok("ssh_shell_close", { session_id: id }), {
      session_id: id,
      closed: true,
    });
    assert.deepEqual(await s.ok("ssh_shell_close", { session_id: id }), {
      session_id: id,
      closed: false,
    });
    const gone = await s.err("ssh_shell_exec", { session_id: id, command: "pwd" });
    assert.equal(gone.code, "ValueError");
  });
});

Deno.test("AC-910/AC-911/AC-912: cwd with spaces; fake sentinels ignored; `exit 3` keeps cwd and exit code", async () => {
  await withShells(async ({ s, dir }) => {
    const spaced = `${dir}/my app`;
    await Deno.mkdir(spaced);
    const { session_id } = await s.ok<{ session_id: string }>("ssh_shell_open", { host: "h1" });
    const cd = await s.ok<Exec>("ssh_shell_exec", { session_id, command: `cd '${spaced}'` });
    assert.equal(cd.cwd, spaced);
    const pwd = await s.ok<Exec>("ssh_shell_exec", { session_id, command: "pwd" });
    assert.equal(pwd.stdout, `${spaced}\n`);
    assert.equal(pwd.stderr, "");
    // AC-911: output that imitates the sentinel (any nonce) cannot move the cwd
    const fake = await s.ok<Exec>("ssh_shell_exec", {
      session_id,
      command:
        "printf '\\n__SSHMCP_STATE_0123456789abcdef__/etc\\n'; printf '\\n__SSHMCP_STATE__/root\\n'",
    });
    assert.equal(fake.cwd, spaced);
    assert.ok(fake.stdout.includes("__SSHMCP_STATE_0123456789abcdef__/etc"));
    // AC-912: no sentinel (the command exits) -> cwd unchanged, exit code kept
    const ex = await s.ok<Exec>("ssh_shell_exec", { session_id, command: "cd /; exit 3" });
    assert.equal(ex.exit_code, 3);
    assert.equal(ex.cwd, spaced);
    // a removed cwd falls back to the login directory
    await Deno.remove(spaced);
    const fb = await s.ok<Exec>("ssh_shell_exec", { session_id, command: "pwd" });
    assert.notEqual(fb.cwd, spaced);
  });
});

Deno.test("AC-023/AC-026: two concurrent execs on one session are serialized; final cwd = later-finishing call", async () => {
  await withShells(async ({ s, dir }) => {
    await Deno.mkdir(`${dir}/a`);
    await Deno.mkdir(`${dir}/b`);
    const { session_id } = await s.ok<{ session_id: string }>("ssh_shell_open", { host: "h1" });
    const run = (sub: string, nap: string) =>
      s.ok<Exec>("ssh_shell_exec", {
        session_id,
        command: `date +%s%N; cd ${dir}/${sub}; sleep ${nap}; date +%s%N`,
      });
    const [a, b] = await Promise.all([run("a", "0.3"), run("b", "0")]);
    const span = (r: Exec) => r.stdout.trim().split("\n").map((x) => BigInt(x));
    const [a0, a1] = span(a);
    const [b0, b1] = span(b);
    // observable ordering: one interval ends before the other starts
    const aFirst = a1! <= b0!;
    assert.ok(aFirst || b1! <= a0!, `overlapping runs: a=[${a0},${a1}] b=[${b0},${b1}]`);
    const later = aFirst ? `${dir}/b` : `${dir}/a`;
    const list = await s.ok<{ sessions: { cwd: string }[] }>("ssh_shell_list");
    assert.equal(list.sessions[0]!.cwd, later);
  });
});

Deno.test("SESS-3/AC-433: command policy and cheatsheet on the raw command; a refusal leaves cwd unchanged", async () => {
  await withShells(async ({ s, dir }) => {
    const { session_id } = await s.ok<{ session_id: string }>("ssh_shell_open", { host: "h2" });
    const cd = await s.ok<Exec>("ssh_shell_exec", { session_id, command: `cd ${dir}` });
    assert.equal(cd.cwd, dir);
    const denied = await s.err("ssh_shell_exec", { session_id, command: "cd /; id" });
    assert.equal(denied.code, "CommandNotAllowed");
    const cheat = await s.err("ssh_shell_exec", { session_id, command: "cat /etc/hosts" });
    assert.equal(cheat.code, "CommandIsCheatsheetMatch");
    const list = await s.ok<{ sessions: { cwd: string }[] }>("ssh_shell_list");
    assert.equal(list.sessions[0]!.cwd, dir);
  });
});

Deno.test("AC-155: persistent_session = false refuses ssh_shell_open; default_dir is the initial cwd", async () => {
  await withShells(async ({ s }) => {
    const e = await s.err("ssh_shell_open", { host: "h2" });
    assert.equal(e.code, "ValueError");
    assert.match(e.message, /persistent_session/);
    const o = await s.ok<{ session_id: string; cwd: string }>("ssh_shell_open", { host: "h1" });
    assert.equal(o.cwd, "/usr/share");
    const pwd = await s.ok<Exec>("ssh_shell_exec", { session_id: o.session_id, command: "pwd" });
    assert.equal(pwd.stdout, "/usr/share\n");
  }, {
    perHost: (a) => (a === "h2" ? "persistent_session = false" : 'default_dir = "/usr/share"'),
  });
});

Deno.test("AC-154: ALLOW_PERSISTENT_SESSIONS=false hides open/exec; list and close stay", async () => {
  await withShells(async ({ s }) => {
    const names = (await s.client.listTools()).tools.map((t) => t.name);
    assert.ok(!names.includes("ssh_shell_open") && !names.includes("ssh_shell_exec"));
    assert.ok(names.includes("ssh_shell_list") && names.includes("ssh_shell_close"));
  }, { env: { ALLOW_PERSISTENT_SESSIONS: "false" } });
});

Deno.test("AC-156: host removed by reload -> HostNotAllowed; with invalidate_changed the session is closed", async () => {
  await withShells(async ({ s, fleet }) => {
    const a = await s.ok<{ session_id: string }>("ssh_shell_open", { host: "h1" });
    const b = await s.ok<{ session_id: string }>("ssh_shell_open", { host: "h1" });
    const original = await Deno.readTextFile(fleet.hostsTomlPath);
    const withoutH1 = original.replace(/\[hosts\.h1\][\s\S]*?(?=\[hosts\.h2\])/, "");
    await Deno.writeTextFile(fleet.hostsTomlPath, withoutH1);
    await s.ok("ssh_host_reload", {});
    const e = await s.err("ssh_shell_exec", { session_id: a.session_id, command: "pwd" });
    assert.equal(e.code, "HostNotAllowed");
    await Deno.writeTextFile(fleet.hostsTomlPath, original);
    await s.ok("ssh_host_reload", {});
    await s.ok("ssh_shell_exec", { session_id: b.session_id, command: "pwd" });
    await Deno.writeTextFile(fleet.hostsTomlPath, withoutH1);
    await s.ok("ssh_host_reload", { invalidate_changed: true });
    const closed = await s.err("ssh_shell_exec", { session_id: b.session_id, command: "pwd" });
    assert.equal(closed.code, "ValueError");
    assert.equal((await s.ok<{ count: number }>("ssh_shell_list")).count, 0);
  }, { perHost: () => "" });
});

Deno.test("SESS-2/AC-913: another MCP session cannot use, list or close a session id", async () => {
  await withShells(async ({ s }) => {
    const reg = new ToolRegistry(s.app);
    const as = (key: string) => ({ signal: new AbortController().signal, sessionKey: key });
    const opened = await reg.call("ssh_shell_open", { host: "h1" }, as("client-A"));
    const id = (opened!.structured as { session_id: string }).session_id;
    const use = await reg.call(
      "ssh_shell_exec",
      { session_id: id, command: "pwd" },
      as("client-B"),
    );
    assert.equal(use!.isError, true);
    assert.match(use!.text, /^ValueError: Unknown shell session/);
    const list = await reg.call("ssh_shell_list", {}, as("client-B"));
    assert.equal((list!.structured as { count: number }).count, 0);
    const close = await reg.call("ssh_shell_close", { session_id: id }, as("client-B"));
    assert.equal((close!.structured as { closed: boolean }).closed, false);
    const mine = await reg.call(
      "ssh_shell_exec",
      { session_id: id, command: "pwd" },
      as("client-A"),
    );
    assert.equal(mine!.isError, false);
  });
});

Deno.test("SESS-5/AC-914: sessions idle longer than SSH_SHELL_IDLE_TIMEOUT are closed by the reaper", async () => {
  await withShells(async ({ s }) => {
    const o = await s.ok<{ session_id: string }>("ssh_shell_open", { host: "h1" });
    const store = s.app.shells;
    assert.equal(store.reap(Date.now()), 0, "not idle yet");
    assert.equal(store.reap(Date.now() + 3_601_000), 1);
    const e = await s.err("ssh_shell_exec", { session_id: o.session_id, command: "pwd" });
    assert.equal(e.code, "ValueError");
  });
});
