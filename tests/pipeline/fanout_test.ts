/**
 * Fan-out through the pipeline (ssh_broadcast): per-target gates in memory
 * before any I/O. A blocklisted target selected by a pattern is refused alone
 * and never dialled, the other target runs, and each target gets its own audit
 * line with the call's correlation id. Naming a blocklisted host in an explicit
 * `hosts` list refuses the whole call before anything runs.
 */

import assert from "node:assert/strict";
import { withFakeHosts } from "./_fixture.ts";

Deno.test("pipeline fan-out: ssh_broadcast refuses the blocklisted target without connecting, runs the other, one audit line per target", async () => {
  await withFakeHosts(
    [
      { alias: "h1", toml: 'tags = ["web"]' },
      { alias: "h2", fake: { address: "127.0.0.2" }, toml: 'tags = ["web"]' },
    ],
    async (c) => {
      const { s } = c;
      const [f1, f2] = [c.fakes.h1!, c.fakes.h2!];

      const r = await s.ok("ssh_broadcast", {
        pattern: "web",
        command: "uname -s",
        group_output: false,
      });
      assert.deepEqual(r.hosts_matched, ["h1", "h2"]);
      assert.deepEqual(r.succeeded, ["h1"]);
      assert.deepEqual(r.failed, ["h2"]);
      assert.deepEqual(r.errors, { h2: "HostBlocked" });
      const results = r.results as Record<string, Record<string, unknown>>;
      assert.equal(results.h1!.exit_code, 0);
      assert.equal(results.h1!.stdout, "Linux\n");
      assert.equal(results.h2, undefined);

      assert.equal(f2.connections, 0, "the blocklisted target was dialled");
      assert.equal(f2.records.length, 0);
      assert.equal(f1.connections, 1);
      assert.deepEqual(f1.commands(), ["uname -s"]);

      const lines = await c.fresh();
      const cid = lines[0]!.correlation_id;
      assert.ok(lines.every((l) => l.correlation_id === cid), "one call, one correlation id");
      const pd = lines.filter((l) => l.type === "policy_decision");
      assert.deepEqual(pd.map((l) => [l.alias, l.decision]), [["h1", "allow"]]);
      const targets = lines.filter((l) => l.type === "audit" && l.alias !== null);
      assert.equal(targets.length, 2, JSON.stringify(lines));
      const t1 = targets.find((l) => l.host === "h1")!;
      const t2 = targets.find((l) => l.host === "h2")!;
      assert.deepEqual([t1.result, t1.exit_code, t1.hostname], ["ok", 0, "127.0.0.1"]);
      assert.deepEqual([t2.result, t2.error, t2.hostname], ["error", "HostBlocked", "127.0.0.2"]);
      assert.equal(t2.exit_code, undefined);
      assert.equal(t1.command_hash, t2.command_hash);
      const own = lines.filter((l) => l.type === "audit" && l.alias === null);
      assert.equal(own.length, 1, "the call's own audit line");
      assert.deepEqual([own[0]!.tool, own[0]!.result], ["ssh_broadcast", "ok"]);
      assert.equal(own[0]!.command_hash, t1.command_hash);
      assert.equal(lines.length, 4);

      // an explicit hosts list naming the blocked host: nothing runs anywhere
      const before = f1.records.length;
      const e = await s.err("ssh_broadcast", { hosts: ["h1", "h2"], command: "uname -s" });
      assert.equal(e.code, "ValueError");
      assert.match(e.message, /nothing was run: h2 \(HostBlocked\)/);
      assert.equal(f1.records.length, before);
      assert.equal(f2.connections, 0);
      const refused = await c.fresh();
      assert.deepEqual(refused.map((l) => [l.type, l.error]), [["audit", "ValueError"]]);
    },
    {
      tier: "dangerous",
      env: { ALLOW_ANY_COMMAND: "true", SSH_HOSTS_BLOCKLIST: "127.0.0.2" },
    },
  );
});
