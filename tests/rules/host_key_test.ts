/**
 * Issue 9 §7: strict host-key verification through the MCP client (SECURITY.md
 * KH-2/KH-3, the TESTBED trap "ssh2 accepts ANY host key when hostVerifier is
 * not set"). The mutation run found that only the unit tests of the verdict
 * functions held this rule in the fast suite: a `hostVerifier` that returns
 * true survived them. Here a fake host presents a key that is unknown,
 * different from the pinned one, or `@revoked`: the call fails with the
 * contract error, and the host never sees an authentication attempt (no
 * credential is offered to a host that did not prove its key) nor a command.
 */

import assert from "node:assert/strict";
import { generateEd25519 } from "../_support/fake_ssh.ts";
import { withFakeHosts } from "../pipeline/_fixture.ts";

const otherKey = () => generateEd25519("not-the-host").public.split(/\s+/).slice(0, 2).join(" ");

Deno.test("KH-2/KH-3 (§7 rules): an unknown, changed or @revoked host key is refused before any credential is offered", async () => {
  await withFakeHosts([{ alias: "h1" }], async (c) => {
    const { s, cfg } = c;
    const f = c.fakes.h1!;
    const hostEntry = `[${f.host}]:${f.port}`;
    const cases: [string, string, RegExp][] = [
      ["unknown", `[${f.host}]:1 ${f.hostPublicKey}\n`, /^UnknownHost$/],
      ["changed", `${hostEntry} ${otherKey()}\n`, /^HostKeyMismatch$/],
      [
        "revoked",
        `@revoked ${hostEntry} ${f.hostPublicKey}\n${f.knownHostsLine}\n`,
        /^HostKeyMismatch$/,
      ],
    ];
    for (const [name, knownHosts, code] of cases) {
      await Deno.writeTextFile(cfg.knownHostsPath, knownHosts);
      s.app.pool.closeAll();
      const before = f.connections;
      const e = await s.err("ssh_exec_run", { host: "h1", command: "true" });
      assert.match(e.code, code, `${name}: ${e.code}: ${e.message}`);
      assert.ok(f.connections > before, `${name}: the host was not even dialled`);
      assert.equal(f.authenticated, 0, `${name}: credentials were accepted by an unverified host`);
      assert.equal(f.records.length, 0, `${name}: something reached the unverified host`);
    }
    // the control: the pinned key connects
    await Deno.writeTextFile(cfg.knownHostsPath, `${f.knownHostsLine}\n`);
    const r = await s.ok("ssh_exec_run", { host: "h1", command: "true" });
    assert.equal(r.exit_code, 0);
    assert.equal(f.authenticated, 1);
  }, { tier: "dangerous", env: { ALLOW_ANY_COMMAND: "true" } });
});
