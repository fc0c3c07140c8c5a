import assert from "node:assert/strict";
import * as path from "node:path";
import { ConfigError } from "../../src/errors.ts";
import { expandPath, loadDotenv, parseDotenv, shellSplit } from "../../src/config/env.ts";
import { deepEqual, loadConfig, reloadHosts } from "../../src/config/load.ts";
import { SETTINGS } from "../../src/config/types.ts";

const ROOT = path.resolve(import.meta.dirname ?? ".", "../..");

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "ssh-mcp-config-" }));
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

// ---------------------------------------------------------------------------
// .env

Deno.test("§1 .env: KEY=VALUE, export prefix, quotes, comments", () => {
  const text = [
    "\uFEFF# comment",
    "",
    "PLAIN=value",
    "export EXPORTED=yes",
    "SPACED = padded value   ",
    "INLINE=abc # trailing comment",
    "HASH=a#b",
    "SINGLE='lit ${PLAIN} \\n'",
    'DOUBLE="line1\\nline2 \\"q\\""',
    'MULTI="first',
    'second"',
    "EMPTY=",
    "INTERP=${PLAIN}-x",
    "DEFAULTED=${NOPE:-fallback}",
    "FROM_ENV=${OUTSIDE}",
    'JSON=["a","b"]',
    "not a valid line",
    "LAST=1",
  ].join("\r\n");
  const { values, badLines } = parseDotenv(text, { OUTSIDE: "o" });
  assert.deepEqual(values, {
    PLAIN: "value",
    EXPORTED: "yes",
    SPACED: "padded value",
    INLINE: "abc",
    HASH: "a#b",
    SINGLE: "lit ${PLAIN} \\n",
    DOUBLE: 'line1\nline2 "q"',
    MULTI: "first\nsecond",
    EMPTY: "",
    INTERP: "value-x",
    DEFAULTED: "fallback",
    FROM_ENV: "o",
    JSON: '["a","b"]',
    LAST: "1",
  });
  assert.deepEqual(badLines, [17]);
});

Deno.test("AC-050: .env is read from cwd only; real env wins (any case); path is absolute", async () => {
  await withDir(async (dir) => {
    await Deno.writeTextFile(
      `${dir}/.env`,
      "SSH_CONNECT_TIMEOUT=99\nALLOW_SUDO=true\nSSH_DEFAULT_USER=fromdotenv\n",
    );
    const r = loadDotenv({ SSH_CONNECT_TIMEOUT: "5", allow_sudo: "false" }, dir);
    assert.equal(r.path, path.join(dir, ".env"));
    assert.equal(r.vars["SSH_CONNECT_TIMEOUT"], "5");
    assert.equal(r.vars["ALLOW_SUDO"], undefined); // real env has it as allow_sudo
    assert.equal(r.vars["allow_sudo"], "false");
    assert.equal(r.vars["SSH_DEFAULT_USER"], "fromdotenv");
    // a .env in a parent or another directory is never read
    await Deno.mkdir(`${dir}/sub`);
    const sub = loadDotenv({}, `${dir}/sub`);
    assert.equal(sub.path, null);
    assert.deepEqual(sub.vars, {});
  });
});

Deno.test("§1 .env: SSH_MCP_DISABLE_DOTENV (non-empty) skips it; empty does not", async () => {
  await withDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/.env`, "X_FROM_DOTENV=1\n");
    const off = loadDotenv({ SSH_MCP_DISABLE_DOTENV: "1" }, dir);
    assert.equal(off.path, null);
    assert.equal(off.disabled, true);
    assert.equal(off.vars["X_FROM_DOTENV"], undefined);
    const on = loadDotenv({ SSH_MCP_DISABLE_DOTENV: "" }, dir);
    assert.equal(on.vars["X_FROM_DOTENV"], "1");
  });
});

Deno.test("§1 .env: absent -> null path; malformed lines give a notice without content", async () => {
  await withDir(async (dir) => {
    assert.equal(loadDotenv({}, dir).path, null);
    await Deno.writeTextFile(`${dir}/.env`, "GOOD=1\nsecret-looking garbage hunter2\n");
    const r = loadDotenv({}, dir);
    assert.equal(r.vars["GOOD"], "1");
    assert.equal(r.notices.length, 1);
    assert.ok(r.notices[0]?.message.includes("2") && !r.notices[0].message.includes("hunter2"));
  });
});

Deno.test("§2 expandPath: ~, ${VAR}, $VAR; unknown variables left as written", () => {
  const env = { HOME: "/home/u", SOCK: "/run/a.sock" };
  assert.equal(expandPath("~", env), "/home/u");
  assert.equal(expandPath("~/.ssh/id", env), "/home/u/.ssh/id");
  assert.equal(expandPath("${SOCK}", env), "/run/a.sock");
  assert.equal(expandPath("$SOCK.bak", env), "/run/a.sock.bak");
  assert.equal(expandPath("${NOPE}/x", env), "${NOPE}/x");
  assert.equal(expandPath("~other/x", env), "~other/x");
  assert.equal(expandPath("/abs/~", env), "/abs/~");
  assert.equal(expandPath("~/x", { USERPROFILE: "C:\\Users\\u" }), "C:\\Users\\u/x");
  assert.equal(expandPath("~/x", {}), "~/x");
});

Deno.test("shellSplit: POSIX quoting", () => {
  assert.deepEqual(shellSplit("sudo docker"), ["sudo", "docker"]);
  assert.deepEqual(shellSplit(`a 'b c' "d \\"e\\"" f\\ g`), ["a", "b c", 'd "e"', "f g"]);
  assert.deepEqual(shellSplit("  "), []);
  assert.deepEqual(shellSplit("''"), [""]);
  assert.throws(() => shellSplit("a 'b"));
  assert.throws(() => shellSplit('a "b'));
});

// ---------------------------------------------------------------------------
// loadConfig

Deno.test("loadConfig: .env + settings + hosts file, notices name the .env (AC-050)", async () => {
  await withDir(async (dir) => {
    await Deno.writeTextFile(
      `${dir}/.env`,
      "SSH_DEFAULT_USER=deploy\nSSH_HOSTS_FILE=conf/hosts.toml\n",
    );
    await Deno.mkdir(`${dir}/conf`);
    await Deno.writeTextFile(`${dir}/conf/hosts.toml`, '[hosts.web01]\nhostname = "192.0.2.10"\n');
    const c = await loadConfig({ env: { HOME: dir }, cwd: dir });
    assert.equal(c.dotenvPath, path.join(dir, ".env"));
    assert.equal(c.cwd, dir);
    assert.equal(c.settings.SSH_DEFAULT_USER, "deploy");
    assert.equal(c.hosts.source, path.join(dir, "conf/hosts.toml"));
    assert.equal(c.hosts.hosts.get("web01")?.user, "deploy");
    assert.equal(c.env["SSH_DEFAULT_USER"], "deploy");
    assert.equal(c.env["HOME"], dir);
    assert.ok(
      c.notices.some((n) => n.level === "INFO" && n.message === `dotenv: loaded ${dir}/.env`),
    );
  });
});

Deno.test("loadConfig: dotenv absent / disabled notices; env-only mode", async () => {
  await withDir(async (dir) => {
    const c = await loadConfig({ env: {}, cwd: dir });
    assert.equal(c.dotenvPath, null);
    assert.equal(c.notices[0]?.message, "dotenv: absent");
    assert.equal(c.hosts.source, null);
    assert.ok(c.notices.some((n) => n.level === "INFO" && n.message.includes("env-only")));
    await Deno.writeTextFile(`${dir}/.env`, "ALLOW_SUDO=bogus\n");
    const d = await loadConfig({ env: { SSH_MCP_DISABLE_DOTENV: "1" }, cwd: dir });
    assert.ok(d.notices[0]?.message.includes("disabled"));
  });
});

Deno.test("AC-009: SSH_SUDO_PASSWORD in .env is fatal at startup without echoing it", async () => {
  await withDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/.env`, "SSH_SUDO_PASSWORD=pa55-unique-value\n");
    await assert.rejects(
      loadConfig({ env: {}, cwd: dir }),
      (e: unknown) =>
        e instanceof ConfigError && e.message.includes("SSH_SUDO_PASSWORD") &&
        !e.message.includes("pa55-unique-value"),
    );
  });
});

Deno.test("AC-051: SSH_CONFIG_FILE blank = unset; missing -> WARNING with absolute path; valid -> honoring", async () => {
  await withDir(async (dir) => {
    const blank = await loadConfig({ env: { SSH_CONFIG_FILE: "  " }, cwd: dir });
    assert.equal(blank.settings.SSH_CONFIG_FILE, null);
    assert.ok(!blank.notices.some((n) => n.message.includes("ssh_config")));
    const missing = await loadConfig({ env: { SSH_CONFIG_FILE: "ssh/config" }, cwd: dir });
    assert.ok(
      missing.notices.some((n) =>
        n.level === "WARNING" && n.message.includes(path.join(dir, "ssh/config"))
      ),
    );
    await Deno.writeTextFile(`${dir}/cfg`, "Host *\n");
    const valid = await loadConfig({ env: { SSH_CONFIG_FILE: "~/cfg", HOME: dir }, cwd: "/" });
    assert.ok(
      valid.notices.some((n) =>
        n.level === "INFO" && n.message === `ssh_config: honoring ${dir}/cfg`
      ),
    );
  });
});

Deno.test("loadConfig: invalid hosts.toml is fatal", async () => {
  await withDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/hosts.toml`, '[hosts.a]\nproxy_jump = "a"\n');
    await assert.rejects(loadConfig({ env: {}, cwd: dir }), ConfigError);
  });
});

// ---------------------------------------------------------------------------
// reloadHosts (CONFIG.md §10)

Deno.test("§10 reloadHosts: added / removed / changed (structural), settings reused", async () => {
  await withDir(async (dir) => {
    const file = `${dir}/hosts.toml`;
    await Deno.writeTextFile(
      file,
      '[hosts.keep]\nhostname = "10.0.0.1"\n[hosts.edit]\ntags = ["a"]\n[hosts.gone]\n',
    );
    const c = await loadConfig({ env: { SSH_DEFAULT_USER: "ops" }, cwd: dir });
    // same content, different formatting and key order for keep
    await Deno.writeTextFile(
      file,
      '[hosts.new]\n[hosts.edit]\ntags = ["a", "b"]\n[hosts.keep]\nhostname   =   "10.0.0.1"\n',
    );
    const r = await reloadHosts(c);
    assert.deepEqual(r.added, ["new"]);
    assert.deepEqual(r.removed, ["gone"]);
    assert.deepEqual(r.changed, ["edit"]);
    assert.equal(r.hosts.hosts.get("new")?.user, "ops");
    // current is not mutated: the caller swaps
    assert.ok(c.hosts.hosts.has("gone"));
    // a change inside a nested table (auth) counts as changed
    await Deno.writeTextFile(
      file,
      '[hosts.new.auth]\nidentities_only = true\nidentity_fingerprint = "SHA256:0123456789abcdef0123"\n',
    );
    const r2 = await reloadHosts({ ...c, hosts: r.hosts });
    assert.deepEqual(r2.changed, ["new"]);
    assert.deepEqual(r2.removed.sort(), ["edit", "keep"]);
  });
});

Deno.test("§10 reloadHosts: invalid file throws ConfigError and keeps the current state", async () => {
  await withDir(async (dir) => {
    const file = `${dir}/hosts.toml`;
    await Deno.writeTextFile(file, "[hosts.a]\nport = 22\n");
    const c = await loadConfig({ env: {}, cwd: dir });
    const before = structuredClone([...c.hosts.hosts.entries()]);
    for (const bad of ["[hosts.a]\nport = 0\n", "[hosts.a\n", '[hosts.a]\nproxy_jump = "b"\n']) {
      // sequential on purpose: each case rewrites the same file
      // deno-lint-ignore no-await-in-loop
      await Deno.writeTextFile(file, bad);
      // deno-lint-ignore no-await-in-loop
      await assert.rejects(reloadHosts(c), ConfigError);
      assert.deepEqual([...c.hosts.hosts.entries()], before);
    }
  });
});

Deno.test("§10 reloadHosts: a deleted hosts file means env-only mode (every alias removed)", async () => {
  await withDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/hosts.toml`, "[hosts.a]\n[hosts.b]\n");
    const c = await loadConfig({ env: {}, cwd: dir });
    await Deno.remove(`${dir}/hosts.toml`);
    const r = await reloadHosts(c);
    assert.equal(r.hosts.source, null);
    assert.deepEqual(r.removed, ["a", "b"]);
  });
});

Deno.test("deepEqual: structural, key order ignored", () => {
  assert.ok(deepEqual({ a: [1, { b: null }], c: "x" }, { c: "x", a: [1, { b: null }] }));
  assert.ok(!deepEqual({ a: [1] }, { a: [1, 2] }));
  assert.ok(!deepEqual({ a: null }, { a: {} }));
  assert.ok(!deepEqual({ a: 1 }, { b: 1 }));
  assert.ok(!deepEqual([], {}));
});

// ---------------------------------------------------------------------------
// AC-003: every environment variable read by src/ is a setting or a listed exception

/** CONFIG.md §2: variables read outside the settings object (plus standard OS ones). */
const NON_SETTINGS = new Set([
  "SSH_MCP_DISABLE_DOTENV",
  "SSH_SUDO_PASSWORD",
  "SSH_AUTH_SOCK",
  "FASTMCP_DOCKET_URL",
  "HOME",
  "USERPROFILE",
  "PATH",
]);
/**
 * Standard OS variables that describe the local machine, not the server's
 * configuration (ssh_config `%u` token, Windows shell). Extend only with such
 * variables; anything configurable belongs in SETTINGS.
 */
// DENO_DIR, XDG_CACHE_HOME, LOCALAPPDATA: where the runtime keeps its module cache (LOCAL-12 protects it)
// XDG_CONFIG_HOME: where the default SSH_PINNED_KNOWN_HOSTS pin file lives when it is set
// XDG_STATE_HOME, APPDATA: where `doctor --client` suggests the audit log and finds client configs
// TMPDIR: the temp directory doctor probes to show that writes outside the grants are refused
// LOGNAME: the local user name `ssh-mcp bridge` logs in as when no user is given (like ssh)
const OS_STANDARD = new Set([
  "USER",
  "USERNAME",
  "LOGNAME",
  "XDG_STATE_HOME",
  "APPDATA",
  "COMSPEC",
  "DENO_DIR",
  "XDG_CACHE_HOME",
  "XDG_CONFIG_HOME",
  "LOCALAPPDATA",
  "TMPDIR",
]);
const NON_SETTINGS_PREFIXES = ["SSH_MCP_SECRET_", "OTEL_"];

const READ_PATTERNS = [
  /Deno\.env\.get\(\s*["'`]([A-Za-z_][A-Za-z0-9_]*)["'`]/g,
  /\benv\s*\[\s*["'`]([A-Z_][A-Z0-9_]*)["'`]\s*\]/g,
  /\benv\??\.([A-Z][A-Z0-9_]*[A-Z0-9])\b/g,
  /process\.env\.([A-Za-z_][A-Za-z0-9_]*)/g,
  /process\.env\[\s*["'`]([A-Za-z_][A-Za-z0-9_]*)["'`]\s*\]/g,
  /getEnv\(\s*[\w.]+\s*,\s*["'`]([A-Za-z_][A-Za-z0-9_]*)["'`]/g,
  // a prefix read such as env[`SSH_MCP_SECRET_${name}`]
  /\benv\s*\[\s*`([A-Z_][A-Z0-9_]*)\$\{/g,
];

async function* tsFiles(dir: string): AsyncGenerator<string> {
  for await (const e of Deno.readDir(dir)) {
    const p = path.join(dir, e.name);
    if (e.isDirectory) yield* tsFiles(p);
    else if (e.isFile && e.name.endsWith(".ts")) yield p;
  }
}

function envReads(source: string): string[] {
  const names: string[] = [];
  for (const re of READ_PATTERNS) {
    for (const m of source.matchAll(re)) if (m[1] !== undefined) names.push(m[1]);
  }
  return names;
}

Deno.test("AC-003: the scanner sees the reads it is meant to see", () => {
  assert.deepEqual(
    envReads(
      'Deno.env.get("A_B"); env["C_D"]; env.E_F; process.env.G; getEnv(env, "H_I"); env[`SSH_MCP_SECRET_${n}`]',
    ),
    ["A_B", "C_D", "E_F", "G", "H_I", "SSH_MCP_SECRET_"],
  );
});

Deno.test("AC-003: every environment variable read in src/ is in SETTINGS or CONFIG.md §2", async () => {
  const settingNames = new Set(Object.keys(SETTINGS));
  const offenders: string[] = [];
  let reads = 0;
  for await (const file of tsFiles(path.join(ROOT, "src"))) {
    const text = await Deno.readTextFile(file);
    for (const name of envReads(text)) {
      reads++;
      const upper = name.toUpperCase();
      const ok = settingNames.has(upper) || NON_SETTINGS.has(upper) || OS_STANDARD.has(upper) ||
        NON_SETTINGS_PREFIXES.some((p) => upper.startsWith(p));
      if (!ok) offenders.push(`${path.relative(ROOT, file)}: ${name}`);
    }
  }
  assert.ok(reads > 0, "scanner found no reads at all (src/config/env.ts reads HOME)");
  assert.deepEqual(offenders, [], "variables read outside SETTINGS / CONFIG.md §2");
  // and every setting has a default in the table
  for (const [name, spec] of Object.entries(SETTINGS)) {
    assert.ok("default" in spec, `${name} has no default`);
  }
});
