/**
 * The pkg group's pure code: the TOOLS.md §3 validators (SECURITY.md §24.13
 * rows) and the §12 parsers against captured real output of apt 2.6 / dpkg
 * 1.21 on Debian 12 (`tests/fixtures/apt/`, the services test bed).
 */

import assert from "node:assert/strict";
import { ToolError } from "../../src/errors.ts";
import {
  aptPhase,
  dpkgInterrupted,
  hasAptError,
  parseAptList,
  parseAptPolicy,
  parseAptSearch,
  parseAptShow,
  parseHolds,
  parseLockError,
  parsePrintUris,
  parseReportLocks,
  parseSimulation,
  parseUnsettled,
} from "../../src/tools/pkg/_parse.ts";
import { aptPattern, packageName, packageNames } from "../../src/tools/pkg/_words.ts";
import { fixture } from "../_support/services.ts";

function valueError(fn: () => unknown, field: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ToolError, String(e));
    assert.equal(e.code, "ValueError");
    assert.ok(e.message.startsWith(`${field}`), e.message);
    return true;
  });
}

Deno.test("AC-780: bad package patterns are refused", () => {
  for (
    const bad of [
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
      "",
      "-nginx",
    ]
  ) valueError(() => aptPattern(bad), "pattern");
  for (const ok of ["nginx", "nginx*", "lib?ssl*", "g++", "python3.11"]) {
    assert.equal(aptPattern(ok), ok);
  }
});

Deno.test("AC-781: bad package names are refused", () => {
  for (
    const bad of [
      "Nginx",
      "NGINX",
      "nginx;rm -rf /",
      "-leading-dash",
      ".dotfile",
      "a".repeat(129),
      "--evil",
      "pkg/path",
      "\x00bad",
      "nginx\n",
      "nginx=1.2",
      "nginx:amd64",
      "",
    ]
  ) valueError(() => packageName(bad), "package");
  for (const ok of ["nginx", "libssl3", "g++", "python3.11", "0ad"]) {
    assert.equal(packageName(ok), ok);
  }
});

Deno.test("AC-782: an empty package list is refused; duplicates are dropped in order", () => {
  valueError(() => packageNames([]), "packages");
  valueError(() => packageNames(["ok", "BAD"]), "packages[1]");
  assert.deepEqual(packageNames(["b", "a", "b"]), ["b", "a"]);
});

Deno.test("apt list: installed / upgradable / all rows; header and WARNING lines skipped", () => {
  assert.deepEqual(parseAptList(fixture("apt", "list_installed.txt")), [
    { name: "sshmcp-test-conf", version: "1.0", architecture: "all", state: "installed" },
    { name: "sshmcp-test-hello", version: "1.0", architecture: "all", state: "installed" },
    {
      name: "sshmcp-test-libdep",
      version: "1.0",
      architecture: "all",
      state: "installed,automatic",
    },
  ]);
  const up = parseAptList(
    fixture("apt", "list_upgradable.txt") + fixture("apt", "list_upgradable.stderr.txt"),
  );
  assert.deepEqual(up.map((p) => [p.name, p.version, p.state]), [
    ["sshmcp-test-conf", "2.0", "upgradable from: 1.0"],
    ["sshmcp-test-hello", "2.0", "upgradable from: 1.0"],
  ]);
  const all = parseAptList(fixture("apt", "list_all.txt"));
  assert.equal(all.length, 4);
  assert.equal(all.find((p) => p.name === "sshmcp-test-slow")?.state, "");
});

Deno.test("apt-cache search: split at the first ' - '", () => {
  const r = parseAptSearch(fixture("apt", "cache_search.txt") + "odd - a - b\nno separator\n");
  assert.equal(r.length, 5);
  assert.deepEqual(r[1], {
    name: "sshmcp-test-hello",
    short_description: "ssh-mcp test package (hello)",
  });
  assert.deepEqual(r[4], { name: "odd", short_description: "a - b" });
});

Deno.test("apt-cache show: first stanza only; description with '.' blank lines; relations split", () => {
  const s = parseAptShow(fixture("apt", "cache_show.txt"));
  assert.equal(s.version, "2.0");
  assert.equal(
    s.description,
    "ssh-mcp test package (hello)\nA package built by the ssh-mcp test bed.\n\nIt installs one version file under /usr/share/sshmcp-test.",
  );
  assert.deepEqual(s.relations.Depends, ["sshmcp-test-libdep (>= 1.0)"]);
  assert.deepEqual(s.relations.Recommends, ["sshmcp-test-extra-missing"]);
  assert.deepEqual(s.relations.Suggests, ["sshmcp-test-conf"]);
  assert.deepEqual(s.relations.Conflicts, ["sshmcp-test-legacy"]);
  assert.deepEqual(s.relations.Breaks, ["sshmcp-test-old (<< 1.0)"]);
  assert.deepEqual(s.relations.Replaces, ["sshmcp-test-old"]);
  const bash = parseAptShow(fixture("apt", "cache_show_bash_system.txt"));
  assert.match(bash.description ?? "", /^GNU Bourne Again SHell/);
  assert.ok(bash.relations.Depends.length > 0);
  const alt = parseAptShow(
    "Package: x\nVersion: 1\nDepends: a | b (>= 2), c\nDescription-en: short\n line\n .\n \n",
  );
  assert.deepEqual(alt.relations.Depends, ["a | b (>= 2)", "c"]);
  assert.equal(alt.description, "short\nline");
  assert.equal(parseAptShow(fixture("apt", "cache_show_unknown.txt")).description, null);
});

Deno.test("apt-cache policy: installed/candidate, repos from the version table", () => {
  assert.deepEqual(parseAptPolicy(fixture("apt", "cache_policy.txt")), {
    installed_version: "(none)",
    candidate_version: "2.0",
    repos: [
      "file:/var/lib/sshmcp-services/repo/updates",
      "file:/var/lib/sshmcp-services/repo/stable",
    ],
  });
  const bash = parseAptPolicy(fixture("apt", "cache_policy_bash_system.txt"));
  assert.equal(bash.installed_version, "5.2.15-2+b8");
  assert.equal(bash.candidate_version, "5.2.15-2+b13");
  assert.deepEqual(bash.repos, ["http://deb.debian.org/debian"]);
  assert.deepEqual(parseAptPolicy(""), {
    installed_version: null,
    candidate_version: null,
    repos: [],
  });
});

Deno.test("apt-mark showhold: non-blank trimmed lines", () => {
  assert.deepEqual(parseHolds(fixture("apt", "showhold.txt")), ["sshmcp-test-conf"]);
  assert.deepEqual(parseHolds("\n  a \n\nb\n"), ["a", "b"]);
});

Deno.test("apt-get -s: install, upgrade with a held package kept back, remove, purge, autoremove", () => {
  const inst = parseSimulation(fixture("apt", "simulate_install.txt"));
  assert.deepEqual(inst.would_install.map((p) => `${p.name}=${p.version}`), [
    "sshmcp-test-conf=1.0",
    "sshmcp-test-libdep=1.0",
    "sshmcp-test-hello=1.0",
  ]);
  assert.deepEqual(inst.would_upgrade, []);
  const up = parseSimulation(fixture("apt", "simulate_upgrade_held.txt"));
  assert.deepEqual(up.would_upgrade, [{
    name: "sshmcp-test-hello",
    version: "2.0",
    from_version: "1.0",
  }]);
  assert.deepEqual(up.kept_back, ["sshmcp-test-conf"]);
  assert.deepEqual(parseSimulation(fixture("apt", "simulate_remove.txt")).would_remove, [
    { name: "sshmcp-test-hello", version: "2.0" },
  ]);
  assert.deepEqual(parseSimulation(fixture("apt", "simulate_purge.txt")).would_purge, [
    { name: "sshmcp-test-conf", version: "2.0" },
  ]);
  assert.deepEqual(parseSimulation(fixture("apt", "simulate_autoremove.txt")).would_remove, [
    { name: "sshmcp-test-libdep", version: "1.0" },
  ]);
  const none = parseSimulation(fixture("apt", "simulate_install_unknown.txt"));
  assert.equal(none.would_install.length + none.would_remove.length, 0);
});

Deno.test("apt-get --print-uris update: the quoted URIs", () => {
  assert.deepEqual(parsePrintUris(fixture("apt", "update_print_uris.txt")), [
    "file:/var/lib/sshmcp-services/repo/stable/./InRelease",
    "file:/var/lib/sshmcp-services/repo/stable/./Packages.xz",
  ]);
});

Deno.test("lock errors: apt names lock, pid and process; dpkg names the pid; other errors are no lock", () => {
  assert.deepEqual(parseLockError(fixture("apt", "lock_error.stderr.txt")), {
    lock: "/var/lib/dpkg/lock-frontend",
    pid: Number(/process (\d+)/.exec(fixture("apt", "lock_error.stderr.txt"))![1]),
    holder: "python3",
  });
  const dpkg = parseLockError(fixture("apt", "mark_lock_error.txt"));
  assert.equal(dpkg?.lock, "/var/lib/dpkg/lock-frontend");
  assert.ok(dpkg && dpkg.pid !== null && dpkg.pid > 0);
  assert.equal(dpkg?.holder, null);
  const lists = parseLockError(fixture("apt", "update_lock_error.txt"));
  assert.equal(lists?.lock, "/var/lib/sshmcp-services/apt/stable/lists/lock");
  assert.equal(lists?.holder, "python3");
  assert.equal(parseLockError(fixture("apt", "simulate_install_unknown.txt")), null);
  assert.equal(parseLockError(fixture("apt", "interrupted_install.txt")), null);
});

Deno.test("PKG-4: the state report's lock lines: known lock files only, frontend first, the rest is dpkg-query's", () => {
  const report = [
    "sshmcp-lock /var/lib/apt/lists/lock 77 apt-get",
    "half-configured sshmcp-test-slow 1.0",
    "sshmcp-lock /var/lib/dpkg/lock-frontend 42 unattended-upgr",
    "sshmcp-lock /var/lib/dpkg/lock-frontend 43 second",
    "sshmcp-lock /etc/shadow 1 forged",
    "sshmcp-lock /var/lib/dpkg/lock notapid x",
    "sshmcp-lock /var/lib/dpkg/lock 9 ",
    "",
  ].join("\n");
  const { locks, rest } = parseReportLocks(report);
  assert.deepEqual(locks, [
    { lock: "/var/lib/dpkg/lock-frontend", pid: 42, holder: "unattended-upgr" },
    { lock: "/var/lib/dpkg/lock", pid: 9, holder: null },
    { lock: "/var/lib/apt/lists/lock", pid: 77, holder: "apt-get" },
  ]);
  assert.deepEqual(parseUnsettled(rest), [
    { name: "sshmcp-test-slow", status: "half-configured", version: "1.0" },
  ]);
  assert.deepEqual(parseReportLocks(""), { locks: [], rest: "" });
  // apt's and dpkg's own errors explain a failure; warnings and silence do not
  assert.ok(hasAptError(fixture("apt", "simulate_install_unknown.txt")));
  assert.ok(hasAptError(fixture("apt", "mark_lock_error.txt")));
  assert.ok(!hasAptError(""));
  assert.ok(!hasAptError("W: Some index files failed to download\n"));
});

Deno.test("dpkg state after an interrupted run: unsettled packages and apt's complaint", () => {
  assert.deepEqual(parseUnsettled(fixture("apt", "dpkg_states_interrupted.txt")), [
    { name: "sshmcp-test-slow", status: "half-configured", version: "1.0" },
  ]);
  assert.deepEqual(parseUnsettled("installed a 1\nconfig-files b 2\nunpacked c 3\n"), [
    { name: "c", status: "unpacked", version: "3" },
  ]);
  assert.ok(dpkgInterrupted(fixture("apt", "interrupted_install.txt")));
  assert.ok(!dpkgInterrupted(fixture("apt", "install.txt")));
});

Deno.test("progress phases of real install, upgrade, remove, purge and mark output", () => {
  const phases = (name: string) =>
    fixture("apt", name).split(/\r?\n|\r/).map(aptPhase).filter((p): p is string => p !== null);
  const inst = phases("install.txt");
  assert.ok(inst.includes("reading package lists"));
  assert.ok(inst.includes("plan: 0 upgraded, 3 new, 0 to remove, 0 not upgraded"));
  assert.ok(inst.includes("downloading sshmcp-test-hello 1.0"));
  assert.ok(inst.includes("unpacking sshmcp-test-hello 1.0"));
  assert.ok(inst.includes("setting up sshmcp-test-hello 1.0"));
  assert.ok(phases("upgrade.txt").includes("unpacking sshmcp-test-hello 2.0 (over 1.0)"));
  assert.ok(phases("remove.txt").includes("removing sshmcp-test-hello 2.0"));
  assert.ok(phases("purge.txt").includes("purging configuration of sshmcp-test-conf"));
  assert.deepEqual(phases("mark_hold.txt"), ["held sshmcp-test-conf"]);
  assert.deepEqual(phases("mark_unhold.txt"), ["unheld sshmcp-test-conf"]);
  assert.equal(aptPhase("(Reading database ... 45%"), null);
});
