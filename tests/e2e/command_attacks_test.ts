/**
 * Issue 9 §1 "Commands: what runs is what was checked", end to end against
 * real OpenSSH hosts whose login shell is bash AND dash, through a real MCP
 * client. Every attack runs twice: on a control host whose policy is
 * "allow any" (the attack is real there: `id` runs) and on a host with a
 * restrictive policy (refused, naming the construct). Rule ids: EXEC-22..48
 * (docs/security/exec.md).
 */

import assert from "node:assert/strict";
import { withFleetServer } from "../_support/fleet.ts";
import type { McpHandle } from "../_support/mcp.ts";
import { type LoginShell, tempDir, testUser } from "../_support/sshd.ts";

const SHELLS: readonly LoginShell[] = ["sh", "bash"];

/** What `id` (or `/usr/bin/id <arg>`) leaves in the output when it ran. */
const RAN_ID = /uid=\d+\(|\/usr\/bin\/id: /;

/** The cheatsheet (an ergonomic control) would answer `ls x` first; these tests are about the policy. */
const NO_CHEATSHEET = { SSH_EXEC_ALLOW_CHEATSHEET_PATTERNS: "true" };

type Exec = { exit_code: number; stdout: string; stderr: string };

interface Attack {
  command: string;
  /** login shells on which the attack runs `id` under "allow any" */
  realOn: readonly LoginShell[];
  /**
   * the refusal reason under the restrictive policy, or null when the command is admitted and
   * runs with its words literal (the attack is neutralised, not refused)
   */
  reason: string | null;
  /** restrictive host (default h1) */
  host?: string;
}

/** Runs `a` on the control host h2 (must run id where real) and on the restrictive host. */
async function attack(s: McpHandle, shell: LoginShell, a: Attack): Promise<void> {
  const control = await s.ok<Exec>("ssh_exec_run", { host: "h2", command: a.command });
  if (a.realOn.includes(shell)) {
    assert.match(
      control.stdout + control.stderr,
      RAN_ID,
      `${a.command}: the attack should run id on an allow-any ${shell} host`,
    );
  }
  const r = await s.call("ssh_exec_run", { host: a.host ?? "h1", command: a.command });
  const text = r.content.map((c) => (c.type === "text" ? c.text : "")).join("");
  assert.ok(!RAN_ID.test(text), `${a.command}: id ran on the restrictive ${shell} host: ${text}`);
  if (a.reason === null) {
    assert.ok(!r.isError, `${a.command}: refused on the restrictive ${shell} host: ${text}`);
    return;
  }
  assert.ok(r.isError, `${a.command}: admitted on the restrictive ${shell} host: ${text}`);
  const meta = (r._meta ?? {})["ssh-mcp/error"] as Record<string, unknown>;
  assert.match(text, /^CommandNotAllowed: /, a.command);
  assert.equal(meta.reason, a.reason, `${a.command}: ${text}`);
}

for (const shell of SHELLS) {
  Deno.test(`EXEC-27/EXEC-32/EXEC-33/EXEC-34 (${shell}): the issue's expansion, array and builtin attacks run id under allow-any, never under an allowlist`, async () => {
    const user = await testUser(shell);
    // dash runs `a[0]=./<dir>/evil` as the program ./a[0]=./<dir>/evil (relative to the home directory)
    const dir = `a[0]=.`;
    const sub = `evil-${crypto.randomUUID().slice(0, 8)}`;
    await Deno.mkdir(`${user.home}/${dir}/${sub}`, { recursive: true });
    await Deno.writeTextFile(`${user.home}/${dir}/${sub}/evil`, "#!/bin/sh\nid\n", { mode: 0o755 });
    await Deno.chmod(`${user.home}/${dir}`, 0o755);
    await Deno.chmod(`${user.home}/${dir}/${sub}`, 0o755);
    try {
      await withFleetServer(4, async ({ s }) => {
        const attacks: Attack[] = [
          {
            command: "x='a[$(id >&2)]'; ls $((x))",
            realOn: ["bash"],
            reason: "run-time-expansion",
          },
          {
            command: "ls $((x))",
            realOn: [],
            reason: "run-time-expansion",
          },
          { command: "x='$(id >&2)'; ls ${x@P}", realOn: ["bash"], reason: "run-time-expansion" },
          { command: "ls ${x@P}", realOn: [], reason: "run-time-expansion" },
          { command: "ls ${!x} /", realOn: [], reason: "run-time-expansion" },
          {
            command: "BASH_CMDS[ls]=/usr/bin/id; ls",
            realOn: ["bash"],
            reason: "unsupported-construct",
          },
          // an assignment-only line passed an EMPTY allowlist (h3)
          {
            command: "x='a[$(id >&2)]'; y=$((x))",
            realOn: ["bash"],
            reason: "run-time-expansion",
            host: "h3",
          },
          { command: "x='a[$(id >&2)]'", realOn: [], reason: "not-allowlisted", host: "h3" },
          {
            command: `a[0]=./${sub}/evil`,
            realOn: ["sh"],
            reason: "unsupported-construct",
            host: "h3",
          },
          { command: `a[0]=./${sub}/evil`, realOn: ["sh"], reason: "unsupported-construct" },
          // bash builtins evaluate array subscripts in their arguments even when quoted
          // runs as /usr/bin/printf (EXEC-24): the words stay literal
          { command: "printf -v 'a[$(id >&2)]' %s 1", realOn: ["bash"], reason: null, host: "h4" },
          {
            command: "LANG='a[$(id >&2)]' printf -v 'b[LANG]' %s 1",
            realOn: ["bash"],
            reason: "env-not-allowed",
            host: "h4",
          },
          {
            command: "read 'a[$(id >&2)]' <<< x",
            realOn: ["bash"],
            reason: "shell-builtin",
            host: "h4",
          },
          { command: "ls *", realOn: [], reason: "run-time-expansion" },
          { command: "ls ~", realOn: [], reason: "run-time-expansion" },
          { command: "ls {a,b}", realOn: [], reason: "run-time-expansion" },
          { command: "ls $HOME", realOn: [], reason: "run-time-expansion" },
          { command: 'ls "$(id)"', realOn: ["sh", "bash"], reason: "unsupported-construct" },
        ];
        for (const a of attacks) await attack(s, shell, a);
        // the printf/read attacks are refused because the names are builtins, not because of a
        // missing allow: h4 allowlists them
        const ok = await s.ok<Exec>("ssh_exec_run", {
          host: "h4",
          command: "printf '%s|' 'a[$(id)]' b",
        });
        assert.equal(ok.stdout, "a[$(id)]|b|", "printf runs as /usr/bin/printf with literal words");
      }, {
        tier: "dangerous",
        env: NO_CHEATSHEET,
        sshd: { loginShell: shell },
        perHost: (a) =>
          a === "h1"
            ? 'command_allowlist = ["ls"]'
            : a === "h2"
            ? 'command_allowlist = ["*"]'
            : a === "h3"
            ? "command_allowlist = []"
            : 'command_allowlist = ["printf", "read", "ls"]',
      });
    } finally {
      await Deno.remove(`${user.home}/${dir}/${sub}`, { recursive: true });
      await Deno.remove(`${user.home}/${dir}`).catch(() => {});
    }
  });
}

for (const shell of SHELLS) {
  Deno.test(`EXEC-30/EXEC-31/EXEC-47 (${shell}): interpreter hooks in the environment never turn an allowlisted tool into code execution`, async () => {
    await withFleetServer(2, async ({ s }) => {
      const attacks: Attack[] = [
        {
          command: "PERL5OPT=-d PERL5DB='exec \"id\"' shasum /dev/null",
          realOn: ["sh", "bash"],
          reason: "dangerous-env",
        },
        {
          command: "PYTHONWARNINGS=all:0:antigravity.x:0:0 BROWSER=/usr/bin/id pip3 --version",
          realOn: ["sh", "bash"],
          reason: "dangerous-env",
        },
        {
          command: "LD_PRELOAD=/nonexistent.so shasum /dev/null",
          realOn: [],
          reason: "dangerous-env",
        },
        { command: "GIT_PAGER=id PAGER=id shasum /dev/null", realOn: [], reason: "dangerous-env" },
        { command: "FOO=1 shasum /dev/null", realOn: [], reason: "env-not-allowed" },
        { command: "LANG='C;id' shasum /dev/null", realOn: [], reason: "env-not-allowed" },
        // an allowed name with a literal value runs
        { command: "LC_ALL=C TZ=UTC shasum /dev/null", realOn: [], reason: null },
      ];
      for (const a of attacks) await attack(s, shell, a);
      const r = await s.ok<Exec>("ssh_exec_run", {
        host: "h1",
        command: "LC_ALL=C shasum /dev/null",
      });
      assert.match(r.stdout, /^da39a3ee5e6b4b0d3255bfef95601890afd80709 {2}\/dev\/null\n$/);
    }, {
      tier: "dangerous",
      // the operator lists hook names: they are refused anyway (EXEC-31)
      env: {
        ...NO_CHEATSHEET,
        SSH_COMMAND_ENV_ALLOWLIST: "PERL5OPT,PERL5DB,BROWSER,PYTHONWARNINGS",
      },
      sshd: { loginShell: shell },
      perHost: (a) =>
        a === "h1" ? 'command_allowlist = ["shasum", "pip3"]' : 'command_allowlist = ["*"]',
    });
  });

  Deno.test(`EXEC-24/EXEC-36 (${shell}): a bare allowlisted name never runs a program the caller planted on the login PATH`, async () => {
    const plant = await tempDir("sshmcp-plant-");
    await Deno.writeTextFile(`${plant}/ls`, "#!/bin/sh\nid\n", { mode: 0o755 });
    try {
      await withFleetServer(2, async ({ s }) => {
        // control: the login PATH finds the planted ls first
        const control = await s.ok<Exec>("ssh_exec_run", { host: "h2", command: "ls /" });
        assert.match(control.stdout, RAN_ID, "the planted ls should run under allow-any");
        const r = await s.ok<Exec>("ssh_exec_run", { host: "h1", command: "ls /" });
        assert.ok(!RAN_ID.test(r.stdout + r.stderr), r.stdout);
        assert.match(r.stdout, /^etc$/m, "the system ls lists /");
        const e = await s.err("ssh_exec_run", { host: "h1", command: `${plant}/ls /` });
        assert.equal(e.code, "CommandNotAllowed");
        assert.equal(e.meta.reason, "not-allowlisted");
        assert.match(e.message, /path-qualified/);
        assert.match(e.message, /Write "ls"/);
      }, {
        tier: "dangerous",
        env: NO_CHEATSHEET,
        sshd: { loginShell: shell, extraConfig: [`SetEnv PATH=${plant}:/usr/bin:/bin`] },
        perHost: (a) => (a === "h1" ? 'command_allowlist = ["ls"]' : 'command_allowlist = ["*"]'),
      });
    } finally {
      await Deno.remove(plant, { recursive: true });
    }
  });

  Deno.test(`EXEC-37/EXEC-38 (${shell}): rules match word by word: * never spans words, .. never leaves a path rule`, async () => {
    await withFleetServer(2, async ({ s }) => {
      const leak = "cat /var/log/x /etc/passwd";
      const control = await s.ok<Exec>("ssh_exec_run", { host: "h2", command: leak });
      assert.match(control.stdout, /^root:/m, "the control host shows what the old glob leaked");
      for (
        const command of [leak, "cat /var/log/../../etc/passwd", "cat /var/log/x\\ /etc/passwd"]
      ) {
        const r = await s.call("ssh_exec_run", { host: "h1", command });
        const text = r.content.map((c) => (c.type === "text" ? c.text : "")).join("");
        assert.ok(!/root:/.test(text), `${command} leaked /etc/passwd: ${text}`);
        if (command.includes("..")) {
          assert.ok(r.isError, command);
          assert.match(text, /contains "\.\."/);
        } else if (command === leak) assert.ok(r.isError, command);
      }
      const miss = `/var/log/nonexistent-${crypto.randomUUID().slice(0, 8)}`;
      const ok = await s.ok<Exec>("ssh_exec_run", { host: "h1", command: `cat ${miss}` });
      assert.equal(ok.exit_code, 1);
      assert.match(ok.stderr, /No such file/);
    }, {
      tier: "dangerous",
      env: NO_CHEATSHEET,
      sshd: { loginShell: shell },
      perHost: (a) =>
        a === "h1"
          ? 'command_rules = [{ action = "allow", pattern = "cat /var/log/*" }]'
          : 'command_allowlist = ["*"]',
    });
  });

  Deno.test(`EXEC-22/EXEC-23/EXEC-26 (${shell}): every login shell reads the argv that was checked`, async () => {
    await withFleetServer(1, async ({ s }) => {
      const run = (command: string) => s.ok<Exec>("ssh_exec_run", { host: "h1", command });
      const r = await run(
        `printf '%s|' 'a b' "c'd" '$HOME' '*' '~' 'x;y' "\\$(id)" é '' "tab\there"`,
      );
      assert.equal(r.stdout, "a b|c'd|$HOME|*|~|x;y|$(id)|é||tab\there|");
      // echo runs as /usr/bin/echo: no backslash interpretation by dash's builtin
      assert.equal((await run("echo 'a\\nb'")).stdout, "a\\nb\n");
      // bash-only forms are re-emitted portably, so dash runs them too
      assert.equal((await run("cat <<< 'x y'")).stdout, "x y\n");
      assert.equal((await run("cat <<'EOF'\n$HOME `id`\nEOF")).stdout, "$HOME `id`\n");
      assert.equal((await run("cat <<-EOF\n\tplain\n\tEOF")).stdout, "plain\n");
      const both = await run("ls /nonexistent-x |& cat");
      assert.match(both.stdout, /No such file/);
      assert.equal((await run("ls /nonexistent-x &>/dev/null || echo gone")).stdout, "gone\n");
      assert.equal((await run("! false && echo negated")).stdout, "negated\n");
      const bg = await run("sleep 0 & echo fg");
      assert.equal(bg.stdout, "fg\n");
      const e = await s.err("ssh_exec_run", { host: "h1", command: "cat <<EOF\n$HOME\nEOF" });
      assert.equal(e.meta.reason, "run-time-expansion");
      assert.match(e.message, /quote the delimiter/);
    }, {
      tier: "dangerous",
      env: NO_CHEATSHEET,
      sshd: { loginShell: shell },
      perHost: () => 'command_allowlist = ["printf", "echo", "cat", "ls", "false", "sleep"]',
    });
  });
}
