/**
 * Hostname normalisation (HOST-5) and the network policy (CONFIG.md §4.8,
 * HOST-7): AC-106, AC-108..AC-111, per-host overrides, env union, IPv6,
 * IPv4-mapped IPv6, DNS cache / rate limit / timeout, real `localhost`.
 */

import "../../src/config/ip_lib.ts"; // the address checks read ipaddr.js from config/ip_slot.ts
import assert from "node:assert/strict";
import type { NetworkConfig } from "../../src/config/types.ts";
import { ConfigError } from "../../src/errors.ts";
import { isIpLiteral, normalizeHostname } from "../../src/policy/hostname.ts";
import {
  NetworkPolicy,
  type NetworkPolicyOptions,
  type Resolver,
  systemResolver,
  validateNetworkEntry,
} from "../../src/policy/network.ts";

function net(p: Partial<NetworkConfig> = {}): NetworkConfig {
  return {
    allow_cidrs: [],
    allow_ips: [],
    block_cidrs: [],
    block_ips: [],
    resolve_dns: true,
    ...p,
  };
}

/** A resolver backed by a table, counting calls per name. */
function tableResolver(table: Record<string, string[] | Error>): Resolver & { calls: string[] } {
  const calls: string[] = [];
  const r = (name: string): Promise<string[]> => {
    calls.push(name);
    const v = table[name];
    if (v === undefined) return Promise.reject(new Error(`getaddrinfo ENOTFOUND ${name}`));
    if (v instanceof Error) return Promise.reject(v);
    return Promise.resolve([...v]);
  };
  return Object.assign(r, { calls });
}

function policy(p: Partial<NetworkPolicyOptions> = {}): NetworkPolicy {
  return new NetworkPolicy({
    global: net(),
    envAllowCidrs: [],
    envBlockCidrs: [],
    resolveDns: true,
    resolver: tableResolver({}),
    ...p,
  });
}

// ---------------------------------------------------------------------------
// hostname.ts

Deno.test("AC-106: DB.Internal. and db.internal normalise to the same name", () => {
  assert.equal(normalizeHostname("DB.Internal."), "db.internal");
  assert.equal(normalizeHostname("db.internal"), "db.internal");
  assert.equal(normalizeHostname("DB.Internal."), normalizeHostname("db.internal"));
});

Deno.test("normalizeHostname: IDNA to punycode, case and width folding", () => {
  assert.equal(normalizeHostname("bücher.example"), "xn--bcher-kva.example");
  assert.equal(normalizeHostname("BÜCHER.Example."), "xn--bcher-kva.example");
  assert.equal(normalizeHostname("xn--bcher-kva.example"), "xn--bcher-kva.example");
  assert.equal(normalizeHostname("ＤＢ.internal"), "db.internal"); // full-width letters
  assert.equal(normalizeHostname("db\u200B.internal"), "db.internal"); // zero-width space
});

Deno.test("normalizeHostname: IP literals are canonical", () => {
  assert.equal(normalizeHostname("[2001:DB8:0:0::1]"), "2001:db8::1");
  assert.equal(normalizeHostname("2001:db8::1"), "2001:db8::1");
  assert.equal(normalizeHostname("::FFFF:10.0.0.1"), "10.0.0.1");
  assert.equal(normalizeHostname("[::ffff:169.254.169.254]"), "169.254.169.254");
  assert.equal(normalizeHostname("10.0.0.1."), "10.0.0.1");
  // the numeric spellings getaddrinfo accepts
  assert.equal(normalizeHostname("2130706433"), "127.0.0.1");
  assert.equal(normalizeHostname("0x7f.1"), "127.0.0.1");
  assert.equal(normalizeHostname("127.1"), "127.0.0.1");
});

Deno.test("normalizeHostname: invalid names are null", () => {
  for (
    const bad of [
      "",
      ".",
      "a b",
      "user@host",
      "host:22",
      "a..b",
      "foo..",
      "http://x",
      "*.example",
      "x/y",
      "a%41",
      "[::1",
      "[db.internal]",
      "1.2.3.256",
      "a".repeat(64) + ".com",
      `${"a.".repeat(127)}com`,
      "xn--zz",
    ]
  ) {
    assert.equal(normalizeHostname(bad), null, JSON.stringify(bad));
  }
});

Deno.test("isIpLiteral", () => {
  for (const ip of ["10.0.0.1", "[::1]", "::1", "fe80::1", "2130706433", "::ffff:1.2.3.4"]) {
    assert.ok(isIpLiteral(ip), ip);
  }
  for (const name of ["localhost", "db.internal", "1.2.3.4.example", "", "a b"]) {
    assert.ok(!isIpLiteral(name), name);
  }
});

// ---------------------------------------------------------------------------
// validateNetworkEntry

Deno.test("validateNetworkEntry accepts IPs and CIDRs and rejects the rest", () => {
  for (const ok of ["10.0.0.1", "::1", "2001:db8::1", "::ffff:10.0.0.1"]) {
    assert.equal(validateNetworkEntry(ok, "ip"), null, ok);
  }
  for (const ok of ["10.0.0.0/8", "0.0.0.0/0", "fd00::/8", "::/0", "192.0.2.7", "2001:db8::/128"]) {
    assert.equal(validateNetworkEntry(ok, "cidr"), null, ok);
  }
  for (
    const [bad, kind] of [
      ["10.0.0.0/8", "ip"],
      ["10.0.0", "ip"],
      ["0x7f.1", "ip"],
      ["host.example", "ip"],
      ["fe80::1%eth0", "ip"],
      [" 10.0.0.1", "ip"],
      ["10.0.0.0/33", "cidr"],
      ["10.0.0.0/", "cidr"],
      ["10.0.0.0/-1", "cidr"],
      ["10.0.0.0/8/8", "cidr"],
      ["fd00::/129", "cidr"],
      ["10.0.0/8", "cidr"],
      ["", "cidr"],
    ] as const
  ) {
    const err = validateNetworkEntry(bad, kind);
    assert.equal(typeof err, "string", `${bad} (${kind})`);
  }
});

Deno.test("invalid list entries make the constructor throw ConfigError", () => {
  assert.throws(() => policy({ envBlockCidrs: ["10.0.0.0/40"] }), ConfigError);
  assert.throws(() => policy({ global: net({ allow_ips: ["10.0.0.0/8"] }) }), ConfigError);
});

// ---------------------------------------------------------------------------
// AC-108 .. AC-111

Deno.test("AC-108: a name resolving to 169.254.169.254 is blocked by 169.254.0.0/16", async () => {
  const p = policy({
    global: net({ block_cidrs: ["169.254.0.0/16"] }),
    resolver: tableResolver({ "metadata.internal": ["169.254.169.254"] }),
  });
  const d = await p.check("metadata.internal", null);
  assert.equal(d.allowed, false);
  assert.equal(d.kind, "blocked");
  assert.equal(d.connectAddress, null);
  assert.deepEqual(d.addresses, ["169.254.169.254"]);
  assert.equal(d.reason, "169.254.169.254 is in block_cidrs 169.254.0.0/16");
  // the literal IP skips DNS but is checked too
  const lit = await p.check("169.254.169.254", null);
  assert.equal(lit.kind, "blocked");
  // ... in any numeric spelling the system resolver would accept
  for (const spelled of ["2852039166", "0xa9.0xfe.0xa9.0xfe", "[::ffff:a9fe:a9fe]"]) {
    // deno-lint-ignore no-await-in-loop
    const d2 = await p.check(spelled, null);
    assert.equal(d2.kind, "blocked", spelled);
    assert.deepEqual(d2.addresses, ["169.254.169.254"], spelled);
  }
});

Deno.test("AC-109: every resolved address must be in an allow list", async () => {
  const r = tableResolver({ "mixed.example": ["10.0.0.5", "8.8.8.8"] });
  const p = policy({ global: net({ allow_cidrs: ["10.0.0.0/8"] }), resolver: r });
  const d = await p.check("mixed.example", null);
  assert.equal(d.allowed, false);
  assert.equal(d.kind, "blocked");
  assert.deepEqual(d.addresses, ["10.0.0.5", "8.8.8.8"]);
  assert.equal(d.reason, "8.8.8.8 is not in any allow list");
  // allow_ips counts as an allow list too
  const p2 = policy({
    global: net({ allow_cidrs: ["10.0.0.0/8"], allow_ips: ["8.8.8.8"] }),
    resolver: r,
  });
  const d2 = await p2.check("mixed.example", null);
  assert.equal(d2.allowed, true);
  assert.equal(d2.connectAddress, "10.0.0.5");
});

Deno.test("AC-110: the verified address is returned; no second lookup within the TTL", async () => {
  let clock = 1000;
  let calls = 0;
  const rebinding: Resolver = () => {
    calls++;
    return Promise.resolve(calls === 1 ? ["10.0.0.5"] : ["169.254.169.254"]);
  };
  const p = policy({
    global: net({ allow_cidrs: ["10.0.0.0/8"] }),
    resolver: rebinding,
    now: () => clock,
  });
  const d1 = await p.check("app.example", null);
  assert.equal(d1.allowed, true);
  assert.equal(d1.connectAddress, "10.0.0.5");
  clock += 59_000;
  const d2 = await p.check("APP.example.", null); // same name, normalised
  assert.equal(d2.connectAddress, "10.0.0.5");
  assert.equal(calls, 1, "answered from the cache");
  clock += 2_000; // past the 60 s TTL: the changed answer is seen and refused
  const d3 = await p.check("app.example", null);
  assert.equal(calls, 2);
  assert.equal(d3.allowed, false);
  assert.equal(d3.reason, "169.254.169.254 is not in any allow list");
});

Deno.test("AC-111: a name that does not resolve is resolve-failed, never allowed", async () => {
  const p = policy({ resolver: tableResolver({ "empty.example": [] }) });
  const d = await p.check("nxdomain.example", null);
  assert.equal(d.kind, "resolve-failed");
  assert.equal(d.allowed, false);
  assert.equal(d.connectAddress, null);
  assert.match(d.reason ?? "", /^DNS lookup failed: .*ENOTFOUND/);
  const e = await p.check("empty.example", null);
  assert.equal(e.kind, "resolve-failed");
  assert.match(e.reason ?? "", /no A\/AAAA records/);
});

Deno.test("a resolver answer that is not an address is resolve-failed", async () => {
  const p = policy({ resolver: tableResolver({ "bad.example": ["10.0.0.1", "not-an-ip"] }) });
  const d = await p.check("bad.example", null);
  assert.equal(d.kind, "resolve-failed");
  assert.equal(d.allowed, false);
});

Deno.test("an invalid host name is blocked without a lookup", async () => {
  const r = tableResolver({});
  const p = policy({ resolver: r });
  const d = await p.check("evil host", null);
  assert.equal(d.kind, "blocked");
  assert.equal(r.calls.length, 0);
});

// ---------------------------------------------------------------------------
// list semantics

Deno.test("per-host lists replace the global lists; env lists still union in", async () => {
  const r = tableResolver({
    "db.example": ["10.1.2.3"],
    "web.example": ["192.168.1.10"],
    "metadata.example": ["169.254.169.254"],
  });
  const p = policy({
    global: net({ allow_cidrs: ["10.0.0.0/8"], block_cidrs: ["10.1.0.0/16"] }),
    envBlockCidrs: ["169.254.0.0/16"],
    resolver: r,
  });
  // global: 10.1.2.3 is blocked, 192.168.1.10 is not allowed
  assert.equal((await p.check("db.example", null)).kind, "blocked");
  assert.equal(
    (await p.check("web.example", null)).reason,
    "192.168.1.10 is not in any allow list",
  );
  // host override: only its own lists (the global block of 10.1/16 and allow 10/8 are gone)
  const override = net({ allow_cidrs: ["192.168.0.0/16", "10.1.0.0/16"] });
  const db = await p.check("db.example", override);
  assert.equal(db.allowed, true, db.reason ?? "");
  assert.equal((await p.check("web.example", override)).allowed, true);
  // ... but the env block list still applies to it
  const allowAll = net({ allow_cidrs: ["0.0.0.0/0"] });
  const md = await p.check("metadata.example", allowAll);
  assert.equal(md.allowed, false);
  assert.equal(md.reason, "169.254.169.254 is in SSH_NETWORK_BLOCK_CIDRS 169.254.0.0/16");
  // an empty override = no lists except env ones
  assert.equal((await p.check("web.example", net())).allowed, true);
});

Deno.test("env allow list is unioned with the hosts.toml allow list", async () => {
  const r = tableResolver({ "a.example": ["10.0.0.1"], "b.example": ["172.16.0.1"] });
  const p = policy({
    global: net({ allow_cidrs: ["10.0.0.0/8"] }),
    envAllowCidrs: ["172.16.0.0/12"],
    resolver: r,
  });
  assert.equal((await p.check("a.example", null)).allowed, true);
  assert.equal((await p.check("b.example", null)).allowed, true);
  assert.equal((await p.check("8.8.8.8", null)).allowed, false);
  // env allow alone restricts too
  const onlyEnv = policy({ envAllowCidrs: ["172.16.0.0/12"], resolver: r });
  assert.equal(onlyEnv.unrestricted, false);
  assert.equal((await onlyEnv.check("a.example", null)).allowed, false);
});

Deno.test("block lists win over allow lists; block_ips and allow_ips", async () => {
  const p = policy({
    global: net({ allow_cidrs: ["10.0.0.0/8"], block_ips: ["10.0.0.66"] }),
  });
  assert.equal((await p.check("10.0.0.65", null)).allowed, true);
  const d = await p.check("10.0.0.66", null);
  assert.equal(d.allowed, false);
  assert.equal(d.reason, "10.0.0.66 is in block_ips 10.0.0.66");
});

Deno.test("IPv6 CIDRs, mixed families, IPv4 preferred as connect address", async () => {
  const r = tableResolver({
    "dual.example": ["2001:db8::10", "192.0.2.10"],
    "ula.example": ["fd12:3456::1"],
    "v6only.example": ["2001:DB8::20"],
  });
  const p = policy({
    global: net({
      allow_cidrs: ["192.0.2.0/24", "2001:db8::/32"],
      block_cidrs: ["fd00::/8"],
    }),
    resolver: r,
  });
  const dual = await p.check("dual.example", null);
  assert.equal(dual.allowed, true);
  assert.equal(dual.connectAddress, "192.0.2.10");
  assert.deepEqual(dual.addresses, ["2001:db8::10", "192.0.2.10"]);
  const v6 = await p.check("v6only.example", null);
  assert.equal(v6.connectAddress, "2001:db8::20");
  const ula = await p.check("ula.example", null);
  assert.equal(ula.reason, "fd12:3456::1 is in block_cidrs fd00::/8");
  assert.equal((await p.check("[2001:db8::99]", null)).allowed, true);
  assert.equal((await p.check("[2001:db9::1]", null)).allowed, false);
  // zoned link-local literals are literals (no lookup) and are checked
  const ll = policy({ global: net({ block_cidrs: ["fe80::/10"] }), resolver: r });
  const zoned = await ll.check("fe80::1%eth0", null);
  assert.equal(zoned.kind, "blocked");
  assert.deepEqual(zoned.addresses, ["fe80::1%eth0"]);
  assert.ok(!r.calls.includes("fe80::1%eth0"));
  // an IPv4 rule never matches an IPv6 address and vice versa
  const v4only = policy({ global: net({ allow_cidrs: ["0.0.0.0/0"] }) });
  assert.equal((await v4only.check("::1", null)).allowed, false);
});

Deno.test("IPv4-mapped IPv6 addresses and ranges are treated as IPv4", async () => {
  const r = tableResolver({ "mapped.example": ["::ffff:169.254.169.254"] });
  const p = policy({ global: net({ block_cidrs: ["169.254.0.0/16"] }), resolver: r });
  const d = await p.check("mapped.example", null);
  assert.equal(d.allowed, false);
  assert.deepEqual(d.addresses, ["169.254.169.254"]);
  assert.equal((await p.check("[::ffff:169.254.169.254]", null)).allowed, false);
  assert.equal((await p.check("::ffff:a9fe:a9fe", null)).allowed, false);
  // a mapped range in the list matches the plain IPv4 address
  const p2 = policy({ global: net({ block_cidrs: ["::ffff:10.0.0.0/104"] }) });
  assert.equal((await p2.check("10.1.2.3", null)).allowed, false);
  assert.equal((await p2.check("11.1.2.3", null)).allowed, true);
  const p3 = policy({ global: net({ allow_ips: ["::ffff:192.0.2.1"] }) });
  assert.equal((await p3.check("192.0.2.1", null)).allowed, true);
});

Deno.test("resolve_dns = false: literals checked, names unverifiable against allow lists", async () => {
  const r = tableResolver({ "db.example": ["10.0.0.1"] });
  const blockOnly = policy({
    global: net({ block_cidrs: ["10.0.0.0/8"], resolve_dns: false }),
    resolver: r,
  });
  const name = await blockOnly.check("DB.example", null);
  assert.equal(name.allowed, true);
  assert.equal(name.connectAddress, "db.example");
  assert.deepEqual(name.addresses, []);
  assert.equal((await blockOnly.check("10.0.0.1", null)).allowed, false);
  const withAllow = policy({
    global: net({ allow_cidrs: ["10.0.0.0/8"], resolve_dns: false }),
    resolver: r,
  });
  const d = await withAllow.check("db.example", null);
  assert.equal(d.allowed, false);
  assert.equal(d.kind, "blocked");
  assert.match(d.reason ?? "", /cannot be verified.*resolve_dns = false/);
  assert.equal((await withAllow.check("10.0.0.1", null)).allowed, true);
  // SSH_NETWORK_RESOLVE_DNS=false turns resolution off even when the table says true
  const envOff = policy({
    global: net({ allow_cidrs: ["10.0.0.0/8"] }),
    resolveDns: false,
    resolver: r,
  });
  assert.equal((await envOff.check("db.example", null)).allowed, false);
  // a host override may turn it on again (its table replaces the global one)
  const ov = await withAllow.check("db.example", net({ allow_cidrs: ["10.0.0.0/8"] }));
  assert.equal(ov.allowed, true);
  assert.equal(ov.connectAddress, "10.0.0.1");
  assert.equal(r.calls.length, 1);
});

Deno.test("unrestricted: no list anywhere; names are still resolved", async () => {
  const r = tableResolver({ "x.example": ["198.51.100.7"] });
  const p = policy({ resolver: r });
  assert.equal(p.unrestricted, true);
  const d = await p.check("x.example", null);
  assert.deepEqual(d, {
    allowed: true,
    addresses: ["198.51.100.7"],
    connectAddress: "198.51.100.7",
    reason: null,
    kind: "allowed",
  });
  assert.equal(policy({ global: net({ block_ips: ["10.0.0.1"] }) }).unrestricted, false);
  assert.equal(policy({ envBlockCidrs: ["10.0.0.0/8"] }).unrestricted, false);
});

// ---------------------------------------------------------------------------
// DNS: cache, rate limit, in-flight sharing, timeout

Deno.test("rate limit: at most 10 real lookups per second per name", async () => {
  let clock = 0;
  const r = tableResolver({ "flaky.example": new Error("SERVFAIL") });
  const p = policy({ resolver: r, now: () => clock });
  const decisions = [];
  for (let i = 0; i < 11; i++) {
    // deno-lint-ignore no-await-in-loop
    decisions.push(await p.check("flaky.example", null));
    clock += 10;
  }
  assert.equal(r.calls.length, 10);
  assert.ok(decisions.every((d) => d.kind === "resolve-failed"));
  assert.match(decisions[10]?.reason ?? "", /rate limit/);
  // another name has its own budget
  await p.check("other.example", null);
  assert.equal(r.calls.length, 11);
  // a second later the name may be looked up again
  clock += 1000;
  await p.check("flaky.example", null);
  assert.equal(r.calls.length, 12);
});

Deno.test("concurrent checks of a fresh name share one lookup", async () => {
  let calls = 0;
  let release: () => void = () => {};
  const gate = new Promise<void>((res) => (release = res));
  const slow: Resolver = async () => {
    calls++;
    await gate;
    return ["10.0.0.7"];
  };
  const p = policy({ resolver: slow, global: net({ allow_cidrs: ["10.0.0.0/8"] }) });
  const pending = Array.from({ length: 11 }, () => p.check("fresh.example", null));
  release();
  const ds = await Promise.all(pending);
  assert.ok(calls <= 10, `resolver calls ${calls}`);
  assert.equal(calls, 1);
  assert.ok(ds.every((d) => d.allowed && d.connectAddress === "10.0.0.7"));
  // the answer is cached afterwards
  await p.check("fresh.example", null);
  assert.equal(calls, 1);
});

Deno.test("a hanging resolver times out (short timeout injected)", async () => {
  const hanging: Resolver = () => new Promise<string[]>(() => {});
  const p = policy({ resolver: hanging, dnsTimeoutMs: 50 });
  const t0 = performance.now();
  const d = await p.check("slow.example", null);
  assert.ok(performance.now() - t0 < 2000);
  assert.equal(d.kind, "resolve-failed");
  assert.match(d.reason ?? "", /timed out after 50 ms/);
});

Deno.test("failures are not cached; success afterwards is", async () => {
  let fail = true;
  let calls = 0;
  const r: Resolver = () => {
    calls++;
    return fail ? Promise.reject(new Error("EAI_AGAIN")) : Promise.resolve(["10.9.9.9"]);
  };
  const p = policy({ resolver: r });
  assert.equal((await p.check("later.example", null)).kind, "resolve-failed");
  fail = false;
  assert.equal((await p.check("later.example", null)).connectAddress, "10.9.9.9");
  await p.check("later.example", null);
  assert.equal(calls, 2);
});

// ---------------------------------------------------------------------------
// real resolution

Deno.test("systemResolver resolves localhost to loopback", async () => {
  const addrs = await systemResolver("localhost");
  assert.ok(addrs.length > 0);
  assert.ok(addrs.every((a) => a === "::1" || a.startsWith("127.")), addrs.join(","));
  const p = new NetworkPolicy({
    global: net({ allow_cidrs: ["127.0.0.0/8", "::1/128"] }),
    envAllowCidrs: [],
    envBlockCidrs: [],
    resolveDns: true,
  });
  const d = await p.check("localhost", null);
  assert.equal(d.allowed, true, d.reason ?? "");
  assert.ok(d.connectAddress === "::1" || d.connectAddress?.startsWith("127."));
  if (d.addresses.some((a) => a.startsWith("127."))) {
    assert.ok(d.connectAddress?.startsWith("127."), "IPv4 first");
  }
  const blocked = new NetworkPolicy({
    global: net({ block_cidrs: ["127.0.0.0/8", "::1/128"] }),
    envAllowCidrs: [],
    envBlockCidrs: [],
    resolveDns: true,
  });
  assert.equal((await blocked.check("localhost", null)).kind, "blocked");
});

Deno.test("systemResolver: a name that does not exist fails", async () => {
  const p = new NetworkPolicy({
    global: net(),
    envAllowCidrs: [],
    envBlockCidrs: [],
    resolveDns: true,
  });
  const d = await p.check("does-not-exist.invalid", null);
  assert.equal(d.kind, "resolve-failed");
});
