/**
 * TIMEOUT-3 probe against real login shells. A new connection opens no probe
 * channel: its first command carries the probe in its pid marker (`42:<pid>`
 * only where `$((6*7))` is arithmetic). dash and bash answer it and get the
 * marker; tcsh (csh family) and fish refuse the whole line before running any
 * of it (tcsh: an illegal variable; fish: a parse error), so the command runs
 * once more without the marker and nothing is written to a file named `2`
 * (tcsh reads the marker's `>&2` as "both streams to a file named 2").
 *
 * Every case counts the command's side effect: each call runs exactly once,
 * also when several first calls race on the fresh connection.
 */

import assert from "node:assert/strict";
import { withFleetServer } from "../_support/fleet.ts";
import { procsWith, sleeper, waitFor } from "../_support/procs.ts";
import { type LoginShell, testUser } from "../_support/sshd.ts";

/** Exists as a file or directory (as root: the test users' homes are readable). */
async function exists(path: string): Promise<boolean> {
  return await Deno.lstat(path).then(() => true, () => false);
}

const CASES: { shell: LoginShell; posix: boolean }[] = [
  { shell: "sh", posix: true },
  { shell: "bash", posix: true },
  { shell: "tcsh", posix: false },
  { shell: "fish", posix: false },
];

type Exec = { exit_code: number; stdout: string; stderr: string; timed_out: boolean };

for (const { shell, posix } of CASES) {
  Deno.test(`TIMEOUT-3/TIMEOUT-10: login shell ${shell} ${posix ? "passes" : "fails"} the POSIX probe its first commands carry; each runs once; nothing written to a file named 2`, async () => {
    const user = await testUser(shell);
    const stray = `${user.home}/2`;
    const runs = `${user.home}/sshmcp-probe-runs`;
    await Deno.remove(stray).catch(() => {});
    await Deno.remove(runs).catch(() => {});
    // the same text in every shell family: a word to stdout, a line appended
    const command = "echo hello; echo ran >> ~/sshmcp-probe-runs";
    const lines = async () =>
      (await Deno.readTextFile(runs).catch(() => "")).split("\n").filter(Boolean).length;
    await withFleetServer(1, async ({ s }) => {
      // four first calls at once on the new connection: one carries the probe,
      // the others wait for its answer
      const first = await Promise.all(
        [1, 2, 3, 4].map(() => s.ok<Exec>("ssh_exec_run", { host: "h1", command })),
      );
      for (const r of first) {
        assert.equal(r.exit_code, 0, r.stderr);
        assert.equal(r.stdout, "hello\n");
        assert.equal(r.stderr, "", `${shell}: the refused probe line must not reach the result`);
      }
      assert.equal(await lines(), 4, "each of the four first calls ran exactly once");
      const conn = s.app.pool.peek(s.app.hosts().get("h1")!);
      assert.ok(conn, "the calls left a pooled connection");
      assert.equal(conn.posixShell, posix, `posixShell on a ${shell} login`);
      const again = await s.ok<Exec>("ssh_exec_run", { host: "h1", command });
      assert.equal(again.stdout, "hello\n");
      assert.equal(await lines(), 5);
      assert.equal(await exists(stray), false, `${stray} was written by the marker's >&2`);
    }, { tier: "dangerous", env: { ALLOW_ANY_COMMAND: "true" }, sshd: { loginShell: shell } });
  });
}

for (const { shell, posix } of CASES) {
  Deno.test(
    `TIMEOUT-3: a first command with its input on stdin (ssh_exec_script) gets all of it on a ${shell} login${
      posix ? "" : ", also when it is sent a second time"
    }`,
    async () => {
      const user = await testUser(shell);
      const runs = `${user.home}/sshmcp-probe-script-runs`;
      await Deno.remove(runs).catch(() => {});
      // 3,000 lines: more than one channel window packet of input
      const body = Array.from({ length: 3000 }, (_, i) => `: line ${i}`).join("\n");
      const script = `${body}\necho ran >> ${runs}\nprintf '%s\\n' "$(($(wc -c < ${runs}) + 1))"\n`;
      await withFleetServer(1, async ({ s }) => {
        const r = await s.ok<Exec>("ssh_exec_script", { host: "h1", script });
        assert.equal(r.exit_code, 0, r.stderr);
        assert.equal(r.stdout, "5\n", "the whole script ran, once");
        assert.equal(r.stderr, "");
        assert.equal(await Deno.readTextFile(runs), "ran\n");
        assert.equal(s.app.pool.peek(s.app.hosts().get("h1")!)?.posixShell, posix);
      }, { tier: "dangerous", env: { ALLOW_ANY_COMMAND: "true" }, sshd: { loginShell: shell } });
    },
  );
}

for (const shell of ["sh", "bash"] as const) {
  Deno.test(`TIMEOUT-3: on a ${shell} login the first command of a new connection (the one carrying the probe) is killed with its process group on timeout`, async () => {
    await testUser(shell);
    const { cmd, token } = sleeper();
    await withFleetServer(1, async ({ s }) => {
      const r = await s.ok<Exec>("ssh_exec_run", {
        host: "h1",
        command: `${cmd}; echo not-killed`,
        timeout: 1,
      });
      assert.equal(r.timed_out, true);
      assert.ok(!r.stdout.includes("not-killed"), r.stdout);
      await waitFor(async () => (await procsWith(token)).length === 0, 10_000, `${token} gone`);
    }, { tier: "dangerous", env: { ALLOW_ANY_COMMAND: "true" }, sshd: { loginShell: shell } });
  });
}
