/**
 * Shell session records (SECURITY.md §SESS): lock discipline (AC-023, AC-027),
 * ownership (AC-913), cap and reaper (SESS-5, AC-914), cwd sentinel parsing
 * (AC-910..912). The real remote behaviour is in tests/e2e/shell_test.ts.
 */

import assert from "node:assert/strict";
import { MAX_SESSIONS_PER_OWNER, type SessionLock, ShellStore } from "../../src/shell/store.ts";
import { cdTarget, unwrapOutput, wrapCommand } from "../../src/shell/wrap.ts";
import { admitCommand } from "../../src/policy/mint.ts";

Deno.test("AC-027: the only cwd setter throws without the session lock (and with a stale lock)", async () => {
  const store = new ShellStore(3600);
  const s = store.open("A", "h1", "h1", "~");
  assert.throws(() => s.setCwd(Symbol("forged") as SessionLock, "/tmp"), /without holding/);
  let stale: SessionLock | undefined;
  await s.withLock((lock) => {
    s.setCwd(lock, "/tmp");
    stale = lock;
    return Promise.resolve();
  });
  assert.equal(s.cwd, "/tmp");
  assert.throws(() => s.setCwd(stale!, "/etc"), /without holding/);
  assert.equal(s.cwd, "/tmp");
  store.closeAll();
});

Deno.test("AC-023/AC-026: concurrent execs on one session run one at a time in arrival order", async () => {
  const store = new ShellStore(3600);
  const s = store.open("A", "h1", "h1", "~");
  const events: string[] = [];
  let releaseFirst!: () => void;
  const first = s.withLock(async (lock) => {
    events.push("enter a");
    await new Promise<void>((r) => (releaseFirst = r));
    s.setCwd(lock, "/a");
    events.push("exit a");
  });
  const second = s.withLock((lock) => {
    events.push("enter b");
    s.setCwd(lock, "/b");
    events.push("exit b");
    return Promise.resolve();
  });
  await new Promise((r) => setTimeout(r, 0));
  assert.deepEqual(events, ["enter a"], "b waits while a holds the lock");
  assert.equal(s.busy, true);
  releaseFirst();
  await Promise.all([first, second]);
  assert.deepEqual(events, ["enter a", "exit a", "enter b", "exit b"]);
  assert.equal(s.cwd, "/b", "the later-finishing call's cwd wins");
  store.closeAll();
});

Deno.test("SESS-3: waiting for the lock ends with Cancelled on abort; the queue keeps going", async () => {
  const store = new ShellStore(3600);
  const s = store.open("A", "h1", "h1", "~");
  let release!: () => void;
  const holder = s.withLock(() => new Promise<void>((r) => (release = r)));
  const ac = new AbortController();
  const waiting = s.withLock(() => Promise.resolve("never"), ac.signal);
  ac.abort();
  await assert.rejects(waiting, /cancelled/);
  const third = s.withLock(() => Promise.resolve("third"));
  release();
  await holder;
  assert.equal(await third, "third");
  store.closeAll();
});

Deno.test("SESS-2/AC-913: 32-hex ids bound to the opening MCP session; others see 'unknown'", () => {
  const store = new ShellStore(3600);
  const a = store.open("A", "h1", "h1", "~");
  assert.match(a.id, /^[0-9a-f]{32}$/);
  assert.throws(() => store.get("B", a.id), /Unknown shell session/);
  assert.equal(store.close("B", a.id), false);
  assert.deepEqual(store.list("B"), []);
  assert.equal(store.get("A", a.id), a);
  assert.equal(store.close("A", a.id), true);
  assert.throws(() => store.get("A", a.id), /Unknown shell session/);
});

Deno.test("SESS-5: at most 16 sessions per MCP session", () => {
  const store = new ShellStore(3600);
  for (let i = 0; i < MAX_SESSIONS_PER_OWNER; i++) store.open("A", "h1", "h1", "~");
  assert.throws(() => store.open("A", "h1", "h1", "~"), /Too many open shell sessions/);
  store.open("B", "h1", "h1", "~");
  store.closeAll();
  assert.equal(store.size, 0);
});

Deno.test("SESS-5/AC-914: the reaper closes sessions idle longer than the timeout, never busy ones", async () => {
  const store = new ShellStore(3600);
  const idle = store.open("A", "h1", "h1", "~");
  const busy = store.open("A", "h1", "h1", "~");
  const fresh = store.open("A", "h1", "h1", "~");
  let release!: () => void;
  const running = busy.withLock(() => new Promise<void>((r) => (release = r)));
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(busy.busy, true);
  const now = Date.now();
  idle.lastUsed = now - 3601_000;
  busy.lastUsed = now - 3601_000;
  fresh.lastUsed = now - 3599_000;
  assert.equal(store.reap(now), 1);
  assert.equal(idle.closed, true);
  assert.deepEqual(store.list("A").map((s) => s.id), [busy.id, fresh.id]);
  release();
  await running;
  store.closeAll();
});

Deno.test("reload invalidation closes the sessions of changed/removed aliases only", () => {
  const store = new ShellStore(3600);
  const a = store.open("A", "web", "web", "~");
  const b = store.open("A", "10.0.0.5", "db", "~");
  assert.equal(store.closeAliases(new Set(["db"])), 1);
  assert.equal(b.closed, true);
  assert.equal(a.closed, false);
  store.closeAll();
});

Deno.test("AC-910: cwd with spaces is quoted; ~ and ~/x keep tilde expansion", () => {
  assert.equal(cdTarget("/opt/my app"), "'/opt/my app'");
  assert.equal(cdTarget("~"), "~");
  assert.equal(cdTarget("~/my app"), "~/'my app'");
  assert.equal(cdTarget("/it's"), `'/it'"'"'s'`);
  const w = wrapCommand("/opt/my app", admitCommand("pwd"));
  assert.match(w.sentinel, /^__SSHMCP_STATE_[0-9a-f]{16}__$/);
  assert.ok(w.command.startsWith("cd '/opt/my app' || cd ~; pwd\n__sshmcp_rc=$?; "));
  assert.ok(w.command.endsWith(`'\\n%s%s\\n' ${w.sentinel} "$PWD"; exit $__sshmcp_rc`));
});

Deno.test("AC-911/AC-912: the last real sentinel wins; fakes with another nonce are ignored; absent -> cwd unchanged", () => {
  const s = "__SSHMCP_STATE_00112233445566ff__";
  const fake = "__SSHMCP_STATE_deadbeefdeadbeef__";
  const out = `a\n${s}/fake-earlier\nb\n${fake}/spoof\n\n${s}/real\r\n`;
  const u = unwrapOutput(out, s);
  assert.equal(u.cwd, "/real");
  assert.equal(u.stdout, `a\n${s}/fake-earlier\nb\n${fake}/spoof\n`);
  assert.equal(u.removedBytes, new TextEncoder().encode(`\n${s}/real\r\n`).length);
  const none = unwrapOutput("output cut before the sentinel", s);
  assert.deepEqual(none, { stdout: "output cut before the sentinel", removedBytes: 0, cwd: null });
});
