/**
 * Pipeline stage "command": the host's command_allowlist decides, one
 * `policy_decision` line either way; a refused command never reaches the host,
 * an admitted one reaches it byte for byte (behind the exec engine's PID
 * marker, which carries the connection's POSIX probe on its first command). Run under dash and bash as the
 * fake host's login shell.
 */

import assert from "node:assert/strict";
import { PID_MARKER_PREFIX, PROBE_MARKER_PREFIX, SHELLS, withFakeHosts } from "./_fixture.ts";
import { ENV_PROGRAM, SAFE_PATH } from "../../src/policy/commands.ts";

/** What the server sends for an admitted `ls` under an allowlist (EXEC-22). */
const EMITTED_LS = `'${ENV_PROGRAM}' 'PATH=${SAFE_PATH}' 'ls'`;

for (const shell of SHELLS) {
  Deno.test(`pipeline command (${shell}): allowlist refuses 'id' with no I/O; 'ls' runs as the re-emitted text (EXEC-22)`, async () => {
    await withFakeHosts(
      [{ alias: "h1", fake: { shell }, toml: 'command_allowlist = ["ls"]' }],
      async (c) => {
        const { s } = c;
        const f = c.fakes.h1!;
        await Deno.writeTextFile(`${f.home}/marker-file.txt`, "x");

        const e = await s.err("ssh_exec_run", { host: "h1", command: "id" });
        assert.equal(e.code, "CommandNotAllowed");
        assert.equal(e.meta.reason, "not-allowlisted");
        let lines = await c.fresh();
        assert.deepEqual(
          lines.map((l) => [l.type, l.decision ?? l.error]),
          [["policy_decision", "deny"], ["audit", "CommandNotAllowed"]],
        );
        assert.equal(lines[0]!.reason, "not-allowlisted");
        assert.match(String(lines[0]!.command_hash), /^sha256:[0-9a-f]{16}$/);
        assert.equal(lines[0]!.command_hash, lines[1]!.command_hash);
        assert.equal(lines[0]!.correlation_id, lines[1]!.correlation_id);
        assert.equal(f.connections, 0, "a refused command must not open a connection");
        assert.equal(f.records.length, 0, "nothing may reach the host");

        const r = await s.ok("ssh_exec_run", { host: "h1", command: "ls" });
        assert.equal(r.exit_code, 0);
        assert.equal(r.stdout, "marker-file.txt\n");
        assert.equal(r.stderr, "", "the PID marker line must be removed from stderr");
        lines = await c.fresh();
        assert.deepEqual(
          lines.map((l) => [l.type, l.decision ?? l.result]),
          [["policy_decision", "allow"], ["audit", "ok"]],
        );
        // exactly what reached the host: the command, carrying the connection's
        // login-shell probe in its marker (no probe channel of its own)
        assert.deepEqual(f.records.map((x) => x.kind), ["exec"]);
        assert.match(f.records[0]!.command, PROBE_MARKER_PREFIX);
        assert.equal(f.records[0]!.command.replace(PID_MARKER_PREFIX, ""), EMITTED_LS);

        // the pooled connection is reused: one more exec with the plain marker, no new TCP connection
        const again = await s.ok("ssh_exec_run", { host: "h1", command: "ls" });
        assert.equal(again.stdout, "marker-file.txt\n");
        assert.equal(f.connections, 1);
        assert.equal(f.records.length, 2);
        assert.doesNotMatch(f.records[1]!.command, PROBE_MARKER_PREFIX);
        assert.match(f.records[1]!.command, PID_MARKER_PREFIX);
        assert.equal(new Set(f.records.map((x) => x.conn)).size, 1);
        assert.deepEqual(f.commands(), [EMITTED_LS, EMITTED_LS]);
        // an allowlisted program with a shell operator is another command: refused, nothing sent
        const chained = await s.err("ssh_exec_run", { host: "h1", command: "ls; id" });
        assert.equal(chained.code, "CommandNotAllowed");
        assert.equal(f.records.length, 2);
      },
      { tier: "dangerous" },
    );
  });
}
