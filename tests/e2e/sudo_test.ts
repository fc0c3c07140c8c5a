/**
 * The sudo tier end to end: real sshd, real sudo and doas, the real server
 * and a real MCP client (SECURITY.md §SUDO, §24.9). The host `pw` logs in as a
 * user whose sudo needs the password, `np` as a NOPASSWD user; `doas` /
 * `doaspw` use become_method = "doas" (see tests/_support/sudo.ts).
 */

import assert from "node:assert/strict";
import { auditLines } from "../_support/mcp.ts";
import { startBedServer, startSudoBed, type SudoBed } from "../_support/sudo.ts";

type Exec = {
  exit_code: number;
  stdout: string;
  stderr: string;
  hint: string | null;
  timed_out: boolean;
  stderr_bytes: number;
};

async function withBed(fn: (bed: SudoBed) => Promise<void>) {
  const bed = await startSudoBed();
  try {
    await fn(bed);
  } finally {
    await bed.stop();
  }
}

Deno.test("SUDO-1/AC-151/AC-152: sudo tools only with ALLOW_DANGEROUS_TOOLS and ALLOW_SUDO", async () => {
  await withBed(async (bed) => {
    for (
      const [extra, visible] of [
        [{}, true],
        [{ ALLOW_DANGEROUS_TOOLS: "false" }, false],
        [{ ALLOW_SUDO: "false" }, false],
        [{ ALLOW_DANGEROUS_TOOLS: "false", SSH_ENABLED_GROUPS: "exec,sudo" }, false],
      ] as const
    ) {
      const s = await startBedServer(bed, extra);
      try {
        const names = (await s.client.listTools()).tools.map((t) => t.name);
        const sudo = names.filter((n) => n.startsWith("ssh_sudo_"));
        assert.equal(sudo.length > 0, visible, JSON.stringify(extra));
        if (!visible) {
          // TIER-5: a hidden tool is answered exactly like an unknown one
          const r = await s.call("ssh_sudo_exec", { host: "pw", command: "id" }).catch((e) => e);
          assert.ok(r instanceof Error || r.isError === true, "hidden tool was callable");
          assert.match(String(r instanceof Error ? r.message : r.content), /not found|unknown/i);
        } else {
          assert.ok(sudo.includes("ssh_sudo_capabilities"));
          assert.ok(sudo.includes("ssh_sudo_exec"));
        }
      } finally {
        await s.close();
      }
    }
  });
});

Deno.test("AC-600/AC-017: with a password: argv `sudo -S -p [ssh-mcp-sudo:<nonce>] -- sh -c '<cmd>'`, password only on stdin, prompt removed", async () => {
  await withBed(async (bed) => {
    const audit = `${bed.dir}/audit.log`;
    const logs: string[] = [];
    const { Logger } = await import("../../src/log.ts");
    const s = await startBedServer(bed, { SSH_AUDIT_LOG: audit, LOG_LEVEL: "DEBUG" }, {
      logger: new Logger({ level: "DEBUG", sink: (l) => logs.push(l) }),
    });
    try {
      const r = await s.ok<Exec>("ssh_sudo_exec", {
        host: "pw",
        command: "id -u; ps -o args= -p $PPID",
      });
      assert.equal(r.exit_code, 0);
      const [uid, argv] = r.stdout.trim().split("\n");
      assert.equal(uid, "0");
      assert.match(argv!, /^sudo -S -p \[ssh-mcp-sudo:[0-9a-f]{16}\] -- sh -c /);
      assert.ok(argv!.endsWith("id -u; ps -o args= -p $PPID"), argv);
      assert.equal(r.stderr, "", "the prompt is removed from stderr");
      assert.equal(r.stderr_bytes, 0);
      for (const text of [JSON.stringify(r), await Deno.readTextFile(audit), logs.join("\n")]) {
        assert.ok(!text.includes(bed.password), "password leaked into result, audit or log");
      }
    } finally {
      await s.close();
    }
  });
});

Deno.test("AC-601: no password source -> `sudo -n -- sh -c`; NOPASSWD works, password-required fails as data with a hint", async () => {
  await withBed(async (bed) => {
    const s = await startBedServer(bed, { SSH_SUDO_PASSWORD_CMD: "" });
    try {
      const np = await s.ok<Exec>("ssh_sudo_exec", {
        host: "np",
        command: "ps -o args= -p $PPID",
      });
      assert.match(np.stdout, /^sudo -n -- sh -c /);
      const pw = await s.ok<Exec>("ssh_sudo_exec", { host: "pw", command: "id -u" });
      assert.equal(pw.exit_code, 1);
      assert.match(pw.stderr, /a password is required/);
      assert.match(pw.hint ?? "", /no sudo password source/);
    } finally {
      await s.close();
    }
  });
});

Deno.test("AC-602: a command with ; | $() and ' reaches sh -c as one argument", async () => {
  await withBed(async (bed) => {
    const s = await startBedServer(bed);
    try {
      const r = await s.ok<Exec>("ssh_sudo_exec", {
        host: "pw",
        command: `echo "it's"; echo $(id -u) | tr 0 Z`,
      });
      assert.equal(r.stdout, "it's\nZ\n");
    } finally {
      await s.close();
    }
  });
});

Deno.test("AC-606/SUDO-4 (NOPASSWD): `cat` and run_script never receive the password; the password is never executed", async () => {
  await withBed(async (bed) => {
    const s = await startBedServer(bed);
    try {
      const cat = await s.ok<Exec>("ssh_sudo_exec", { host: "np", command: "cat" });
      assert.equal(cat.exit_code, 0);
      assert.equal(cat.stdout, "", "cat got EOF, not the password");
      const script = await s.ok<Exec>("ssh_sudo_run_script", { host: "np", script: "id -u" });
      assert.equal(script.stdout, "0\n");
      assert.equal(script.stderr, "", "no 'command not found' from an executed password line");
      for (const r of [cat, script]) assert.ok(!JSON.stringify(r).includes(bed.password));
    } finally {
      await s.close();
    }
  });
});

Deno.test("SUDO-7: run_script with a password: the body reaches root's sh only after authentication", async () => {
  await withBed(async (bed) => {
    const s = await startBedServer(bed);
    try {
      const r = await s.ok<Exec>("ssh_sudo_run_script", {
        host: "pw",
        script: "id -u\nread -r line || echo eof\necho after\n",
      });
      assert.equal(r.stdout, "0\neof\nafter\n");
      assert.ok(!JSON.stringify(r).includes(bed.password));
    } finally {
      await s.close();
    }
  });
});

Deno.test("SUDO-5/AC-608: wrong password -> exit 1 'sudo: authentication failed' + hint; the script never runs", async () => {
  await withBed(async (bed) => {
    const s = await startBedServer(bed, { SSH_SUDO_PASSWORD_CMD: "printf 'wrong-password'" });
    const marker = `${bed.dir}/ran-${crypto.randomUUID()}`;
    try {
      const r = await s.ok<Exec>("ssh_sudo_run_script", {
        host: "pw",
        script: `touch ${marker}\n`,
      });
      assert.equal(r.exit_code, 1);
      assert.equal(r.stderr, "sudo: authentication failed\n");
      assert.match(r.hint ?? "", /rejected/);
      assert.equal(r.timed_out, false);
      await assert.rejects(Deno.stat(marker), "the payload must never run");
      const e = await s.ok<Exec>("ssh_sudo_exec", { host: "pw", command: "id -u" });
      assert.equal(e.exit_code, 1);
      assert.equal(e.stdout, "");
    } finally {
      await s.close();
    }
  });
});

Deno.test("AC-609: output imitating the prompt (stdout, stderr with another nonce) never makes the server send the password", async () => {
  await withBed(async (bed) => {
    const s = await startBedServer(bed);
    try {
      const r = await s.ok<Exec>("ssh_sudo_exec", {
        host: "np",
        command:
          "true; printf '[ssh-mcp-sudo:0123456789abcdef]'; printf '[ssh-mcp-sudo:0123456789abcdef]\\n' 1>&2; cat",
      });
      assert.equal(r.stdout, "[ssh-mcp-sudo:0123456789abcdef]");
      assert.ok(!r.stdout.includes(bed.password));
    } finally {
      await s.close();
    }
  });
});

Deno.test("AC-431/SCRIPT-2: ssh_sudo_run_script refused on a host whose command policy is not allow-any", async () => {
  await withBed(async (bed) => {
    const s = await startBedServer(bed);
    try {
      const e = await s.err("ssh_sudo_run_script", { host: "locked", script: "id" });
      assert.equal(e.code, "CommandNotAllowed");
      assert.equal(e.meta.reason, "script-needs-allow-any");
      const c = await s.err("ssh_sudo_exec", { host: "locked", command: "id" });
      assert.equal(c.code, "CommandNotAllowed");
    } finally {
      await s.close();
    }
  });
});

Deno.test("AC-539/CHEAT-4: ssh_sudo_exec applies the cheatsheet and names itself", async () => {
  await withBed(async (bed) => {
    const s = await startBedServer(bed);
    try {
      const e = await s.err("ssh_sudo_exec", { host: "pw", command: "cat /etc/shadow" });
      assert.equal(e.code, "CommandIsCheatsheetMatch");
      assert.match(e.message, /ssh_sudo_exec/);
    } finally {
      await s.close();
    }
  });
});

Deno.test("become_method doas: nopass rule works with the same handshake (no password ever written); password rule fails with a hint", async () => {
  await withBed(async (bed) => {
    const s = await startBedServer(bed);
    try {
      const r = await s.ok<Exec>("ssh_sudo_exec", {
        host: "doas",
        command: "id -u; ps -o args= -p $PPID; cat",
      });
      const [uid, argv] = r.stdout.split("\n");
      assert.equal(uid, "0");
      assert.match(argv!, /^doas -n -- sh -c /);
      assert.ok(!r.stdout.includes(bed.password));
      assert.equal(r.stderr, "");
      const script = await s.ok<Exec>("ssh_sudo_run_script", {
        host: "doas",
        script: "id -u\n",
      });
      assert.equal(script.stdout, "0\n");
      const pw = await s.ok<Exec>("ssh_sudo_exec", { host: "doaspw", command: "cat" });
      assert.equal(pw.exit_code, 1);
      assert.match(pw.stderr, /doas: Authentication required/);
      assert.match(pw.hint ?? "", /nopass/);
    } finally {
      await s.close();
    }
  });
});

Deno.test("ssh_sudo_capabilities: parsed sudo -l per host, cached, refreshed on demand; doas probe", async () => {
  await withBed(async (bed) => {
    const audit = `${bed.dir}/audit-caps.log`;
    const s = await startBedServer(bed, { SSH_AUDIT_LOG: audit });
    try {
      type Caps = {
        can_elevate: boolean;
        password_required: string;
        rules: { command: string; nopasswd: boolean; runas_users: string[] }[];
        defaults: string[];
        cached: boolean;
        method: string;
      };
      const pw = await s.ok<Caps>("ssh_sudo_capabilities", { host: "pw" });
      assert.equal(pw.method, "sudo");
      assert.equal(pw.can_elevate, true);
      assert.equal(pw.password_required, "always");
      assert.deepEqual(pw.rules.map((r) => [r.command, r.nopasswd]), [
        ["ALL", false],
        ["/usr/bin/id", true],
      ]);
      assert.ok(pw.defaults.includes("timestamp_timeout=0"));
      assert.equal(pw.cached, false);
      const again = await s.ok<Caps>("ssh_sudo_capabilities", { host: "pw" });
      assert.equal(again.cached, true);
      assert.deepEqual(again.rules, pw.rules);
      const fresh = await s.ok<Caps>("ssh_sudo_capabilities", { host: "pw", refresh: true });
      assert.equal(fresh.cached, false);
      const np = await s.ok<Caps>("ssh_sudo_capabilities", { host: "np" });
      assert.equal(np.password_required, "never");
      const doas = await s.ok<Caps>("ssh_sudo_capabilities", { host: "doas" });
      assert.deepEqual([doas.method, doas.can_elevate], ["doas", true]);
      const doaspw = await s.ok<Caps>("ssh_sudo_capabilities", { host: "doaspw" });
      assert.equal(doaspw.can_elevate, false);
      const lines = auditLines(await Deno.readTextFile(audit));
      assert.equal(lines.filter((l) => l.tool === "ssh_sudo_capabilities").length, 6);
      assert.ok(!(await Deno.readTextFile(audit)).includes(bed.password));
    } finally {
      await s.close();
    }
  });
});
