/**
 * `ssh-mcp init`: a starter hosts.toml from a real `~/.ssh/config` (with an
 * Include file, a `Host *` block and wildcard patterns) in a temporary HOME,
 * loaded back with the project's own loader, never overwriting a file, and
 * reporting the hosts without a pinned key with the out-of-band steps; then
 * `ssh-mcp doctor --json` reads the generated file. Nothing here touches the
 * network.
 */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { join } from "node:path";
import { runInit } from "../../src/init.ts";
import { loadConfig } from "../../src/config/load.ts";
import { START_PERMS } from "../_support/mcp.ts";

const ROOT = new URL("../..", import.meta.url).pathname;

/** A syntactically valid known_hosts ed25519 key (the parser checks the blob). */
function ed25519Line(host: string, seed: number): string {
  const type = Buffer.from("ssh-ed25519");
  const key = Buffer.alloc(32, seed);
  const len = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n);
    return b;
  };
  const blob = Buffer.concat([len(type.length), type, len(key.length), key]);
  return `${host} ssh-ed25519 ${blob.toString("base64")}`;
}

const SSH_CONFIG = `# main file
Include conf.d/*.conf

Host web
  HostName 127.0.0.1
  Port 2222
  User deploy
  IdentityFile ~/.ssh/web_ed25519

Host app
  HostName 10.0.0.7
  User ops
  ProxyJump jump

Host *.internal db?
  User nobody

Host *
  ServerAliveInterval 30
  User fallback
`;

const INCLUDED = `Host jump
  HostName 192.0.2.20
  Port 2200
  User jumper
`;

interface Home {
  home: string;
  out: string;
  knownHosts: string;
  env: Record<string, string>;
}

async function makeHome(): Promise<Home> {
  const home = await Deno.makeTempDir({ prefix: "sshmcp-init-" });
  await Deno.mkdir(join(home, ".ssh", "conf.d"), { recursive: true, mode: 0o700 });
  await Deno.writeTextFile(join(home, ".ssh", "config"), SSH_CONFIG, { mode: 0o600 });
  await Deno.writeTextFile(join(home, ".ssh", "conf.d", "jump.conf"), INCLUDED, { mode: 0o600 });
  await Deno.chmod(join(home, ".ssh", "conf.d", "jump.conf"), 0o600);
  const knownHosts = join(home, ".ssh", "known_hosts");
  // app (port 22) is pinned; web ([127.0.0.1]:2222) and jump ([192.0.2.20]:2200) are not
  await Deno.writeTextFile(knownHosts, ed25519Line("10.0.0.7", 7) + "\n", { mode: 0o600 });
  return {
    home,
    out: join(home, ".config", "ssh-mcp", "hosts.toml"),
    knownHosts,
    env: { HOME: home, USER: "me", SSH_MCP_DISABLE_DOTENV: "1" },
  };
}

async function init(h: Home, args: string[] = [], env: Record<string, string> = {}) {
  let out = "";
  let err = "";
  const code = await runInit(args, {
    out: (t) => (out += t + "\n"),
    err: (t) => (err += t + "\n"),
  }, { env: { ...h.env, ...env }, cwd: h.home });
  return { code, out, err };
}

/** The keys set outside comments (`key = ...` lines) and the table headers. */
function uncommented(text: string): string[] {
  return text.split("\n").map((l) => l.replace(/#.*$/, "").trim()).filter((l) => l !== "");
}

Deno.test("init: writes a read-only starter hosts.toml that the project's loader accepts", async () => {
  const h = await makeHome();
  try {
    const r = await init(h);
    assert.equal(r.code, 0, r.err);
    const text = await Deno.readTextFile(h.out);

    // the three concrete hosts (one from the Include file); wildcards and Host * skipped
    const tables = uncommented(text).filter((l) => l.startsWith("["));
    assert.deepEqual(tables, [
      "[defaults]",
      "[hosts.jump]",
      "[hosts.jump.auth]",
      "[hosts.web]",
      "[hosts.web.auth]",
      "[hosts.app]",
      "[hosts.app.auth]",
    ]);
    assert.match(r.out, /skipped Host patterns \(wildcards \/ negations\): \*\.internal db\? \*/);

    // loads exactly as the server loads it
    const cfg = await loadConfig({
      env: { ...h.env, SSH_HOSTS_FILE: h.out, SSH_KNOWN_HOSTS: h.knownHosts },
      cwd: h.home,
    });
    assert.equal(cfg.hosts.source, h.out);
    assert.deepEqual(
      cfg.notices.filter((n) => n.level !== "INFO"),
      [],
      "no warnings from the generated file",
    );
    const hosts = cfg.hosts.hosts;
    assert.deepEqual([...hosts.keys()].sort(), ["app", "jump", "web"]);
    const web = hosts.get("web")!;
    assert.equal(web.hostname, "127.0.0.1");
    assert.equal(web.port, 2222);
    assert.equal(web.user, "deploy");
    assert.equal(web.auth.method, "key");
    assert.equal(web.auth.key, join(h.home, ".ssh", "web_ed25519"));
    const app = hosts.get("app")!;
    assert.equal(app.hostname, "10.0.0.7");
    assert.equal(app.port, 22);
    assert.equal(app.user, "ops");
    assert.deepEqual(app.proxy_jump, ["jump"]);
    assert.equal(app.auth.method, "agent");
    const jump = hosts.get("jump")!;
    assert.equal(jump.hostname, "192.0.2.20");
    assert.equal(jump.port, 2200);
    assert.equal(jump.user, "jumper");
    assert.deepEqual(jump.proxy_jump, []);
    // strict: no path may be touched until the operator lists roots
    for (const p of hosts.values()) assert.deepEqual(p.path_allowlist, []);

    // port only when not 22; read-only tier: no tier setting anywhere, the header says so
    assert.ok(!/^port = 22$/m.test(text));
    const keys = new Set(
      uncommented(text).filter((l) => !l.startsWith("[")).map((l) => l.split("=")[0]!.trim()),
    );
    assert.deepEqual(
      [...keys].sort(),
      ["hostname", "key", "method", "path_allowlist", "port", "proxy_jump", "user"],
    );
    assert.ok(!uncommented(text).some((l) => /ALLOW_/.test(l)), "no tier setting");
    assert.match(text, /READ-ONLY TIER/);
    assert.match(text, /ALLOW_LOW_ACCESS_TOOLS,\n# ALLOW_DANGEROUS_TOOLS and ALLOW_SUDO stay off/);
    assert.match(text, /STRICT HOST KEYS/);
    assert.match(text, /path_allowlist is empty/);
    assert.equal(cfg.settings.ALLOW_LOW_ACCESS_TOOLS, false);
    assert.equal(cfg.settings.ALLOW_DANGEROUS_TOOLS, false);

    // file 0600, new directory 0700
    assert.equal((await Deno.stat(h.out)).mode! & 0o777, 0o600);
    assert.equal((await Deno.stat(join(h.home, ".config", "ssh-mcp"))).mode! & 0o777, 0o700);
    // no temporary file left behind
    assert.deepEqual(
      [...Deno.readDirSync(join(h.home, ".config", "ssh-mcp"))].map((e) => e.name),
      ["hosts.toml"],
    );
    // not the server's default location: the env line is printed
    assert.match(r.out, /next: ssh-mcp doctor/);
    assert.ok(r.out.includes(`SSH_HOSTS_FILE=${h.out}`));
  } finally {
    await Deno.remove(h.home, { recursive: true });
  }
});

Deno.test("init: never overwrites an existing file", async () => {
  const h = await makeHome();
  try {
    await Deno.mkdir(join(h.home, ".config", "ssh-mcp"), { recursive: true });
    const before = new TextEncoder().encode('# mine\n[hosts.keep]\nhostname = "k"\n');
    await Deno.writeFile(h.out, before, { mode: 0o640 });
    const r = await init(h);
    assert.equal(r.code, 3);
    assert.ok(r.err.includes(h.out), r.err);
    assert.match(r.err, /never overwrites/);
    assert.match(r.err, /--out/);
    assert.deepEqual(await Deno.readFile(h.out), before);
    assert.equal((await Deno.stat(h.out)).mode! & 0o777, 0o640);

    // SSH_HOSTS_FILE is the default output: the same refusal
    const other = join(h.home, "named.toml");
    await Deno.writeTextFile(other, "x");
    const r2 = await init(h, [], { SSH_HOSTS_FILE: other });
    assert.equal(r2.code, 3);
    assert.ok(r2.err.includes(other));
    assert.equal(await Deno.readTextFile(other), "x");

    // --out elsewhere works, and the env line names it
    const alt = join(h.home, "alt", "hosts.toml");
    const r3 = await init(h, ["--out", alt]);
    assert.equal(r3.code, 0, r3.err);
    assert.ok(r3.out.includes(`SSH_HOSTS_FILE=${alt}`));
    // SSH_HOSTS_FILE already pointing at the written file: no env line
    const named = join(h.home, "named2.toml");
    const r4 = await init(h, [], { SSH_HOSTS_FILE: named });
    assert.equal(r4.code, 0, r4.err);
    assert.ok(await Deno.stat(named));
    assert.ok(!r4.out.includes("SSH_HOSTS_FILE="), r4.out);
  } finally {
    await Deno.remove(h.home, { recursive: true });
  }
});

Deno.test("init: reports the hosts without a pinned key with the out-of-band steps", async () => {
  const h = await makeHome();
  try {
    const r = await init(h);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /ok\s+app\s+pinned for 10\.0\.0\.7/);
    assert.match(r.out, /MISSING\s+web\s+no pinned key for \[127\.0\.0\.1\]:2222/);
    assert.match(r.out, /MISSING\s+jump\s+no pinned key for \[192\.0\.2\.20\]:2200/);
    for (const [alias, host, port] of [["web", "127.0.0.1", 2222], ["jump", "192.0.2.20", 2200]]) {
      assert.ok(r.out.includes(`ssh-keyscan -p ${port} ${host} > /tmp/${alias}.keys`), r.out);
      assert.ok(r.out.includes(`ssh-keygen -lf /tmp/${alias}.keys`));
      assert.ok(r.out.includes(`grep ssh-ed25519 /tmp/${alias}.keys >> ${h.knownHosts}`));
    }
    assert.ok(r.out.includes("ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub"));
    assert.ok(!r.out.includes("/tmp/app.keys"), "the pinned host gets no steps");
    assert.match(r.out, /2 host\(s\) have no pinned key/);

    // a key in SSH_PINNED_KNOWN_HOSTS counts too (the server reads both files)
    const pins = join(h.home, "pins");
    await Deno.writeTextFile(pins, ed25519Line("[127.0.0.1]:2222", 9) + "\n");
    const r2 = await init(h, ["--out", join(h.home, "second.toml")], {
      SSH_PINNED_KNOWN_HOSTS: pins,
    });
    assert.equal(r2.code, 0, r2.err);
    assert.match(r2.out, /ok\s+web\s+pinned for \[127\.0\.0\.1\]:2222/);
    assert.ok(!r2.out.includes("/tmp/web.keys"));
    assert.ok(r2.out.includes("ssh-keyscan -p 2200 192.0.2.20 > /tmp/jump.keys"));
    assert.match(r2.out, /1 host\(s\) have no pinned key/);
  } finally {
    await Deno.remove(h.home, { recursive: true });
  }
});

Deno.test("init: aliases that cannot be hosts.toml keys are skipped and named", async () => {
  const h = await makeHome();
  try {
    const cfgFile = join(h.home, "other_config");
    await Deno.writeTextFile(
      cfgFile,
      'Host "bad alias" db.prod\n  HostName 192.0.2.30\n',
      { mode: 0o600 },
    );
    const out = join(h.home, "o.toml");
    const r = await init(h, ["--ssh-config", cfgFile, `--out=${out}`]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /skipped: "bad alias" .*not a valid hosts\.toml alias/);
    const text = await Deno.readTextFile(out);
    assert.match(text, /^# .*"bad alias".*not a valid hosts\.toml alias/m);
    assert.match(text, /^\[hosts\."db\.prod"\]$/m);
    const cfg = await loadConfig({ env: { ...h.env, SSH_HOSTS_FILE: out }, cwd: h.home });
    assert.deepEqual([...cfg.hosts.hosts.keys()], ["db.prod"]);
    // the local user, as ssh would use, when ssh_config sets none
    assert.equal(cfg.hosts.hosts.get("db.prod")!.user, "me");
  } finally {
    await Deno.remove(h.home, { recursive: true });
  }
});

Deno.test("init: usage and configuration errors", async () => {
  const h = await makeHome();
  try {
    for (const args of [["--bogus"], ["--force"], ["--out"], ["--out", "a", "--out", "b"], ["x"]]) {
      const r = await init(h, args);
      assert.equal(r.code, 2, args.join(" "));
      assert.match(r.err, /usage: ssh-mcp init \[--ssh-config FILE\] \[--out FILE\]/);
    }
    const missing = await init(h, ["--ssh-config", join(h.home, "nope")]);
    assert.equal(missing.code, 3);
    assert.match(missing.err, /not found/);
    const onlyWild = join(h.home, "wild");
    await Deno.writeTextFile(onlyWild, "Host *\n  User x\n");
    const none = await init(h, ["--ssh-config", onlyWild]);
    assert.equal(none.code, 3);
    assert.match(none.err, /no concrete Host entry/);
    // nothing was written by the failures
    await assert.rejects(Deno.stat(h.out), Deno.errors.NotFound);
  } finally {
    await Deno.remove(h.home, { recursive: true });
  }
});

/** The deno cache of this process (a temp HOME would otherwise start an empty one). */
async function denoDir(): Promise<string> {
  const env = Deno.env.get("DENO_DIR");
  if (env) return env;
  const o = await new Deno.Command(Deno.execPath(), { args: ["info", "--json"], stdout: "piped" })
    .output();
  return JSON.parse(new TextDecoder().decode(o.stdout)).denoDir;
}

async function cli(args: string[], env: Record<string, string>) {
  const o = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", ...START_PERMS, `${ROOT}main.ts`, ...args],
    env: {
      PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
      DENO_DIR: await denoDir(),
      SSH_HOST_NOTES_DIR: "",
      ...env,
    },
    clearEnv: true,
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: o.code, stdout: dec.decode(o.stdout), stderr: dec.decode(o.stderr) };
}

Deno.test("init: the real CLI writes the file and `ssh-mcp doctor --json` reads it", async () => {
  const h = await makeHome();
  try {
    const r = await cli(["init"], h.env);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.includes(`wrote ${h.out}`), r.stdout);
    assert.match(r.stdout, /MISSING\s+web\s+no pinned key for \[127\.0\.0\.1\]:2222/);
    assert.equal((await Deno.stat(h.out)).mode! & 0o777, 0o600);
    const bytes = await Deno.readFile(h.out);

    // a second run refuses and leaves the file as it was
    const again = await cli(["init"], h.env);
    assert.equal(again.code, 3);
    assert.ok(again.stderr.includes(h.out));
    assert.deepEqual(await Deno.readFile(h.out), bytes);

    const bad = await cli(["init", "--nope"], h.env);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /usage: ssh-mcp init/);

    // doctor parses the generated file (hosts fail: keys missing, no agent; nothing connects)
    const d = await cli(["doctor", "--json"], {
      ...h.env,
      SSH_HOSTS_FILE: h.out,
      SSH_KNOWN_HOSTS: h.knownHosts,
    });
    assert.ok(d.code === 0 || d.code === 1, d.stderr);
    const report = JSON.parse(d.stdout);
    assert.equal(report.config.hosts_file, h.out);
    assert.deepEqual(
      report.hosts.map((x: { alias: string }) => x.alias).sort(),
      ["app", "jump", "web"],
    );
    const app = report.hosts.find((x: { alias: string }) => x.alias === "app");
    assert.equal(app.checks.find((c: { check: string }) => c.check === "host_key").status, "ok");
  } finally {
    await Deno.remove(h.home, { recursive: true });
  }
});
