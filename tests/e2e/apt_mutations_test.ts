/**
 * The pkg group's mutations (TOOLS.md §12, §15 ssh_apt_update) end to end:
 * install, upgrade, remove, purge, autoremove, hold/unhold and update act for
 * real on this machine's dpkg database (test packages from the bed's local
 * `file:` repository only: the hosts' private apt views cannot see anything
 * else); check mode compared before/after; conffile prompts; a held lock;
 * cancel and timeout in the middle of dpkg; the sudo opt-in. Every test holds
 * the machine-wide apt test lock. Rows: SECURITY.md §24.13 (AC-782..786),
 * docs/security/services.md (PKG-*).
 */

import assert from "node:assert/strict";
import { commandHash } from "../../src/audit/audit.ts";
import { ToolRegistry } from "../../src/registry/pipeline.ts";
import { procsWith, waitFor } from "../_support/procs.ts";
import { tempDir } from "../_support/sshd.ts";
import {
  aptLocal,
  dpkgSnapshot,
  ensureServicesBed,
  holdDpkgLock,
  purgeTestPackages,
  readAudit,
  run,
  testPackages,
  withAptLock,
  withServicesServer,
} from "../_support/services.ts";

type R = Record<string, unknown>;

const names = (list: unknown) => (list as R[]).map((p) => `${p.name}=${p.version}`);

/** Runs `fn` with the apt lock and no test package installed before and after. */
async function clean(fn: () => Promise<void>): Promise<void> {
  await withAptLock(async () => {
    await purgeTestPackages();
    try {
      await fn();
    } finally {
      await purgeTestPackages();
    }
  });
}

Deno.test("PKG-2/AC-786: install, update, hold, upgrade, unhold, remove, autoremove, purge act for real; check mode first changes nothing", async () => {
  await clean(async () => {
    await withServicesServer(async (s, _h, auditPath) => {
      const snap0 = await dpkgSnapshot();
      const ci = await s.ok<R>("ssh_apt_install", {
        host: "root",
        packages: ["sshmcp-test-hello"],
        check: true,
      });
      assert.equal(ci.check, true);
      assert.equal(ci.exit_code, 0);
      const sim = ci.simulation as R;
      assert.deepEqual(names(sim.would_install).sort(), [
        "sshmcp-test-hello=1.0",
        "sshmcp-test-libdep=1.0",
      ]);
      assert.equal(await dpkgSnapshot(), snap0, "check mode changed the dpkg database");

      const progress: string[] = [];
      const ir = await s.client.callTool(
        { name: "ssh_apt_install", arguments: { host: "root", packages: ["sshmcp-test-hello"] } },
        undefined,
        { onprogress: (p) => progress.push(String(p.message)) },
      );
      const inst = ir.structuredContent as R;
      assert.ok(!ir.isError, JSON.stringify(ir.content));
      assert.equal(inst.exit_code, 0, String(inst.stderr));
      assert.equal(inst.action, "install");
      assert.equal(inst.via, "login");
      assert.equal(inst.dpkg_state, null);
      assert.ok(
        progress.includes("apt install: setting up sshmcp-test-hello 1.0"),
        progress.join("\n"),
      );
      assert.ok(progress.includes("apt install: unpacking sshmcp-test-libdep 1.0"));
      assert.equal(progress.at(-1), "apt install: exit 0");
      let pk = await testPackages();
      assert.match(pk["sshmcp-test-hello"]!, /^installed 1\.0 /);
      assert.match(pk["sshmcp-test-libdep"]!, /^installed 1\.0 /);

      // the newer index (rootup sees the `updates` view)
      const cu = await s.ok<R>("ssh_apt_update", { host: "rootup", check: true });
      assert.ok((cu.would_fetch as string[]).some((u) => u.includes("/repo/updates/")));
      const up = await s.ok<R>("ssh_apt_update", { host: "rootup" });
      assert.equal(up.exit_code, 0, String(up.stderr));
      assert.equal(up.action, "update");

      const snap1 = await dpkgSnapshot();
      const ch = await s.ok<R>("ssh_apt_mark", {
        host: "root",
        action: "hold",
        packages: ["sshmcp-test-hello"],
        check: true,
      });
      assert.deepEqual(ch.holds, {
        held_now: [],
        would_hold: ["sshmcp-test-hello"],
        would_unhold: [],
      });
      assert.equal(await dpkgSnapshot(), snap1);
      const held = await s.ok<R>("ssh_apt_mark", {
        host: "root",
        action: "hold",
        packages: ["sshmcp-test-hello"],
      });
      assert.equal(held.exit_code, 0);
      assert.match(String(held.stdout), /sshmcp-test-hello set on hold/);
      const ku = await s.ok<R>("ssh_apt_upgrade", { host: "rootup", check: true });
      assert.deepEqual((ku.simulation as R).kept_back, ["sshmcp-test-hello"]);
      assert.deepEqual((ku.simulation as R).would_upgrade, []);
      const keep = await s.ok<R>("ssh_apt_upgrade", { host: "rootup" });
      assert.equal(keep.exit_code, 0);
      assert.match((await testPackages())["sshmcp-test-hello"]!, /^installed 1\.0 hold$/);
      const un = await s.ok<R>("ssh_apt_mark", {
        host: "root",
        action: "unhold",
        packages: ["sshmcp-test-hello"],
        check: true,
      });
      assert.deepEqual((un.holds as R).would_unhold, ["sshmcp-test-hello"]);
      await s.ok<R>("ssh_apt_mark", {
        host: "root",
        action: "unhold",
        packages: ["sshmcp-test-hello"],
      });

      const snap2 = await dpkgSnapshot();
      const cup = await s.ok<R>("ssh_apt_upgrade", { host: "rootup", check: true });
      assert.deepEqual((cup.simulation as R).would_upgrade, [
        { name: "sshmcp-test-hello", version: "2.0", from_version: "1.0" },
      ]);
      assert.equal(await dpkgSnapshot(), snap2);
      const upg = await s.ok<R>("ssh_apt_upgrade", { host: "rootup" });
      assert.equal(upg.exit_code, 0, String(upg.stderr));
      assert.deepEqual(upg.packages, []);
      assert.match((await testPackages())["sshmcp-test-hello"]!, /^installed 2\.0 /);

      const cr = await s.ok<R>("ssh_apt_remove", {
        host: "root",
        packages: ["sshmcp-test-hello"],
        check: true,
      });
      assert.deepEqual(names((cr.simulation as R).would_remove), ["sshmcp-test-hello=2.0"]);
      const rm = await s.ok<R>("ssh_apt_remove", { host: "root", packages: ["sshmcp-test-hello"] });
      assert.equal(rm.exit_code, 0);
      assert.equal(rm.action, "remove");
      pk = await testPackages();
      assert.equal(pk["sshmcp-test-hello"], undefined);
      assert.ok(pk["sshmcp-test-libdep"], "the automatic dependency stays until autoremove");
      const car = await s.ok<R>("ssh_apt_autoremove", { host: "root", check: true });
      assert.deepEqual(names((car.simulation as R).would_remove), ["sshmcp-test-libdep=1.0"]);
      const ar = await s.ok<R>("ssh_apt_autoremove", { host: "root" });
      assert.equal(ar.exit_code, 0);
      assert.equal((await testPackages())["sshmcp-test-libdep"], undefined);

      await s.ok<R>("ssh_apt_install", { host: "root", packages: ["sshmcp-test-conf"] });
      const cp = await s.ok<R>("ssh_apt_remove", {
        host: "root",
        packages: ["sshmcp-test-conf"],
        purge: true,
        check: true,
      });
      assert.deepEqual(names((cp.simulation as R).would_purge), ["sshmcp-test-conf=1.0"]);
      const pu = await s.ok<R>("ssh_apt_remove", {
        host: "root",
        packages: ["sshmcp-test-conf"],
        purge: true,
      });
      assert.equal(pu.action, "purge");
      assert.equal(pu.exit_code, 0);
      assert.equal((await testPackages())["sshmcp-test-conf"], undefined);
      await assert.rejects(Deno.stat("/etc/sshmcp-test-conf.conf"), Deno.errors.NotFound);

      const unknown = await s.ok<R>("ssh_apt_install", {
        host: "root",
        packages: ["sshmcp-test-nosuch"],
      });
      assert.equal(unknown.exit_code, 100, "an unknown package is exit-code data");
      assert.match(String(unknown.stderr), /Unable to locate package sshmcp-test-nosuch/);

      const lines = await readAudit(auditPath);
      const markHashes = new Set(
        lines.filter((l) => l.tool === "ssh_apt_mark").map((l) => l.command_hash),
      );
      assert.deepEqual(
        markHashes,
        new Set([commandHash("hold sshmcp-test-hello"), commandHash("unhold sshmcp-test-hello")]),
        "hold and unhold of the same package hash differently (action prefixed)",
      );
      for (const l of lines.filter((l) => String(l.tool).startsWith("ssh_apt_"))) {
        assert.ok(!JSON.stringify(l).includes("sshmcp-test"), "package names never in clear");
      }
    }, { tier: "dangerous" });
  });
});

Deno.test("AC-785/PKG-3: a locally changed conffile never prompts: the upgrade completes and keeps the local file", async () => {
  await clean(async () => {
    await aptLocal("stable", "install", "--", "sshmcp-test-conf");
    await Deno.writeTextFile("/etc/sshmcp-test-conf.conf", "level = local-edit\n", {
      append: true,
    });
    await withServicesServer(async (s) => {
      const r = await s.ok<R>("ssh_apt_upgrade", { host: "rootup" });
      assert.equal(r.timed_out, false);
      assert.equal(r.exit_code, 0, String(r.stderr));
      assert.match(`${r.stdout}${r.stderr}`, /Keeping old config file as default/);
      assert.match((await testPackages())["sshmcp-test-conf"]!, /^installed 2\.0 /);
      assert.match(await Deno.readTextFile("/etc/sshmcp-test-conf.conf"), /local-edit/);
      assert.match(await Deno.readTextFile("/etc/sshmcp-test-conf.conf.dpkg-dist"), /level = 2\.0/);
    }, { tier: "dangerous" });
  });
  await Deno.remove("/etc/sshmcp-test-conf.conf.dpkg-dist").catch(() => {});
});

Deno.test("PKG-4: a held dpkg/apt lock is an error naming the lock and its holder; nothing changes", async () => {
  await clean(async () => {
    await withServicesServer(async (s) => {
      const before = await dpkgSnapshot();
      const lock = await holdDpkgLock();
      try {
        for (
          const [tool, args] of [
            ["ssh_apt_install", { packages: ["sshmcp-test-hello"] }],
            ["ssh_apt_remove", { packages: ["sshmcp-test-hello"] }],
            ["ssh_apt_upgrade", {}],
            ["ssh_apt_mark", { action: "hold", packages: ["sshmcp-test-hello"] }],
          ] as [string, R][]
        ) {
          const e = await s.err(tool, { host: "root", ...args });
          assert.equal(e.code, "PackageManagerLocked", `${tool}: ${e.message}`);
          assert.match(
            e.message,
            new RegExp(`/var/lib/dpkg/lock-frontend is held by process ${lock.pid} \\(python3\\)`),
            tool,
          );
          assert.equal(e.meta.reason, "package-manager-locked");
          assert.equal(e.meta.holder_pid, lock.pid);
          assert.equal(e.meta.holder, "python3");
        }
      } finally {
        await lock.release();
      }
      assert.equal(await dpkgSnapshot(), before);
      const f = await ensureServicesBed();
      const lists = await holdDpkgLock(`${f.BED}/apt/updates/lists/lock`);
      try {
        const e = await s.err("ssh_apt_update", { host: "rootup" });
        assert.equal(e.code, "PackageManagerLocked");
        assert.match(e.message, /lists\/lock is held by process \d+ \(python3\)/);
      } finally {
        await lists.release();
      }
    }, { tier: "dangerous" });
  });
});

Deno.test("PKG-4: apt dying without its lock message (SIGPIPE, empty stderr) while a lock is held is still PackageManagerLocked; other failures are not", async () => {
  // a stand-in apt-mark: `sigpipe` dies the way apt-mark was seen to die under
  // load (killed writing to a dpkg that had refused the lock, nothing said);
  // `error` fails with apt's own message
  const bin = await tempDir("sshmcp-standin-");
  await Deno.writeTextFile(
    `${bin}/apt-mark`,
    [
      "#!/bin/sh",
      'case "$(cat "$(dirname "$0")/mode")" in',
      "  sigpipe) kill -PIPE $$ ;;",
      '  error) echo "E: Unable to locate package $3" >&2; exit 100 ;;',
      "esac",
      "exit 3",
      "",
    ].join("\n"),
  );
  await Deno.chmod(`${bin}/apt-mark`, 0o755);
  const mode = (m: string) => Deno.writeTextFile(`${bin}/mode`, m);
  await withAptLock(async () => {
    await withServicesServer(async (s) => {
      const hold = { host: "standin", action: "hold", packages: ["sshmcp-test-hello"] };
      for (const path of ["/var/lib/dpkg/lock-frontend", "/var/lib/dpkg/lock"]) {
        await mode("sigpipe");
        const lock = await holdDpkgLock(path);
        try {
          const e = await s.err("ssh_apt_mark", hold);
          assert.equal(e.code, "PackageManagerLocked", e.message);
          assert.match(
            e.message,
            new RegExp(`${path} is held by process ${lock.pid} \\(python3\\)`),
          );
          assert.equal(e.meta.lock, path);
          assert.equal(e.meta.holder_pid, lock.pid);
          assert.equal(e.meta.holder, "python3");
          // apt's own error explains the failure even while a lock is held
          await mode("error");
          const r = await s.ok<R>("ssh_apt_mark", hold);
          assert.equal(r.exit_code, 100);
          assert.match(String(r.stderr), /E: Unable to locate package sshmcp-test-hello/);
        } finally {
          await lock.release();
        }
      }
      // the same silent death with no lock held is the plain result it is
      await mode("sigpipe");
      const r = await s.ok<R>("ssh_apt_mark", hold);
      assert.equal(r.exit_code, 141);
      assert.equal(r.stderr, "");
      assert.deepEqual(r.dpkg_state, { interrupted: false, unsettled: [], recovery: null });
    }, { tier: "dangerous", standinBin: bin });
  });
});

/**
 * Waits until apt reported setting up the slow package (a progress line in
 * `progress`) and its postinst runs: dpkg prints "Setting up" before it
 * records half-configured, so the postinst running is the point where the
 * status file says half-configured.
 */
async function slowPostinstRunning(progress: readonly string[]): Promise<void> {
  await waitFor(
    async () =>
      progress.includes("apt install: setting up sshmcp-test-slow 1.0") &&
      (await procsWith("sshmcp-test-slow.postinst")).length > 0,
    30_000,
    "dpkg running the slow package's postinst",
  );
}

Deno.test("PKG-5: cancel and timeout in the middle of dpkg kill apt-get and dpkg; dpkg's state is reported; recoverable", async () => {
  const f = await ensureServicesBed();
  await clean(async () => {
    await withServicesServer(async (s, _h, auditPath) => {
      await Deno.writeTextFile(f.SLOW_FLAG, "");
      // timeout: the result is data and says what dpkg was left with
      const to = await s.ok<R>("ssh_apt_install", {
        host: "root",
        packages: ["sshmcp-test-slow"],
        timeout: 8,
      });
      assert.equal(to.timed_out, true);
      assert.equal(to.exit_code, -1);
      const st = to.dpkg_state as R;
      assert.equal(st.interrupted, true, JSON.stringify(to));
      assert.deepEqual(st.unsettled, [
        { name: "sshmcp-test-slow", status: "half-configured", version: "1.0" },
      ]);
      assert.match(String(st.recovery), /dpkg --configure -a/);
      await waitFor(
        async () => (await procsWith("sshmcp-test-slow.postinst")).length === 0,
        10_000,
        "the maintainer script was killed with apt-get and dpkg",
      );
      // the next apt call reports the interrupted state instead of hiding it
      const next = await s.ok<R>("ssh_apt_install", {
        host: "root",
        packages: ["sshmcp-test-conf"],
      });
      assert.equal(next.exit_code, 100);
      assert.equal((next.dpkg_state as R).interrupted, true);
      assert.ok((next.output_warnings as string[]).some((w) => w.includes("dpkg --configure -a")));
      // recovery as the result says, then the package system works again
      await Deno.remove(f.SLOW_FLAG);
      const fix = await s.ok<R>("ssh_exec_run", { host: "root", command: "dpkg --configure -a" });
      assert.equal(fix.exit_code, 0, String(fix.stderr));
      assert.match((await testPackages())["sshmcp-test-slow"]!, /^installed 1\.0 /);
      await s.ok<R>("ssh_apt_remove", { host: "root", packages: ["sshmcp-test-slow"] });

      // cancellation (notifications/cancelled) while the postinst runs
      await Deno.writeTextFile(f.SLOW_FLAG, "");
      const ac = new AbortController();
      const seen: string[] = [];
      const call = s.client.callTool(
        { name: "ssh_apt_install", arguments: { host: "root", packages: ["sshmcp-test-slow"] } },
        undefined,
        { signal: ac.signal, onprogress: (p) => seen.push(String(p.message)) },
      );
      await slowPostinstRunning(seen);
      ac.abort();
      await assert.rejects(call);
      await waitFor(
        async () => (await procsWith("sshmcp-test-slow.postinst")).length === 0,
        10_000,
        "postinst killed by the cancel",
      );
      await waitFor(
        async () =>
          (await readAudit(auditPath)).some((l) =>
            l.tool === "ssh_apt_install" && l.error === "Cancelled" && l.cancelled === true
          ),
        20_000,
        "audit line error Cancelled",
      );
      assert.match((await testPackages())["sshmcp-test-slow"]!, /^half-configured /);
      await Deno.remove(f.SLOW_FLAG);
      const fix1 = await s.ok<R>("ssh_exec_run", { host: "root", command: "dpkg --configure -a" });
      assert.equal(fix1.exit_code, 0);
      await s.ok<R>("ssh_apt_remove", { host: "root", packages: ["sshmcp-test-slow"] });

      // what the cancelled call answers (a client that cancelled stops listening, so read
      // the outcome from the registry itself): the dpkg state and how to recover
      await Deno.writeTextFile(f.SLOW_FLAG, "");
      const registry = new ToolRegistry(s.app);
      const ac2 = new AbortController();
      const said: string[] = [];
      const outcome = registry.call(
        "ssh_apt_install",
        { host: "root", packages: ["sshmcp-test-slow"] },
        {
          signal: ac2.signal,
          sessionKey: "test",
          progress: (m) => {
            said.push(m);
            return Promise.resolve();
          },
        },
      );
      await slowPostinstRunning(said);
      ac2.abort();
      const o = await outcome;
      assert.ok(o?.isError);
      assert.match(o!.text, /^Cancelled: apt install was cancelled; the remote process group/);
      assert.match(o!.text, /dpkg was interrupted: sshmcp-test-slow half-configured/);
      assert.match(o!.text, /dpkg --configure -a/);
      assert.deepEqual((o!.error as R).unsettled, ["sshmcp-test-slow:half-configured"]);
      assert.equal((o!.error as R).dpkg_interrupted, true);
      await Deno.remove(f.SLOW_FLAG);
      const fix2 = await s.ok<R>("ssh_exec_run", { host: "root", command: "dpkg --configure -a" });
      assert.equal(fix2.exit_code, 0);
      assert.match((await testPackages())["sshmcp-test-slow"]!, /^installed /);
    }, { tier: "dangerous", env: { ALLOW_ANY_COMMAND: "true" } });
  });
  await Deno.remove(f.SLOW_FLAG).catch(() => {});
});

Deno.test("PKG-7: sudo_tool_groups runs apt through sudo (password handshake); the login user alone gets exit-code data", async () => {
  await clean(async () => {
    await withServicesServer(async (s) => {
      const plain = await s.ok<R>("ssh_apt_install", {
        host: "svc",
        packages: ["sshmcp-test-hello"],
      });
      assert.equal(plain.via, "login");
      assert.notEqual(plain.exit_code, 0);
      assert.match(String(plain.stderr), /root|permission|lock/i);
      assert.deepEqual(await testPackages(), {});
      const chk = await s.ok<R>("ssh_apt_install", {
        host: "sudo",
        packages: ["sshmcp-test-hello"],
        check: true,
      });
      assert.equal(chk.via, "login");
      const r = await s.ok<R>("ssh_apt_install", { host: "sudo", packages: ["sshmcp-test-hello"] });
      assert.equal(r.via, "sudo");
      assert.equal(r.exit_code, 0, String(r.stderr));
      assert.match((await testPackages())["sshmcp-test-hello"]!, /^installed 1\.0 /);
      const nopw = await s.ok<R>("ssh_apt_remove", {
        host: "sudonopw",
        packages: ["sshmcp-test-hello"],
      });
      assert.notEqual(nopw.exit_code, 0);
      assert.ok((nopw.output_warnings as string[]).some((w) => w.includes("did not start")));
      assert.ok((await testPackages())["sshmcp-test-hello"]);
      const rm = await s.ok<R>("ssh_apt_remove", { host: "sudo", packages: ["sshmcp-test-hello"] });
      assert.equal(rm.exit_code, 0, String(rm.stderr));
      assert.equal((await testPackages())["sshmcp-test-hello"], undefined);
    }, { tier: "sudo" });
  });
});

Deno.test("PKG-6: apt mutations run as MCP tasks", async () => {
  await clean(async () => {
    await withServicesServer(async (s) => {
      const tools = new Map((await s.client.listTools()).tools.map((t) => [t.name, t]));
      for (
        const n of [
          "ssh_apt_install",
          "ssh_apt_upgrade",
          "ssh_apt_remove",
          "ssh_apt_autoremove",
          "ssh_apt_mark",
          "ssh_apt_update",
        ]
      ) assert.equal(tools.get(n)?.execution?.taskSupport, "optional", n);
      assert.equal(tools.get("ssh_apt_list")?.execution, undefined);
      const stream = s.client.experimental.tasks.callToolStream(
        { name: "ssh_apt_install", arguments: { host: "root", packages: ["sshmcp-test-libdep"] } },
        undefined,
        { task: { ttl: 120_000 } },
      );
      let result: R | undefined;
      const kinds: string[] = [];
      for await (const m of stream) {
        kinds.push(m.type);
        if (m.type === "result") result = m.result as R;
        if (m.type === "error") throw m.error;
      }
      assert.equal(kinds[0], "taskCreated");
      assert.equal((result!.structuredContent as R).exit_code, 0);
      assert.ok((await testPackages())["sshmcp-test-libdep"]);
      const r = await run("dpkg-query", ["-W", "-f", "${db:Status-Status}", "sshmcp-test-libdep"]);
      assert.equal(r.stdout, "installed");
    }, { tier: "dangerous" });
  });
});
