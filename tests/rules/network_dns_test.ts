/**
 * Issue 9 §7, rules of the network policy that no test held (SECURITY.md
 * HOST-7, AC-108..AC-110), end to end: the real server in process behind a
 * real MCP client, fake SSH hosts on loopback, hosts.toml naming them by DNS
 * names that a test resolver (`AppOptions.resolver`) maps to their addresses,
 * and an observable socket factory (`AppOptions.connectSocket`) recording
 * where each TCP socket was connected and its options.
 *
 * - every resolved address is checked against the block and allow lists: a
 *   name answering with an allowed AND a blocked address is refused, in
 *   either order, and nothing is dialled;
 * - the pool connects to the IP literal the policy checked, never to the
 *   name (no second lookup, so an answer that changes between the check and
 *   the connect cannot redirect the connection);
 * - every direct connection sets TCP_NODELAY.
 */

import "../../src/config/ip_lib.ts"; // the address checks read ipaddr.js from config/ip_slot.ts
import assert from "node:assert/strict";
import net from "node:net";
import type { Resolver } from "../../src/policy/network.ts";
import { q, withFakeHosts } from "../pipeline/_fixture.ts";

/** What the socket factory saw of one socket. */
interface SocketRecord {
  /** arguments of `connect(port, host)` */
  port: number | null;
  host: string | null;
  /** every `setNoDelay(x)` call, in order */
  noDelay: boolean[];
  /** the peer once connected */
  remoteAddress: string | null;
}

/** A socket factory that records each socket's connect target and options. */
function observedSockets(): { factory: () => net.Socket; seen: SocketRecord[] } {
  const seen: SocketRecord[] = [];
  const factory = () => {
    const sock = new net.Socket();
    const rec: SocketRecord = { port: null, host: null, noDelay: [], remoteAddress: null };
    seen.push(rec);
    const connect = sock.connect.bind(sock) as (...a: unknown[]) => net.Socket;
    (sock as unknown as { connect: (...a: unknown[]) => net.Socket }).connect = (
      ...args: unknown[]
    ) => {
      if (typeof args[0] === "number") rec.port = args[0];
      if (typeof args[1] === "string") rec.host = args[1];
      sock.once("connect", () => (rec.remoteAddress = sock.remoteAddress ?? null));
      return connect(...args);
    };
    const setNoDelay = sock.setNoDelay.bind(sock);
    sock.setNoDelay = (v?: boolean) => {
      rec.noDelay.push(v ?? true);
      return setNoDelay(v);
    };
    return sock;
  };
  return { factory, seen };
}

/** A resolver from a table of answer lists (one list per call; the last one repeats). */
function scriptedResolver(
  table: Record<string, string[][]>,
): Resolver & { calls: string[] } {
  const calls: string[] = [];
  const r = (name: string): Promise<string[]> => {
    calls.push(name);
    const answers = table[name];
    if (answers === undefined) return Promise.reject(new Error(`getaddrinfo ENOTFOUND ${name}`));
    const n = calls.filter((c) => c === name).length;
    return Promise.resolve([...answers[Math.min(n, answers.length) - 1]!]);
  };
  return Object.assign(r, { calls });
}

const A = "127.0.0.41"; // fake host "db"
const B = "127.0.0.42"; // fake host "other" (what a changed answer would point at)
const BLOCKED = "127.0.0.66";
const OUTSIDE_ALLOW = "127.0.0.67";

Deno.test("HOST-7/AC-108 (§7 rules): a name resolving to an allowed AND a blocked address is refused, in either order, before any TCP connect", async () => {
  const resolver = scriptedResolver({
    "first-ok.test": [[A, BLOCKED]],
    "first-blocked.test": [[BLOCKED, A]],
    "allow-mixed.test": [[A, OUTSIDE_ALLOW]],
    "clean.test": [[A]],
  });
  const { factory, seen } = observedSockets();
  await withFakeHosts(
    [
      { alias: "okfirst", hostname: "first-ok.test", fake: { address: A } },
      { alias: "blockedfirst", hostname: "first-blocked.test", fake: { address: A } },
      {
        alias: "allowmixed",
        hostname: "allow-mixed.test",
        fake: { address: A },
        // per-host lists replace the global ones: an allow list that holds only A
        toml: `[hosts.allowmixed.network]\nallow_cidrs = [${q(`${A}/32`)}]`,
      },
      { alias: "clean", hostname: "clean.test", fake: { address: A } },
    ],
    async (c) => {
      const { s } = c;
      for (
        const [alias, reason] of [
          ["okfirst", `${BLOCKED} is in block_ips ${BLOCKED}`],
          ["blockedfirst", `${BLOCKED} is in block_ips ${BLOCKED}`],
          ["allowmixed", `${OUTSIDE_ALLOW} is not in any allow list`],
        ] as const
      ) {
        const e = await s.err("ssh_exec_run", { host: alias, command: "true" });
        assert.equal(e.code, "HostBlocked", `${alias}: ${e.message}`);
        assert.equal(e.meta.reason, "network-policy", alias);
        assert.ok(e.message.includes(reason), `${alias}: ${e.message}`);
      }
      assert.equal(c.connections(), 0, "a refused host must not even be dialled");
      assert.equal(seen.length, 0, "no socket may be made for a refused host");
      assert.deepEqual(resolver.calls.sort(), [
        "allow-mixed.test",
        "first-blocked.test",
        "first-ok.test",
      ]);
      // the control: a name with only the allowed address connects
      const r = await s.ok("ssh_exec_run", { host: "clean", command: "true" });
      assert.equal(r.exit_code, 0);
      assert.equal(seen.length, 1);
      assert.equal(seen[0]!.host, A);
    },
    {
      tier: "dangerous",
      env: { ALLOW_ANY_COMMAND: "true" },
      extraToml: `[network]\nblock_ips = [${q(BLOCKED)}]`,
      app: { resolver, connectSocket: factory },
    },
  );
});

Deno.test("HOST-7/AC-110 (§7 rules): the pool connects to the IP literal the policy checked, never to the name; one lookup per connect even when the answer changes", async () => {
  // the first answer points at the fake "db"; every later answer at another host
  const resolver = scriptedResolver({ "db.test": [[A], [B]] });
  const { factory, seen } = observedSockets();
  await withFakeHosts(
    [
      { alias: "db", hostname: "db.test", fake: { address: A } },
      { alias: "other", fake: { address: B } },
    ],
    async (c) => {
      const { s } = c;
      const db = c.fakes.db!;
      const other = c.fakes.other!;
      const r = await s.ok("ssh_exec_run", { host: "db", command: "echo hi" });
      assert.equal(r.stdout, "hi\n");
      assert.deepEqual(resolver.calls, ["db.test"], "exactly one lookup for the connect");
      assert.equal(seen.length, 1);
      // the socket was connected to the checked literal, not to the name (which the system
      // resolver would look up again: a rebinding window)
      assert.deepEqual([seen[0]!.host, seen[0]!.port], [A, db.port]);
      assert.equal(seen[0]!.remoteAddress, A);
      assert.deepEqual([db.connections, other.connections], [1, 0]);
      const audit = (await c.fresh()).filter((l) => l.type === "audit");
      assert.equal(audit.at(-1)!.target_ip, A, "target_ip names the address connected");

      // a reconnect (connection dropped) reuses the verified answer of the cache: still A
      s.app.pool.closeAll();
      const again = await s.ok("ssh_exec_run", { host: "db", command: "echo again" });
      assert.equal(again.stdout, "again\n");
      assert.equal(seen.length, 2);
      assert.equal(seen[1]!.host, A);
      assert.deepEqual([db.connections, other.connections], [2, 0]);
      assert.ok(resolver.calls.length <= 2, `lookups: ${resolver.calls.join(", ")}`);

      // a reload builds a new policy (empty cache) that keeps the injected resolver: the
      // changed answer is looked up once and the socket follows the new verified address
      await s.app.reload({ invalidateChanged: false });
      s.app.pool.closeAll();
      const moved = await s.err("ssh_exec_run", { host: "db", command: "true" });
      // nothing listens on db's port at B: the socket went to the newly verified address
      assert.equal(moved.code, "ConnectError", moved.message);
      assert.ok(moved.message.includes(`${B}:${db.port}`), moved.message);
      assert.equal(seen.at(-1)!.host, B);
      assert.equal(resolver.calls.filter((n) => n === "db.test").length, 2);
      assert.deepEqual([db.connections, other.connections], [2, 0]);
    },
    {
      tier: "dangerous",
      env: { ALLOW_ANY_COMMAND: "true" },
      app: { resolver, connectSocket: factory },
    },
  );
});

Deno.test("TCP_NODELAY (TESTBED ssh2 trap, §7 rules): every direct SSH connection sets setNoDelay(true) on its socket", async () => {
  const resolver = scriptedResolver({ "db.test": [[A]] });
  const { factory, seen } = observedSockets();
  await withFakeHosts(
    [
      { alias: "named", hostname: "db.test", fake: { address: A } },
      { alias: "literal", fake: { address: B } },
    ],
    async (c) => {
      const { s } = c;
      await s.ok("ssh_exec_run", { host: "named", command: "true" });
      await s.ok("ssh_exec_run", { host: "literal", command: "true" });
      assert.equal(seen.length, 2);
      for (const rec of seen) {
        assert.deepEqual(rec.noDelay, [true], `socket to ${rec.host}: setNoDelay calls`);
        assert.ok(rec.host === A || rec.host === B, String(rec.host));
      }
      // an IP literal in hosts.toml needs no lookup at all
      assert.deepEqual(resolver.calls, ["db.test"]);
    },
    {
      tier: "dangerous",
      env: { ALLOW_ANY_COMMAND: "true" },
      app: { resolver, connectSocket: factory },
    },
  );
});
