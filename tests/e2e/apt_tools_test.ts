/**
 * The pkg group's read tools (TOOLS.md §12) end to end: a real MCP client and
 * server, real sshd hosts, the machine's real dpkg database and a local
 * `file:` repository of packages built with dpkg-deb (two index views:
 * `stable` and `updates`), through tests/_support/services.ts. Rows:
 * SECURITY.md §24.13 (AC-780..784), docs/security/services.md (PKG-*).
 */

import assert from "node:assert/strict";
import type { InProcess } from "../_support/mcp.ts";
import {
  aptLocal,
  purgeTestPackages,
  run,
  withAptLock,
  withServicesServer,
} from "../_support/services.ts";

type R = Record<string, unknown>;

Deno.test("apt read tools as an unprivileged login: list, search, show, show_holds; unknown package", async () => {
  await withAptLock(async () => {
    await purgeTestPackages();
    try {
      await aptLocal("stable", "install", "--", "sshmcp-test-hello", "sshmcp-test-conf");
      const hold = await run("apt-mark", ["hold", "--", "sshmcp-test-conf"]);
      assert.equal(hold.code, 0, hold.stderr);
      await withServicesServer(async (s) => {
        const inst = await s.ok<R>("ssh_apt_list", {
          host: "svc",
          mode: "installed",
          pattern: "sshmcp-test*",
        });
        assert.equal(inst.mode, "installed");
        assert.deepEqual(
          (inst.packages as R[]).map((p) =>
            `${p.name} ${p.version} ${p.architecture} [${p.state}]`
          ),
          [
            "sshmcp-test-conf 1.0 all [installed]",
            "sshmcp-test-hello 1.0 all [installed]",
            "sshmcp-test-libdep 1.0 all [installed,automatic]",
          ],
        );
        assert.equal(inst.total, 3);
        assert.equal(inst.truncated, false);
        const up = await s.ok<R>("ssh_apt_list", { host: "svcup", mode: "upgradable" });
        const upNames = (up.packages as R[]).map((p) => `${p.name} ${p.version} [${p.state}]`);
        assert.ok(upNames.includes("sshmcp-test-hello 2.0 [upgradable from: 1.0]"), upNames.join());
        assert.ok(upNames.includes("sshmcp-test-conf 2.0 [upgradable from: 1.0]"));
        const all = await s.ok<R>("ssh_apt_list", {
          host: "svc",
          mode: "all",
          pattern: "sshmcp-*",
        });
        assert.equal(all.total, 4);
        const big = await s.ok<R>("ssh_apt_list", { host: "svc", mode: "installed" });
        assert.ok((big.total as number) > 50, "the whole dpkg database is listed");

        const se = await s.ok<R>("ssh_apt_search", { host: "svc", pattern: "sshmcp-test" });
        assert.deepEqual(
          (se.results as R[]).map((r) => r.name),
          ["sshmcp-test-conf", "sshmcp-test-hello", "sshmcp-test-libdep", "sshmcp-test-slow"],
        );
        assert.equal((se.results as R[])[1]!.short_description, "ssh-mcp test package (hello)");
        const none = await s.ok<R>("ssh_apt_search", { host: "svc", pattern: "no-such-pkg-x*q" });
        assert.deepEqual(none.results, []);

        const sh = await s.ok<R>("ssh_apt_show", { host: "svcup", package: "sshmcp-test-hello" });
        assert.equal(sh.installed_version, "1.0");
        assert.equal(sh.candidate_version, "2.0");
        assert.equal((sh.repos as string[]).length, 2);
        assert.ok((sh.repos as string[]).every((u) => u.startsWith("file:/")));
        assert.match(String(sh.description), /^ssh-mcp test package \(hello\)\n/);
        assert.deepEqual(sh.depends, ["sshmcp-test-libdep (>= 1.0)"]);
        assert.deepEqual(sh.recommends, ["sshmcp-test-extra-missing"]);
        assert.deepEqual(sh.breaks, ["sshmcp-test-old (<< 1.0)"]);
        const sl = await s.ok<R>("ssh_apt_show", { host: "svc", package: "sshmcp-test-slow" });
        assert.equal(sl.installed_version, "(none)");
        assert.equal(sl.candidate_version, "1.0");
        const unknown = await s.err("ssh_apt_show", { host: "svc", package: "sshmcp-test-nosuch" });
        assert.equal(unknown.code, "ValueError");
        assert.match(unknown.message, /^package: "sshmcp-test-nosuch" is not known to apt on svc/);

        const holds = await s.ok<R>("ssh_apt_show_holds", { host: "svc" });
        assert.deepEqual(holds.held, ["sshmcp-test-conf"]);
        assert.equal(holds.exit_code, 0);
        assert.equal(typeof holds.duration_ms, "number");
      });
    } finally {
      await purgeTestPackages();
    }
  });
});

async function refusedBeforeIo(s: InProcess, name: string, args: R, field: string) {
  const before = s.app.pool.opened;
  const e = await s.err(name, args);
  assert.equal(e.code, "ValueError", `${name} ${JSON.stringify(args)}: ${e.code} ${e.message}`);
  assert.ok(e.message.includes(field), `${name}: the message names ${field}: ${e.message}`);
  assert.equal(s.app.pool.opened, before, `${name}: a connection was opened`);
}

Deno.test("AC-780..782/AC-784/PKG-1: bad patterns, package names, empty lists and actions refused before any I/O", async () => {
  await withServicesServer(async (s) => {
    for (
      const pattern of [
        "x".repeat(129),
        "nginx;ls",
        "|",
        "&",
        "`id`",
        "$(whoami)",
        "a b",
        "nginx\n",
        "nginx/etc",
        "<inject>",
        "nginx\\foo",
        "-nginx",
      ]
    ) {
      await refusedBeforeIo(s, "ssh_apt_list", { host: "svc", mode: "all", pattern }, "pattern");
      await refusedBeforeIo(s, "ssh_apt_search", { host: "svc", pattern }, "pattern");
    }
    for (
      const p of [
        "Nginx",
        "NGINX",
        "nginx;rm -rf /",
        "-leading-dash",
        ".dotfile",
        "a".repeat(129),
        "--evil",
        "pkg/path",
        "\x00bad",
      ]
    ) {
      await refusedBeforeIo(s, "ssh_apt_show", { host: "svc", package: p }, "package");
      for (
        const [tool, extra] of [
          ["ssh_apt_install", {}],
          ["ssh_apt_remove", {}],
          ["ssh_apt_remove", { purge: true }],
          ["ssh_apt_mark", { action: "hold" }],
          ["ssh_apt_install", { check: true }],
        ] as [string, R][]
      ) {
        await refusedBeforeIo(s, tool, { host: "root", packages: ["ok", p], ...extra }, "packages");
      }
    }
    for (const tool of ["ssh_apt_install", "ssh_apt_remove"]) {
      await refusedBeforeIo(s, tool, { host: "root", packages: [] }, "packages");
    }
    await refusedBeforeIo(
      s,
      "ssh_apt_mark",
      { host: "root", action: "hold", packages: [] },
      "packages",
    );
    await refusedBeforeIo(
      s,
      "ssh_apt_mark",
      { host: "root", action: "freeze", packages: ["nginx"] },
      "action",
    );
    await refusedBeforeIo(s, "ssh_apt_list", { host: "svc", mode: "everything" }, "mode");
    assert.equal(s.app.pool.opened, 0);
  }, { tier: "dangerous" });
});

Deno.test("AC-783/PKG-8: hosts without apt: PlatformNotSupported 'apt not available' (reads and mutations); windows refused before I/O", async () => {
  await withServicesServer(async (s) => {
    for (
      const [tool, args] of [
        ["ssh_apt_list", { mode: "installed" }],
        ["ssh_apt_show_holds", {}],
        ["ssh_apt_install", { packages: ["nginx"] }],
        ["ssh_apt_install", { packages: ["nginx"], check: true }],
        ["ssh_apt_upgrade", {}],
        ["ssh_apt_update", {}],
      ] as [string, R][]
    ) {
      const w = await s.err(tool, { host: "win", ...args });
      assert.equal(w.code, "PlatformNotSupported", tool);
    }
    assert.equal(s.app.pool.opened, 0);
    for (
      const [tool, args] of [
        ["ssh_apt_list", { mode: "installed" }],
        ["ssh_apt_search", { pattern: "x" }],
        ["ssh_apt_show", { package: "bash" }],
        ["ssh_apt_show_holds", {}],
        ["ssh_apt_install", { packages: ["nginx"] }],
        ["ssh_apt_remove", { packages: ["nginx"], check: true }],
        ["ssh_apt_mark", { action: "hold", packages: ["nginx"] }],
        ["ssh_apt_autoremove", {}],
        ["ssh_apt_update", {}],
      ] as [string, R][]
    ) {
      const e = await s.err(tool, { host: "noapt", ...args });
      assert.equal(e.code, "PlatformNotSupported", tool);
      assert.match(e.message, /^apt not available on noapt/);
      assert.equal(e.meta.missing, "apt");
    }
  }, { tier: "dangerous" });
});
