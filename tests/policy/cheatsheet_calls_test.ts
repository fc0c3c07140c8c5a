/**
 * docs/security/cheatsheet.md CHEAT-9, CHEAT-15..18: the exact systemctl,
 * journalctl and apt calls; the checker-level refusal and hint (attribute
 * `suggested_call`); hidden tools; commands that do not match stay unmatched.
 */

import assert from "node:assert/strict";
import { envHostPolicy } from "../../src/config/hosts.ts";
import { defaultSettings } from "../../src/config/settings.ts";
import type { HostPolicy, Settings } from "../../src/config/types.ts";
import { isToolError } from "../../src/errors.ts";
import { nullLogger } from "../../src/log.ts";
import {
  type CheatsheetHit,
  matchCheatsheet,
  optOutWarning,
  refusalMessage,
} from "../../src/policy/cheatsheet.ts";
import { createCommandChecker } from "../../src/policy/commands.ts";

function hit(
  cmd: string,
  extra: { visibleTools?: ReadonlySet<string> } = {},
): CheatsheetHit | null {
  return matchCheatsheet(cmd, { redactListed: () => false, host: "web1", ...extra });
}

function expectCall(cmd: string, tool: string, call: string, notes: RegExp[] = []) {
  const h = hit(cmd);
  assert.ok(h, `no hit for ${JSON.stringify(cmd)}`);
  assert.equal(h.suggestedTool, tool, cmd);
  assert.equal(h.suggestedCall, call, cmd);
  for (const n of notes) {
    assert.ok(
      h.notes?.some((x) => n.test(x)),
      `${cmd}: no note ${n} in ${JSON.stringify(h.notes)}`,
    );
  }
}

Deno.test("CHEAT-15: systemctl <verb> [opts] X -> ssh_systemctl_<verb>(unit=X)", () => {
  const verbs = [
    "is-active",
    "is-enabled",
    "is-failed",
    "status",
    "cat",
    "start",
    "stop",
    "restart",
    "reload",
    "enable",
    "disable",
    "mask",
    "unmask",
    "reset-failed",
  ];
  for (const v of verbs) {
    const tool = `ssh_systemctl_${v.replaceAll("-", "_")}`;
    expectCall(
      `systemctl ${v} --no-pager nginx.service`,
      tool,
      `${tool}(host="web1", unit="nginx.service")`,
    );
  }
  expectCall(
    "sudo systemctl restart x",
    "ssh_systemctl_restart",
    'ssh_systemctl_restart(host="web1", unit="x")',
  );
  expectCall(
    "systemctl restart a b",
    "ssh_systemctl_restart",
    'ssh_systemctl_restart(host="web1", unit="a")',
    [
      /once more for b/,
    ],
  );
  expectCall("systemctl status", "ssh_systemctl_status", 'ssh_systemctl_status(host="web1")', [
    /unit= is required/,
  ]);
  expectCall(
    "systemctl enable --now nginx",
    "ssh_systemctl_enable",
    'ssh_systemctl_enable(host="web1", unit="nginx")',
    [/call ssh_systemctl_start for the unit too/],
  );
  expectCall(
    "systemctl restart --user x",
    "ssh_systemctl_restart",
    'ssh_systemctl_restart(host="web1", unit="x")',
    [/system units \(--user is not carried over\)/],
  );
  // options before the verb: CHEAT-4 (5) does not match (unchanged)
  assert.equal(hit("systemctl --user restart x"), null);
});

Deno.test("CHEAT-15: show -p, list-units / list-unit-files, daemon-reload", () => {
  expectCall(
    "systemctl show -p ActiveState,SubState --property=MainPID nginx",
    "ssh_systemctl_show",
    'ssh_systemctl_show(host="web1", unit="nginx", properties=["ActiveState", "SubState", "MainPID"])',
  );
  expectCall(
    "systemctl show nginx",
    "ssh_systemctl_show",
    'ssh_systemctl_show(host="web1", unit="nginx")',
  );
  expectCall(
    "systemctl list-units --type=service --state=failed 'ng*'",
    "ssh_systemctl_list_units",
    'ssh_systemctl_list_units(host="web1", pattern="ng*", state="failed", unit_type="service")',
  );
  expectCall(
    "systemctl list-units -t timer --failed",
    "ssh_systemctl_list_units",
    'ssh_systemctl_list_units(host="web1", state="failed", unit_type="timer")',
  );
  expectCall(
    "systemctl list-unit-files",
    "ssh_systemctl_list_units",
    'ssh_systemctl_list_units(host="web1")',
    [/unit_type defaults to "service"/, /not unit files/],
  );
  expectCall(
    "systemctl daemon-reload",
    "ssh_systemctl_daemon_reload",
    'ssh_systemctl_daemon_reload(host="web1")',
  );
  // CHEAT-4 (5) still decides what matches: `reload-or-restart` hits `reload\b` (REF quirk), no call
  const q = hit("systemctl reload-or-restart nginx")!;
  assert.deepEqual([q.suggestedTool, q.suggestedCall], ["ssh_systemctl_reload", undefined]);
});

Deno.test("CHEAT-16: journalctl -u X [-n N] [--since S] [--until U] [-g G]", () => {
  expectCall(
    "journalctl -u nginx -n 50 --since 1h --until now -g error --no-pager",
    "ssh_journalctl",
    'ssh_journalctl(host="web1", unit="nginx", lines=50, since="1h", until="now", grep="error")',
  );
  expectCall(
    "journalctl --unit=nginx.service --lines=20 -S '2026-04-16 12:00'",
    "ssh_journalctl",
    'ssh_journalctl(host="web1", unit="nginx.service", lines=20, since="2026-04-16 12:00")',
  );
  expectCall(
    "journalctl -fu nginx",
    "ssh_journalctl",
    'ssh_journalctl(host="web1", unit="nginx")',
    [
      /does not follow/,
    ],
  );
  expectCall("journalctl", "ssh_journalctl", 'ssh_journalctl(host="web1")', [/unit= is required/]);
  expectCall("journalctl -n 5000 -u x", "ssh_journalctl", 'ssh_journalctl(host="web1", unit="x")', [
    /lines takes a whole number 1\.\.1000/,
  ]);
  expectCall("journalctl -k -p err", "ssh_journalctl", 'ssh_journalctl(host="web1")', [
    /unit= is required/,
    /not carried over.*-k.*-p err/,
  ]);
});

Deno.test("CHEAT-17: apt / apt-get mutations, update, apt-mark", () => {
  expectCall(
    "apt-get install -y nginx curl",
    "ssh_apt_install",
    'ssh_apt_install(host="web1", packages=["nginx", "curl"])',
  );
  expectCall(
    "apt purge x",
    "ssh_apt_remove",
    'ssh_apt_remove(host="web1", packages=["x"], purge=true)',
  );
  expectCall(
    "apt-get remove --purge x y",
    "ssh_apt_remove",
    'ssh_apt_remove(host="web1", packages=["x", "y"], purge=true)',
  );
  expectCall("apt remove x", "ssh_apt_remove", 'ssh_apt_remove(host="web1", packages=["x"])');
  expectCall("apt upgrade -y", "ssh_apt_upgrade", 'ssh_apt_upgrade(host="web1")');
  expectCall("apt upgrade nginx", "ssh_apt_upgrade", 'ssh_apt_upgrade(host="web1")', [
    /use ssh_apt_install/,
  ]);
  expectCall("apt-get autoremove -y", "ssh_apt_autoremove", 'ssh_apt_autoremove(host="web1")');
  expectCall("apt-get update", "ssh_apt_update", 'ssh_apt_update(host="web1")');
  expectCall("sudo apt update -q", "ssh_apt_update", 'ssh_apt_update(host="web1")');
  expectCall(
    "apt install -s nginx",
    "ssh_apt_install",
    'ssh_apt_install(host="web1", packages=["nginx"], check=true)',
  );
  expectCall("apt install", "ssh_apt_install", 'ssh_apt_install(host="web1")', [
    /at least one package/,
  ]);
  expectCall(
    "apt-get install --no-install-recommends nginx",
    "ssh_apt_install",
    'ssh_apt_install(host="web1", packages=["nginx"])',
    [/not carried over.*--no-install-recommends/],
  );
  expectCall(
    "apt-mark hold nginx openssl",
    "ssh_apt_mark",
    'ssh_apt_mark(host="web1", action="hold", packages=["nginx", "openssl"])',
  );
  expectCall(
    "apt-mark unhold nginx",
    "ssh_apt_mark",
    'ssh_apt_mark(host="web1", action="unhold", packages=["nginx"])',
  );
  for (
    const c of [
      "apt-mark showhold",
      "apt-mark auto x",
      "apt list --installed",
      "apt-get -y install x",
    ]
  ) {
    assert.equal(hit(c), null, c);
  }
});

Deno.test("CHEAT-18: a hit naming a hidden tool is no hit; notes naming hidden tools are dropped", () => {
  const only = (...t: string[]) => ({ visibleTools: new Set(t) });
  assert.equal(hit("docker logs web", only("ssh_docker_ps")), null);
  assert.equal(hit("docker logs web", only("ssh_docker_logs"))?.suggestedTool, "ssh_docker_logs");
  // prune is dangerous-tier: hidden by default, so the command goes to the command policy
  assert.equal(hit("docker system prune", only("ssh_docker_ps", "ssh_docker_logs")), null);
  // family texts need one visible member of the family
  assert.equal(hit("docker network ls", only("ssh_sftp_list")), null);
  assert.equal(
    hit("docker network ls", only("ssh_docker_ps"))?.suggestedTool,
    "ssh_docker_* family",
  );
  assert.equal(hit("docker compose config", only("ssh_docker_ps")), null);
  assert.equal(hit("cat /etc/hosts", only("ssh_docker_ps")), null);
  assert.equal(hit("sudo cat /etc/shadow", only("ssh_sftp_download")), null);
  const en = hit("systemctl enable --now nginx", only("ssh_systemctl_enable"))!;
  assert.equal(en.suggestedCall, 'ssh_systemctl_enable(host="web1", unit="nginx")');
  assert.equal(en.notes, undefined);
  assert.ok(!JSON.stringify(en).includes("ssh_systemctl_start"));
  const all = hit("systemctl daemon-reload", only("ssh_systemctl_daemon_reload"));
  assert.equal(all?.suggestedTool, "ssh_systemctl_daemon_reload");
});

function setup(host: Partial<HostPolicy> = {}, env: Partial<Settings> = {}) {
  const settings = { ...defaultSettings(), ...env } as Settings;
  const policy = { ...envHostPolicy("web01", settings), ...host } as HostPolicy;
  return { checker: createCommandChecker({ settings, logger: nullLogger }), policy };
}

Deno.test("CHEAT-1/2/9 through the checker: suggested_call attribute, message and hint name the exact call", () => {
  const s = setup({ command_allowlist: ["docker"] });
  const req = {
    tool: "ssh_exec_run",
    policy: s.policy,
    command: "docker logs --tail 100 web",
    kind: "command" as const,
    host: "web1",
  };
  const call = 'ssh_docker_logs(host="web1", container="web", tail=100)';
  assert.throws(() => s.checker.cheatsheet(req), (e) => {
    assert.ok(isToolError(e, "CommandIsCheatsheetMatch"));
    assert.equal(e.attributes.pattern_id, "docker");
    assert.equal(e.attributes.suggested_tool, "ssh_docker_logs");
    assert.equal(e.attributes.suggested_call, call);
    assert.ok(
      e.message.startsWith(
        `ssh_exec_run refused: command matched cheatsheet pattern 'docker'. Use ${call} instead -- `,
      ),
    );
    assert.match(e.message, /SSH_EXEC_ALLOW_CHEATSHEET_PATTERNS=true\.$/);
    return true;
  });
  const out = setup({ command_allowlist: ["docker"] }, {
    SSH_EXEC_ALLOW_CHEATSHEET_PATTERNS: true,
  });
  assert.deepEqual(out.checker.cheatsheet({ ...req, policy: out.policy }), {
    warning: `ssh_exec_run command matched cheatsheet pattern 'docker'; consider ${call} next time`,
    patternId: "docker",
  });
  const vol = out.checker.cheatsheet({
    ...req,
    policy: out.policy,
    command: "docker volume prune",
  });
  assert.match(
    vol.warning!,
    /consider ssh_docker_prune\(host="web1", scope="volume", check=true\) next time \(.*human decision/,
  );
  // without the host argument: the old texts and no suggested_call
  const { host: _host, ...noHost } = req;
  assert.throws(() => s.checker.cheatsheet(noHost), (e) => {
    assert.ok(isToolError(e, "CommandIsCheatsheetMatch"));
    assert.equal(e.attributes.suggested_call, undefined);
    assert.match(e.message, /Use ssh_docker_logs instead -- /);
    return true;
  });
});

Deno.test("CHEAT-18 through the checker: a hidden tool leaves the command to the command policy", () => {
  const s = setup({ command_allowlist: ["docker"] });
  const req = {
    tool: "ssh_exec_run",
    policy: s.policy,
    command: "docker system prune -f",
    kind: "command" as const,
    host: "web1",
    visibleTools: new Set(["ssh_exec_run", "ssh_docker_ps", "ssh_docker_logs"]),
  };
  assert.equal(s.checker.cheatsheetMatch(req), null);
  assert.deepEqual(s.checker.cheatsheet(req), { warning: null, patternId: null });
  assert.equal(s.checker.admit(req).decision.reason, "allowlist");
  const visible = { ...req, visibleTools: new Set([...req.visibleTools, "ssh_docker_prune"]) };
  assert.throws(
    () => s.checker.cheatsheet(visible),
    (e) => isToolError(e, "CommandIsCheatsheetMatch"),
  );
});

Deno.test("non-matching commands stay unmatched; other patterns keep their texts", () => {
  for (
    const c of [
      "apt list --installed",
      "apt search x",
      "apt show x",
      "dpkg -l",
      "uname -a",
      "ps aux",
      "df -h",
      "myjournalctl",
      "dockerd --version",
      "systemctl reboot",
      "systemctl --version",
      "for f in *; do echo $f; done",
      "cat /etc/passwd >> /tmp/all-passwds",
      "mkdir a && cd a",
      "echo docker ps",
      "grep -r docker /etc | wc -l",
      "kubectl logs web",
      "LC_ALL=C docker ps",
      "nice docker ps",
      "/bin/cat /etc/shadow",
    ]
  ) {
    assert.equal(
      hit(c, { visibleTools: new Set(["ssh_docker_ps", "ssh_sftp_download"]) }),
      null,
      c,
    );
    assert.equal(hit(c), null, c);
  }
  for (const c of ["cat /etc/hosts", "sudo vim /etc/hosts", "rm -rf /opt/x", "uptime > /tmp/u"]) {
    const withHost = hit(c)!;
    const without = matchCheatsheet(c, { redactListed: () => false })!;
    assert.deepEqual(withHost, without, c);
    assert.equal(withHost.suggestedCall, undefined, c);
    assert.equal(refusalMessage("ssh_exec_run", withHost), refusalMessage("ssh_exec_run", without));
    assert.equal(optOutWarning("ssh_exec_run", withHost), optOutWarning("ssh_exec_run", without));
  }
});
