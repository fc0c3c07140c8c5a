/**
 * The systemctl group's pure code: the TOOLS.md §3 validators (SECURITY.md
 * §24.12 rows), the journal time translation, and the §11 parsers against
 * captured real output (`tests/fixtures/systemctl/`: the bed's systemctl and
 * the machine's journalctl 252).
 */

import assert from "node:assert/strict";
import { ToolError } from "../../src/errors.ts";
import {
  chronological,
  countLines,
  parseActiveState,
  parseIsActive,
  parseIsEnabled,
  parseIsFailed,
  parseListUnits,
  parseShow,
  predict,
  unitFacts,
} from "../../src/tools/systemctl/_parse.ts";
import {
  grepText,
  journalTime,
  propertyName,
  unitName,
  unitPattern,
  unitState,
} from "../../src/tools/systemctl/_words.ts";
import { fixture } from "../_support/services.ts";

function valueError(fn: () => unknown, field?: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ToolError, String(e));
    assert.equal(e.code, "ValueError");
    if (field) assert.match(e.message, new RegExp(`^${field.replace(/[[\]]/g, "\\$&")}:`));
    return true;
  });
}

Deno.test("AC-750: bad unit names are refused (ValueError naming `unit`)", () => {
  for (
    const bad of [
      "",
      "nginx.service;ls",
      "nginx & ls",
      "nginx|ls",
      "nginx`id`",
      "$(whoami)",
      "nginx\nls",
      "nginx\r",
      "\x00",
      "nginx(1)",
      "nginx<1>",
      "/etc/nginx",
      "nginx.notaunit",
      "foo.bar",
      "nginx.service\n",
      "a b.service",
      "x".repeat(257),
    ]
  ) valueError(() => unitName(bad), "unit");
});

Deno.test("AC-751/INPUT-3: a leading dash is refused except the real units -.mount and -.slice", () => {
  for (const bad of ["--help", "-x", "--help.service", "-foo.mount", "-.service"]) {
    valueError(() => unitName(bad), "unit");
  }
  assert.equal(unitName("-.mount"), "-.mount");
  assert.equal(unitName("-.slice"), "-.slice");
});

Deno.test("R_UNIT: ordinary names pass unchanged", () => {
  for (
    const ok of [
      "nginx",
      "nginx.service",
      "getty@tty1.service",
      "systemd-journald.socket",
      "var-lib.mount",
      "user-1000.slice",
      "apt-daily.timer",
      "dev-sda1.device",
    ]
  ) assert.equal(unitName(ok), ok);
});

Deno.test("AC-752: bad patterns are refused; globs pass", () => {
  for (const bad of ["nginx;*", "nginx|*", "*$(cmd)*", "/etc/*", "", "-*", "a b*"]) {
    valueError(() => unitPattern(bad), "pattern");
  }
  for (const ok of ["nginx*", "*.service", "getty@tty?.service", "*"]) {
    assert.equal(unitPattern(ok), ok);
  }
});

Deno.test("AC-753: bad states and properties are refused", () => {
  for (const bad of ["running;ls", "", "a b", "run\n"]) valueError(() => unitState(bad), "state");
  assert.equal(unitState("running"), "running");
  assert.equal(unitState("not-found"), "not-found");
  for (const bad of ["lower", "A-B", "", "Active State", "ActiveState\n"]) {
    valueError(() => propertyName(bad), "properties");
  }
  assert.equal(propertyName("ActiveState"), "ActiveState");
  assert.equal(propertyName("ExecMainStatus"), "ExecMainStatus");
});

Deno.test("AC-754/AC-757: bad journal times are refused", () => {
  for (
    const bad of [
      "15 minutes",
      "rm -rf /",
      "10m;ls",
      "2026-04-16T",
      "-10m",
      "7D",
      "1h ",
      "2026-04-16  12:00",
      "2026-04-16 12:00\n",
      "2026-02-30",
      "2026-04-16T25:00:00",
      "2026-04-16T12:00:00+24:00",
      "",
      "soon",
    ]
  ) valueError(() => journalTime(bad, "since"), "since");
});

Deno.test("R_JOURNAL_TIME: accepted forms are translated into timestamps journalctl 252 parses", () => {
  const cases: [string, string][] = [
    ["10m", "-10m"],
    ["1h30m", "-1h30m"],
    ["2d", "-2d"],
    ["1w", "-1w"],
    ["1M", "-1M"],
    ["1y", "-1y"],
    ["1700000000", "@1700000000"],
    ["1700000000.5", "@1700000000.5"],
    ["2026-04-16T12:00:00", "2026-04-16 12:00:00"],
    ["2026-04-16T12:00:00.250", "2026-04-16 12:00:00.250"],
    ["2026-04-16T12:00:00Z", "2026-04-16 12:00:00 UTC"],
    ["2026-04-16T12:00:00+02:00", "2026-04-16 10:00:00 UTC"],
    ["2026-04-16T01:30:00-0230", "2026-04-16 04:00:00 UTC"],
    ["2026-01-01T00:30:00+01:00", "2025-12-31 23:30:00 UTC"],
    ["2026-04-16", "2026-04-16"],
    ["2026-04-16 12:00", "2026-04-16 12:00"],
    ["2026-04-16 12:00:01", "2026-04-16 12:00:01"],
    ["yesterday", "yesterday"],
    ["today", "today"],
    ["now", "now"],
    ["tomorrow", "tomorrow"],
  ];
  for (const [input, want] of cases) assert.equal(journalTime(input, "until"), want, input);
});

Deno.test("AC-755: bad grep expressions are refused", () => {
  for (
    const bad of [
      "x".repeat(201),
      "error|warn",
      "$(rm -rf /)",
      "error;drop",
      "error\nwarn",
      "a`b`",
      "",
    ]
  ) valueError(() => grepText(bad), "grep");
  assert.equal(
    grepText("connection refused: 10.0.0.1/24 @ port-80"),
    "connection refused: 10.0.0.1/24 @ port-80",
  );
});

Deno.test("status: active_state from captured output (running, failed, unknown unit)", () => {
  assert.equal(parseActiveState(fixture("systemctl", "status_active.txt")), "active");
  assert.equal(parseActiveState(fixture("systemctl", "status_failed.txt")), "failed");
  assert.equal(parseActiveState(fixture("systemctl", "status_unknown.txt")), null);
  // systemd 252's own layout: a bullet line, then indented fields
  const real = [
    "\u25cf nginx.service - A high performance web server",
    "     Loaded: loaded (/lib/systemd/system/nginx.service; enabled; preset: enabled)",
    "     Active: active (running) since Tue 2026-04-14 09:12:01 UTC; 2 days ago",
    "   Main PID: 712 (nginx)",
  ].join("\n");
  assert.equal(parseActiveState(real), "active");
});

Deno.test("is-active / is-enabled / is-failed from captured output", () => {
  assert.equal(parseIsActive(fixture("systemctl", "is_active_active.txt"), 0), "active");
  assert.equal(parseIsActive(fixture("systemctl", "is_active_failed.txt"), 3), "failed");
  assert.equal(parseIsActive("inactive\n", 4), "unknown");
  assert.equal(parseIsActive("something-else\n", 3), "unknown");
  assert.equal(parseIsEnabled(fixture("systemctl", "is_enabled_enabled.txt")), "enabled");
  assert.equal(parseIsEnabled(fixture("systemctl", "is_enabled_disabled.txt")), "disabled");
  assert.equal(parseIsEnabled("masked-runtime\n"), "masked-runtime");
  assert.equal(parseIsEnabled(""), "unknown");
  assert.deepEqual(parseIsFailed(fixture("systemctl", "is_failed_failed.txt"), 0), {
    failed: true,
    state: "failed",
  });
  assert.deepEqual(parseIsFailed(fixture("systemctl", "is_failed_active.txt"), 1), {
    failed: false,
    state: "active",
  });
});

Deno.test("list-units: captured rows (tab separated); systemd's failed bullet; short lines skipped", () => {
  const rows = parseListUnits(fixture("systemctl", "list_units.txt"));
  assert.deepEqual(rows, [
    {
      unit: "sshmcp-fixture-broken.service",
      load: "loaded",
      active: "failed",
      sub: "failed",
      description: "ssh-mcp fixture broken service",
    },
    {
      unit: "sshmcp-fixture-web.service",
      load: "loaded",
      active: "active",
      sub: "running",
      description: "ssh-mcp fixture web service",
    },
  ]);
  const real = [
    "  cron.service     loaded active running Regular background program processing daemon",
    "\u25cf nginx.service    loaded failed failed  A high performance web server",
    "* php.service loaded failed failed",
    "too short",
    "",
  ].join("\n");
  assert.deepEqual(parseListUnits(real).map((r) => [r.unit, r.active, r.description]), [
    ["cron.service", "active", "Regular background program processing daemon"],
    ["nginx.service", "failed", "A high performance web server"],
    ["php.service", "failed", ""],
  ]);
});

Deno.test("show: key=value lines, value as-is, last duplicate wins, empty values kept", () => {
  const p = parseShow(fixture("systemctl", "show_all.txt"));
  assert.equal(p.ActiveState, "active");
  assert.equal(p.UnitFileState, "enabled");
  assert.equal(p.TimeoutStartUSec, "1min 30s");
  assert.deepEqual(parseShow("A=1\nB=\nA=x=y\nno equals\n =skip\n"), { A: "x=y", B: "" });
  const facts = unitFacts(parseShow(fixture("systemctl", "show_props.txt")), "x");
  assert.deepEqual(facts, {
    id: "sshmcp-fixture-web.service",
    load_state: "loaded",
    active_state: "active",
    sub_state: "running",
    unit_file_state: "enabled",
  });
  assert.equal(
    unitFacts(parseShow(fixture("systemctl", "show_unknown.txt")), "u").load_state,
    "not-found",
  );
});

Deno.test("journal: newest-first capture back in chronological order; multi-line entries stay whole", () => {
  const text = chronological(fixture("systemctl", "journal_reverse.txt"));
  const lines = text.trimEnd().split("\n");
  assert.equal(lines.length, 3);
  assert.match(lines[0]!, /tick 7$/);
  assert.match(lines[2]!, /tick 9$/);
  assert.equal(countLines(text), 3);
  const grep = chronological(fixture("systemctl", "journal_grep_reverse.txt"));
  assert.match(grep.split("\n")[0]!, /tick 8$/);
  const multi = [
    "Apr 16 12:00:03 h app[1]: third",
    "Apr 16 12:00:02 h app[1]: second, line one",
    "                           second, line two",
    "-- Boot 1234 --",
    "Apr 16 12:00:01 h app[1]: first",
    "",
  ].join("\n");
  assert.equal(
    chronological(multi),
    [
      "Apr 16 12:00:01 h app[1]: first",
      "Apr 16 12:00:02 h app[1]: second, line one",
      "                           second, line two",
      "Apr 16 12:00:03 h app[1]: third",
      "",
    ].join("\n"),
  );
  assert.equal(chronological(""), "");
  assert.equal(countLines("a\n\n  \nb\n"), 2);
});

Deno.test("check mode predictions per verb", () => {
  const f = (active_state: string, unit_file_state: string) => ({
    id: "u.service",
    load_state: "loaded",
    active_state,
    sub_state: "",
    unit_file_state,
  });
  const yes = (verb: string, a: string, u: string) =>
    assert.equal(predict(verb, f(a, u)).would_change, true, `${verb} ${a} ${u}`);
  const no = (verb: string, a: string, u: string) =>
    assert.equal(predict(verb, f(a, u)).would_change, false, `${verb} ${a} ${u}`);
  yes("start", "inactive", "disabled");
  no("start", "active", "enabled");
  no("start", "inactive", "masked");
  yes("stop", "active", "enabled");
  no("stop", "inactive", "enabled");
  yes("restart", "active", "enabled");
  yes("restart", "inactive", "enabled");
  no("restart", "inactive", "masked");
  yes("reload", "active", "enabled");
  no("reload", "inactive", "enabled");
  yes("enable", "inactive", "disabled");
  no("enable", "inactive", "enabled");
  no("enable", "inactive", "static");
  yes("disable", "active", "enabled");
  no("disable", "active", "disabled");
  yes("mask", "active", "enabled");
  no("mask", "inactive", "masked");
  yes("unmask", "inactive", "masked");
  no("unmask", "inactive", "enabled");
  yes("reset-failed", "failed", "disabled");
  no("reset-failed", "inactive", "disabled");
  assert.match(predict("start", f("inactive", "masked")).summary, /masked/);
});
