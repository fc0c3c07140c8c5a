import assert from "node:assert/strict";
import * as path from "node:path";
import "../../src/config/ip_lib.ts"; // address checks without loadConfig
import { ConfigError } from "../../src/errors.ts";
import {
  ALERTS_KEYS,
  AUTH_KEYS,
  envHostPolicy,
  HOST_KEYS,
  loadHostsFile,
  NETWORK_KEYS,
  parseHostsToml,
  REMOTE_MCP_KEYS,
} from "../../src/config/hosts.ts";
import { defaultSettings } from "../../src/config/settings.ts";
import type { HostPolicy, HostsFile, Settings } from "../../src/config/types.ts";

const FILE = "/etc/ssh-mcp/hosts.toml";
const ROOT = path.resolve(import.meta.dirname ?? ".", "../..");

function settings(over: Partial<Settings> = {}): Settings {
  return { ...defaultSettings(), ...over };
}

function ok(
  toml: string,
  over: Partial<Settings> = {},
  env: Record<string, string> = {},
): HostsFile {
  return parseHostsToml(toml, FILE, settings(over), env);
}

function host(toml: string, alias: string, over: Partial<Settings> = {}): HostPolicy {
  const p = ok(toml, over).hosts.get(alias);
  assert.ok(p, `no host ${alias}`);
  return p;
}

/** Asserts a ConfigError naming the file and every part; returns the message. */
function err(toml: string, parts: string[], over: Partial<Settings> = {}): string {
  try {
    ok(toml, over);
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${e}`);
    assert.ok(e.message.includes(FILE), `file not named: ${e.message}`);
    for (const p of parts) assert.ok(e.message.includes(p), `"${p}" not in: ${e.message}`);
    assert.ok(e.message.includes("Fix"), `no fix in: ${e.message}`);
    return e.message;
  }
  assert.fail(`expected a ConfigError for:\n${toml}`);
}

function warns(toml: string, over: Partial<Settings> = {}): string[] {
  return ok(toml, over).notices.filter((n) => n.level === "WARNING").map((n) => n.message);
}

// ---------------------------------------------------------------------------
// Basics and merge (CONFIG.md §4.2)

Deno.test("§4.2: empty file and [hosts] without entries are valid", () => {
  assert.equal(ok("").hosts.size, 0);
  assert.equal(ok("[hosts]\n").hosts.size, 0);
  assert.equal(ok("").source, FILE);
});

Deno.test("§4.2: built-ins, hostname defaults to the alias, env fallback user", () => {
  const p = host("[hosts.web01]\n", "web01", { SSH_DEFAULT_USER: "ops" });
  assert.equal(p.alias, "web01");
  assert.equal(p.source, "hosts.toml");
  assert.equal(p.hostname, "web01");
  assert.equal(p.user, "ops");
  assert.equal(p.port, 22);
  assert.equal(p.platform, "posix");
  assert.equal(p.sudo_mode, "per-call");
  assert.equal(p.persistent_session, true);
  assert.equal(p.become_method, "sudo");
  assert.equal(p.network, null);
  assert.equal(p.remote_mcp, null);
  assert.deepEqual(p.auth.method, "agent");
  assert.deepEqual(p.path_allowlist, []);
  assert.equal(p.redact_bypass_policy, null);
});

Deno.test("§4.2: SSH_DEFAULT_KEY gives key auth fallback (expanded), overridable per host", () => {
  const s = settings({ SSH_DEFAULT_KEY: "~/.ssh/id_fleet" });
  const f = parseHostsToml(
    '[hosts.a]\n[hosts.b.auth]\nmethod = "agent"\n',
    FILE,
    s,
    { HOME: "/home/op" },
  );
  assert.deepEqual(f.hosts.get("a")?.auth.method, "key");
  assert.equal(f.hosts.get("a")?.auth.key, "/home/op/.ssh/id_fleet");
  assert.equal(f.hosts.get("b")?.auth.method, "agent");
});

Deno.test("§4.2: precedence built-ins < env < [defaults] < [hosts.X]", () => {
  const toml = `
[defaults]
user = "deploy"
port = 2200
[hosts.a]
[hosts.b]
user = "admin"
port = 22
`;
  const f = ok(toml, { SSH_DEFAULT_USER: "envuser" });
  assert.equal(f.hosts.get("a")?.user, "deploy");
  assert.equal(f.hosts.get("a")?.port, 2200);
  assert.equal(f.hosts.get("b")?.user, "admin");
  assert.equal(f.hosts.get("b")?.port, 22);
});

Deno.test("§4.2: lists are replaced, not merged", () => {
  const toml = `
[defaults]
path_allowlist = ["/srv"]
command_allowlist = ["ls", "df"]
tags = ["all"]
[hosts.a]
path_allowlist = ["/opt/app"]
command_allowlist = []
[hosts.b]
`;
  const f = ok(toml);
  assert.deepEqual(f.hosts.get("a")?.path_allowlist, ["/opt/app"]);
  assert.deepEqual(f.hosts.get("a")?.command_allowlist, []);
  assert.deepEqual(f.hosts.get("a")?.tags, ["all"]);
  assert.deepEqual(f.hosts.get("b")?.path_allowlist, ["/srv"]);
  // no aliasing between hosts that inherit the same list
  f.hosts.get("b")?.path_allowlist.push("/x");
  assert.deepEqual(f.hosts.get("a")?.tags, ["all"]);
  assert.deepEqual(ok(toml).hosts.get("b")?.path_allowlist, ["/srv"]);
});

Deno.test("§4.2: auth is merged key by key (fingerprint kept when the host switches method)", () => {
  const toml = `
[defaults.auth]
method = "agent"
identity_fingerprint = "SHA256:abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
passphrase_cmd = "pass show ssh"
[hosts.a.auth]
method = "key"
key = "/keys/a"
`;
  const a = host(toml, "a");
  assert.equal(a.auth.method, "key");
  assert.equal(a.auth.key, "/keys/a");
  assert.equal(a.auth.identity_fingerprint, "SHA256:abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG");
  assert.equal(a.auth.passphrase_cmd, "pass show ssh");
});

Deno.test("§4.2: alerts table is replaced as a whole", () => {
  const toml = `
[defaults.alerts]
disk_use_percent_max = 90
load_avg_1min_max = 8.5
[hosts.a.alerts]
mem_free_percent_min = 5
[hosts.b]
`;
  const f = ok(toml);
  assert.deepEqual(f.hosts.get("a")?.alerts, {
    disk_use_percent_max: null,
    load_avg_1min_max: null,
    mem_free_percent_min: 5,
    disk_mounts: [],
  });
  assert.deepEqual(f.hosts.get("b")?.alerts, {
    disk_use_percent_max: 90,
    load_avg_1min_max: 8.5,
    mem_free_percent_min: null,
    disk_mounts: [],
  });
  assert.equal(host("[hosts.c.alerts]\nload_avg_1min_max = 4\n", "c").alerts.load_avg_1min_max, 4);
});

Deno.test("§4.8: per-host network replaces [defaults.network]; missing keys come from [network]", () => {
  const toml = `
[network]
allow_cidrs = ["10.0.0.0/8"]
block_cidrs = ["169.254.0.0/16"]
resolve_dns = false
[defaults.network]
allow_ips = ["192.0.2.7"]
[hosts.a.network]
allow_cidrs = ["192.0.2.0/24"]
[hosts.b]
[hosts.c]
`;
  const f = ok(toml);
  assert.deepEqual(f.network, {
    allow_cidrs: ["10.0.0.0/8"],
    allow_ips: [],
    block_cidrs: ["169.254.0.0/16"],
    block_ips: [],
    resolve_dns: false,
  });
  assert.deepEqual(f.hosts.get("a")?.network, {
    allow_cidrs: ["192.0.2.0/24"],
    allow_ips: [],
    block_cidrs: ["169.254.0.0/16"],
    block_ips: [],
    resolve_dns: false,
  });
  assert.deepEqual(f.hosts.get("b")?.network?.allow_ips, ["192.0.2.7"]);
  assert.equal(ok("[hosts.x]\n").hosts.get("x")?.network, null);
  // without a [network] table the global resolve_dns follows SSH_NETWORK_RESOLVE_DNS
  assert.equal(ok("", { SSH_NETWORK_RESOLVE_DNS: false }).network.resolve_dns, false);
});

Deno.test("§6.2: envHostPolicy is minimal and ignores [defaults]", () => {
  const p = envHostPolicy("db.example.com", settings({ SSH_DEFAULT_USER: "ops" }));
  assert.equal(p.source, "env-allowlist");
  assert.equal(p.alias, "db.example.com");
  assert.equal(p.hostname, "db.example.com");
  assert.equal(p.user, "ops");
  assert.equal(p.port, 22);
  assert.equal(p.platform, "posix");
  assert.equal(p.auth.method, "agent");
  assert.deepEqual(p.path_allowlist, []);
  assert.deepEqual(p.command_allowlist, []);
  assert.equal(p.notes, null);
  assert.equal(p.persistent_session, true);
  const k = envHostPolicy("h", settings({ SSH_DEFAULT_KEY: "~/.ssh/k" }), { HOME: "/root" });
  assert.equal(k.auth.method, "key");
  assert.equal(k.auth.key, "/root/.ssh/k");
});

Deno.test("§2: ${VAR} and ~ are expanded in identity_agent and key", () => {
  const f = parseHostsToml(
    '[hosts.a.auth]\nidentity_agent = "${XDG_RUNTIME_DIR}/agent.sock"\nkey = "~/.ssh/a"\n',
    FILE,
    settings(),
    { XDG_RUNTIME_DIR: "/run/user/1000", HOME: "/home/u" },
  );
  assert.equal(f.hosts.get("a")?.auth.identity_agent, "/run/user/1000/agent.sock");
  assert.equal(f.hosts.get("a")?.auth.key, "/home/u/.ssh/a");
});

// ---------------------------------------------------------------------------
// AC-013 port and paths

Deno.test("AC-013: bad ports are fatal naming hosts.web and port", () => {
  for (
    const bad of ["0", "-1", "65536", "100000", '"abc"', '"22a"', '""', "22.5", "0.0", "true"]
  ) {
    err(`[hosts.web]\nport = ${bad}\n`, ["hosts.web", "port", "1..65535"]);
  }
  assert.equal(host('[hosts.web]\nport = "2222"\n', "web").port, 2222);
  assert.equal(host("[hosts.web]\nport = 65535\n", "web").port, 65535);
  err('[defaults]\nport = "x"\n[hosts.web]\n', ["[defaults]", "port"]);
});

Deno.test("AC-013: relative path_allowlist entry is fatal; absolute POSIX/Windows/UNC accepted", () => {
  err('[hosts.web]\npath_allowlist = ["srv/app"]\n', ["hosts.web", "path_allowlist", "srv/app"]);
  err('[hosts.web]\npath_allowlist = [""]\n', ["hosts.web", "path_allowlist"]);
  err('[hosts.web]\npath_allowlist = ["~/x"]\n', ["path_allowlist"]);
  err('[hosts.web]\npath_allowlist = "/srv"\n', ["path_allowlist", "array"]);
  const p = host(
    '[hosts.w]\npath_allowlist = ["/srv", "C:\\\\Data", "D:/logs", "\\\\\\\\fs01\\\\share"]\n',
    "w",
  );
  assert.deepEqual(p.path_allowlist, ["/srv", "C:\\Data", "D:/logs", "\\\\fs01\\share"]);
});

Deno.test("AC-214: relative restricted_paths entry is fatal (no sentinels)", () => {
  err('[hosts.x]\nrestricted_paths = ["mnt/shared"]\n', [
    "hosts.x",
    "restricted_paths",
    "mnt/shared",
  ]);
  err('[hosts.x]\nrestricted_paths = ["*"]\n', ["restricted_paths"]);
  assert.deepEqual(
    host('[hosts.x]\nrestricted_paths = ["/mnt/shared", "C:/Secrets"]\n', "x").restricted_paths,
    ["/mnt/shared", "C:/Secrets"],
  );
});

// ---------------------------------------------------------------------------
// AC-112 proxy_jump

Deno.test("AC-112: proxy_jump naming an unknown alias is fatal", () => {
  err('[hosts.a]\nproxy_jump = "nope"\n', ["hosts.a", "proxy_jump", '"nope"', "unknown alias"]);
  err('[hosts.a]\nproxy_jump = [""]\n', ["hosts.a", "proxy_jump"]);
  err('[hosts.a]\nhostname = "a.example.com"\n[hosts.b]\nproxy_jump = "a.example.com"\n', [
    "hosts.b",
    "unknown alias",
  ]);
});

Deno.test("AC-112: cycles a->a, a->b->a, a->b->c->a are fatal", () => {
  err('[hosts.a]\nproxy_jump = "a"\n', ["hosts.a", "proxy_jump", "cycle", "a -> a"]);
  err('[hosts.a]\nproxy_jump = "b"\n[hosts.b]\nproxy_jump = ["a"]\n', ["cycle", "a -> b -> a"]);
  err(
    '[hosts.a]\nproxy_jump = "b"\n[hosts.b]\nproxy_jump = "c"\n[hosts.c]\nproxy_jump = "a"\n',
    ["cycle", "a -> b -> c -> a"],
  );
});

Deno.test("AC-112: cycles through hops' own chains and revisited hops are fatal", () => {
  // x is fine itself, but its hop a sits on the a<->b cycle
  err(
    '[hosts.x]\nproxy_jump = "a"\n[hosts.a]\nproxy_jump = "b"\n[hosts.b]\nproxy_jump = "a"\n',
    ["proxy_jump", "cycle"],
  );
  // the chain of h visits a twice (directly and through b's own chain)
  err(
    '[hosts.h]\nproxy_jump = ["a", "b"]\n[hosts.a]\n[hosts.b]\nproxy_jump = "a"\n',
    ["hosts.h", "proxy_jump", "twice"],
  );
  err('[hosts.h]\nproxy_jump = ["a", "a"]\n[hosts.a]\n', ["twice"]);
  // [defaults] proxy_jump applies to the jump host itself -> cycle, with a hint
  err('[defaults]\nproxy_jump = "bastion"\n[hosts.bastion]\n[hosts.web]\n', [
    "hosts.bastion",
    "cycle",
    "proxy_jump = []",
  ]);
});

Deno.test("AC-112: valid chains are accepted", () => {
  const f = ok(`
[defaults]
proxy_jump = "outer"
[hosts.outer]
proxy_jump = []
[hosts.inner]
[hosts.web]
proxy_jump = ["outer", "inner2"]
[hosts.inner2]
proxy_jump = []
[hosts.deep]
proxy_jump = "inner"
`);
  assert.deepEqual(f.hosts.get("inner")?.proxy_jump, ["outer"]);
  assert.deepEqual(f.hosts.get("web")?.proxy_jump, ["outer", "inner2"]);
  assert.deepEqual(f.hosts.get("outer")?.proxy_jump, []);
});

// ---------------------------------------------------------------------------
// auth

Deno.test("AC-125: malformed identity_fingerprint is fatal", () => {
  for (
    const fp of [
      "MD5:oldhash",
      "MD5:16:27:ac:a5:76:28:2d:36:63:1b:56:4d:eb:df:a6:48",
      "SHA256:short",
      "sha256:abcdefghijklmnopqrstuvwxyz",
    ]
  ) {
    err(`[hosts.x.auth]\nidentity_fingerprint = "${fp}"\n`, [
      "hosts.x.auth",
      "identity_fingerprint",
    ]);
  }
  const fp = "SHA256:" + "a".repeat(16); // exactly 23 chars
  assert.equal(
    host(`[hosts.x.auth]\nidentity_fingerprint = "${fp}"\n`, "x").auth.identity_fingerprint,
    fp,
  );
});

Deno.test("AC-128: method = password without ALLOW_PASSWORD_AUTH is fatal", () => {
  const toml = '[hosts.x.auth]\nmethod = "password"\npassword_cmd = "pass show x"\n';
  err(toml, ["hosts.x.auth", "method", "ALLOW_PASSWORD_AUTH"]);
  assert.equal(host(toml, "x", { ALLOW_PASSWORD_AUTH: true }).auth.method, "password");
  // inherited from [defaults.auth]: still fatal, and the message says where it came from
  err('[defaults.auth]\nmethod = "password"\n[hosts.y]\n', ["hosts.y.auth", "[defaults]"]);
  // a host that overrides the inherited method is fine
  assert.equal(
    host('[defaults.auth]\nmethod = "password"\n[hosts.y.auth]\nmethod = "agent"\n', "y").auth
      .method,
    "agent",
  );
});

Deno.test('AC-129: [hosts.x.auth] password = "..." is fatal as an unknown key (value not echoed)', () => {
  const msg = err('[hosts.x.auth]\npassword = "hunter2"\n', [
    "hosts.x.auth",
    "password",
    "unknown key",
    "password_cmd",
  ]);
  assert.ok(!msg.includes("hunter2"));
  const m2 = err('[defaults.auth]\npassphrase = "hunter3"\n', ["defaults.auth", "passphrase"]);
  assert.ok(!m2.includes("hunter3"));
  err('[hosts.x.auth]\nmethod = "certificate"\n', ["hosts.x.auth", "method", "agent"]);
});

Deno.test("auth: *_secret names are validated; *_cmd values are never echoed", () => {
  err('[hosts.x.auth]\npassword_secret = "../etc/passwd"\n', ["hosts.x.auth", "password_secret"]);
  err('[hosts.x]\nsudo_password_secret = "a/b"\n', ["hosts.x", "sudo_password_secret"]);
  const msg = err('[hosts.x.auth]\npassword_cmd = ["echo", "s3cret"]\n', ["password_cmd"]);
  assert.ok(!msg.includes("s3cret"));
  assert.equal(
    host('[hosts.x.auth]\npassword_secret = "web-01_pw"\n', "x").auth.password_secret,
    "web-01_pw",
  );
});

// ---------------------------------------------------------------------------
// aliases, keys, tables

Deno.test("AC-133: invalid aliases are fatal (a/b, .., ., x y, 101 chars, empty)", () => {
  for (const alias of ["a/b", "..", ".", "x y", "a".repeat(101), "", "web;rm", "ümlaut"]) {
    err(`[hosts.${JSON.stringify(alias)}]\n`, ["alias", "not valid"]);
  }
  assert.ok(ok(`[hosts.${"a".repeat(100)}]\n`).hosts.has("a".repeat(100)));
  assert.ok(ok('[hosts."web01.prod"]\n[hosts.a_b-c]\n[hosts."..."]\n').hosts.has("web01.prod"));
});

Deno.test("AC-133: alias equal to another entry's hostname is fatal", () => {
  err('[hosts.web]\nhostname = "10.0.0.5"\n[hosts.db]\nhostname = "web"\n', [
    "hosts.db",
    "hostname",
    "hosts.web",
  ]);
  // the same entry's own hostname = alias is fine; two aliases sharing a hostname too
  ok(
    '[hosts.web]\nhostname = "web"\n[hosts.web-admin]\nhostname = "10.0.0.5"\n[hosts.web-app]\nhostname = "10.0.0.5"\n',
  );
});

Deno.test("AC-134: unknown key in a host table is fatal naming hosts.x (with a suggestion)", () => {
  err('[hosts.x]\npathallowlist = ["/srv"]\n', [
    "hosts.x",
    "pathallowlist",
    "unknown key",
    'did you mean "path_allowlist"',
  ]);
  err('[defaults]\ncommand_alowlist = ["ls"]\n', ["[defaults]", "command_alowlist"]);
  err("[defaults.alerts]\ndisk_percent = 9\n", ["defaults.alerts", "disk_percent"]);
  err("[hosts.x.alerts]\ncpu_max = 9\n", ["hosts.x.alerts", "cpu_max"]);
  err("[hosts.x.network]\nallow = []\n", ["hosts.x.network", "allow"]);
  err("[network]\nallowed_cidrs = []\n", ["[network]", "allowed_cidrs"]);
  err('[hosts.x.remote_mcp]\ncmd = "x"\n', ["hosts.x.remote_mcp", "cmd"]);
  err('[hosts.x]\ncommand_rules = [{ action = "deny", pattern = "x", why = "y" }]\n', [
    "command_rules",
    "why",
  ]);
  // dotted alias without quotes becomes nested tables: hint to quote it
  err("[hosts.web01.example.com]\n", ["hosts.web01", "example", "quote"]);
});

Deno.test("§4.1: unknown top-level tables/keys are fatal; [network] is known", () => {
  err("[host.x]\n", ["host", "unknown top-level"]);
  err("[servers]\n", ["servers"]);
  err('version = "1"\n', ["version"]);
  ok("[network]\n");
});

Deno.test("§9.1-6: hosts / host entries / defaults / auth must be tables", () => {
  err('hosts = "web"\n', ["hosts", "table"]);
  err("[hosts]\nweb = 1\n", ["hosts", "web", "table"]);
  err("defaults = []\n", ["defaults", "table"]);
  err('[hosts.x]\nauth = "agent"\n', ["hosts.x", "auth", "table"]);
  err("[hosts.x]\nalerts = 5\n", ["hosts.x", "alerts", "table"]);
  err("network = 1\n", ["network", "table"]);
});

Deno.test("§9.1-6: invalid TOML names the file and the line", () => {
  const msg = err('[hosts.a]\nport = 22\nuser = "x\n', ["invalid TOML", "line 3"]);
  assert.ok(!msg.includes("\n"));
});

Deno.test("AC-135: platform solaris is fatal; linux/macos/bsd/darwin (any case) -> posix", () => {
  err('[hosts.x]\nplatform = "solaris"\n', ["hosts.x", "platform", "solaris"]);
  for (const p of ["Linux", "macos", "BSD", "darwin", "posix", "POSIX"]) {
    assert.equal(host(`[hosts.x]\nplatform = "${p}"\n`, "x").platform, "posix", p);
  }
  const w = host('[hosts.x]\nplatform = "windows"\n', "x");
  assert.equal(w.platform, "windows");
  assert.equal(w.case_insensitive_paths, true);
});

Deno.test("§4.3: case_insensitive_paths false is forced true on windows with a warning", () => {
  const toml = '[hosts.x]\nplatform = "windows"\ncase_insensitive_paths = false\n';
  assert.equal(host(toml, "x").case_insensitive_paths, true);
  assert.ok(warns(toml).some((w) => w.includes("case_insensitive_paths")));
  assert.equal(
    host("[hosts.y]\ncase_insensitive_paths = true\n", "y").case_insensitive_paths,
    true,
  );
});

Deno.test("§9.1-6: enums sudo_mode, redact_bypass_policy, become_method", () => {
  err('[hosts.x]\nsudo_mode = "always"\n', ["hosts.x", "sudo_mode"]);
  err('[hosts.x]\nredact_bypass_policy = "allow"\n', ["hosts.x", "redact_bypass_policy"]);
  err('[hosts.x]\nbecome_method = "pkexec"\n', ["hosts.x", "become_method", "doas"]);
  assert.equal(host('[hosts.x]\nbecome_method = "doas"\n', "x").become_method, "doas");
  assert.equal(
    host('[hosts.x]\nredact_bypass_policy = "warn"\n', "x").redact_bypass_policy,
    "warn",
  );
});

Deno.test("AC-663: host redact_keys_add + redact_keys_replace both set is fatal; hint 5 / -1 fatal", () => {
  err('[hosts.x]\nredact_keys_add = ["A"]\nredact_keys_replace = ["B"]\n', [
    "hosts.x",
    "redact_keys_add",
    "redact_keys_replace",
  ]);
  err('[defaults]\nredact_keys_add = ["A"]\n[hosts.x]\nredact_keys_replace = ["B"]\n', [
    "hosts.x",
    "[defaults]",
  ]);
  // host clears the inherited list: fine
  ok(
    '[defaults]\nredact_keys_add = ["A"]\n[hosts.x]\nredact_keys_add = []\nredact_keys_replace = ["B"]\n',
  );
  err("[hosts.x]\nredact_hint_chars = 5\n", ["hosts.x", "redact_hint_chars", "0..4"]);
  err("[hosts.x]\nredact_hint_chars = -1\n", ["hosts.x", "redact_hint_chars"]);
  assert.equal(host("[hosts.x]\nredact_hint_chars = 4\n", "x").redact_hint_chars, 4);
});

Deno.test("§9.1-7: caps and timeouts <= 0 are fatal", () => {
  for (
    const k of ["command_timeout", "max_command_timeout", "stdout_cap_bytes", "stderr_cap_bytes"]
  ) {
    err(`[hosts.x]\n${k} = 0\n`, ["hosts.x", k]);
    err(`[hosts.x]\n${k} = -5\n`, ["hosts.x", k]);
    err(`[hosts.x]\n${k} = 1.5\n`, ["hosts.x", k, "float"]);
    assert.equal((host(`[hosts.x]\n${k} = 30\n`, "x") as unknown as Record<string, number>)[k], 30);
  }
  err("[hosts.x.alerts]\ndisk_use_percent_max = 1.5\n", ["hosts.x.alerts", "disk_use_percent_max"]);
});

Deno.test("§9.1-7: tags must match ^[A-Za-z0-9._-]{1,50}$", () => {
  err('[hosts.x]\ntags = ["prod db"]\n', ["hosts.x", "tags", "prod db"]);
  err('[hosts.x]\ntags = [""]\n', ["tags"]);
  err(`[hosts.x]\ntags = ["${"t".repeat(51)}"]\n`, ["tags"]);
  err("[hosts.x]\ntags = [1]\n", ["tags", "not a string"]);
  assert.deepEqual(host('[hosts.x]\ntags = ["web", "eu-west.1", "web"]\n', "x").tags, [
    "web",
    "eu-west.1",
  ]);
});

Deno.test("§9.1-7: command_rules need action allow|deny and a non-empty pattern", () => {
  err('[hosts.x]\ncommand_rules = [{ action = "permit", pattern = "ls *" }]\n', [
    "hosts.x",
    "command_rules[1].action",
    "allow",
  ]);
  err('[hosts.x]\ncommand_rules = [{ action = "deny", pattern = "" }]\n', [
    "command_rules[1].pattern",
  ]);
  err('[hosts.x]\ncommand_rules = [{ action = "deny" }]\n', ["command_rules[1].pattern"]);
  err('[hosts.x]\ncommand_rules = ["deny rm"]\n', ["command_rules[1]", "table"]);
  const p = host(
    '[hosts.x]\ncommand_rules = [{ action = "allow", pattern = "systemctl status *" }, { action = "deny", pattern = "rm *" }]\n',
    "x",
  );
  assert.deepEqual(p.command_rules, [
    { action: "allow", pattern: "systemctl status *" },
    { action: "deny", pattern: "rm *" },
  ]);
});

Deno.test("§4.8: invalid CIDRs / IPs in [network] and host network tables are fatal", () => {
  err('[network]\nallow_cidrs = ["10.0.0.0/33"]\n', ["[network]", "allow_cidrs", "10.0.0.0/33"]);
  err('[network]\nblock_cidrs = ["169.254.169.254"]\n', ["block_cidrs", "/32"]);
  err('[network]\nblock_ips = ["10.0.0.0/8"]\n', ["block_ips"]);
  err('[hosts.x.network]\nallow_ips = ["300.1.1.1"]\n', ["hosts.x.network", "allow_ips"]);
  err('[hosts.x.network]\nresolve_dns = "yes"\n', ["hosts.x.network", "resolve_dns", "boolean"]);
  ok('[network]\nallow_cidrs = ["fd00::/8", "10.0.0.0/8"]\nallow_ips = ["::1", "192.0.2.1"]\n');
});

Deno.test("remote_mcp table: command/subsystem strings and allow_tools list", () => {
  const p = host('[hosts.x.remote_mcp]\nsubsystem = "mcp"\nallow_tools = ["a", "b"]\n', "x");
  assert.deepEqual(p.remote_mcp, { command: null, subsystem: "mcp", allow_tools: ["a", "b"] });
  err('[hosts.x.remote_mcp]\nallow_tools = "a"\n', ["hosts.x.remote_mcp", "allow_tools"]);
  err("[hosts.x.remote_mcp]\ncommand = 5\n", ["hosts.x.remote_mcp", "command"]);
});

Deno.test("§9.1-6: wrong value types name table and key", () => {
  err("[hosts.x]\npersistent_session = 1\n", ["hosts.x", "persistent_session", "boolean"]);
  err('[hosts.x]\nredact_entropy_detection = "maybe"\n', ["redact_entropy_detection"]);
  err("[hosts.x]\nuser = 5\n", ["hosts.x", "user", "string"]);
  err('[hosts.x]\nuser = ""\n', ["hosts.x", "user"]);
  err('[hosts.x]\nhostname = "bad host"\n', ["hosts.x", "hostname"]);
  err('[defaults]\nhostname = "one.example.com"\n', ["[defaults]", "hostname"]);
  err("[hosts.x]\ncommand_allowlist = [1]\n", ["command_allowlist"]);
  err('[hosts.x]\nnotes = ["a"]\n', ["notes"]);
  err("[hosts.x.auth]\nidentities_only = 1\n", ["hosts.x.auth", "identities_only"]);
  err("[hosts.x.alerts]\nload_avg_1min_max = -1.0\n", ["load_avg_1min_max"]);
  err('[hosts.x.alerts]\ndisk_mounts = "/"\n', ["disk_mounts"]);
});

Deno.test('optional strings: "" means unset (and overrides [defaults])', () => {
  const p = host(
    '[defaults]\ndocker_cmd = "sudo docker"\n[hosts.x]\ndocker_cmd = ""\nnotes = ""\n',
    "x",
  );
  assert.equal(p.docker_cmd, null);
  assert.equal(p.notes, null);
});

// ---------------------------------------------------------------------------
// §9.2 warnings

Deno.test("AC-015 §9.2: path_allowlist * or / warns, plus the missing deny zones", () => {
  const w = warns('[hosts.x]\npath_allowlist = ["*"]\n');
  assert.ok(w.some((m) => m.includes("hosts.x") && m.includes('"*"')));
  const zones = w.find((m) => m.includes("restricted_paths"));
  assert.ok(
    zones?.includes("/etc/shadow") && zones.includes("/etc/sudoers") && zones.includes("/etc/ssh"),
  );
  // partially covered: names only the missing zone
  const w2 = warns(
    '[hosts.x]\npath_allowlist = ["/"]\nrestricted_paths = ["/etc/shadow", "/etc/sudoers/"]\n',
  );
  const z2 = w2.find((m) => m.includes("restricted_paths"));
  assert.ok(
    z2?.includes("/etc/ssh") && !z2.includes("/etc/shadow") && !z2.includes("/etc/sudoers,"),
  );
  // covered by an ancestor, or by SSH_RESTRICTED_PATHS: only the first warning
  assert.equal(warns('[hosts.x]\npath_allowlist = ["*"]\nrestricted_paths = ["/etc"]\n').length, 1);
  assert.equal(
    warns('[hosts.x]\npath_allowlist = ["*"]\n', {
      SSH_RESTRICTED_PATHS: ["/etc/shadow", "/etc/sudoers", "/etc/ssh"],
    }).length,
    1,
  );
  assert.deepEqual(warns('[hosts.x]\npath_allowlist = ["/srv"]\n'), []);
});

Deno.test("§9.2: with ALLOW_DANGEROUS_TOOLS, command_allowlist * and empty+ALLOW_ANY_COMMAND warn", () => {
  const star = '[hosts.x]\ncommand_allowlist = ["*"]\n';
  assert.ok(
    warns(star, { ALLOW_DANGEROUS_TOOLS: true }).some((m) =>
      m.includes("hosts.x") && m.includes('"*"')
    ),
  );
  assert.deepEqual(warns(star), []);
  const empty = "[hosts.x]\n";
  assert.ok(
    warns(empty, { ALLOW_DANGEROUS_TOOLS: true, ALLOW_ANY_COMMAND: true }).some((m) =>
      m.includes("ALLOW_ANY_COMMAND")
    ),
  );
  assert.deepEqual(warns(empty, { ALLOW_DANGEROUS_TOOLS: true }), []);
});

Deno.test("§9.2 NEW: wrapper programs in command_allowlist -> one warning per host naming them", () => {
  const w = warns(
    '[hosts.x]\ncommand_allowlist = ["ls", "bash", "/usr/bin/python3", "env", "find", "ssh", "python"]\n[hosts.y]\ncommand_allowlist = ["df"]\n',
  );
  assert.equal(w.length, 1);
  for (const name of ["bash", "/usr/bin/python3", "env", "find", "ssh", "python"]) {
    assert.ok(w[0]?.includes(name), name);
  }
  assert.ok(w[0]?.includes("hosts.x") && !w[0].includes('"ls"'));
});

Deno.test("§9.2 AC-017: *_cmd starting with echo/printf warns without showing the secret", () => {
  const w = warns(
    '[hosts.x]\nsudo_password_cmd = "echo hunter2"\n[hosts.x.auth]\npassphrase_cmd = "printf %s hunter3"\n',
  );
  assert.equal(w.length, 2);
  assert.ok(w.every((m) => m.includes("hosts.x") && !m.includes("hunter")));
  assert.ok(
    w.some((m) => m.includes("sudo_password_cmd")) && w.some((m) => m.includes("passphrase_cmd")),
  );
  assert.deepEqual(
    warns('[hosts.x.auth]\npassword_cmd = "pass show x"\n', { ALLOW_PASSWORD_AUTH: true }),
    [],
  );
  assert.equal(
    warns('[hosts.x.auth]\nmethod = "password"\npassword_cmd = "/bin/echo x"\n', {
      ALLOW_PASSWORD_AUTH: true,
    }).length,
    1,
  );
});

Deno.test("§9.2: sudo_mode persistent-su warns", () => {
  assert.ok(
    warns('[hosts.x]\nsudo_mode = "persistent-su"\n').some((m) => m.includes("persistent-su")),
  );
});

Deno.test("warnings: key method without key, password without a source", () => {
  assert.ok(warns('[hosts.x.auth]\nmethod = "key"\n').some((m) => m.includes("auth.key")));
  assert.ok(
    warns('[hosts.x.auth]\nmethod = "password"\n', { ALLOW_PASSWORD_AUTH: true }).some((m) =>
      m.includes("password_cmd")
    ),
  );
});

// ---------------------------------------------------------------------------
// loadHostsFile

Deno.test("loadHostsFile: missing file -> env-only mode with an INFO notice", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const f = await loadHostsFile(settings(), dir, {});
    assert.equal(f.source, null);
    assert.equal(f.hosts.size, 0);
    assert.equal(f.notices.length, 1);
    assert.equal(f.notices[0]?.level, "INFO");
    assert.ok(f.notices[0]?.message.includes(path.join(dir, "hosts.toml")));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadHostsFile: relative to cwd, ~ / ${VAR} expanded, absolute source", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/conf`);
    await Deno.writeTextFile(`${dir}/conf/h.toml`, "[hosts.a]\n");
    const f = await loadHostsFile(settings({ SSH_HOSTS_FILE: "conf/h.toml" }), dir, {});
    assert.equal(f.source, `${dir}/conf/h.toml`);
    assert.ok(f.hosts.has("a"));
    const g = await loadHostsFile(settings({ SSH_HOSTS_FILE: "~/conf/h.toml" }), "/", {
      HOME: dir,
    });
    assert.equal(g.source, `${dir}/conf/h.toml`);
    const h = await loadHostsFile(settings({ SSH_HOSTS_FILE: "${CFG}/h.toml" }), "/", {
      CFG: `${dir}/conf`,
    });
    assert.ok(h.hosts.has("a"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadHostsFile: unreadable, non-UTF-8 or invalid files are ConfigErrors naming the file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/hosts.toml`); // a directory
    await assert.rejects(
      loadHostsFile(settings(), dir, {}),
      (e: unknown) => e instanceof ConfigError && e.message.includes(`${dir}/hosts.toml`),
    );
    await Deno.writeFile(`${dir}/bad.toml`, new Uint8Array([0x5b, 0xff, 0xfe, 0x5d]));
    await assert.rejects(
      loadHostsFile(settings({ SSH_HOSTS_FILE: "bad.toml" }), dir, {}),
      (e: unknown) => e instanceof ConfigError && e.message.includes("UTF-8"),
    );
    await Deno.writeTextFile(`${dir}/inv.toml`, "[hosts.a]\nport = 0\n");
    await assert.rejects(
      loadHostsFile(settings({ SSH_HOSTS_FILE: "inv.toml" }), dir, {}),
      (e: unknown) =>
        e instanceof ConfigError && e.message.includes(`${dir}/inv.toml`) &&
        e.message.includes("hosts.a"),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// ---------------------------------------------------------------------------
// hosts.toml.example

Deno.test("hosts.toml.example parses and documents every host/auth/alerts/network/remote_mcp key", async () => {
  const text = await Deno.readTextFile(path.join(ROOT, "hosts.toml.example"));
  const f = parseHostsToml(text, "hosts.toml.example", settings({ ALLOW_PASSWORD_AUTH: true }), {
    HOME: "/home/op",
    SSH_AUTH_SOCK: "/tmp/agent.sock",
  });
  assert.ok(f.hosts.size >= 3);
  assert.deepEqual(f.notices.filter((n) => n.level === "WARNING"), []);
  const documented = (key: string) =>
    new RegExp(`^\\s*#?\\s*${key}\\s*=`, "m").test(text) ||
    new RegExp(`^\\s*#?\\s*\\[[^\\]]*\\.${key}\\]`, "m").test(text);
  for (
    const k of [...HOST_KEYS, ...AUTH_KEYS, ...ALERTS_KEYS, ...NETWORK_KEYS, ...REMOTE_MCP_KEYS]
  ) {
    assert.ok(documented(k), `hosts.toml.example does not document ${k}`);
  }
  for (const t of ["[defaults]", "[defaults.auth]", "[defaults.alerts]", "[network]"]) {
    assert.ok(text.includes(t), t);
  }
  // every commented-out `key = value` line is itself valid when uncommented in its table
  const web = f.hosts.get("web01");
  assert.equal(web?.auth.method, "key");
  assert.deepEqual(web?.proxy_jump, ["bastion"]);
  assert.equal(f.hosts.get("bastion")?.port, 2222);
  assert.equal(f.hosts.get("win01")?.platform, "windows");
});

Deno.test("hosts.toml.example without ALLOW_PASSWORD_AUTH fails on the password host", async () => {
  const text = await Deno.readTextFile(path.join(ROOT, "hosts.toml.example"));
  assert.throws(
    () => parseHostsToml(text, "hosts.toml.example", settings(), {}),
    (e: unknown) => e instanceof ConfigError && e.message.includes("hosts.win01.auth"),
  );
});

Deno.test("hosts.toml.example: every commented-out key line is valid when uncommented", async () => {
  const text = await Deno.readTextFile(path.join(ROOT, "hosts.toml.example"));
  const uncommented = text.split("\n").map((l) => {
    const m = /^# ([a-z_]+ = .*)$/.exec(l);
    return m ? m[1] : l;
  }).join("\n")
    // proxy_jump from [defaults] would make every host (and the bastion) jump: keep it out
    .replace(/^proxy_jump = "bastion".*$/m, "")
    // add and replace are mutually exclusive on one host
    .replace(/^redact_keys_replace = .*$/m, "");
  const f = parseHostsToml(uncommented, "example", settings({ ALLOW_PASSWORD_AUTH: true }), {
    SSH_AUTH_SOCK: "/tmp/a",
  });
  assert.equal(f.hosts.get("web01")?.become_method, "sudo");
  assert.equal(f.hosts.get("bastion")?.default_dir, "/srv");
});

// ---------------------------------------------------------------------------
// COMPAT (issue 12 item 7): values python-ssh-mcp (pydantic, lax mode) accepted

Deno.test("COMPAT: quoted booleans are accepted with a deprecation WARNING naming file and key", () => {
  const toml = '[defaults]\npersistent_session = "false"\n' +
    '[hosts.web]\nhostname = "web.example"\nredact_entropy_detection = "True"\n' +
    '[hosts.web.auth]\nidentities_only = "FALSE"\n[network]\nresolve_dns = "true"\n';
  const f = ok(toml);
  const p = f.hosts.get("web")!;
  assert.equal(p.persistent_session, false);
  assert.equal(p.redact_entropy_detection, true);
  assert.equal(p.auth.identities_only, false);
  assert.equal(f.network.resolve_dns, true);
  const w = warns(toml);
  for (
    const key of [
      "defaults.persistent_session",
      "hosts.web.redact_entropy_detection",
      "hosts.web.auth.identities_only",
      "network.resolve_dns",
    ]
  ) {
    const m = w.find((x) => x.includes(`${FILE}: ${key}:`));
    assert.ok(m, `no warning for ${key} in ${JSON.stringify(w)}`);
    assert.match(m, /deprecated/);
  }
  // other strings stay errors, with a clear message
  const msg = err('[hosts.web]\npersistent_session = "sometimes"\n', [
    "hosts.web",
    "persistent_session",
    "boolean",
    '"sometimes"',
  ]);
  assert.match(msg, /true or false/);
});

Deno.test("COMPAT: integral floats for integer keys are accepted with a deprecation WARNING", () => {
  const toml = '[hosts.web]\nhostname = "web.example"\nport = 2222.0\ncommand_timeout = 90.0\n' +
    "[hosts.web.alerts]\ndisk_use_percent_max = 90.0\n";
  const p = host(toml, "web");
  assert.equal(p.port, 2222);
  assert.equal(p.command_timeout, 90);
  assert.equal(p.alerts.disk_use_percent_max, 90);
  const w = warns(toml);
  for (const key of ["hosts.web.port", "hosts.web.command_timeout"]) {
    const m = w.find((x) => x.includes(`${FILE}: ${key}:`));
    assert.ok(m, `no warning for ${key} in ${JSON.stringify(w)}`);
    assert.match(m, /deprecated/);
  }
  assert.ok(w.some((x) => x.includes("hosts.web.alerts.disk_use_percent_max: the float 90.0")));
  // non-integral floats stay errors; an integral float out of range too
  err("[hosts.web]\nport = 22.5\n", ["hosts.web", "port", "22.5", "not an integer"]);
  err("[hosts.web]\ncommand_timeout = 0.0\n", ["hosts.web", "command_timeout", "out of range"]);
  err("[hosts.web]\nport = 1e300\n", ["hosts.web", "port"]);
  err("[hosts.web]\nport = inf\n", ["hosts.web", "port"]);
  // plain integers: no warning
  assert.deepEqual(warns('[hosts.web]\nhostname = "web.example"\nport = 22\n'), []);
});

Deno.test("COMPAT: alert percentages outside 0..100 are clamped with a WARNING; hint chars stay fatal", () => {
  const toml = "[hosts.x.alerts]\ndisk_use_percent_max = 150\nmem_free_percent_min = -5\n";
  const p = host(toml, "x");
  assert.equal(p.alerts.disk_use_percent_max, 100);
  assert.equal(p.alerts.mem_free_percent_min, 0);
  const w = warns(toml);
  assert.ok(
    w.some((x) =>
      x.includes("hosts.x.alerts.disk_use_percent_max: 150") && x.includes("using 100")
    ),
  );
  assert.ok(
    w.some((x) => x.includes("hosts.x.alerts.mem_free_percent_min: -5") && x.includes("using 0")),
  );
  err("[hosts.x]\nredact_hint_chars = 5\n", ["hosts.x", "redact_hint_chars"]);
  err("[hosts.x]\nport = 70000\n", ["hosts.x", "port"]);
});
