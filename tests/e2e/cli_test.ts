/**
 * The CLI and the stdio server as users run them: `deno task start` with the
 * configuration only in the environment, a real MCP client over stdio.
 */

import assert from "node:assert/strict";
// @ts-types="../../node_modules/@modelcontextprotocol/sdk/dist/esm/client/stdio.d.ts"
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { Client } from "@modelcontextprotocol/sdk/client";
import { ALL_TOOLS } from "../../src/tools/catalog.ts";
import { VERSION } from "../../src/version.ts";
import { startFleet } from "../_support/fleet.ts";
import { auditLines } from "../_support/mcp.ts";
import { tempDir } from "../_support/sshd.ts";

const ROOT = new URL("../..", import.meta.url).pathname;

function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
    HOME: Deno.env.get("HOME") ?? "/root",
    SSH_MCP_DISABLE_DOTENV: "1",
    SSH_HOST_NOTES_DIR: "",
    ...(Deno.env.get("DENO_DIR") ? { DENO_DIR: Deno.env.get("DENO_DIR")! } : {}),
    ...extra,
  };
}

/** Runs `deno task start` (the README command) and connects an MCP client over stdio. */
async function startTask(env: Record<string, string>) {
  const transport = new StdioClientTransport({
    command: Deno.execPath(),
    args: ["task", "--quiet", "start"],
    env: cleanEnv(env),
    cwd: ROOT,
    stderr: "pipe",
  });
  let stderr = "";
  transport.stderr?.on("data", (d: Uint8Array) => (stderr += new TextDecoder().decode(d)));
  const client = new Client({ name: "cli-test", version: "1" });
  await client.connect(transport);
  return {
    client,
    stderr: () => stderr,
    async names() {
      return (await client.listTools()).tools.map((t) => t.name).sort();
    },
    close: () => client.close(),
  };
}

async function cli(args: string[], env: Record<string, string> = {}, cwd = ROOT) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", "-A", `${ROOT}main.ts`, ...args],
    env: cleanEnv(env),
    clearEnv: true,
    cwd,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

const byTier = (tiers: string[]) =>
  ALL_TOOLS.filter((t) => tiers.includes(t.tier)).map((t) => t.name).sort();

Deno.test("TIER-2/TIER-5/TIER-6 (AC-150..152): `deno task start` shows exactly the tools each flag set allows", async () => {
  const cases: [Record<string, string>, string[]][] = [
    [{}, byTier(["read"])],
    [{ ALLOW_LOW_ACCESS_TOOLS: "true" }, byTier(["read", "low-access"])],
    [{ ALLOW_SUDO: "true" }, byTier(["read"])],
    [
      { ALLOW_DANGEROUS_TOOLS: "yes", ALLOW_SUDO: "1", ALLOW_LOW_ACCESS_TOOLS: "on" },
      ALL_TOOLS.map((t) => t.name).sort(),
    ],
    [{ SSH_ENABLED_GROUPS: "session" }, ["ssh_session_list"]],
    // AC-152: groups only narrow; with the tiers off only the read tools of those groups remain
    [
      { SSH_ENABLED_GROUPS: "exec,sudo,session" },
      ALL_TOOLS.filter((t) => t.tier === "read" && ["exec", "sudo", "session"].includes(t.group))
        .map((t) => t.name)
        .sort(),
    ],
  ];
  for (const [env, expected] of cases) {
    const s = await startTask(env);
    try {
      assert.deepEqual(await s.names(), expected, JSON.stringify(env));
    } finally {
      await s.close();
    }
  }
  assert.ok(
    byTier(["read"]).includes("ssh_host_ping") && !byTier(["read"]).includes("ssh_host_reload"),
  );
});

Deno.test("TIER-5/AC-150: a hidden tool and a non-existent tool fail identically, with no audit line", async () => {
  const s = await startTask({ SSH_AUDIT_LOG: "stderr" });
  try {
    const hidden = await s.client.callTool({ name: "ssh_host_reload", arguments: {} }).then(
      (r) => JSON.stringify(r),
      (e: Error) => e.message,
    );
    const missing = await s.client.callTool({ name: "ssh_no_such_tool", arguments: {} }).then(
      (r) => JSON.stringify(r),
      (e: Error) => e.message,
    );
    assert.equal(hidden.replace("ssh_host_reload", "X"), missing.replace("ssh_no_such_tool", "X"));
    assert.match(hidden, /not found/);
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(auditLines(s.stderr()), []);
  } finally {
    await s.close();
  }
});

Deno.test("AUDIT-1: with SSH_AUDIT_LOG unset every call leaves one pure JSON audit line on stderr", async () => {
  const fleet = await startFleet(1);
  const s = await startTask({
    SSH_HOSTS_FILE: fleet.hostsTomlPath,
    SSH_KNOWN_HOSTS: fleet.knownHostsPath,
  });
  try {
    await s.client.callTool({ name: "ssh_host_ping", arguments: { host: "h1" } });
    await s.client.callTool({ name: "ssh_host_ping", arguments: { host: "missing" } });
    await s.client.callTool({ name: "ssh_server_info", arguments: {} });
    await new Promise((r) => setTimeout(r, 100));
    const lines = auditLines(s.stderr());
    assert.deepEqual(lines.map((l) => [l.tool, l.result, l.error ?? null]), [
      ["ssh_host_ping", "ok", null],
      ["ssh_host_ping", "error", "HostNotAllowed"],
    ]);
    assert.match(s.stderr(), /tool catalog: \d+ total, \d+ visible/);
    assert.match(s.stderr(), /dotenv: (absent|disabled)/);
  } finally {
    await s.close();
    await fleet.stop();
  }
});

Deno.test("CLI: --version, --help, usage errors exit 2", async () => {
  const v = await cli(["--version"]);
  assert.equal(v.code, 0);
  assert.equal(v.stdout.trim(), `ssh-mcp ${VERSION}`);
  const h = await cli(["--help"]);
  assert.equal(h.code, 0);
  assert.match(h.stdout, /ssh-mcp doctor/);
  assert.equal((await cli(["frobnicate"])).code, 2);
  assert.equal((await cli(["serve", "extra"])).code, 2);
});

Deno.test("CLI: configuration errors exit 3 naming file, table and key (AC-013, AC-009)", async () => {
  const dir = await tempDir();
  await Deno.writeTextFile(`${dir}/hosts.toml`, '[hosts.web]\nhostname = "192.0.2.1"\nport = 0\n');
  const r = await cli(["tools"], { SSH_HOSTS_FILE: `${dir}/hosts.toml` });
  assert.equal(r.code, 3);
  assert.match(r.stderr, /hosts\.toml/);
  assert.match(r.stderr, /hosts\.web/);
  assert.match(r.stderr, /port/);
  const secret = "hunter2-should-never-print";
  const s = await cli(["serve"], { SSH_SUDO_PASSWORD: secret });
  assert.equal(s.code, 3);
  assert.match(s.stderr, /SSH_SUDO_PASSWORD_CMD/);
  assert.ok(!s.stderr.includes(secret) && !s.stdout.includes(secret));
  const bad = await cli(["tools"], { ALLOW_DANGEROUS_TOOLS: "maybe" });
  assert.equal(bad.code, 3);
  assert.match(bad.stderr, /ALLOW_DANGEROUS_TOOLS/);
});

Deno.test("CLI: `tools` prints the visible catalog (name, tier, group) for the environment", async () => {
  const r = await cli(["tools", "--json"], { ALLOW_LOW_ACCESS_TOOLS: "true" });
  assert.equal(r.code, 0);
  const rows = JSON.parse(r.stdout) as { name: string; tier: string; group: string }[];
  assert.deepEqual(rows.map((x) => x.name).sort(), byTier(["read", "low-access"]));
  assert.ok(rows.every((x) => x.tier && x.group));
  const text = await cli(["tools"]);
  assert.match(text.stdout, /ssh_host_ping\s+read\s+host/);
  assert.match(
    text.stdout,
    new RegExp(`${byTier(["read"]).length} of ${ALL_TOOLS.length} tools visible`),
  );
});

Deno.test("CLI: doctor checks host key, auth material and connection per host, with a fix per failure", async () => {
  const fleet = await startFleet(2);
  const [ok, bad] = fleet.hosts;
  await Deno.writeTextFile(fleet.knownHostsPath, ok!.sshd.knownHostsLines().join("\n") + "\n");
  const env = { SSH_HOSTS_FILE: fleet.hostsTomlPath, SSH_KNOWN_HOSTS: fleet.knownHostsPath };
  try {
    const r = await cli(["doctor", "--json"], env);
    assert.equal(r.code, 1, r.stderr);
    const rep = JSON.parse(r.stdout);
    const h1 = rep.hosts.find((h: { alias: string }) => h.alias === ok!.alias);
    const h2 = rep.hosts.find((h: { alias: string }) => h.alias === bad!.alias);
    assert.deepEqual(h1.checks.map((c: { status: string }) => c.status), ["ok", "ok", "ok"]);
    assert.match(
      h1.checks[0].detail,
      new RegExp(ok!.sshd.hostKeys[0]!.fingerprint.replace(/[+/]/g, "\\$&")),
    );
    assert.match(h1.checks[2].detail, /authenticated as/);
    assert.deepEqual(h2.checks.map((c: { status: string }) => c.status), ["fail", "ok", "skipped"]);
    assert.match(h2.checks[0].fix, /ssh-keyscan/);
    const only = await cli(["doctor", ok!.alias], env);
    assert.equal(only.code, 0, only.stdout);
    assert.match(only.stdout, /1 host\(s\) ok, 0 failing/);
    const unknown = await cli(["doctor", "nope"], env);
    assert.equal(unknown.code, 1);
    await ok!.sshd.stop();
    const down = JSON.parse((await cli(["doctor", "--json", ok!.alias], env)).stdout);
    const c = down.hosts[0].checks[2];
    assert.equal(c.status, "fail");
    assert.match(c.detail, /^ConnectError: /);
    assert.ok(c.fix.length > 10);
  } finally {
    await fleet.stop();
  }
});

Deno.test("AUDIT-17: doctor fails when SSH_HOSTS_FILE names a missing file or the audit sink is not writable, and says how to fix it", async () => {
  const dir = await tempDir("sshmcp-doctor-");
  const env = {
    SSH_HOSTS_FILE: `${dir}/missing-hosts.toml`,
    SSH_AUDIT_LOG: `${dir}/no-such-dir/audit.log`,
    SSH_KNOWN_HOSTS: `${dir}/known_hosts`,
  };
  const r = await cli(["doctor", "--json"], env);
  assert.equal(r.code, 1, r.stderr);
  const rep = JSON.parse(r.stdout);
  assert.equal(rep.ok, false);
  const by = Object.fromEntries(
    rep.server_checks.map((c: { check: string }) => [c.check, c]),
  ) as Record<string, { status: string; detail: string; fix?: string }>;
  assert.equal(by.hosts_file!.status, "fail");
  assert.match(by.hosts_file!.detail, /missing-hosts\.toml, which does not exist/);
  assert.match(by.hosts_file!.fix!, /hosts\.toml\.example/);
  assert.equal(by.audit_log!.status, "fail");
  assert.match(by.audit_log!.detail, /no-such-dir.*does not exist; the server refuses to start/);
  assert.match(by.audit_log!.fix!, /SSH_AUDIT_LOG=stderr/);
  assert.equal(by.transport!.status, "ok");
  const text = await cli(["doctor"], env);
  assert.equal(text.code, 1);
  assert.match(text.stdout, /FAIL hosts_file/);
  assert.match(text.stdout, /FAIL audit_log/);
  assert.match(text.stdout, /fix: create the directory/);
  assert.match(text.stdout, /2 server check\(s\) failing/);
  // fixed: both checks pass, nothing was created by the check itself
  await Deno.mkdir(`${dir}/no-such-dir`);
  await Deno.writeTextFile(`${dir}/missing-hosts.toml`, "");
  const ok = JSON.parse((await cli(["doctor", "--json"], env)).stdout);
  assert.deepEqual(
    ok.server_checks.map((c: { status: string }) => c.status),
    ["ok", "ok", "ok"],
  );
  assert.deepEqual([...Deno.readDirSync(`${dir}/no-such-dir`)], []);
  // unset SSH_HOSTS_FILE with no hosts.toml in the working directory: env-only mode is fine
  const envOnly = await cli(["doctor", "--json"], { SSH_KNOWN_HOSTS: `${dir}/known_hosts` }, dir);
  const eo = JSON.parse(envOnly.stdout);
  assert.equal(eo.server_checks[0].status, "ok");
  assert.match(eo.server_checks[0].detail, /env-only mode/);
});
