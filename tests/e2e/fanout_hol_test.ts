/**
 * No head-of-line blocking in the fan-out engine (issue 17 item 4): one slow
 * host never delays the other hosts' results. Evidence is causal, not a timing
 * threshold: the slow host is held on a gate (a file its command waits for, or
 * a TCP proxy that forwards nothing to its sshd) that the test opens only
 * AFTER the per-target audit lines of every other host are on disk (AC-428: a
 * target's line is written when that target finishes). Were the others held
 * behind the slow host, their lines could not appear before the gate opens and
 * the wait would fail. Then the gate opens and the slow host's own result
 * arrives too.
 *
 * Cases: a slow command with every host running at once; the same with
 * `concurrency: 2` (one of the two slots stays taken by the slow host, the
 * other slot must carry every other host); a slow handshake (the slow host's
 * TCP connection is accepted but its SSH banner is withheld).
 */

import assert from "node:assert/strict";
import { startFleet } from "../_support/fleet.ts";
import { auditLines, startInProcess } from "../_support/mcp.ts";
import { procsWith, waitFor } from "../_support/procs.ts";
import { randomLoopback } from "../_support/sshd.ts";

const FLEET_SSHD = { extraConfig: ["MaxStartups 1000:30:1000", "MaxSessions 64"] };
const HOSTS = 8;

type Out = {
  succeeded: string[];
  failed: string[];
  results: Record<string, { stdout: string; exit_code: number }>;
};

/** Per-target audit lines (alias, in file order) of ssh_broadcast calls so far. */
async function finishedTargets(auditPath: string): Promise<string[]> {
  const text = await Deno.readTextFile(auditPath).catch(() => "");
  return auditLines(text)
    .filter((l) => l.type === "audit" && l.tool === "ssh_broadcast" && l.host !== "?")
    .map((l) => String(l.host));
}

for (const concurrency of [null, 2] as const) {
  Deno.test(`no head-of-line blocking: a host whose command is held does not delay the others (concurrency ${concurrency ?? "default"})`, async () => {
    const fleet = await startFleet(HOSTS, { sshd: FLEET_SSHD });
    const auditPath = `${fleet.dir}/audit.log`;
    const s = await startInProcess(fleet.env({
      SSH_AUDIT_LOG: auditPath,
      ALLOW_DANGEROUS_TOOLS: "true",
      ALLOW_ANY_COMMAND: "true",
    }));
    try {
      const gate = `${fleet.dir}/gate-${crypto.randomUUID()}`;
      const slow = fleet.hosts[0]!; // first in order: the worst place for a blocker
      // every host runs `sh hol.sh <token>`: the token names the slow host's process
      const token = `hol-${crypto.randomUUID()}`;
      const script = `${fleet.dir}/hol.sh`;
      await Deno.writeTextFile(
        script,
        [
          'ip=$(echo "$SSH_CONNECTION" | cut -d" " -f3)',
          `if [ "$ip" = "${slow.sshd.address}" ]; then`,
          `  while [ ! -e ${gate} ]; do sleep 0.05; done`,
          "  echo slow-done",
          "else",
          "  echo fast-done",
          "fi",
          "",
        ].join("\n"),
      );
      const call = s.ok<Out>("ssh_broadcast", {
        pattern: "all",
        command: `sh ${script} ${token}`,
        group_output: false,
        ...(concurrency ? { concurrency } : {}),
      });
      let settled = false;
      call.finally(() => (settled = true)).catch(() => {});
      const others = fleet.hosts.slice(1).map((h) => h.alias).sort();
      // every other host's result is final while the slow one is still held
      await waitFor(
        async () => {
          const done = await finishedTargets(auditPath);
          return others.every((a) => done.includes(a));
        },
        60_000,
        `the ${others.length} other hosts to finish while ${slow.alias} is held`,
      );
      const before = await finishedTargets(auditPath);
      assert.deepEqual(before.slice().sort(), others, "only the other hosts finished");
      assert.ok(!before.includes(slow.alias));
      assert.ok((await procsWith(token)).length > 0, `${slow.alias} is still running`);
      assert.equal(settled, false, "the call returned before the slow host finished");
      await Deno.writeTextFile(gate, "");
      const r = await call;
      assert.deepEqual(r.failed, []);
      assert.equal(r.succeeded.length, HOSTS);
      assert.equal(r.results[slow.alias]!.stdout, "slow-done\n");
      for (const a of others) assert.equal(r.results[a]!.stdout, "fast-done\n");
      const after = await finishedTargets(auditPath);
      assert.equal(after[after.length - 1], slow.alias, "the slow host finished last");
    } finally {
      await s.close();
      await fleet.stop();
    }
  });
}

Deno.test("no head-of-line blocking: a host whose SSH handshake is held does not delay the others", async () => {
  const fleet = await startFleet(HOSTS - 1, { sshd: FLEET_SSHD });
  const target = fleet.hosts[0]!.sshd;
  // a TCP proxy in front of h1's sshd that forwards nothing until the gate opens
  const listener = Deno.listen({ hostname: randomLoopback(), port: 0 });
  const addr = listener.addr as Deno.NetAddr;
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  let accepted = 0;
  const conns: Deno.Conn[] = [];
  const serving = (async () => {
    for await (const c of listener) {
      accepted++;
      conns.push(c);
      (async () => {
        await gate;
        const up = await Deno.connect({ hostname: target.address, port: target.port });
        conns.push(up);
        await Promise.all([
          c.readable.pipeTo(up.writable).catch(() => {}),
          up.readable.pipeTo(c.writable).catch(() => {}),
        ]);
      })().catch(() => {});
    }
  })().catch(() => {});
  const slowAlias = "slowhs";
  await Deno.writeTextFile(
    fleet.knownHostsPath,
    target.hostKeys.map((k) => `[${addr.hostname}]:${addr.port} ${k.publicKey}\n`).join(""),
    { append: true },
  );
  await fleet.writeHostsToml(
    [
      `[hosts.${slowAlias}]`,
      `hostname = "${addr.hostname}"`,
      `port = ${addr.port}`,
      `user = "${target.user.name}"`,
      `[hosts.${slowAlias}.auth]`,
      `method = "key"`,
      `key = "${fleet.key.privatePath}"`,
    ].join("\n"),
  );
  const auditPath = `${fleet.dir}/audit.log`;
  const s = await startInProcess(fleet.env({
    SSH_AUDIT_LOG: auditPath,
    ALLOW_DANGEROUS_TOOLS: "true",
    ALLOW_ANY_COMMAND: "true",
    SSH_CONNECT_TIMEOUT: "120",
  }));
  try {
    const others = fleet.hosts.map((h) => h.alias).sort();
    const call = s.ok<Out>("ssh_broadcast", {
      hosts: [slowAlias, ...others],
      command: "echo done",
      group_output: false,
    });
    let settled = false;
    call.finally(() => (settled = true)).catch(() => {});
    await waitFor(
      async () => {
        const done = await finishedTargets(auditPath);
        return others.every((a) => done.includes(a));
      },
      60_000,
      `the ${others.length} other hosts to finish while ${slowAlias}'s handshake is held`,
    );
    const before = await finishedTargets(auditPath);
    assert.deepEqual(before.slice().sort(), others);
    assert.equal(accepted, 1, "the slow host's TCP connection is held at the proxy");
    assert.equal(settled, false, "the call returned before the slow host finished");
    open();
    const r = await call;
    assert.deepEqual(r.failed, []);
    assert.equal(r.succeeded.length, HOSTS);
    assert.equal(r.results[slowAlias]!.stdout, "done\n");
    const after = await finishedTargets(auditPath);
    assert.equal(after[after.length - 1], slowAlias, "the slow host finished last");
  } finally {
    open();
    await s.close();
    listener.close();
    for (const c of conns) {
      try {
        c.close();
      } catch {
        // already closed
      }
    }
    await serving;
    await fleet.stop();
  }
});
