/**
 * What a new connection asks of the host after authentication, read from a
 * real sshd's DEBUG3 log: OpenSSH announces its host keys to every client
 * (`hostkeys-00@openssh.com`), and ssh2 would answer each announcement with a
 * `hostkeys-prove-00@openssh.com` request the host must sign with every host
 * key. The server never uses that list (KH-1, KH-7), so it never asks.
 */

import assert from "node:assert/strict";
import { startFleet } from "../_support/fleet.ts";
import { startInProcess } from "../_support/mcp.ts";

Deno.test("KH-7: a new connection never asks the host to prove its host keys; the connection works", async () => {
  const fleet = await startFleet(1, { sshd: { extraConfig: ["LogLevel DEBUG3"] } });
  const s = await startInProcess(fleet.env());
  const sshd = fleet.hosts[0]!.sshd;
  try {
    await s.ok("ssh_host_ping", { host: "h1" });
    const r = await s.ok<{ entries: unknown[] }>("ssh_host_disk_usage", { host: "h1" });
    assert.ok(r.entries.length > 0);
    assert.equal(s.app.pool.opened, 1);
    let log = "";
    for (let i = 0; i < 100 && !/notify_hostkeys: sent \d+ hostkeys/.test(log); i++) {
      await new Promise((r) => setTimeout(r, 20));
      log = await sshd.log();
    }
    // the host did announce its keys (else this test could not tell anything)
    assert.match(log, /notify_hostkeys: sent \d+ hostkeys/, "the host never announced its keys");
    assert.doesNotMatch(log, /hostkeys-prove-00@openssh\.com/);
  } finally {
    await s.close();
    await fleet.stop();
  }
});
