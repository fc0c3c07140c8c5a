/**
 * Fleet target patterns (src/fleet/pattern.ts): aliases, tags, globs,
 * Ansible-style `&` / `!`, order, and refusal of typos.
 */

import "../../src/config/ip_lib.ts"; // the address checks read ipaddr.js from config/ip_slot.ts
import assert from "node:assert/strict";
import { envHostPolicy, parseHostsToml } from "../../src/config/hosts.ts";
import { defaultSettings } from "../../src/config/settings.ts";
import { HostRegistry } from "../../src/policy/hosts.ts";
import { hostsWithTag, parsePattern, resolvePattern } from "../../src/fleet/pattern.ts";
import { ToolError } from "../../src/errors.ts";

const TOML = `
[hosts.web01]
hostname = "10.0.0.1"
tags = ["web", "prod"]
[hosts.web02]
hostname = "10.0.0.2"
tags = ["web", "prod"]
[hosts.web03]
hostname = "10.0.0.3"
tags = ["web", "staging"]
[hosts.db01]
hostname = "10.0.1.1"
tags = ["db", "prod"]
[hosts.db02]
hostname = "10.0.1.2"
tags = ["db", "staging"]
[hosts.cache]
hostname = "10.0.2.1"
tags = ["prod"]
`;

function registry(extra: Partial<ReturnType<typeof defaultSettings>> = {}) {
  const settings = { ...defaultSettings(), ...extra };
  return new HostRegistry(parseHostsToml(TOML, "/x/hosts.toml", settings), settings);
}

const aliases = (pattern: string, r = registry()) => resolvePattern(pattern, r).map((p) => p.alias);

function valueError(fn: () => unknown, re: RegExp) {
  assert.throws(
    fn,
    (e: unknown) => e instanceof ToolError && e.code === "ValueError" && re.test(e.message),
  );
}

Deno.test("pattern: plain alias, tag, union keep hosts.toml order", () => {
  assert.deepEqual(aliases("db01"), ["db01"]);
  assert.deepEqual(aliases("web"), ["web01", "web02", "web03"]);
  assert.deepEqual(aliases("db02,web01"), ["web01", "db02"]);
  assert.deepEqual(aliases("db:web"), ["web01", "web02", "web03", "db01", "db02"]);
  assert.deepEqual(aliases(" web01 , web01 "), ["web01"]);
});

Deno.test("pattern: Ansible & intersection and ! exclusion (web:&prod:!web02)", () => {
  assert.deepEqual(aliases("web:&prod"), ["web01", "web02"]);
  assert.deepEqual(aliases("web:&prod:!web02"), ["web01"]);
  assert.deepEqual(aliases("prod:!db"), ["web01", "web02", "cache"]);
  // order of terms does not matter: unions, then intersections, then exclusions
  assert.deepEqual(aliases("!web02:&prod:web"), ["web01"]);
  // only exclusions: start from every host
  assert.deepEqual(aliases("!prod"), ["web03", "db02"]);
});

Deno.test("pattern: globs over aliases and tags; all and *", () => {
  assert.deepEqual(aliases("web0[13]"), ["web01", "web03"]);
  assert.deepEqual(aliases("db*"), ["db01", "db02"]);
  assert.deepEqual(aliases("stag*"), ["web03", "db02"]);
  assert.deepEqual(aliases("all").length, 6);
  assert.deepEqual(aliases("*:!web*"), ["db01", "db02", "cache"]);
  assert.deepEqual(aliases("nomatch*"), []);
});

Deno.test("pattern: hostnames and SSH_HOSTS_ALLOWLIST names resolve as plain terms", () => {
  assert.deepEqual(aliases("10.0.1.2"), ["db02"]);
  const r = registry({ SSH_HOSTS_ALLOWLIST: ["extra.example"] });
  assert.deepEqual(aliases("db01:extra.example", r), ["db01", "extra.example"]);
  assert.equal(envHostPolicy("extra.example", defaultSettings()).source, "env-allowlist");
});

Deno.test("pattern: typos, regex terms, bad characters and empty patterns are ValueErrors", () => {
  valueError(() => aliases("web:&prd"), /"prd" matches no alias, tag/);
  valueError(() => aliases("~web.*"), /regular-expression terms/);
  valueError(() => aliases("web;reboot"), /is invalid/);
  valueError(() => aliases("web $(id)"), /is invalid/);
  valueError(() => aliases(" : , "), /empty/);
  valueError(() => parsePattern("a".repeat(2001)), /longer than/);
  assert.deepEqual(parsePattern("web:&prod:!db01").map((t) => t.op), [
    "union",
    "intersect",
    "exclude",
  ]);
});

Deno.test("hostsWithTag: exact tag match only", () => {
  const r = registry();
  assert.deepEqual(hostsWithTag("prod", r).map((p) => p.alias), [
    "web01",
    "web02",
    "db01",
    "cache",
  ]);
  assert.deepEqual(hostsWithTag("pro", r), []);
});
