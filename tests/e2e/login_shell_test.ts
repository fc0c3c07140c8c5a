/**
 * TIMEOUT-3 probe against real login shells: dash and bash pass it and get
 * the pid marker; tcsh (csh family) expands `$$` too, but reads the marker's
 * `>&2` as "both streams to a file named 2", so it must fail the probe, get no
 * prefix, and still run commands.
 */

import assert from "node:assert/strict";
import { withFleetServer } from "../_support/fleet.ts";
import { type LoginShell, testUser } from "../_support/sshd.ts";

/** Exists as a file or directory (as root: the test users' homes are readable). */
async function exists(path: string): Promise<boolean> {
  return await Deno.lstat(path).then(() => true, () => false);
}

const CASES: { shell: LoginShell; posix: boolean }[] = [
  { shell: "sh", posix: true },
  { shell: "bash", posix: true },
  { shell: "tcsh", posix: false },
];

for (const { shell, posix } of CASES) {
  Deno.test(`TIMEOUT-3/TIMEOUT-10: login shell ${shell} ${posix ? "passes" : "fails"} the POSIX probe; commands run; nothing written to a file named 2`, async () => {
    const user = await testUser(shell);
    const stray = `${user.home}/2`;
    await Deno.remove(stray).catch(() => {});
    await withFleetServer(1, async ({ s }) => {
      const r = await s.ok<{ exit_code: number; stdout: string; stderr: string }>(
        "ssh_exec_run",
        { host: "h1", command: "echo hello" },
      );
      assert.equal(r.exit_code, 0, r.stderr);
      assert.equal(r.stdout, "hello\n");
      assert.ok(!r.stderr.includes("__SSHMCP_PID_"), r.stderr);
      assert.equal(await exists(stray), false, `${stray} was written by the marker's >&2`);
      const conn = s.app.pool.peek(s.app.hosts().get("h1")!);
      assert.ok(conn, "the call left a pooled connection");
      assert.equal(conn.posixShell, posix, `posixShell on a ${shell} login`);
    }, { tier: "dangerous", env: { ALLOW_ANY_COMMAND: "true" }, sshd: { loginShell: shell } });
  });
}
