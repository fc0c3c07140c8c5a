import assert from "node:assert/strict";
import { ConfigError } from "../../src/errors.ts";
import "../../src/config/ip_lib.ts"; // address checks without loadConfig
import {
  defaultSettings,
  isLoopbackHost,
  parseBool,
  parseList,
  parseSettings,
} from "../../src/config/settings.ts";
import { SETTINGS } from "../../src/config/types.ts";

function assertEquals(actual: unknown, expected: unknown, msg?: string): void {
  assert.deepEqual(actual, expected, msg);
}

function throwsConfigError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${e}`);
    return e;
  }
  assert.fail("expected a ConfigError");
}

/** Settings from `env` with the /run/secrets probe pointed at a path that never exists. */
function parse(env: Record<string, string>, cwd?: string) {
  return parseSettings(env, { defaultSecretsDir: "/nonexistent/ssh-mcp-secrets", cwd });
}

/** Asserts a ConfigError whose message contains every `parts` entry; returns the message. */
function fatal(env: Record<string, string>, ...parts: string[]): string {
  const e = throwsConfigError(() => parse(env));
  for (const p of parts) assert(e.message.includes(p), `"${p}" not in: ${e.message}`);
  return e.message;
}

function warnings(env: Record<string, string>): string[] {
  return parse(env).notices.filter((n) => n.level === "WARNING").map((n) => n.message);
}

Deno.test("defaults: parseSettings({}) equals defaultSettings() and the SETTINGS table", () => {
  const { settings, notices } = parse({});
  assertEquals(settings, defaultSettings());
  for (const [name, spec] of Object.entries(SETTINGS)) {
    assertEquals((settings as Record<string, unknown>)[name], spec.default, name);
  }
  assertEquals(notices, []);
  assertEquals(settings.SSH_REDACT_BYPASS_POLICY, "block");
  assertEquals(settings.SSH_HOSTS_FILE, "hosts.toml");
});

Deno.test("§1.1 bool: every accepted spelling, case-insensitive", () => {
  for (const t of ["true", "TRUE", "True", "1", "yes", "YES", "on", "On", "t", "T", "y", "Y"]) {
    assertEquals(parseBool(t), true, t);
    assertEquals(parse({ ALLOW_SUDO: t }).settings.ALLOW_SUDO, true, t);
  }
  for (const f of ["false", "FALSE", "0", "no", "No", "off", "OFF", "f", "F", "n", "N"]) {
    assertEquals(parseBool(f), false, f);
    assertEquals(parse({ OTEL_ENABLED: f }).settings.OTEL_ENABLED, false, f);
  }
});

Deno.test("§9.1-1 bool: invalid values are fatal naming variable and value", () => {
  fatal({ ALLOW_SUDO: "maybe" }, "ALLOW_SUDO", '"maybe"', "true/false");
  fatal({ ALLOW_DANGEROUS_TOOLS: "" }, "ALLOW_DANGEROUS_TOOLS");
  fatal({ OTEL_ENABLED: "2" }, "OTEL_ENABLED", '"2"');
});

Deno.test("§1.1 int: decimal only; blanks trimmed", () => {
  assertEquals(parse({ SSH_CONNECT_TIMEOUT: "25" }).settings.SSH_CONNECT_TIMEOUT, 25);
  assertEquals(parse({ SSH_CONNECT_TIMEOUT: " 7 " }).settings.SSH_CONNECT_TIMEOUT, 7);
  for (const bad of ["1e3", "0x10", "1.5", "", "ten", "10s", "1_000"]) {
    fatal({ SSH_CONNECT_TIMEOUT: bad }, "SSH_CONNECT_TIMEOUT", JSON.stringify(bad));
  }
});

Deno.test("§3.6 caps/timeouts <= 0 are fatal", () => {
  fatal({ SSH_COMMAND_TIMEOUT: "0" }, "SSH_COMMAND_TIMEOUT", "out of range", "> 0");
  fatal({ SSH_STDOUT_CAP_BYTES: "-1" }, "SSH_STDOUT_CAP_BYTES", "out of range");
  fatal({ SSH_IDLE_TIMEOUT: "0" }, "SSH_IDLE_TIMEOUT");
  fatal({ SSH_HOOKS_TIMEOUT: "-5" }, "SSH_HOOKS_TIMEOUT");
  fatal({ SSH_MAX_COMMAND_TIMEOUT: "0" }, "SSH_MAX_COMMAND_TIMEOUT");
});

Deno.test("int bounds from the table: MCP_HTTP_PORT, SSH_MAX_CONNECTIONS_PER_HOST", () => {
  fatal({ MCP_HTTP_PORT: "70000" }, "MCP_HTTP_PORT", "between 1 and 65535");
  fatal({ MCP_HTTP_PORT: "0" }, "MCP_HTTP_PORT");
  fatal({ SSH_MAX_CONNECTIONS_PER_HOST: "0" }, "SSH_MAX_CONNECTIONS_PER_HOST", "between 1 and 8");
  assertEquals(parse({ MCP_HTTP_PORT: "65535" }).settings.MCP_HTTP_PORT, 65535);
});

Deno.test("COMPAT: SSH_MAX_CONNECTIONS_PER_HOST above the channel limit is clamped with a WARNING", () => {
  for (const v of ["9", "16", "100"]) {
    const r = parse({ SSH_MAX_CONNECTIONS_PER_HOST: v });
    assertEquals(r.settings.SSH_MAX_CONNECTIONS_PER_HOST, 8);
    const w = r.notices.filter((n) => n.level === "WARNING").map((n) => n.message);
    assert(w.some((m) => m.includes("SSH_MAX_CONNECTIONS_PER_HOST") && m.includes("using 8")), v);
  }
  assertEquals(parse({ SSH_MAX_CONNECTIONS_PER_HOST: "8" }).notices.length, 0);
  // security-relevant or meaningless bounds stay fatal
  fatal({ SSH_REDACT_HINT_CHARS: "5" }, "SSH_REDACT_HINT_CHARS");
  fatal({ MCP_HTTP_PORT: "65536" }, "MCP_HTTP_PORT");
});

Deno.test("COMPAT: SSH_COMMAND_TIMEOUT above the built-in ceiling raises the ceiling (unless set)", () => {
  const r = parse({ SSH_COMMAND_TIMEOUT: "7200" });
  assertEquals(r.settings.SSH_MAX_COMMAND_TIMEOUT, 7200);
  assert(r.notices.some((n) => n.level === "WARNING" && n.message.includes("raised to 7200")));
  const explicit = parse({ SSH_COMMAND_TIMEOUT: "7200", SSH_MAX_COMMAND_TIMEOUT: "600" });
  assertEquals(explicit.settings.SSH_MAX_COMMAND_TIMEOUT, 600);
  assert(explicit.notices.some((n) => n.message.includes("above SSH_MAX_COMMAND_TIMEOUT")));
});

Deno.test("COMPAT: LOG_LEVEL as Python's logging reads it (any case, WARN, FATAL, NOTSET)", () => {
  const cases: [string, string][] = [
    ["WARN", "WARNING"],
    ["warn", "WARNING"],
    ["Warning", "WARNING"],
    ["NOTSET", "DEBUG"],
    ["notset", "DEBUG"],
    ["debug", "DEBUG"],
    [" info ", "INFO"],
    ["error", "ERROR"],
    ["FATAL", "CRITICAL"],
    ["critical", "CRITICAL"],
  ];
  for (const [raw, want] of cases) {
    assertEquals(parse({ LOG_LEVEL: raw }).settings.LOG_LEVEL, want, raw);
  }
  fatal({ LOG_LEVEL: "TRACE" }, "LOG_LEVEL", "NOTSET");
});

Deno.test("COMPAT: the reference's spellings of the BM25 settings", () => {
  for (const t of ["true", "True", "1", "yes"]) {
    assertEquals(parse({ SSH_ENABLE_BM25: t }).settings.SSH_ENABLE_BM25, true, t);
  }
  assertEquals(parse({ ssh_enable_bm25: "TRUE" }).settings.SSH_ENABLE_BM25, true);
  assertEquals(parse({ SSH_BM25_MAX_RESULTS: "5" }).settings.SSH_BM25_MAX_RESULTS, 5);
  assertEquals(parse({ SSH_BM25_MAX_RESULTS: " 12 " }).settings.SSH_BM25_MAX_RESULTS, 12);
  for (
    const raw of [
      "ssh_host_ping,ssh_exec_run",
      "ssh_host_ping, ssh_exec_run",
      '["ssh_host_ping","ssh_exec_run"]',
      '[ "ssh_host_ping", "ssh_exec_run" ]',
    ]
  ) {
    assertEquals(
      [...parse({ SSH_BM25_ALWAYS_VISIBLE: raw }).settings.SSH_BM25_ALWAYS_VISIBLE],
      ["ssh_host_ping", "ssh_exec_run"],
      raw,
    );
  }
  assertEquals(parse({}).settings.SSH_ENABLE_BM25, false);
  assertEquals(parse({}).settings.SSH_BM25_MAX_RESULTS, 8);
});

Deno.test("AC-663: SSH_REDACT_HINT_CHARS 5 or -1 is fatal; 0..4 accepted", () => {
  fatal({ SSH_REDACT_HINT_CHARS: "5" }, "SSH_REDACT_HINT_CHARS", "between 0 and 4");
  fatal({ SSH_REDACT_HINT_CHARS: "-1" }, "SSH_REDACT_HINT_CHARS", "between 0 and 4");
  for (const ok of ["0", "4"]) {
    assertEquals(parse({ SSH_REDACT_HINT_CHARS: ok }).settings.SSH_REDACT_HINT_CHARS, Number(ok));
  }
});

Deno.test("AC-663: SSH_REDACT_KEYS_ADD and SSH_REDACT_KEYS_REPLACE both set is fatal", () => {
  fatal(
    { SSH_REDACT_KEYS_ADD: "DSN", SSH_REDACT_KEYS_REPLACE: "PASSWORD" },
    "SSH_REDACT_KEYS_ADD",
    "SSH_REDACT_KEYS_REPLACE",
    "mutually exclusive",
  );
  // one of them, or both blank, is fine
  assertEquals(parse({ SSH_REDACT_KEYS_ADD: "DSN" }).settings.SSH_REDACT_KEYS_ADD, ["DSN"]);
  parse({ SSH_REDACT_KEYS_ADD: " ", SSH_REDACT_KEYS_REPLACE: "" });
});

Deno.test("AC-660: SSH_REDACT_SALT of 31 chars is fatal and never echoed; 32 accepted", () => {
  const salt31 = "s".repeat(30) + "Q";
  const msg = fatal({ SSH_REDACT_SALT: salt31 }, "SSH_REDACT_SALT", "31", "32");
  assert(!msg.includes(salt31));
  const salt32 = "k".repeat(32);
  assertEquals(parse({ SSH_REDACT_SALT: salt32 }).settings.SSH_REDACT_SALT, salt32);
  assertEquals(parse({ SSH_REDACT_SALT: "" }).settings.SSH_REDACT_SALT, "");
});

Deno.test("§1.1 list: blank, comma split, JSON arrays", () => {
  assertEquals(parseList(""), []);
  assertEquals(parseList("   "), []);
  assertEquals(parseList(" a, b ,,c ,"), ["a", "b", "c"]);
  assertEquals(parseList('["a,b", " c "]'), ["a,b", " c "]);
  assertEquals(parseList("[]"), []);
  const s = parse({ SSH_PATH_ALLOWLIST: '["/srv/a,b", "/opt"]', SSH_HOSTS_ALLOWLIST: "h1, h2" });
  assertEquals(s.settings.SSH_PATH_ALLOWLIST, ["/srv/a,b", "/opt"]);
  assertEquals(s.settings.SSH_HOSTS_ALLOWLIST, ["h1", "h2"]);
  assertEquals(
    parse({ SSH_BM25_ALWAYS_VISIBLE: "" }).settings.SSH_BM25_ALWAYS_VISIBLE,
    [],
  );
});

Deno.test("§9.1-1 list: invalid JSON or non-string items are fatal", () => {
  fatal({ SSH_COMMAND_ALLOWLIST: '["ls",' }, "SSH_COMMAND_ALLOWLIST", "invalid JSON");
  fatal({ SSH_COMMAND_ALLOWLIST: "[1, 2]" }, "SSH_COMMAND_ALLOWLIST", "array of strings");
  fatal({ SSH_RESTRICTED_PATHS: '[{"a":1}]' }, "SSH_RESTRICTED_PATHS");
});

Deno.test("§1.1 path (NEW, AC-906): blank optional path = disabled (null); blank required path = the default", () => {
  // AC-051: blank / whitespace SSH_CONFIG_FILE = unset
  assertEquals(parse({ SSH_CONFIG_FILE: "" }).settings.SSH_CONFIG_FILE, null);
  assertEquals(parse({ SSH_CONFIG_FILE: "   " }).settings.SSH_CONFIG_FILE, null);
  assertEquals(
    parse({ SSH_CONFIG_FILE: " ~/.ssh/config " }).settings.SSH_CONFIG_FILE,
    "~/.ssh/config",
  );
  assertEquals(parse({ SSH_HOST_NOTES_DIR: "" }).settings.SSH_HOST_NOTES_DIR, null);
  assertEquals(parse({}).settings.SSH_HOST_NOTES_DIR, "notes");
  assertEquals(parse({ SSH_HOSTS_FILE: " " }).settings.SSH_HOSTS_FILE, null);
  assertEquals(parse({}).settings.SSH_HOSTS_FILE, "hosts.toml");
  assertEquals(parse({ SSH_KNOWN_HOSTS: "" }).settings.SSH_KNOWN_HOSTS, "~/.ssh/known_hosts");
  assertEquals(parse({ SSH_DEFAULT_KEY: "" }).settings.SSH_DEFAULT_KEY, null);
  // paths are stored unexpanded (expanded at use time)
  assertEquals(parse({ SSH_KNOWN_HOSTS: "~/kh" }).settings.SSH_KNOWN_HOSTS, "~/kh");
});

Deno.test("strings: blank = default; SSH_DOCKER_CMD blank -> docker", () => {
  assertEquals(parse({ SSH_DOCKER_CMD: "" }).settings.SSH_DOCKER_CMD, "docker");
  assertEquals(parse({ SSH_DOCKER_CMD: "sudo docker" }).settings.SSH_DOCKER_CMD, "sudo docker");
  assertEquals(parse({ SSH_SUDO_PASSWORD_CMD: " " }).settings.SSH_SUDO_PASSWORD_CMD, null);
  assertEquals(parse({ SSH_DEFAULT_USER: "" }).settings.SSH_DEFAULT_USER, "root");
});

Deno.test("§1.1 enum: exact literal only", () => {
  assertEquals(
    parse({ SSH_REDACT_BYPASS_POLICY: "audit_only" }).settings.SSH_REDACT_BYPASS_POLICY,
    "audit_only",
  );
  fatal(
    { SSH_REDACT_BYPASS_POLICY: "BLOCK" },
    "SSH_REDACT_BYPASS_POLICY",
    '"BLOCK"',
    "block, warn, audit_only",
  );
  fatal({ SSH_SUDO_MODE: "persistent" }, "SSH_SUDO_MODE");
  fatal({ LOG_LEVEL: "verbose" }, "LOG_LEVEL", "DEBUG");
  fatal({ MCP_TRANSPORT: "websocket" }, "MCP_TRANSPORT");
  fatal({ SSH_LOG_FORMAT: "JSON" }, "SSH_LOG_FORMAT");
  assertEquals(
    parse({ MCP_TRANSPORT: "streamable-http" }).settings.MCP_TRANSPORT,
    "streamable-http",
  );
  assertEquals(parse({ LOG_LEVEL: "WARNING" }).settings.LOG_LEVEL, "WARNING");
});

Deno.test("§1 names are case-insensitive; the exact spelling wins; unknown variables ignored", () => {
  assertEquals(parse({ ssh_connect_timeout: "5" }).settings.SSH_CONNECT_TIMEOUT, 5);
  assertEquals(parse({ Allow_Sudo: "yes" }).settings.ALLOW_SUDO, true);
  assertEquals(
    parse({ ssh_connect_timeout: "5", SSH_CONNECT_TIMEOUT: "6" }).settings.SSH_CONNECT_TIMEOUT,
    6,
  );
  const r = parse({ SSH_TOTALLY_UNKNOWN: "x", FOO: "bar", SSH_CONNECT_TIMOUT: "abc" });
  assertEquals(r.settings, defaultSettings());
});

Deno.test("AC-009: SSH_SUDO_PASSWORD is fatal even with ALLOW_SUDO=false; value never echoed", () => {
  const secret = "Tr0ub4dor&3-unique";
  const envs: Record<string, string>[] = [
    { SSH_SUDO_PASSWORD: secret },
    { SSH_SUDO_PASSWORD: secret, ALLOW_SUDO: "false" },
    { SSH_SUDO_PASSWORD: secret, ALLOW_SUDO: "true", ALLOW_DANGEROUS_TOOLS: "true" },
    { ssh_sudo_password: secret },
  ];
  for (const env of envs) {
    const msg = fatal(
      env,
      "AuthenticationFailed",
      "SSH_SUDO_PASSWORD",
      "SSH_SUDO_PASSWORD_CMD",
      "keyring",
    );
    assert(!msg.includes(secret), msg);
  }
  // also when another setting is invalid: the sudo check runs first and never shows the value
  const msg = fatal({ SSH_SUDO_PASSWORD: secret, ALLOW_SUDO: "bogus" }, "SSH_SUDO_PASSWORD");
  assert(!msg.includes(secret));
  // present but empty: not a secret, only a warning
  assert(warnings({ SSH_SUDO_PASSWORD: "" }).some((w) => w.includes("SSH_SUDO_PASSWORD")));
});

Deno.test("§9.1-7: MCP_HTTP_HOST non-loopback without MCP_HTTP_TOKEN is fatal; token never echoed", () => {
  fatal({ MCP_HTTP_HOST: "0.0.0.0" }, "MCP_HTTP_HOST", "0.0.0.0", "MCP_HTTP_TOKEN");
  fatal({ MCP_HTTP_HOST: "192.0.2.1", MCP_TRANSPORT: "http" }, "MCP_HTTP_TOKEN");
  fatal({ MCP_HTTP_HOST: "::" }, "MCP_HTTP_TOKEN");
  fatal({ MCP_HTTP_HOST: "example.com", MCP_HTTP_TOKEN: "" }, "MCP_HTTP_TOKEN");
  const token = "tok-" + "z".repeat(40);
  const r = parse({ MCP_HTTP_HOST: "0.0.0.0", MCP_HTTP_TOKEN: token });
  assertEquals(r.settings.MCP_HTTP_TOKEN, token);
  for (const h of ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost", "::ffff:127.0.0.1"]) {
    assert(isLoopbackHost(h), h);
    parse({ MCP_HTTP_HOST: h });
  }
  for (const h of ["0.0.0.0", "10.0.0.1", "::", "example.com", "127.1"]) {
    assert(!isLoopbackHost(h), h);
  }
});

Deno.test("§9.1-7: SSH_HOOKS_COMMAND must name an executable file (absolute or on PATH)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const exe = `${dir}/hook.sh`;
    await Deno.writeTextFile(exe, "#!/bin/sh\ncat >/dev/null\n");
    await Deno.chmod(exe, 0o755);
    const plain = `${dir}/notexec.sh`;
    await Deno.writeTextFile(plain, "#!/bin/sh\n");
    await Deno.chmod(plain, 0o644);

    assertEquals(
      parse({ SSH_HOOKS_COMMAND: `${exe} --flag 'a b'` }).settings.SSH_HOOKS_COMMAND,
      `${exe} --flag 'a b'`,
    );
    parse({ SSH_HOOKS_COMMAND: "hook.sh --x", PATH: `/nonexistent:${dir}` });
    parse({ SSH_HOOKS_COMMAND: "./hook.sh" }, dir);
    fatal({ SSH_HOOKS_COMMAND: `${plain}` }, "SSH_HOOKS_COMMAND", "not an executable");
    fatal({ SSH_HOOKS_COMMAND: `${dir}/missing --token=s3cr3t` }, "SSH_HOOKS_COMMAND", "missing");
    const msg = fatal(
      { SSH_HOOKS_COMMAND: "hook.sh --token=s3cr3t", PATH: "/nonexistent" },
      "PATH",
    );
    assert(!msg.includes("s3cr3t"));
    fatal({ SSH_HOOKS_COMMAND: dir }, "SSH_HOOKS_COMMAND"); // a directory is not a program
    fatal({ SSH_HOOKS_COMMAND: `${exe} 'unterminated` }, "SSH_HOOKS_COMMAND", "quot");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("§9.1-7: invalid CIDRs in SSH_NETWORK_* are fatal", () => {
  fatal({ SSH_NETWORK_ALLOW_CIDRS: "10.0.0.0/33" }, "SSH_NETWORK_ALLOW_CIDRS", "10.0.0.0/33");
  fatal({ SSH_NETWORK_BLOCK_CIDRS: "not-a-net" }, "SSH_NETWORK_BLOCK_CIDRS", "not-a-net");
  fatal({ SSH_NETWORK_BLOCK_CIDRS: "169.254.169.254" }, "SSH_NETWORK_BLOCK_CIDRS", "/32");
  fatal({ SSH_NETWORK_BLOCK_CIDRS: "10/8" }, "SSH_NETWORK_BLOCK_CIDRS");
  const r = parse({ SSH_NETWORK_ALLOW_CIDRS: "10.0.0.0/8, fd00::/8", SSH_NETWORK_BLOCK_CIDRS: "" });
  assertEquals(r.settings.SSH_NETWORK_ALLOW_CIDRS, ["10.0.0.0/8", "fd00::/8"]);
});

Deno.test("AC-013/AC-214: relative entries in SSH_PATH_ALLOWLIST / SSH_RESTRICTED_PATHS are fatal", () => {
  fatal({ SSH_PATH_ALLOWLIST: "/srv,opt/app" }, "SSH_PATH_ALLOWLIST", '"opt/app"', "absolute");
  fatal({ SSH_RESTRICTED_PATHS: "mnt/shared" }, "SSH_RESTRICTED_PATHS", '"mnt/shared"');
  fatal({ SSH_RESTRICTED_PATHS: "*" }, "SSH_RESTRICTED_PATHS");
  const r = parse({
    SSH_PATH_ALLOWLIST: "*",
    SSH_RESTRICTED_PATHS: '["C:\\\\Windows", "/etc/ssh"]',
  });
  assertEquals(r.settings.SSH_RESTRICTED_PATHS, ["C:\\Windows", "/etc/ssh"]);
  assert(r.notices.some((n) => n.message.includes("SSH_PATH_ALLOWLIST")));
});

Deno.test("§9.2: unknown SSH_ENABLED_GROUPS entries warn and are kept (they match no tool)", () => {
  const r = parse({ SSH_ENABLED_GROUPS: "exec,dokcer,bridge" });
  assertEquals(r.settings.SSH_ENABLED_GROUPS, ["exec", "dokcer", "bridge"]);
  const w = r.notices.filter((n) => n.level === "WARNING").map((n) => n.message);
  assertEquals(w.length, 1);
  assert(w[0]?.includes('"dokcer"') && !w[0].includes('"bridge"'));
  assertEquals(
    warnings({
      SSH_ENABLED_GROUPS:
        "host,session,sftp-read,file-ops,exec,sudo,keys,docker,shell,systemctl,pkg,bridge",
    }),
    [],
  );
});

Deno.test("§9.2: SSH_SUDO_MODE=persistent-su warns only with ALLOW_SUDO", () => {
  assert(
    warnings({ SSH_SUDO_MODE: "persistent-su", ALLOW_SUDO: "true" }).some((w) =>
      w.includes("persistent-su")
    ),
  );
  assertEquals(warnings({ SSH_SUDO_MODE: "persistent-su" }), []);
});

Deno.test("§9.2: VERSION set is ignored with a warning", () => {
  assert(warnings({ VERSION: "9.9.9" }).some((w) => w.includes("VERSION")));
});

Deno.test("§9.2: SSH_HOOKS_MODULE set warns (not loadable; use SSH_HOOKS_COMMAND)", () => {
  const w = warnings({ SSH_HOOKS_MODULE: "mycompany.hooks" });
  assert(w.some((x) => x.includes("SSH_HOOKS_MODULE") && x.includes("SSH_HOOKS_COMMAND")));
});

Deno.test("§9.2: in-memory tasks warn when the dangerous tier is on", () => {
  assert(warnings({ ALLOW_DANGEROUS_TOOLS: "true" }).some((w) => w.includes("in memory")));
  assertEquals(warnings({ ALLOW_DANGEROUS_TOOLS: "false" }), []);
});

Deno.test("§9.2 AC-017: SSH_SUDO_PASSWORD_CMD starting with echo/printf warns without the value", () => {
  const w = warnings({ SSH_SUDO_PASSWORD_CMD: "echo hunter2" });
  assertEquals(w.length, 1);
  assert(w[0]?.includes("SSH_SUDO_PASSWORD_CMD") && !w[0].includes("hunter2"));
  assertEquals(warnings({ SSH_SUDO_PASSWORD_CMD: "/bin/printf '%s' x" }).length, 1);
  assertEquals(warnings({ SSH_SUDO_PASSWORD_CMD: "pass show sudo" }), []);
});

Deno.test("§9.2 NEW: wrapper programs in SSH_COMMAND_ALLOWLIST warn", () => {
  const w = warnings({ SSH_COMMAND_ALLOWLIST: "ls,bash,/usr/bin/python3.11,df" });
  assert(
    w.some((x) => x.includes("bash") && x.includes("/usr/bin/python3.11") && !x.includes("df")),
  );
});

Deno.test("§3.12: SSH_SECRETS_DIR defaults to the secrets dir only when it exists", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const r = parseSettings({}, { defaultSecretsDir: dir });
    assertEquals(r.settings.SSH_SECRETS_DIR, dir);
    assert(r.notices.some((n) => n.level === "INFO" && n.message.includes("SSH_SECRETS_DIR")));
    assertEquals(
      parseSettings({}, { defaultSecretsDir: `${dir}/nope` }).settings.SSH_SECRETS_DIR,
      null,
    );
    // explicitly blank = disabled even when the default exists
    assertEquals(
      parseSettings({ SSH_SECRETS_DIR: "" }, { defaultSecretsDir: dir }).settings.SSH_SECRETS_DIR,
      null,
    );
    assertEquals(
      parseSettings({ SSH_SECRETS_DIR: "/etc/app-secrets" }, { defaultSecretsDir: dir }).settings
        .SSH_SECRETS_DIR,
      "/etc/app-secrets",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("defaultSettings returns fresh lists (no shared mutable state)", () => {
  const a = defaultSettings();
  a.SSH_BM25_ALWAYS_VISIBLE.push("x");
  assertEquals(defaultSettings().SSH_BM25_ALWAYS_VISIBLE.includes("x"), false);
  assertEquals(
    (SETTINGS.SSH_BM25_ALWAYS_VISIBLE.default as readonly string[]).includes("x"),
    false,
  );
});
