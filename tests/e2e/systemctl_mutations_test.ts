/**
 * The systemctl group's mutations (TOOLS.md §11, §15 daemon-reload) end to
 * end on real sshd hosts over the services test bed: real unit processes
 * started, stopped, enabled, masked by the bed's systemctl as root; check
 * mode compared before/after; progress, MCP task mode, timeout and
 * cancellation; the per-host sudo opt-in (`sudo_tool_groups`). Rows:
 * SECURITY.md §24.12 (AC-758), docs/security/services.md (SVC-*).
 */

import assert from "node:assert/strict";
import { auditHash } from "../../src/audit/audit.ts";
import { procsWith, waitFor } from "../_support/procs.ts";
import {
  createUnit,
  localSystemctl,
  readAudit,
  unitSnapshot,
  withServicesServer,
} from "../_support/services.ts";

type R = Record<string, unknown>;

const state = async (unit: string) => (await localSystemctl("is-active", "--", unit)).stdout.trim();
const enabled = async (unit: string) =>
  (await localSystemctl("is-enabled", "--", unit)).stdout.trim();
const mainPid = async (unit: string) =>
  (await localSystemctl("show", "--property=MainPID", "--", unit)).stdout.trim();

Deno.test("AC-758/SVC-2: every unit mutation acts for real as root; argv `systemctl <verb> -- <unit>`; non-zero exit is data; audit unit_hash", async () => {
  const t = await createUnit("ticker", { prefix: "mut" });
  const f = await createUnit("failer", { prefix: "mut" });
  try {
    await withServicesServer(async (s, h, auditPath) => {
      const call = async (verb: string, unit = t.name) =>
        await s.ok<R>(`ssh_systemctl_${verb}`, { host: "root", unit });
      const r1 = await call("start");
      assert.equal(r1.exit_code, 0);
      assert.equal(r1.action, "start");
      assert.equal(r1.via, "login");
      assert.equal(r1.check, false);
      assert.equal(await state(t.name), "active");
      const pid1 = await mainPid(t.name);
      assert.equal((await call("restart")).exit_code, 0);
      assert.equal(await state(t.name), "active");
      assert.notEqual(await mainPid(t.name), pid1, "restart started a new main process");
      const rl = await call("reload");
      assert.equal(typeof rl.exit_code, "number");
      assert.equal(await state(t.name), "active");
      assert.equal((await call("enable")).exit_code, 0);
      assert.equal(await enabled(t.name), "enabled");
      assert.equal((await call("disable")).exit_code, 0);
      assert.equal(await enabled(t.name), "disabled");
      assert.equal((await call("stop")).exit_code, 0);
      assert.equal(await state(t.name), "inactive");
      assert.equal((await call("mask")).exit_code, 0);
      assert.equal(await enabled(t.name), "masked");
      const masked = await call("start");
      assert.notEqual(masked.exit_code, 0, "starting a masked unit fails (as data)");
      assert.match(String(masked.stderr), /masked/);
      assert.equal(await state(t.name), "inactive");
      assert.equal((await call("unmask")).exit_code, 0);
      assert.equal(await enabled(t.name), "disabled");
      await call("start", f.name);
      await waitFor(async () => (await state(f.name)) === "failed", 20_000, "failer failed");
      assert.equal((await call("reset_failed", f.name)).action, "reset-failed");
      assert.notEqual(await state(f.name), "failed");
      const dr = await s.ok<R>("ssh_systemctl_daemon_reload", { host: "root" });
      assert.equal(dr.exit_code, 0);
      assert.equal(dr.action, "daemon-reload");
      const unknown = `sshmcp-nosuch-${crypto.randomUUID().slice(0, 8)}.service`;
      const nu = await call("start", unknown);
      assert.notEqual(nu.exit_code, 0, "an unknown unit is exit-code data, not an error");

      const argv = await h.systemctlArgv();
      for (
        const verb of ["start", "restart", "reload", "enable", "disable", "stop", "mask", "unmask"]
      ) {
        assert.ok(
          argv.includes(`${verb} -- ${t.name}`),
          `argv ${verb} -- <unit>: ${argv.join(" | ")}`,
        );
      }
      assert.ok(argv.includes(`reset-failed -- ${f.name}`));
      assert.ok(argv.includes("daemon-reload"));
      const lines = (await readAudit(auditPath)).filter((l) =>
        String(l.tool).startsWith("ssh_systemctl_") && l.tool !== "ssh_systemctl_daemon_reload"
      );
      assert.ok(lines.length >= 10);
      for (const l of lines) {
        assert.equal(l.tier, "dangerous");
        assert.equal(l.result, "ok");
        assert.match(String(l.unit_hash), /^sha256:[0-9a-f]{16}$/);
        assert.equal(typeof l.exit_code, "number");
        assert.ok(!JSON.stringify(l).includes(t.name), "the unit name is never in clear");
      }
      assert.ok(lines.some((l) => l.unit_hash === auditHash(t.name)));
    }, { tier: "dangerous" });
  } finally {
    await t.remove();
    await f.remove();
  }
});

Deno.test("SVC-5: check mode changes nothing (states compared before/after), reports state and prediction, refuses an unknown unit", async () => {
  const t = await createUnit("ticker", { prefix: "chk" });
  const f = await createUnit("failer", { prefix: "chk" });
  const idle = await createUnit("ticker", { prefix: "chk" });
  try {
    assert.equal((await localSystemctl("enable", "--", t.name)).code, 0);
    assert.equal((await localSystemctl("start", "--", t.name)).code, 0);
    await localSystemctl("start", "--", f.name);
    await waitFor(async () => (await state(f.name)) === "failed", 20_000, "failer failed");
    await withServicesServer(async (s, h) => {
      const units = [t.name, f.name, idle.name];
      const before = await unitSnapshot(units);
      const argvBefore = (await h.systemctlArgv()).length;
      const expect: [string, string, boolean][] = [
        ["start", t.name, false],
        ["start", idle.name, true],
        ["stop", t.name, true],
        ["stop", idle.name, false],
        ["restart", t.name, true],
        ["reload", t.name, true],
        ["reload", idle.name, false],
        ["enable", t.name, false],
        ["enable", idle.name, true],
        ["disable", t.name, true],
        ["disable", idle.name, false],
        ["mask", t.name, true],
        ["unmask", t.name, false],
        ["reset_failed", f.name, true],
        ["reset_failed", t.name, false],
      ];
      for (const [verb, unit, change] of expect) {
        const r = await s.ok<R>(`ssh_systemctl_${verb}`, { host: "root", unit, check: true });
        assert.equal(r.check, true);
        assert.equal(r.would_change, change, `${verb} ${unit}: ${r.predicted}`);
        assert.equal(typeof r.predicted, "string");
        const cur = r.current as R;
        assert.equal(cur.load_state, "loaded");
        assert.equal(cur.id, unit);
      }
      const cur = (await s.ok<R>("ssh_systemctl_stop", { host: "root", unit: t.name, check: true }))
        .current as R;
      assert.deepEqual([cur.active_state, cur.sub_state, cur.unit_file_state], [
        "active",
        "running",
        "enabled",
      ]);
      const dr = await s.ok<R>("ssh_systemctl_daemon_reload", { host: "root", check: true });
      assert.equal(dr.check, true);
      const unknown = `sshmcp-nosuch-${crypto.randomUUID().slice(0, 8)}.service`;
      for (const verb of ["start", "stop", "mask", "reset_failed"]) {
        const e = await s.err(`ssh_systemctl_${verb}`, {
          host: "root",
          unit: unknown,
          check: true,
        });
        assert.equal(e.code, "ValueError");
        assert.match(
          e.message,
          /does not exist on root \(LoadState=not-found\); nothing was changed/,
        );
      }
      assert.equal(await unitSnapshot(units), before, "check mode changed a unit");
      const verbs = (await h.systemctlArgv()).slice(argvBefore).map((a) => a.split(" ")[0]);
      assert.ok(verbs.every((v) => v === "show" || v === "--version"), `only reads ran: ${verbs}`);
    }, { tier: "dangerous" });
  } finally {
    await t.remove();
    await f.remove();
    await idle.remove();
  }
});

Deno.test("SVC-7: mutations report MCP progress, run as MCP tasks, and a timeout kills the systemctl client (data: timed_out, exit -1)", async () => {
  const t = await createUnit("ticker", { prefix: "prog" });
  const token = `${4000 + Math.floor(Math.random() * 1000)}.${Math.floor(Math.random() * 1000)}`;
  const slow = await createUnit("oneshot", { prefix: "slow", sleep: token });
  try {
    await withServicesServer(async (s) => {
      const tools = new Map((await s.client.listTools()).tools.map((x) => [x.name, x]));
      for (
        const n of [
          "ssh_systemctl_start",
          "ssh_systemctl_restart",
          "ssh_systemctl_reset_failed",
          "ssh_systemctl_daemon_reload",
        ]
      ) assert.equal(tools.get(n)?.execution?.taskSupport, "optional", n);
      assert.equal(tools.get("ssh_systemctl_status")?.execution, undefined);
      const messages: string[] = [];
      const r = await s.client.callTool(
        { name: "ssh_systemctl_start", arguments: { host: "root", unit: t.name } },
        undefined,
        { onprogress: (p) => messages.push(String(p.message)) },
      );
      assert.ok(!r.isError);
      assert.equal(messages[0], `systemctl start ${t.name}: running`);
      assert.equal(messages.at(-1), `systemctl start ${t.name}: exit 0`);
      const stream = s.client.experimental.tasks.callToolStream(
        { name: "ssh_systemctl_restart", arguments: { host: "root", unit: t.name } },
        undefined,
        { task: { ttl: 60_000 } },
      );
      const kinds: string[] = [];
      let result: R | undefined;
      for await (const m of stream) {
        kinds.push(m.type);
        if (m.type === "result") result = m.result as R;
        if (m.type === "error") throw m.error;
      }
      assert.equal(kinds[0], "taskCreated");
      assert.equal((result!.structuredContent as R).exit_code, 0);

      const to = await s.ok<R>("ssh_systemctl_start", {
        host: "root",
        unit: slow.name,
        timeout: 2,
      });
      assert.equal(to.timed_out, true);
      assert.equal(to.exit_code, -1);
      await waitFor(
        async () => (await procsWith(`start -- ${slow.name}`)).length === 0,
        10_000,
        "the systemctl client was killed",
      );
    }, { tier: "dangerous" });
  } finally {
    for (const pid of await procsWith(`sleep ${token}`)) Deno.kill(pid, "SIGKILL");
    await t.remove();
    await slow.remove();
  }
});

Deno.test("SVC-7/TIMEOUT-4: cancelling a mutation kills the remote systemctl client; audit error Cancelled", async () => {
  const token = `${5000 + Math.floor(Math.random() * 1000)}.${Math.floor(Math.random() * 1000)}`;
  const slow = await createUnit("oneshot", { prefix: "cancel", sleep: token });
  try {
    await withServicesServer(async (s, _h, auditPath) => {
      const ac = new AbortController();
      let progressed = false;
      const call = s.client.callTool(
        { name: "ssh_systemctl_start", arguments: { host: "root", unit: slow.name } },
        undefined,
        { signal: ac.signal, onprogress: () => (progressed = true) },
      );
      await waitFor(
        async () => progressed && (await procsWith(`start -- ${slow.name}`)).length > 0,
        20_000,
        "systemctl start running",
      );
      ac.abort();
      await assert.rejects(call);
      await waitFor(
        async () => (await procsWith(`start -- ${slow.name}`)).length === 0,
        10_000,
        "the systemctl client was killed",
      );
      await waitFor(
        async () =>
          (await readAudit(auditPath)).some((l) =>
            l.tool === "ssh_systemctl_start" && l.error === "Cancelled" && l.cancelled === true
          ),
        10_000,
        "audit line error Cancelled",
      );
    }, { tier: "dangerous" });
  } finally {
    for (const pid of await procsWith(`sleep ${token}`)) Deno.kill(pid, "SIGKILL");
    await slow.remove();
  }
});

Deno.test("SVC-4: sudo_tool_groups runs mutations through the host's sudo (password handshake) only when the sudo tier is on", async () => {
  const t = await createUnit("ticker", { prefix: "sudo" });
  try {
    await withServicesServer(async (s) => {
      // the login user alone cannot change units: the reference behaviour, failure as data
      const plain = await s.ok<R>("ssh_systemctl_start", { host: "svc", unit: t.name });
      assert.equal(plain.via, "login");
      assert.notEqual(plain.exit_code, 0);
      assert.equal(await state(t.name), "inactive");
      const viaSudo = await s.ok<R>("ssh_systemctl_start", { host: "sudo", unit: t.name });
      assert.equal(viaSudo.via, "sudo");
      assert.equal(viaSudo.exit_code, 0, String(viaSudo.stderr));
      assert.doesNotMatch(String(viaSudo.stderr), /ssh-mcp-sudo/, "prompt removed from stderr");
      assert.equal(await state(t.name), "active");
      // check mode never needs (or uses) elevation
      const chk = await s.ok<R>("ssh_systemctl_stop", { host: "sudo", unit: t.name, check: true });
      assert.equal(chk.via, "login");
      assert.equal(chk.would_change, true);
      const nopw = await s.ok<R>("ssh_systemctl_stop", { host: "sudonopw", unit: t.name });
      assert.equal(nopw.via, "sudo");
      assert.notEqual(nopw.exit_code, 0);
      assert.ok(
        (nopw.output_warnings as string[]).some((w) =>
          /did not start the command.*password/.test(w)
        ),
        JSON.stringify(nopw.output_warnings),
      );
      assert.equal(await state(t.name), "active", "nothing ran without authentication");
      assert.equal(
        (await s.ok<R>("ssh_systemctl_stop", { host: "sudo", unit: t.name })).exit_code,
        0,
      );
      assert.equal(await state(t.name), "inactive");
    }, { tier: "sudo" });
    // the sudo tier off: the opt-in is ignored with a warning (the login user runs it)
    await withServicesServer(async (s) => {
      const r = await s.ok<R>("ssh_systemctl_start", { host: "sudo", unit: t.name });
      assert.equal(r.via, "login");
      assert.notEqual(r.exit_code, 0);
      assert.ok((r.output_warnings as string[]).some((w) => w.includes("sudo tier is disabled")));
      assert.equal(await state(t.name), "inactive");
    }, { tier: "dangerous" });
  } finally {
    await t.remove();
  }
});

Deno.test("SVC-8: hosts.toml sudo_tool_groups accepts systemctl and pkg only", async () => {
  const { parseHostsToml } = await import("../../src/config/hosts.ts");
  const { parseSettings } = await import("../../src/config/settings.ts");
  const settings = parseSettings({}).settings;
  const ok = parseHostsToml(
    '[hosts.a]\nsudo_tool_groups = ["systemctl", "pkg", "pkg"]\n',
    "hosts.toml",
    settings,
    {},
  );
  assert.deepEqual(ok.hosts.get("a")?.sudo_tool_groups, ["systemctl", "pkg"]);
  const dflt = parseHostsToml(
    '[defaults]\nsudo_tool_groups = ["pkg"]\n[hosts.b]\n',
    "h",
    settings,
    {},
  );
  assert.deepEqual(dflt.hosts.get("b")?.sudo_tool_groups, ["pkg"]);
  assert.equal(
    parseHostsToml("[hosts.c]\n", "h", settings, {}).hosts.get("c")?.sudo_tool_groups,
    undefined,
  );
  for (const bad of ['["exec"]', '["docker"]', '"systemctl"', "[1]"]) {
    assert.throws(
      () => parseHostsToml(`[hosts.a]\nsudo_tool_groups = ${bad}\n`, "h", settings, {}),
      /sudo_tool_groups/,
    );
  }
});
