/**
 * The three runbooks of the services issue walked end to end through a real
 * MCP client on real sshd hosts over the services test bed: systemd
 * diagnostics (a failed unit to its root cause, fixed and verified), the
 * package upgrade with holds and a service restart plan, and the host
 * snapshot taken, stored, read back and compared. Each walk calls every tool
 * the runbook's examples name (checked against the runbook text itself).
 */

import assert from "node:assert/strict";
import type { InProcess } from "../_support/mcp.ts";
import { tempDir } from "../_support/sshd.ts";
import {
  aptLocal,
  createUnit,
  ensureServicesBed,
  localSystemctl,
  purgeTestPackages,
  testPackages,
  withAptLock,
  withServicesServer,
} from "../_support/services.ts";

type R = Record<string, unknown>;
const ROOT = new URL("../..", import.meta.url).pathname;

/** Tool names called in the fenced examples of a runbook. */
async function runbookTools(name: string): Promise<Set<string>> {
  const text = await Deno.readTextFile(`${ROOT}runbooks/${name}/SKILL.md`);
  const out = new Set<string>();
  for (const block of text.matchAll(/```[a-z]*\n([\s\S]*?)```/g)) {
    for (const m of block[1]!.matchAll(/\b(ssh_[a-z_]+)\(/g)) out.add(m[1]!);
  }
  return out;
}

/** Records the tools a walk called. */
function recorder(s: InProcess) {
  const called = new Set<string>();
  return {
    called,
    ok: async (name: string, args: R) => {
      called.add(name);
      return await s.ok<R>(name, args);
    },
  };
}

async function assertWalked(runbook: string, called: Set<string>) {
  const need = await runbookTools(runbook);
  assert.ok(need.size >= 5, `${runbook}: examples found`);
  const missing = [...need].filter((t) => !called.has(t));
  assert.deepEqual(missing, [], `${runbook}: steps not walked`);
}

const ENV = (dir: string) => ({
  ALLOW_LOW_ACCESS_TOOLS: "true",
  ALLOW_DANGEROUS_TOOLS: "true",
  ALLOW_ANY_COMMAND: "true",
  SSH_PATH_ALLOWLIST: dir,
  SSH_HOST_NOTES_DIR: `${dir}/notes`,
});

Deno.test("runbook ssh-systemd-diagnostics: failed unit -> status, journal, cat, show -> cause -> fix -> verified", async () => {
  const dir = await tempDir("sshmcp-rb-diag-");
  const conf = `${dir}/app.conf`;
  const unit = await createUnit("failer", { prefix: "rbdiag", config: conf, description: "app" });
  try {
    await localSystemctl("start", "--", unit.name);
    await withServicesServer(async (s) => {
      const w = recorder(s);
      // 1. find the unit
      const failed = await w.ok("ssh_systemctl_list_units", {
        host: "root",
        state: "failed",
        pattern: "sshmcp-rbdiag-*",
      });
      assert.deepEqual((failed.units as R[]).map((u) => u.unit), [unit.name]);
      await w.ok("ssh_systemctl_list_units", { host: "root", pattern: "sshmcp-rbdiag-*" });
      assert.equal(
        (await w.ok("ssh_systemctl_is_failed", { host: "root", unit: unit.name })).failed,
        true,
      );
      // 2. status
      assert.equal(
        (await w.ok("ssh_systemctl_status", { host: "root", unit: unit.name })).active_state,
        "failed",
      );
      // 3. the journal names the cause
      await w.ok("ssh_journalctl", { host: "root", unit: unit.name, since: "1h", lines: 100 });
      const j = await w.ok("ssh_journalctl", {
        host: "root",
        unit: unit.name,
        since: "1h",
        grep: "fatal",
      });
      assert.match(String(j.stdout), new RegExp(`fatal: ${conf}: No such file or directory`));
      // 4. the unit file shows which config it reads
      const cat = await w.ok("ssh_systemctl_cat", { host: "root", unit: unit.name });
      assert.ok(String(cat.stdout).includes(conf));
      // 5. properties
      const sh = await w.ok("ssh_systemctl_show", {
        host: "root",
        unit: unit.name,
        properties: ["ActiveState", "SubState", "NeedDaemonReload"],
      });
      assert.equal((sh.properties as R).ActiveState, "failed");
      // 6. fix the cause, then check mode, then act
      const up = await w.ok("ssh_upload", {
        host: "root",
        path: conf,
        content_text: "level = 1\n",
      });
      assert.equal(up.success, true);
      const crf = await w.ok("ssh_systemctl_reset_failed", {
        host: "root",
        unit: unit.name,
        check: true,
      });
      assert.equal(crf.would_change, true);
      await w.ok("ssh_systemctl_reset_failed", { host: "root", unit: unit.name });
      const cst = await w.ok("ssh_systemctl_start", { host: "root", unit: unit.name, check: true });
      assert.equal(cst.would_change, true);
      await w.ok("ssh_systemctl_daemon_reload", { host: "root" });
      assert.equal(
        (await w.ok("ssh_systemctl_start", { host: "root", unit: unit.name })).exit_code,
        0,
      );
      // 7. verify and record
      assert.equal(
        (await w.ok("ssh_systemctl_is_active", { host: "root", unit: unit.name })).state,
        "active",
      );
      const after = await w.ok("ssh_journalctl", {
        host: "root",
        unit: unit.name,
        since: "5m",
        lines: 20,
      });
      assert.match(String(after.stdout), /configuration ok/);
      await w.ok("ssh_host_notes_append", {
        host: "root",
        entry: `${unit.name} failed: missing ${conf}; restored, started.`,
      });
      await assertWalked("ssh-systemd-diagnostics", w.called);
    }, { env: ENV(dir) });
  } finally {
    await unit.remove();
  }
});

Deno.test("runbook ssh-package-upgrade: refresh, simulate, hold, upgrade, restart in plan order, release holds", async () => {
  const dir = await tempDir("sshmcp-rb-up-");
  await withAptLock(async () => {
    await purgeTestPackages();
    const app = await createUnit("ticker", { prefix: "rbapp", description: "app using hello" });
    try {
      await aptLocal("stable", "install", "--", "sshmcp-test-hello", "sshmcp-test-conf");
      await localSystemctl("start", "--", app.name);
      await withServicesServer(async (s) => {
        const w = recorder(s);
        const h = "rootup";
        // 1. baseline (the snapshot runbook is walked by its own test)
        assert.deepEqual((await w.ok("ssh_apt_show_holds", { host: h })).held, []);
        await w.ok("ssh_systemctl_list_units", {
          host: h,
          state: "failed",
          pattern: "sshmcp-rbapp-*",
        });
        assert.ok(((await w.ok("ssh_host_disk_usage", { host: h })).entries as R[]).length > 0);
        // 2. refresh
        await w.ok("ssh_apt_update", { host: h, check: true });
        assert.equal((await w.ok("ssh_apt_update", { host: h })).exit_code, 0);
        // 3. what would change
        const up = await w.ok("ssh_apt_list", { host: h, mode: "upgradable" });
        const names = (up.packages as R[]).map((p) => p.name);
        assert.ok(names.includes("sshmcp-test-hello") && names.includes("sshmcp-test-conf"));
        const sim = (await w.ok("ssh_apt_upgrade", { host: h, check: true })).simulation as R;
        assert.equal((sim.would_upgrade as R[]).length, 2);
        await w.ok("ssh_apt_show", { host: h, package: "sshmcp-test-conf" });
        // 4. hold what must stay
        await w.ok("ssh_apt_mark", {
          host: h,
          action: "hold",
          packages: ["sshmcp-test-conf"],
          check: true,
        });
        await w.ok("ssh_apt_mark", { host: h, action: "hold", packages: ["sshmcp-test-conf"] });
        const sim2 = (await w.ok("ssh_apt_upgrade", { host: h, check: true })).simulation as R;
        assert.deepEqual(sim2.kept_back, ["sshmcp-test-conf"]);
        // 6. upgrade
        const r = await w.ok("ssh_apt_upgrade", { host: h, timeout: 1800 });
        assert.equal(r.exit_code, 0, String(r.stderr));
        assert.equal(r.dpkg_state, null);
        const pk = await testPackages();
        assert.match(pk["sshmcp-test-hello"]!, /^installed 2\.0 /);
        assert.match(pk["sshmcp-test-conf"]!, /^installed 1\.0 hold$/);
        // 7. restart the service of the plan and verify it
        const pid = (await localSystemctl("show", "--property=MainPID", "--", app.name)).stdout;
        await w.ok("ssh_systemctl_restart", { host: h, unit: app.name, check: true });
        assert.equal(
          (await w.ok("ssh_systemctl_restart", { host: h, unit: app.name })).exit_code,
          0,
        );
        assert.notEqual(
          (await localSystemctl("show", "--property=MainPID", "--", app.name)).stdout,
          pid,
        );
        assert.equal(
          (await w.ok("ssh_systemctl_is_active", { host: h, unit: app.name })).state,
          "active",
        );
        await w.ok("ssh_journalctl", { host: h, unit: app.name, since: "5m", lines: 30 });
        // 8. release the hold
        await w.ok("ssh_apt_mark", { host: h, action: "unhold", packages: ["sshmcp-test-conf"] });
        assert.deepEqual((await w.ok("ssh_apt_show_holds", { host: h })).held, []);
        // 9. recovery step (nothing is interrupted: it is a no-op that succeeds)
        const fix = await w.ok("ssh_exec_run", {
          host: h,
          command: "dpkg --configure -a",
          timeout: 1800,
        });
        assert.equal(fix.exit_code, 0);
        const sim3 = (await w.ok("ssh_apt_upgrade", { host: h, check: true })).simulation as R;
        assert.deepEqual((sim3.would_upgrade as R[]).map((p) => p.name), ["sshmcp-test-conf"]);
        await assertWalked("ssh-package-upgrade", w.called);
      }, { env: ENV(dir) });
    } finally {
      await app.remove();
      await purgeTestPackages();
    }
  });
});

Deno.test("runbook ssh-host-snapshot: packages, holds, units, disks captured, stored, read back and diffed after a change", async () => {
  const f = await ensureServicesBed();
  const dir = await tempDir("sshmcp-rb-snap-");
  await withAptLock(async () => {
    await purgeTestPackages();
    const svc = await createUnit("ticker", { prefix: "rbsnap" });
    try {
      await withServicesServer(async (s) => {
        const w = recorder(s);
        const take = async (label: string) => {
          const info = await w.ok("ssh_host_info", { host: "root" });
          const packages = (await w.ok("ssh_apt_list", { host: "root", mode: "installed" }))
            .packages as R[];
          const holds = (await w.ok("ssh_apt_show_holds", { host: "root" })).held;
          const services =
            (await w.ok("ssh_systemctl_list_units", { host: "root", unit_type: "service" }))
              .units as R[];
          await w.ok("ssh_systemctl_list_units", { host: "root", unit_type: "timer" });
          await w.ok("ssh_systemctl_list_units", { host: "root", state: "failed" });
          const disks = (await w.ok("ssh_host_disk_usage", { host: "root" })).entries;
          return {
            label,
            host_info: { os_release: info.os_release, uname: info.uname },
            packages: Object.fromEntries(packages.map((p) => [p.name, `${p.version} ${p.state}`])),
            holds,
            units: Object.fromEntries(services.map((u) => [u.unit, `${u.active}/${u.sub}`])),
            disks,
          };
        };
        const before = await take("root-before");
        assert.ok(Object.keys(before.packages).length > 50);
        const path = `${dir}/root-before.json`;
        await w.ok("ssh_upload", { host: "root", path, content_text: JSON.stringify(before) });
        await w.ok("ssh_host_notes_append", {
          host: "root",
          entry: `snapshot root-before stored in ${dir}`,
        });
        // a change happens
        await aptLocal("stable", "install", "--", "sshmcp-test-hello");
        await localSystemctl("start", "--", svc.name);
        const after = await take("root-after");
        // read the stored snapshot back and compare
        const dl = await w.ok("ssh_sftp_download", { host: "root", path });
        const stored = JSON.parse(new TextDecoder().decode(
          Uint8Array.from(atob(String(dl.content_base64)), (c) => c.charCodeAt(0)),
        ));
        assert.deepEqual(stored, before);
        const added = Object.keys(after.packages).filter((p) => !(p in stored.packages));
        assert.deepEqual(added.sort(), ["sshmcp-test-hello", "sshmcp-test-libdep"]);
        assert.equal(after.packages["sshmcp-test-libdep"], "1.0 installed,automatic");
        const changedUnits = Object.keys(after.units).filter((u) =>
          stored.units[u] !== after.units[u]
        );
        assert.ok(changedUnits.includes(svc.name), `unit change found: ${changedUnits}`);
        assert.equal(after.units[svc.name], "active/running");
        assert.equal(stored.units[svc.name], "inactive/dead");
        await assertWalked("ssh-host-snapshot", w.called);
      }, { env: ENV(dir) });
    } finally {
      await svc.remove();
      await purgeTestPackages();
    }
  });
  assert.ok(f.BED);
});
