/**
 * Issue 9 §7, the network policy's list semantics that the mutation run
 * showed no test held (SECURITY.md HOST-7, AC-108, AC-109), at the unit
 * level: block lists are checked against every resolved address whatever its
 * position in the answer, and each address needs some allow entry (not all
 * of them). The same rules end to end: `network_dns_test.ts`.
 */

import "../../src/config/ip_lib.ts"; // the address checks read ipaddr.js from config/ip_slot.ts
import assert from "node:assert/strict";
import type { NetworkConfig } from "../../src/config/types.ts";
import {
  NetworkPolicy,
  type NetworkPolicyOptions,
  type Resolver,
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

/** A resolver backed by a table (as tests/policy/network_test.ts). */
function tableResolver(table: Record<string, string[]>): Resolver {
  return (name: string) => {
    const v = table[name];
    return v === undefined
      ? Promise.reject(new Error(`getaddrinfo ENOTFOUND ${name}`))
      : Promise.resolve([...v]);
  };
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

Deno.test("AC-108 (§7 rules): block lists are checked against EVERY resolved address, in any order", async () => {
  const r = tableResolver({
    "ok-then-blocked.example": ["10.0.0.5", "169.254.169.254"],
    "blocked-then-ok.example": ["169.254.169.254", "10.0.0.5"],
    "v6-blocked.example": ["10.0.0.5", "fd00::7"],
    "mapped-blocked.example": ["10.0.0.5", "::ffff:169.254.169.254"],
  });
  const p = policy({
    global: net({ block_cidrs: ["169.254.0.0/16", "fd00::/8"] }),
    resolver: r,
  });
  for (const name of ["ok-then-blocked.example", "blocked-then-ok.example"]) {
    // deno-lint-ignore no-await-in-loop
    const d = await p.check(name, null);
    assert.equal(d.allowed, false, name);
    assert.equal(d.kind, "blocked", name);
    assert.equal(d.connectAddress, null, name);
    assert.equal(d.reason, "169.254.169.254 is in block_cidrs 169.254.0.0/16", name);
  }
  const v6 = await p.check("v6-blocked.example", null);
  assert.equal(v6.reason, "fd00::7 is in block_cidrs fd00::/8");
  const mapped = await p.check("mapped-blocked.example", null);
  assert.equal(mapped.allowed, false);
  // block_ips too, and the env block list, against the second address
  const p2 = policy({
    global: net({ block_ips: ["10.0.0.9"] }),
    envBlockCidrs: ["192.0.2.0/24"],
    resolver: tableResolver({
      "a.example": ["10.0.0.5", "10.0.0.9"],
      "b.example": ["10.0.0.5", "192.0.2.1"],
    }),
  });
  assert.equal((await p2.check("a.example", null)).reason, "10.0.0.9 is in block_ips 10.0.0.9");
  assert.equal(
    (await p2.check("b.example", null)).reason,
    "192.0.2.1 is in SSH_NETWORK_BLOCK_CIDRS 192.0.2.0/24",
  );
});

Deno.test("AC-109 (§7 rules): each address needs SOME allow entry (not every entry), in any order", async () => {
  const r = tableResolver({
    "two-nets.example": ["10.0.0.5", "192.168.1.1"],
    "bad-first.example": ["8.8.8.8", "10.0.0.5"],
  });
  const p = policy({
    global: net({ allow_cidrs: ["10.0.0.0/8", "192.168.0.0/16"] }),
    resolver: r,
  });
  const ok = await p.check("two-nets.example", null);
  assert.equal(ok.allowed, true, ok.reason ?? "");
  assert.equal(ok.connectAddress, "10.0.0.5");
  const bad = await p.check("bad-first.example", null);
  assert.equal(bad.allowed, false);
  assert.equal(bad.reason, "8.8.8.8 is not in any allow list");
});
