/**
 * Pipeline stages "handler", "output" and "audit" on fake hosts: a successful
 * exec writes exactly one audit line with the command hash, exit code, target
 * address and duration (under dash and bash as the login shell); an exception
 * that is not a ToolError becomes `RuntimeError ... (correlation id X)` with X
 * in the audit line and no internals in the answer.
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { z } from "zod";
import { sh } from "../../src/checked.ts";
import { defineTool, HostArg } from "../../src/tools/define.ts";
import { SHELLS, withFakeHosts } from "./_fixture.ts";

for (const shell of SHELLS) {
  Deno.test(`pipeline handler/output/audit (${shell}): one audit line with command_hash, exit_code, target_ip, duration_ms`, async () => {
    await withFakeHosts([{ alias: "h1", fake: { shell } }], async (c) => {
      const { s } = c;
      const f = c.fakes.h1!;
      // (not starting with printf/echo: `printf ... >&2` is a cheatsheet "write a file" match)
      const command = `x="$0|$(pwd)"; printf '%s' "$x"; echo oops >&2; exit 4`;
      const r = await s.ok("ssh_exec_run", { host: "h1", command });
      // the fake really ran it with this login shell, in the login directory
      assert.equal(r.stdout, `${shell}|${f.home}`);
      assert.equal(r.stderr, "oops\n");
      assert.deepEqual([r.exit_code, r.host, r.timed_out, r.killed_by_signal], [
        4,
        "127.0.0.1",
        false,
        null,
      ]);
      assert.deepEqual(f.commands(), [command]);

      const lines = await c.fresh();
      const audits = lines.filter((l) => l.type === "audit");
      assert.equal(audits.length, 1, JSON.stringify(lines));
      const a = audits[0]!;
      const hash = "sha256:" + createHash("sha256").update(command).digest("hex").slice(0, 16);
      assert.deepEqual(
        [a.tool, a.tier, a.host, a.alias, a.hostname, a.result, a.exit_code, a.target_ip],
        ["ssh_exec_run", "dangerous", "h1", "h1", "127.0.0.1", "ok", 4, "127.0.0.1"],
      );
      assert.equal(a.command_hash, hash);
      assert.equal(typeof a.duration_ms, "number");
      assert.ok(Number.isInteger(a.duration_ms) && (a.duration_ms as number) >= 0);
      assert.equal(a.error, undefined);
      const pd = lines.filter((l) => l.type === "policy_decision");
      assert.equal(pd.length, 1);
      assert.deepEqual([pd[0]!.decision, pd[0]!.command_hash, pd[0]!.correlation_id], [
        "allow",
        hash,
        a.correlation_id,
      ]);
      assert.ok(!JSON.stringify(lines).includes("oops"), "command text in the audit log");

      // a signal death is data too
      const k = await s.ok("ssh_exec_run", { host: "h1", command: "kill -s TERM $$" });
      assert.deepEqual([k.exit_code, k.killed_by_signal], [-1, "TERM"]);
    }, { tier: "dangerous", env: { ALLOW_ANY_COMMAND: "true" } });
  });
}

/** A test-only tool whose handler reaches the host, then fails with a plain Error. */
const BOOM = defineTool({
  name: "ssh_test_boom",
  group: "host",
  tier: "read",
  description: "test-only: runs `true` on the host, then throws a plain Error",
  input: z.strictObject({ host: HostArg }),
  output: z.strictObject({ ok: z.boolean() }),
  async handler(_args, ctx) {
    await ctx.exec(sh`true`);
    throw new Error("boom: secret internals /etc/shadow");
  },
});

Deno.test("pipeline handler error: a non-ToolError becomes RuntimeError with a correlation id, no internals leak", async () => {
  await withFakeHosts(
    [{ alias: "h1" }],
    async (c) => {
      const { s } = c;
      const e = await s.err("ssh_test_boom", { host: "h1" });
      assert.equal(e.code, "RuntimeError");
      const m =
        /^internal error in ssh_test_boom \(correlation id ([0-9a-f]+)\); the details are in the server log\.$/
          .exec(e.message);
      assert.ok(m, e.message);
      const cid = m[1]!;
      assert.deepEqual(e.meta, {
        error: "RuntimeError",
        message: "internal error",
        correlation_id: cid,
      });
      assert.ok(
        !/secret internals|shadow/.test(JSON.stringify(e)),
        "internals leaked to the client",
      );
      const lines = await c.fresh();
      assert.equal(lines.length, 1, JSON.stringify(lines));
      assert.deepEqual(
        [lines[0]!.type, lines[0]!.tool, lines[0]!.result, lines[0]!.error],
        ["audit", "ssh_test_boom", "error", "RuntimeError"],
      );
      assert.equal(lines[0]!.correlation_id, cid);
      assert.equal(lines[0]!.target_ip, "127.0.0.1", "the handler did reach the host");
      assert.ok(
        !/secret internals|shadow/.test(JSON.stringify(lines)),
        "internals leaked to the audit log",
      );
      assert.equal(c.fakes.h1!.commands().length, 1);
    },
    { tools: [BOOM] },
  );
});
