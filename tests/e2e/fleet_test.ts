/**
 * Fleet orchestration end to end over real sshd fleets: ssh_broadcast (host
 * lists and patterns), ssh_run_on_tag, rolling batches with a failure
 * threshold and health checks, identical-output grouping, concurrency,
 * cancellation. Rows: SECURITY.md §24.6 AC-425..AC-428, CHEAT scope (NEW:
 * broadcast applies the cheatsheet), AUDIT-8.
 */

import assert from "node:assert/strict";
import {
  type Fleet,
  type FleetServer,
  type FleetServerOptions,
  withFleetServer,
} from "../_support/fleet.ts";
import { auditLines } from "../_support/mcp.ts";
import { procsWith, waitFor } from "../_support/procs.ts";
import { mustRun } from "../_support/sshd.ts";

const ANY = { ALLOW_ANY_COMMAND: "true" };
/** Test fleets raise the sshd limits (TESTBED.md); real hosts keep the defaults. */
const FLEET_SSHD = { extraConfig: ["MaxStartups 1000:30:1000", "MaxSessions 64"] };

/** `n` hosts (MaxStartups raised), the dangerous tier on. */
const withFleet = (
  n: number,
  fn: (c: FleetServer) => Promise<void>,
  opts: Pick<FleetServerOptions, "env" | "perHost"> = {},
) => withFleetServer(n, fn, { tier: "dangerous", sshd: FLEET_SSHD, ...opts });

/**
 * A script on the (shared, local) disk that behaves differently per host: the
 * host is identified by the server address in `$SSH_CONNECTION`.
 */
async function perHostScript(
  fleet: Fleet,
  name: string,
  cases: Record<string, string>,
  otherwise = "exit 0",
): Promise<string> {
  const addr = new Map(fleet.hosts.map((h) => [h.alias, h.sshd.address]));
  const arms = Object.entries(cases).map(([alias, body]) => `  ${addr.get(alias)}) ${body} ;;`);
  const path = `${fleet.dir}/${name}.sh`;
  await Deno.writeTextFile(
    path,
    [
      "ip=$(echo \"$SSH_CONNECTION\" | cut -d' ' -f3)",
      'case "$ip" in',
      ...arms,
      `  *) ${otherwise} ;;`,
      "esac",
      "",
    ].join("\n"),
  );
  await Deno.chmod(path, 0o644);
  return path;
}

const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => `h${a + i}`);

type Out = {
  results: Record<string, Record<string, unknown>>;
  succeeded: string[];
  failed: string[];
  errors: Record<string, string>;
  error_messages: Record<string, string>;
  skipped: string[];
  output_groups: { hosts: string[]; stdout: string; count: number; exit_code: number }[];
  batches: {
    index: number;
    hosts: string[];
    ran: number;
    failed: number;
    health_check: {
      passed: boolean;
      checked: string[];
      failed: string[];
      details: Record<string, string>;
    } | null;
  }[];
  stop_reason: string | null;
  summary: Record<string, number>;
  hosts_matched: string[];
};

Deno.test("AC-426: broadcast target validation before anything runs (empty, over the cap, unknown, blocked, duplicates)", async () => {
  await withFleet(4, async ({ s, fleet }) => {
    assert.equal(
      (await s.err("ssh_broadcast", { hosts: [], command: "uptime" })).code,
      "ValueError",
    );
    assert.equal((await s.err("ssh_broadcast", { command: "uptime" })).code, "ValueError");
    assert.equal(
      (await s.err("ssh_broadcast", { hosts: ["h1"], pattern: "h1", command: "uptime" })).code,
      "ValueError",
    );
    const over = await s.err("ssh_broadcast", {
      hosts: ["h1", "h2", "h3", "h4"],
      command: "uptime",
    });
    assert.equal(over.code, "ValueError");
    assert.match(over.message, /SSH_BROADCAST_MAX_HOSTS/);
    const unk = await s.err("ssh_broadcast", { hosts: ["h1", "nope"], command: "uptime" });
    assert.equal(unk.code, "ValueError");
    assert.match(unk.message, /nope \(HostNotAllowed\)/);
    const blk = await s.err("ssh_broadcast", { hosts: ["h1", "h4"], command: "uptime" });
    assert.match(blk.message, /h4 \(HostBlocked\)/);
    assert.equal(s.app.pool.size, 0, "nothing may run when a target is refused");
    const typo = await s.err("ssh_broadcast", { pattern: "web:&prd", command: "uptime" });
    assert.match(typo.message, /matches no alias, tag/);
    const dup = await s.ok<Out>("ssh_broadcast", {
      hosts: ["h2", "h1", "h2", fleet.hosts[0]!.sshd.address],
      command: "uptime",
    });
    assert.deepEqual(dup.hosts_matched, ["h2", "h1"]);
    assert.deepEqual(dup.succeeded, ["h2", "h1"]);
  }, {
    env: (f) => ({
      ...ANY,
      SSH_BROADCAST_MAX_HOSTS: "3",
      SSH_HOSTS_BLOCKLIST: f.hosts[3]!.sshd.address,
    }),
  });
});

Deno.test("AC-425/AC-427/AC-428: per-host policy and platform refusals are isolated; failures and timeouts listed; audit per target", async () => {
  await withFleet(4, async ({ s, fleet, auditPath }) => {
    const r = await s.ok<Out>("ssh_broadcast", {
      hosts: ["h1", "h2", "h3", "h4"],
      command: "uptime",
    });
    assert.deepEqual(r.succeeded, ["h1", "h2"]);
    assert.deepEqual(r.failed, ["h3", "h4"]);
    assert.deepEqual(r.errors, { h3: "CommandNotAllowed", h4: "PlatformNotSupported" });
    assert.match(r.error_messages.h3!, /not/i);
    assert.equal(r.results.h1!.exit_code, 0);
    assert.equal(r.results.h3, undefined);
    const script = await perHostScript(fleet, "ac428", {
      h1: "echo failing; exit 3",
      h2: "sleep 20",
    });
    const t = await s.ok<Out>("ssh_broadcast", {
      hosts: ["h1", "h2"],
      command: `sh ${script}`,
      timeout: 1,
      group_output: false,
    });
    assert.deepEqual(t.failed, ["h1", "h2"]);
    assert.equal(t.results.h1!.exit_code, 3);
    assert.equal(t.results.h1!.stdout, "failing\n");
    assert.equal(t.results.h2!.timed_out, true);
    assert.deepEqual([t.summary.total, t.summary.failed, t.summary.timeout], [2, 2, 1]);
    const lines = auditLines(await Deno.readTextFile(auditPath));
    const main = lines.filter((l) =>
      l.type === "audit" && l.tool === "ssh_broadcast" && l.host === "?"
    );
    assert.equal(main.length, 2);
    const perTarget = lines.filter((l) =>
      l.type === "audit" && l.tool === "ssh_broadcast" &&
      l.correlation_id === main[0]!.correlation_id &&
      l.host !== "?"
    );
    assert.deepEqual(perTarget.map((l) => [l.host, l.result, l.error ?? null]).sort(), [
      ["h1", "ok", null],
      ["h2", "ok", null],
      ["h3", "error", "CommandNotAllowed"],
      ["h4", "error", "PlatformNotSupported"],
    ]);
    const pd = lines.filter((l) =>
      l.type === "policy_decision" && l.correlation_id === main[0]!.correlation_id
    );
    assert.deepEqual(pd.map((l) => [l.alias, l.decision]).sort(), [
      ["h1", "allow"],
      ["h2", "allow"],
      ["h3", "deny"],
    ]);
  }, {
    perHost: (a) =>
      a === "h3"
        ? 'command_allowlist = ["ls"]'
        : a === "h4"
        ? 'platform = "windows"'
        : 'command_allowlist = ["uptime", "sh"]',
  });
});

Deno.test("CHEAT scope (NEW): the cheatsheet applies to ssh_broadcast and ssh_run_on_tag, refusing the whole call", async () => {
  await withFleet(2, async ({ s }) => {
    const e = await s.err("ssh_broadcast", { pattern: "all", command: "cat /etc/hosts" });
    assert.equal(e.code, "CommandIsCheatsheetMatch");
    const t = await s.err("ssh_run_on_tag", { tag: "web", command: "systemctl restart nginx" });
    assert.equal(t.code, "CommandIsCheatsheetMatch");
    assert.equal(s.app.pool.size, 0);
  }, { env: ANY, perHost: () => 'tags = ["web"]' });
});

Deno.test("patterns and identical-output grouping (web:&prod:!h2; opt-in `group_output`, COMPAT default off)", async () => {
  await withFleet(6, async ({ s }) => {
    const r = await s.ok<Out>("ssh_broadcast", {
      pattern: "web:&prod:!h2",
      command: "echo same",
      group_output: true,
    });
    assert.deepEqual(r.hosts_matched, ["h1", "h3"]);
    assert.equal(r.output_groups.length, 1);
    assert.deepEqual(r.output_groups[0]!.hosts, ["h1", "h3"]);
    assert.equal(r.output_groups[0]!.stdout, "same\n");
    assert.equal(r.results.h1!.stdout, "");
    assert.equal(r.results.h1!.output_group, 0);
    const d = await s.ok<Out>("ssh_broadcast", {
      pattern: "h*",
      command: "echo $SSH_CONNECTION | cut -d' ' -f3",
      group_output: true,
    });
    assert.equal(d.output_groups.length, 6);
    // python-ssh-mcp contract: without group_output every host's stdout/stderr is filled
    const byDefault = await s.ok<Out>("ssh_broadcast", {
      hosts: ["h5", "h6"],
      command: "echo same; echo err >&2",
    });
    assert.deepEqual(byDefault.output_groups, []);
    for (const h of ["h5", "h6"]) {
      assert.equal(byDefault.results[h]!.stdout, "same\n");
      assert.equal(byDefault.results[h]!.stderr, "err\n");
      assert.equal(byDefault.results[h]!.output_group, null);
    }
    const flat = await s.ok<Out>("ssh_broadcast", {
      pattern: "db",
      command: "echo same",
      group_output: false,
    });
    assert.deepEqual(flat.hosts_matched, ["h5", "h6"]);
    assert.deepEqual(flat.output_groups, []);
    assert.equal(flat.results.h5!.stdout, "same\n");
    assert.equal(flat.results.h5!.output_group, null);
  }, {
    env: ANY,
    perHost: (a) =>
      ({
        h1: 'tags = ["web", "prod"]',
        h2: 'tags = ["web", "prod"]',
        h3: 'tags = ["web", "prod"]',
        h4: 'tags = ["web", "staging"]',
      } as Record<string, string>)[a] ?? 'tags = ["db"]',
  });
});

Deno.test("rolling broadcast over 32 hosts: a failing subset stops at max_fail_percentage; health checks stop between batches", async (t) => {
  await withFleet(32, async ({ s, fleet }) => {
    const failing = ["h3", "h7", "h8", "h12", "h13", "h20"];
    const script = await perHostScript(
      fleet,
      "rolling",
      Object.fromEntries(failing.map((h) => [h, "echo broken >&2; exit 1"])),
      "echo ok",
    );
    await t.step(
      "serial 5, max_fail_percentage 10, concurrency 1: exact stop at the 4th failure",
      async () => {
        const r = await s.ok<Out>("ssh_broadcast", {
          pattern: "all",
          command: `sh ${script}`,
          serial: 5,
          max_fail_percentage: 10,
          concurrency: 1,
          group_output: true,
        });
        // 10% of 32 = 3.2 failures allowed; h12 is the 4th failure
        assert.equal(r.stop_reason, "max_fail_percentage");
        assert.deepEqual(r.failed, ["h3", "h7", "h8", "h12"]);
        assert.deepEqual(r.skipped, range(13, 32));
        assert.deepEqual(r.batches.map((b) => [b.index, b.ran, b.failed]), [[1, 5, 1], [2, 5, 2], [
          3,
          2,
          1,
        ]]);
        assert.equal(r.summary.skipped, 20);
        const g = r.output_groups.find((x) => x.exit_code === 1)!;
        assert.deepEqual(g.hosts, ["h3", "h7", "h8", "h12"]);
      },
    );
    await t.step(
      "concurrency 8, percentages: in-flight hosts finish, nothing new starts",
      async () => {
        const r = await s.ok<Out>("ssh_broadcast", {
          pattern: "all",
          command: `sh ${script}`,
          serial: "25%",
          max_fail_percentage: 10,
          concurrency: 8,
        });
        assert.equal(r.stop_reason, "max_fail_percentage");
        assert.deepEqual(r.batches.map((b) => b.hosts.length), [8, 8]);
        assert.ok(r.failed.length >= 4 && r.failed.length <= 5, JSON.stringify(r.failed));
        assert.deepEqual(r.skipped, range(17, 32));
      },
    );
    await t.step("no threshold: every host runs and failures are reported", async () => {
      const r = await s.ok<Out>("ssh_broadcast", {
        pattern: "all",
        command: `sh ${script}`,
        group_output: true,
      });
      assert.equal(r.stop_reason, null);
      assert.deepEqual(r.failed, failing);
      assert.equal(r.succeeded.length, 26);
      assert.equal(r.output_groups.length, 2);
      assert.equal(r.output_groups[0]!.count, 26);
    });
    await t.step("health_check between batches stops the rollout", async () => {
      const health = await perHostScript(fleet, "health", { h6: "echo unhealthy >&2; exit 2" });
      const r = await s.ok<Out>("ssh_run_on_tag", {
        tag: "fleet",
        command: "echo deployed",
        serial: [1, 5],
        health_check: `sh ${health}`,
        max_hosts: 32,
      });
      assert.equal(r.stop_reason, "health_check");
      assert.deepEqual(r.batches.map((b) => b.hosts), [["h1"], range(2, 6)]);
      assert.equal(r.batches[0]!.health_check?.passed, true);
      const hc = r.batches[1]!.health_check!;
      assert.deepEqual([hc.passed, hc.failed], [false, ["h6"]]);
      assert.match(hc.details.h6!, /exit 2: unhealthy/);
      assert.deepEqual(r.skipped, range(7, 32));
      assert.deepEqual(r.succeeded, range(1, 6));
    });
  }, { env: ANY, perHost: () => 'tags = ["fleet"]' });
});

Deno.test("health_check refused by the command policy: nothing runs", async () => {
  await withFleet(2, async ({ s, fleet }) => {
    const e = await s.err("ssh_broadcast", {
      hosts: ["h1", "h2"],
      command: "uptime",
      health_check: "curl -fsS http://localhost/health",
      serial: 1,
    });
    assert.equal(e.code, "CommandNotAllowed");
    assert.match(e.message, /health_check refused on h1, nothing was run/);
    assert.equal(s.app.pool.size, 0);
    assert.equal(fleet.hosts.length, 2);
  }, { perHost: () => 'command_allowlist = ["uptime"]' });
});

Deno.test("concurrency limit: at most N hosts run at once (observed start/end times)", async () => {
  await withFleet(10, async ({ s }) => {
    const r = await s.ok<Out>("ssh_broadcast", {
      pattern: "all",
      command: "date +%s%N; sleep 0.4; date +%s%N",
      concurrency: 3,
      group_output: false,
    });
    const spans = Object.values(r.results).map((x) =>
      String(x.stdout).trim().split("\n").map(Number)
    );
    let peak = 0;
    for (const [a] of spans) {
      const overlapping = spans.filter(([b, e]) => b! <= a! && a! < e!).length;
      peak = Math.max(peak, overlapping);
    }
    assert.equal(spans.length, 10);
    assert.ok(peak <= 3, `peak ${peak}`);
    assert.ok(peak >= 2, `no parallelism observed (peak ${peak})`);
  }, { env: ANY });
});

Deno.test("ssh_run_on_tag: exact tag match, max_hosts, cap, blocked member reported per host, summary", async () => {
  await withFleet(4, async ({ s }) => {
    const r = await s.ok<Out & { tag: string }>("ssh_run_on_tag", {
      tag: "web",
      command: "echo hi",
    });
    assert.equal(r.tag, "web");
    assert.deepEqual(r.hosts_matched, ["h1", "h2", "h3"]);
    assert.deepEqual(r.errors, { h3: "HostBlocked" });
    assert.deepEqual(r.succeeded, ["h1", "h2"]);
    assert.deepEqual(r.summary, {
      total: 3,
      succeeded: 2,
      failed: 1,
      timeout: 0,
      errors: 1,
      skipped: 0,
    });
    const over = await s.err("ssh_run_on_tag", { tag: "web", command: "echo hi", max_hosts: 2 });
    assert.match(over.message, /3 hosts carry tag "web", more than max_hosts=2/);
    const cap = await s.err("ssh_run_on_tag", { tag: "web", command: "echo hi", max_hosts: 501 });
    assert.match(cap.message, /SSH_BROADCAST_MAX_HOSTS/);
    assert.equal(
      (await s.err("ssh_run_on_tag", { tag: "we", command: "echo hi" })).code,
      "ValueError",
    );
    assert.equal(
      (await s.err("ssh_run_on_tag", { tag: "a b", command: "echo hi" })).code,
      "ValueError",
    );
  }, {
    env: (f) => ({ ...ANY, SSH_HOSTS_BLOCKLIST: f.hosts[2]!.sshd.address }),
    perHost: (a) => (a === "h4" ? 'tags = ["db"]' : 'tags = ["web"]'),
  });
});

Deno.test("cancelling a broadcast kills the running commands on every host and starts no new host", async () => {
  await withFleet(6, async ({ s }) => {
    const token = `sleep 8${Math.floor(Math.random() * 900 + 100)}.5`;
    const ac = new AbortController();
    const call = s.client.callTool(
      { name: "ssh_broadcast", arguments: { pattern: "all", command: token, concurrency: 3 } },
      undefined,
      { signal: ac.signal },
    );
    await waitFor(async () => (await procsWith(token)).length >= 3, 10_000, "3 hosts running");
    ac.abort();
    await assert.rejects(call);
    await waitFor(async () => (await procsWith(token)).length === 0, 8000, "all killed");
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(await procsWith(token), [], "a host started after the cancel");
  }, { env: ANY });
});

Deno.test("AUTH-4 (NEW): one encrypted key across a fan-out: concurrent connects share one passphrase_cmd run and KDF; later connects fetch it again (no cache)", async () => {
  await withFleet(12, async ({ fleet, s }) => {
    // the fleet's key, now encrypted (bcrypt KDF); passphrase_cmd counts its runs
    await mustRun("ssh-keygen", [
      "-q",
      "-p",
      "-P",
      "",
      "-N",
      "fleet-pass",
      "-f",
      fleet.key.privatePath,
    ]);
    const runs = `${fleet.dir}/passphrase-runs`;
    await fleet.writeHostsToml(
      `[defaults.auth]\npassphrase_cmd = "echo run >> ${runs}; echo fleet-pass"\n`,
    );
    await s.app.reload({ invalidateChanged: true });
    const count = async () =>
      (await Deno.readTextFile(runs).catch(() => "")).split("\n").filter(Boolean).length;
    const r = await s.ok<{ summary: { succeeded: number }; errors: unknown }>("ssh_broadcast", {
      hosts: fleet.hosts.map((h) => h.alias),
      command: "true",
      concurrency: 12,
    });
    assert.equal(r.summary.succeeded, 12, JSON.stringify(r.errors));
    const shared = await count();
    assert.ok(shared >= 1 && shared < 12, `passphrase_cmd ran ${shared} times for 12 connects`);
    // nothing is cached once the loads settled: a new connection fetches the secret again
    s.app.pool.closeAll();
    await s.ok("ssh_exec_run", { host: "h1", command: "true" });
    assert.equal(await count(), shared + 1);
  }, { env: ANY });
});
