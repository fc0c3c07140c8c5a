/**
 * Issue 9 §7: pool rules that survived the mutation run of the existing
 * suite, held end to end through the MCP client on fake hosts:
 *
 * - the blocklist is applied again to every hop when a route is opened
 *   (SECURITY.md HOST-4, HOST-8): a target whose jump host is blocklisted is
 *   refused with HostBlocked and nothing is dialled (the registry checks only
 *   the target; the jump host is reached through the pool alone);
 * - the idle reaper never closes a connection while a command runs on it
 *   (TIMEOUT-6, AC-036).
 */

import assert from "node:assert/strict";
import { withFakeHosts } from "../pipeline/_fixture.ts";

Deno.test("HOST-4/HOST-8 (§7 rules): a blocklisted jump host is refused when the route is opened; nothing is dialled", async () => {
  await withFakeHosts(
    [
      { alias: "jump", fake: { address: "127.0.0.51" } },
      { alias: "web", fake: { address: "127.0.0.52" }, toml: 'proxy_jump = "jump"' },
    ],
    async (c) => {
      const e = await c.s.err("ssh_exec_run", { host: "web", command: "true" });
      assert.equal(e.code, "HostBlocked", e.message);
      assert.match(e.message, /127\.0\.0\.51.*SSH_HOSTS_BLOCKLIST/);
      assert.deepEqual([c.fakes.jump!.connections, c.fakes.web!.connections], [0, 0]);
      // the jump host itself is refused too (the registry's own check)
      assert.equal(
        (await c.s.err("ssh_exec_run", { host: "jump", command: "true" })).code,
        "HostBlocked",
      );
    },
    {
      tier: "dangerous",
      env: { ALLOW_ANY_COMMAND: "true", SSH_HOSTS_BLOCKLIST: "127.0.0.51" },
    },
  );
});

Deno.test("TIMEOUT-6/AC-036 (§7 rules): the idle reaper never closes a connection while a command runs on it", async () => {
  await withFakeHosts(
    [{ alias: "h1" }],
    async (c) => {
      const { s } = c;
      const f = c.fakes.h1!;
      const run = s.call("ssh_exec_run", { host: "h1", command: "sleep 1; echo done" });
      const end = Date.now() + 10_000;
      while (!f.commands().some((x) => x.includes("sleep 1")) && Date.now() < end) {
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.equal(s.app.pool.size, 1);
      // far past SSH_IDLE_TIMEOUT, but a channel is open: nothing is closed
      const reaped = s.app.pool.reapIdle(Date.now() + 3_600_000);
      const r = await run;
      assert.equal(reaped, 0, "a connection with a running command was reaped");
      assert.ok(!r.isError, JSON.stringify(r.content));
      const out = r.structuredContent as { stdout: string; exit_code: number };
      assert.deepEqual([out.stdout, out.exit_code], ["done\n", 0]);
      // once idle, the same call closes it
      assert.equal(s.app.pool.reapIdle(Date.now() + 3_600_000), 1);
      assert.equal(s.app.pool.size, 0);
    },
    { tier: "dangerous", env: { ALLOW_ANY_COMMAND: "true", SSH_IDLE_TIMEOUT: "60" } },
  );
});
