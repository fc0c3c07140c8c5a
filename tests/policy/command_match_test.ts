/**
 * Issue 9 §1 at the checker: rules and the denylist match the parsed words,
 * not the text (EXEC-37..45): `*` never spans words, `..` never leaves a path
 * rule, deny rules see clusters, long forms and wrappers, and the built-in
 * denylist matches meaning in any spelling.
 */

import assert from "node:assert/strict";
import { envHostPolicy } from "../../src/config/hosts.ts";
import { defaultSettings } from "../../src/config/settings.ts";
import type { CommandRule, HostPolicy, Settings } from "../../src/config/types.ts";
import { isToolError } from "../../src/errors.ts";
import { nullLogger } from "../../src/log.ts";
import { createCommandChecker } from "../../src/policy/commands.ts";
import { allowMatch, denyMatch, patternWords } from "../../src/policy/command_match.ts";
import { reachedInvocations } from "../../src/policy/command_wrappers.ts";
import { BUILTIN_COMMAND_DENYLIST } from "../../src/policy/effective.ts";

function setup(allowlist: string[], rules: CommandRule[] = [], denylist: string[] = []) {
  const settings = { ...defaultSettings() } as Settings;
  const policy = {
    ...envHostPolicy("web01", settings),
    command_allowlist: allowlist,
    command_rules: rules,
    command_denylist: denylist,
  } as HostPolicy;
  const checker = createCommandChecker({ settings, logger: nullLogger });
  return {
    reason(command: string): string {
      try {
        checker.admit({ tool: "ssh_exec_run", policy, command, kind: "command" });
        return "allowed";
      } catch (e) {
        if (!isToolError(e)) throw e;
        return e.code === "CommandNotAllowed" ? String(e.attributes.reason) : e.code;
      }
    },
    rule(command: string): string | null {
      try {
        return checker.admit({ tool: "ssh_exec_run", policy, command, kind: "command" }).decision
          .rule;
      } catch (e) {
        if (!isToolError(e)) throw e;
        return `refused:${e.attributes.rule}`;
      }
    },
  };
}

Deno.test("EXEC-37: allow rules match word by word; * never spans a word boundary; ** any run of words", () => {
  const s = setup([], [
    { action: "allow", pattern: "cat /var/log/*" },
    { action: "allow", pattern: "journalctl -u * **" },
    { action: "allow", pattern: "systemctl status *" },
  ]);
  assert.equal(s.reason("cat /var/log/syslog"), "allowed");
  assert.equal(s.reason("cat /var/log/nginx/access.log"), "allowed");
  assert.equal(s.reason("cat /var/log/x /etc/passwd"), "not-allowlisted");
  assert.equal(s.reason("cat '/var/log/x /etc/passwd'"), "allowed", "one word with a space");
  assert.equal(s.reason("cat /var/log/"), "allowed");
  assert.equal(s.reason("cat /etc/passwd"), "not-allowlisted");
  assert.equal(s.reason("systemctl status nginx"), "allowed");
  assert.equal(s.reason("systemctl status nginx sshd"), "not-allowlisted");
  assert.equal(s.reason("journalctl -u nginx"), "allowed");
  assert.equal(s.reason("journalctl -u nginx -n 50 --no-pager"), "allowed");
  assert.equal(s.reason("journalctl -n 50"), "not-allowlisted");
  // the program word: a bare pattern admits only the bare program
  assert.equal(s.reason("/usr/bin/cat /var/log/x"), "not-allowlisted");
  assert.equal(s.rule("cat /var/log/x"), "cat /var/log/*");
  // a glob in the program word never admits a path-qualified program either
  const g = setup([], [{ action: "allow", pattern: "*ctl status *" }]);
  assert.equal(g.reason("systemctl status x"), "allowed");
  assert.equal(g.reason("/tmp/evilctl status x"), "not-allowlisted");
  assert.equal(g.reason("./evilctl status x"), "not-allowlisted");
  assert.deepEqual(patternWords("a\\ b  c"), ["a\\ b", "c"]);
  assert.ok(allowMatch("a\\ b c", ["a b", "c"]).ok);
});

Deno.test("EXEC-38: `..` in an argument matched by a path-shaped rule word is refused, with a message", () => {
  const s = setup([], [{ action: "allow", pattern: "cat /var/log/*" }]);
  for (
    const c of [
      "cat /var/log/../../etc/shadow",
      "cat /var/log/..",
      "cat /var/log/x/../../../etc/passwd",
    ]
  ) {
    assert.equal(s.reason(c), "not-allowlisted", c);
  }
  assert.equal(s.reason("cat /var/log/..x"), "allowed", "a name starting with .. is no segment");
  assert.deepEqual(allowMatch("cat /var/log/*", ["cat", "/var/log/../x"]), {
    ok: false,
    dotDot: "/var/log/../x",
  });
  // a rule word without / is not path-shaped
  assert.ok(allowMatch("echo *", ["echo", ".."]).ok);
});

Deno.test("EXEC-39: deny rules see option clusters, order, long forms, abbreviations, =values and wrappers", () => {
  const s = setup(["ss", "sudo", "env", "timeout", "git"], [
    { action: "deny", pattern: "ss -K" },
    { action: "deny", pattern: "git push --force" },
    { action: "allow", pattern: "ss **" },
  ]);
  for (
    const c of [
      "ss -K",
      "ss -tK",
      "ss -Kt dst 1.2.3.4",
      "ss -n -K",
      "ss --kill",
      "ss --ki",
      "ss -n --kill dport = 22",
      "sudo ss -K",
      "sudo -u root env LC_ALL=C timeout 5 ss -tK",
      "git push --force",
      "git push origin main --force",
      "git push --force=true",
      "git push --forc",
    ]
  ) {
    assert.equal(s.reason(c), "rule-deny", c);
  }
  for (const c of ["ss -tn", "ss -- -K", "git push", "git push --force-with-lease=x"]) {
    assert.notEqual(s.reason(c), "rule-deny", c);
  }
  // an option with a trailing * (as operators wrote deny rules before) is option-aware too
  const star = setup(["ss"], [{ action: "deny", pattern: "ss -K*" }]);
  for (const c of ["ss -K", "ss -tK", "ss --kill", "ss -Kn"]) {
    assert.equal(star.reason(c), "rule-deny", c);
  }
  assert.ok(denyMatch("rm -rf /", "/bin/rm", ["-r", "-f", "//"]));
  assert.ok(!denyMatch("rm -rf /", "rm", ["-r", "/"]));
});

Deno.test("EXEC-40/EXEC-41: the denylist sees commands inside compound commands, substitutions and wrappers, in every mode", () => {
  const any = setup(["*"]);
  for (
    const c of [
      "echo $(reboot)",
      "echo `reboot`",
      "if true; then reboot; fi",
      "f() { reboot; }; f",
      "(reboot)",
      "sudo -i reboot",
      "sudo -iu root reboot",
      "sudo -u admin -- /sbin/reboot",
      "sudo -s reboot",
      // sudo -i / -s hand their arguments to a shell: they are read as shell code too
      "sudo -i 'true; reboot'",
      "sh -c 'sleep 1; reboot'",
      "bash -lc reboot",
      "dash -ec 'echo; reboot -f'",
      "busybox sh -c reboot",
      "busybox reboot",
      "xargs reboot",
      "xargs -I{} -n1 reboot",
      "find / -maxdepth 0 -exec reboot \\;",
      "env -i PATH=/sbin reboot",
      "env -S 'reboot now'",
      "nice -n 10 reboot",
      "nice -10 reboot",
      "nohup reboot",
      "timeout -s KILL 5 reboot",
      "timeout --signal=KILL 5s reboot",
      "stdbuf -oL reboot",
      "setsid -f reboot",
      "ionice -c3 reboot",
      "chrt -f 10 reboot",
      "taskset -c 0 reboot",
      "flock /tmp/l reboot",
      "flock /tmp/l -c reboot",
      "watch -n 1 reboot",
      "su -c reboot",
      "su - root -c 'reboot'",
      "runuser -u root -- reboot",
      "script -qc reboot /dev/null",
      "command reboot",
      "exec reboot",
      "doas reboot",
      "sudo sh -c 'env timeout 1 bash -c \"xargs reboot\"'",
      "systemd-run --on-active=5 reboot",
    ]
  ) {
    assert.equal(any.reason(c), "denylist", c);
  }
  for (
    const c of ["grep reboot /var/log/syslog", "echo reboot", "sudo -l reboot", "command -v reboot"]
  ) {
    assert.equal(any.reason(c), "allowed", c);
  }
  const r = reachedInvocations({ program: "sudo", args: ["-u", "x", "sh", "-c", "a; b c"] });
  assert.deepEqual(r.invocations.map((i) => i.program), ["sudo", "sh", "a", "b"]);
});

Deno.test("EXEC-42: rm recursive on / in any spelling, / as // or /. or /x/.., /* and --no-preserve-root", () => {
  const any = setup(["*"]);
  for (
    const c of [
      "rm -rf /",
      "rm -fr /",
      "rm -r -f /",
      "rm -f -r /",
      "rm -Rf /",
      "rm -fR /",
      "rm --recursive --force /",
      "rm --rec --force /",
      "rm -r /",
      "rm -rf //",
      "rm -rf /.",
      "rm -rf /./",
      "rm -rf /tmp/..",
      "rm -rf -- /",
      "rm -rf /*",
      "rm -rf '/*'",
      "rm -rv /*",
      "rm -rf --no-preserve-root /",
      "rm --no-preserve-root -rf /x",
      "rm --no-pres -rf /",
      "/bin/rm -rf /",
      "'rm' -rf /",
      "r\\m -rf /",
      "sudo rm -rf /",
    ]
  ) {
    assert.equal(any.reason(c), "denylist", c);
  }
  for (const c of ["rm -rf /tmp/x", "rm -f /", "rm -rf ./", "rm -- -rf /x"]) {
    assert.equal(any.reason(c), "allowed", c);
  }
});

Deno.test("EXEC-43/EXEC-44/EXEC-45: dd of=, the reboot family through wrappers, chmod/chown on /, mkfs, shred, wipefs", () => {
  const any = setup(["*"]);
  for (
    const c of [
      "dd if=/dev/zero of=/dev/sda bs=1M",
      "dd of=/dev/sda if=/dev/zero",
      "dd of=//dev/sda",
      "dd of=/tmp/x",
      "shutdown -h now",
      "poweroff",
      "halt -f",
      "reboot",
      "/sbin/reboot",
      "telinit 0",
      "init 0",
      "init 6",
      "init -t 1 6",
      "systemctl reboot",
      "systemctl -i reboot",
      "systemctl --force poweroff",
      "systemctl start reboot.target",
      "systemctl isolate poweroff.target",
      "systemctl kexec",
      "systemctl halt",
      "chmod -R 777 /",
      "chmod 777 /",
      "chmod --recursive 700 //",
      "chmod -R u+s /.",
      "chown -R nobody /",
      "chown nobody:nogroup /",
      "chgrp -R users /",
      "mkfs.ext4 /dev/sda",
      "mkfs -t xfs /dev/sdb",
      "mke2fs /dev/sdb",
      "shred /dev/sda",
      "shred -n 1 //dev/sda",
      "wipefs -a /dev/sda",
      ":(){ :|:& };:",
    ]
  ) {
    assert.equal(any.reason(c), "denylist", c);
  }
  for (
    const c of [
      "dd if=/dev/zero of=/dev/null count=1",
      "dd if=/etc/hosts",
      "chmod -R 755 /srv/app",
      "systemctl status nginx",
      "init --version",
      "shred /tmp/secret",
    ]
  ) {
    assert.equal(any.reason(c), "allowed", c);
  }
  // the entry named in the refusal
  assert.equal(setup(["*"]).rule("rm -r -f //"), "refused:rm -r /");
  assert.ok(BUILTIN_COMMAND_DENYLIST.includes("dd of=*"));
  assert.ok(BUILTIN_COMMAND_DENYLIST.length > 15);
});

Deno.test("EXEC-17: host denylist entries match word by word too, and are added to the built-ins", () => {
  const s = setup(["*"], [], ["curl *evil*", "docker rm -f"]);
  assert.equal(s.reason("curl https://evil.example"), "denylist");
  assert.equal(s.reason("curl -s https://evil.example"), "denylist");
  assert.equal(s.reason("docker rm -f x"), "denylist");
  assert.equal(
    s.reason("docker rm --force x"),
    "allowed",
    "no known synonym for docker: list both",
  );
  assert.equal(s.reason("reboot"), "denylist");
});
