/**
 * OpenSSH client config subset (CONFIG.md §7). The table tests compare
 * `SshConfig.resolve()` with OpenSSH itself: `ssh -G -F <file> <host>` for the
 * effective options, and `ssh -v` against a local TCP listener for the
 * expanded IdentityFile tokens (`ssh -G` prints them unexpanded). OpenSSH's
 * `ssh` must be installed (CI installs openssh-client); these tests fail, not
 * skip, without it.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import {
  type AlgorithmDefaults,
  applyAlgorithmModifiers,
  parseJumpHop,
  type ProxyJumpHop,
  splitArgs,
  ssh2Algorithms,
  SshConfig,
  type SshConfigResult,
  toSsh2Algorithms,
} from "../../src/config/ssh_config.ts";
import { Logger } from "../../src/log.ts";

// ---------------------------------------------------------------------------
// helpers

async function run(
  cmd: string,
  args: string[],
): Promise<{ ok: boolean; out: string; err: string }> {
  const o = await new Deno.Command(cmd, { args, stdin: "null", stdout: "piped", stderr: "piped" })
    .output();
  const dec = new TextDecoder();
  return { ok: o.success, out: dec.decode(o.stdout), err: dec.decode(o.stderr) };
}

/** The local account as OpenSSH sees it (getpwuid, not $USER / $HOME). */
async function account(): Promise<{ user: string; home: string }> {
  const id = await run("id", ["-un"]);
  const user = id.out.trim();
  const pw = await run("getent", ["passwd", user]);
  const home = pw.out.trim().split(":")[5] ?? "";
  assert.ok(user && home, "cannot determine the local account");
  return { user, home };
}

/** `ssh -G` output as key -> values (identityfile repeats). */
async function sshG(cfg: string, host: string): Promise<Map<string, string[]>> {
  const r = await run("ssh", ["-G", "-F", cfg, host]);
  assert.ok(r.ok, `ssh -G failed: ${r.err}`);
  const m = new Map<string, string[]>();
  for (const line of r.out.split("\n")) {
    const sp = line.indexOf(" ");
    if (sp <= 0) continue;
    const k = line.slice(0, sp).toLowerCase();
    m.set(k, [...(m.get(k) ?? []), line.slice(sp + 1)]);
  }
  return m;
}

function one(m: Map<string, string[]>, k: string): string | undefined {
  return m.get(k)?.[0];
}

/** OpenSSH defaults for the algorithm lists, from an empty config. */
async function opensshDefaults(dir: string): Promise<AlgorithmDefaults> {
  const f = join(dir, "empty.conf");
  await Deno.writeTextFile(f, "");
  const g = await sshG(f, "defaults.invalid");
  const list = (k: string) => (one(g, k) ?? "").split(",");
  return {
    ciphers: list("ciphers"),
    macs: list("macs"),
    kexAlgorithms: list("kexalgorithms"),
    hostKeyAlgorithms: list("hostkeyalgorithms"),
  };
}

function parseJumpList(s: string): ProxyJumpHop[] {
  return s.split(",").map((h) => {
    const hop = parseJumpHop(h);
    assert.ok(hop, `unparsable hop ${h}`);
    return hop;
  });
}

/** Asserts that our result equals what `ssh -G` printed, field by field. */
function assertSameAsOpenSsh(
  label: string,
  host: string,
  ours: SshConfigResult,
  g: Map<string, string[]>,
  localUser: string,
  defaults: AlgorithmDefaults,
): void {
  const at = `${label} / ${host}`;
  assert.equal(ours.hostName ?? host.toLowerCase(), one(g, "hostname"), `${at}: hostname`);
  assert.equal(String(ours.port ?? 22), one(g, "port"), `${at}: port`);
  assert.equal(ours.user ?? localUser, one(g, "user"), `${at}: user`);
  if (ours.identityFiles.length > 0) {
    assert.deepEqual(ours.identityFiles, g.get("identityfile"), `${at}: identityfile`);
  }
  const pj = one(g, "proxyjump");
  assert.deepEqual(ours.proxyJump, pj === undefined ? null : parseJumpList(pj), `${at}: proxyjump`);
  assert.equal(ours.proxyCommand, one(g, "proxycommand") ?? null, `${at}: proxycommand`);
  assert.equal(ours.hostKeyAlias, one(g, "hostkeyalias") ?? null, `${at}: hostkeyalias`);
  assert.equal(
    ours.connectTimeout === null ? "none" : String(ours.connectTimeout),
    one(g, "connecttimeout"),
    `${at}: connecttimeout`,
  );
  assert.equal(
    String(ours.serverAliveInterval ?? 0),
    one(g, "serveraliveinterval"),
    `${at}: serveraliveinterval`,
  );
  assert.equal(
    ours.identitiesOnly ? "yes" : "no",
    one(g, "identitiesonly"),
    `${at}: identitiesonly`,
  );
  if (ours.identityAgent !== null) {
    assert.equal(ours.identityAgent, one(g, "identityagent"), `${at}: identityagent`);
  }
  const lists: [keyof AlgorithmDefaults, string][] = [
    ["ciphers", "ciphers"],
    ["macs", "macs"],
    ["kexAlgorithms", "kexalgorithms"],
    ["hostKeyAlgorithms", "hostkeyalgorithms"],
  ];
  for (const [field, key] of lists) {
    assert.deepEqual(ours[field] ?? defaults[field], one(g, key)?.split(","), `${at}: ${key}`);
  }
}

interface Case {
  name: string;
  /** main config; `${DIR}` is replaced by the temp directory */
  config: string;
  /** extra files relative to the temp directory */
  files?: Record<string, string>;
  hosts: string[];
  /** spot checks on top of the ssh -G comparison */
  expect?: Record<string, Partial<SshConfigResult>>;
}

const CASES: Case[] = [
  {
    name: "patterns: *, ?, negation, several patterns per line",
    config: `
Host web?? !web13 db-*
  HostName %h.internal.example
  Port 2201
Host *.example.com
  User alice
Host *
  User fallback
`,
    hosts: ["web12", "web13", "web1", "db-1", "x.example.com", "other"],
    expect: {
      web12: { hostName: "web12.internal.example", port: 2201, user: "fallback" },
      web13: { hostName: null, port: null },
      "db-1": { hostName: "db-1.internal.example" },
      "x.example.com": { user: "alice" },
    },
  },
  {
    name: "first obtained value wins; IdentityFile accumulates; multiple Host lines",
    config: `
User early
Host a
  User late-a
  IdentityFile /keys/a1
Host a b
  IdentityFile /keys/ab
  Port 2000
  Port 3000
Host *
  IdentityFile /keys/all
  IdentityFile /keys/a1
  Port 4000
`,
    hosts: ["a", "b", "c"],
    expect: {
      a: { user: "early", port: 2000, identityFiles: ["/keys/a1", "/keys/ab", "/keys/all"] },
      c: { port: 4000, identityFiles: ["/keys/all", "/keys/a1"] },
    },
  },
  {
    name: "Key=value syntax, quotes, comments, tabs, keyword case",
    config: `
# a comment
  # an indented comment
Host=q1 "q2"
\tUSER = "u q"   # trailing comment
\tpOrT=2222
\tIdentityFile "${"${DIR}"}/with space/id"
\tHostKeyAlias=AliasQ
  ConnectTimeout 1m30s
  ServerAliveInterval=15
  IdentitiesOnly yes
  hostname "Q.Example.Org"
`,
    hosts: ["q1", "q2", "q3"],
    expect: {
      q1: {
        user: "u q",
        port: 2222,
        hostKeyAlias: "aliasq",
        connectTimeout: 90,
        serverAliveInterval: 15,
        identitiesOnly: true,
        hostName: "q.example.org",
      },
    },
  },
  {
    name: "Include: absolute glob, include inside an inactive block, Host inside an include",
    config: `
Host inc
  Include ${"${DIR}"}/conf.d/*.conf
  Port 2300
Host other
  Include ${"${DIR}"}/other.conf
Host *
  User default
`,
    files: {
      "conf.d/10-a.conf": "User from-a\nHost *\n  HostName from-include\n",
      "conf.d/20-b.conf": "User from-b\nIdentityFile /keys/b\n",
      "conf.d/.hidden.conf": "User hidden\n",
      "conf.d/30-c.txt": "User txt\n",
      "other.conf": "User other-u\nPort 2400\n",
    },
    hosts: ["inc", "other", "nope"],
    expect: {
      inc: { user: "from-a", hostName: "from-include", port: 2300, identityFiles: ["/keys/b"] },
      other: { user: "other-u", port: 2400 },
      nope: { user: "default", port: null },
    },
  },
  {
    name: "Match blocks are ignored (non-matching Match so OpenSSH agrees); Match all",
    config: `
Match host nothing-matches-this
  User m
  Port 1111
Host *
  User n
Match all
  Port 2222
`,
    hosts: ["a"],
    expect: { a: { user: "n", port: 2222 } },
  },
  {
    name: "ProxyJump / ProxyCommand: lists, none, first one wins",
    config: `
Host j1
  ProxyJump u1@bastion1:2201,[2001:db8::1]:23,bastion3
Host j2
  ProxyJump none
Host j3
  ProxyCommand nc %h %p
Host j4
  ProxyCommand none
Host j5
  ProxyJump ssh://u5@bastion5:2205/
Host *
  ProxyJump fallback-jump
  ProxyCommand ssh -W %h:%p gw # kept raw
`,
    hosts: ["j1", "j2", "j3", "j4", "j5", "other"],
    expect: {
      j1: {
        proxyJump: [
          { user: "u1", host: "bastion1", port: 2201 },
          { user: null, host: "2001:db8::1", port: 23 },
          { user: null, host: "bastion3", port: null },
        ],
        proxyCommand: null,
      },
      j2: { proxyJump: null, proxyCommand: "ssh -W %h:%p gw # kept raw" },
      j3: { proxyJump: null, proxyCommand: "nc %h %p" },
      j4: { proxyJump: null, proxyCommand: null },
      j5: { proxyJump: [{ user: "u5", host: "bastion5", port: 2205 }] },
      other: { proxyJump: [{ user: null, host: "fallback-jump", port: null }] },
    },
  },
  {
    name: "algorithm lists with + - ^ modifiers",
    config: `
Host alg1
  Ciphers aes256-ctr,aes128-ctr,aes256-ctr
  MACs -*sha1*
  KexAlgorithms +diffie-hellman-group14-sha1
  HostKeyAlgorithms ^ssh-ed25519,rsa-sha2-256
Host *
  Ciphers -chacha20*
  MACs hmac-sha2-256
`,
    hosts: ["alg1", "alg2"],
    expect: { alg1: { ciphers: ["aes256-ctr", "aes128-ctr"] }, alg2: { macs: ["hmac-sha2-256"] } },
  },
  {
    name: "tokens and case in HostName; IdentityAgent ~",
    config: `
Host *.short
  HostName %h.Corp.Example.COM
  IdentityAgent ~/agent-%%.sock
Host lit
  HostName 10.9.9.9
`,
    hosts: ["web.short", "WEB.short", "lit"],
    expect: {
      "web.short": { hostName: "web.short.corp.example.com" },
      lit: { hostName: "10.9.9.9" },
    },
  },
];

async function writeFiles(dir: string, files: Record<string, string>): Promise<void> {
  for (const [rel, text] of Object.entries(files)) {
    const p = join(dir, rel);
    // deno-lint-ignore no-await-in-loop
    await Deno.mkdir(join(p, ".."), { recursive: true });
    // deno-lint-ignore no-await-in-loop
    await Deno.writeTextFile(p, text);
  }
}

// ---------------------------------------------------------------------------
// comparison with OpenSSH

Deno.test("resolve() equals ssh -G for a table of configs", async (t) => {
  const { user, home } = await account();
  const dir = await Deno.makeTempDir({ prefix: "sshcfg-" });
  try {
    const defaults = await opensshDefaults(dir);
    for (const [i, c] of CASES.entries()) {
      // deno-lint-ignore no-await-in-loop
      await t.step(c.name, async () => {
        const cdir = join(dir, `case${i}`);
        await Deno.mkdir(cdir, { recursive: true });
        await writeFiles(cdir, c.files ?? {});
        const cfgPath = join(cdir, "config");
        await Deno.writeTextFile(cfgPath, c.config.replaceAll("${DIR}", cdir));
        const cfg = await SshConfig.load(cfgPath, { env: { HOME: home } });
        const theirs = await Promise.all(c.hosts.map((h) => sshG(cfgPath, h)));
        for (const [j, host] of c.hosts.entries()) {
          const ours = cfg.resolve(host, {
            localUser: user,
            remoteUser: "r",
            home,
            algorithmDefaults: defaults,
          });
          const g = theirs[j] as Map<string, string[]>;
          assertSameAsOpenSsh(c.name, host, ours, g, user, defaults);
          for (const [k, v] of Object.entries(c.expect?.[host] ?? {})) {
            assert.deepEqual(ours[k as keyof SshConfigResult], v, `${host}: ${k}`);
          }
        }
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("relative Include resolves against ~/.ssh (same as ssh -G)", async () => {
  const { user, home } = await account();
  const sshDir = join(home, ".ssh");
  let createdSshDir = false;
  try {
    await Deno.stat(sshDir);
  } catch {
    await Deno.mkdir(sshDir, { mode: 0o700 });
    createdSshDir = true;
  }
  const sub = `ssh-mcp-test-${crypto.randomUUID().slice(0, 8)}`;
  const incDir = join(sshDir, sub);
  const tmp = await Deno.makeTempDir({ prefix: "sshcfg-rel-" });
  try {
    await writeFiles(incDir, {
      "a.conf": "Host rel\n  HostName rel-a.example\n",
      "b.conf": "Host rel\n  User rel-b\n  HostName rel-b.example\n",
    });
    const cfgPath = join(tmp, "config");
    await Deno.writeTextFile(cfgPath, `Include ${sub}/*.conf\nHost *\n  Port 2022\n`);
    const cfg = await SshConfig.load(cfgPath, { env: { HOME: home } });
    const defaults = await opensshDefaults(tmp);
    const hosts = ["rel", "x"];
    const theirs = await Promise.all(hosts.map((h) => sshG(cfgPath, h)));
    for (const [j, host] of hosts.entries()) {
      const ours = cfg.resolve(host, {
        localUser: user,
        remoteUser: "r",
        home,
        algorithmDefaults: defaults,
      });
      const g = theirs[j] as Map<string, string[]>;
      assertSameAsOpenSsh("relative include", host, ours, g, user, defaults);
    }
    const rel = cfg.resolve("rel", { localUser: user, remoteUser: "r", home });
    assert.equal(rel.hostName, "rel-a.example");
    assert.equal(rel.user, "rel-b");
    assert.equal(rel.port, 2022);
    // an explicit includeBase is honoured too
    const viaBase = await SshConfig.parse(`Include *.conf\n`, {
      env: {},
      sourceName: "mem",
      includeBase: incDir,
    });
    assert.equal(viaBase.resolve("rel", { localUser: "u", remoteUser: "r", home }).user, "rel-b");
  } finally {
    await Deno.remove(incDir, { recursive: true });
    if (createdSshDir) await Deno.remove(sshDir, { recursive: true });
    await Deno.remove(tmp, { recursive: true });
  }
});

/** The identity files `ssh -v` loads (expanded), by connecting to a listener that hangs up. */
async function sshExpandedIdentities(cfgPath: string, host: string): Promise<string[]> {
  const r = await run("ssh", ["-F", cfgPath, "-v", "-o", "BatchMode=yes", host, "true"]);
  const files: string[] = [];
  for (const m of r.err.matchAll(/identity file (.*) type -?\d+\s*$/gm)) files.push(m[1] as string);
  return files.filter((f) => !(f.endsWith("-cert") && files.includes(f.slice(0, -5))));
}

Deno.test("IdentityFile tokens expand like OpenSSH (ssh -v)", async () => {
  const { user, home } = await account();
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const accepting = (async () => {
    for await (const conn of listener) conn.close();
  })();
  const tmp = await Deno.makeTempDir({ prefix: "sshcfg-tok-" });
  try {
    const cfgPath = join(tmp, "config");
    await Deno.writeTextFile(
      cfgPath,
      `Host tok
  HostName 127.0.0.1
  Port ${port}
  User remote-u
  IdentityFile ~/k_%h_%r_%u_%d_%p_%n_%%
  IdentityFile \${HOME}/env-key
  IdentityFile %d/.ssh/id_test
  IdentityFile ${tmp}/plain
`,
    );
    const env = { ...Deno.env.toObject() };
    const cfg = await SshConfig.load(cfgPath, { env });
    const ours = cfg.resolve("tok", { localUser: user, remoteUser: "remote-u", home });
    const theirs = await sshExpandedIdentities(cfgPath, "tok");
    assert.deepEqual(ours.identityFiles, theirs);
    assert.equal(
      ours.identityFiles[0],
      join(home, `k_127.0.0.1_remote-u_${user}_${home}_${port}_tok_%`),
    );
    assert.deepEqual(ours.warnings, []);
  } finally {
    listener.close();
    await accepting.catch(() => {});
    await Deno.remove(tmp, { recursive: true });
  }
});

// ---------------------------------------------------------------------------
// warnings and unsupported input

function memLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  return { logger: new Logger({ level: "DEBUG", sink: (l) => lines.push(l) }), lines };
}

const CTX = { localUser: "me", remoteUser: "root", home: "/home/me" };

Deno.test("Match is unsupported: WARNING, block ignored up to the next Host", async () => {
  const { logger, lines } = memLogger();
  const cfg = await SshConfig.parse(
    `Match host web exec "true"\n  User m\n  HostName evil.example\nHost web\n  User w\n`,
    { env: {}, sourceName: "cfg", logger },
  );
  assert.equal(cfg.warnings.length, 1);
  assert.match(cfg.warnings[0] ?? "", /^cfg:1: Match is not supported/);
  // returned for the caller to log once, not logged here
  assert.ok(!lines.some((l) => l.includes("WARNING")));
  const r = cfg.resolve("web", CTX);
  assert.equal(r.user, "w");
  assert.equal(r.hostName, null);
});

Deno.test("AC-115: forwarding keywords are ignored with a warning", async () => {
  const cfg = await SshConfig.parse(
    [
      "Host *",
      "  ForwardAgent yes",
      "  LocalForward 8080 localhost:80",
      "  RemoteForward 9090 localhost:22",
      "  DynamicForward 1080",
      "  ForwardX11 yes",
      "  Tunnel yes",
      "  PermitLocalCommand yes",
      "  LocalCommand touch /tmp/pwned",
      "  ForwardAgent no",
      "  User u",
    ].join("\n"),
    { env: {}, sourceName: "cfg" },
  );
  for (
    const kw of [
      "ForwardAgent",
      "LocalForward",
      "RemoteForward",
      "DynamicForward",
      "ForwardX11",
      "Tunnel",
      "PermitLocalCommand",
      "LocalCommand",
    ]
  ) {
    assert.ok(cfg.warnings.some((w) => w.includes(`${kw} is ignored`)), kw);
  }
  // "ForwardAgent no" requests nothing: no warning for line 10
  assert.ok(!cfg.warnings.some((w) => w.startsWith("cfg:10:")));
  const r = cfg.resolve("h", CTX);
  assert.equal(r.user, "u");
  assert.equal(Object.keys(r).some((k) => /forward/i.test(k)), false);
});

Deno.test("AC-114: ProxyCommand is returned but flagged", async () => {
  const cfg = await SshConfig.parse(`Host *\n  ProxyCommand nc %h %p\n`, {
    env: {},
    sourceName: "cfg",
  });
  assert.deepEqual(cfg.warnings, []);
  const r = cfg.resolve("web", CTX);
  assert.equal(r.proxyCommand, "nc %h %p");
  assert.equal(r.warnings.length, 1);
  assert.match(r.warnings[0] ?? "", /cfg:2: ProxyCommand .*ALLOW_SSH_CONFIG_PROXYCOMMAND=true/);
});

Deno.test("other keywords are ignored silently (DEBUG only)", async () => {
  const { logger, lines } = memLogger();
  const cfg = await SshConfig.parse(
    `Host *\n  StrictHostKeyChecking no\n  ControlMaster auto\n  NoSuchKeyword x\n`,
    { env: {}, sourceName: "cfg", logger },
  );
  assert.deepEqual(cfg.warnings, []);
  assert.equal(lines.filter((l) => l.includes(" DEBUG ")).length, 3);
  assert.ok(!lines.some((l) => l.includes("WARNING")));
});

Deno.test("bad lines are warnings with file:line and are skipped", async () => {
  const cfg = await SshConfig.parse(
    [
      "Host *", // 1
      "  Port abc", // 2
      "  Port 70000", // 3
      '  User "unterminated', // 4
      "  HostName", // 5
      "  IdentitiesOnly maybe", // 6
      "  ConnectTimeout soon", // 7
      "  ProxyJump h:0", // 8
      "  Ciphers aes*", // 9
      "  User a b", // 10
      "  Port 2022", // 11
      "  User good", // 12
    ].join("\r\n"),
    { env: {}, sourceName: "f" },
  );
  const lines = cfg.warnings.map((w) => w.split(":").slice(0, 2).join(":"));
  assert.deepEqual(lines, ["f:2", "f:3", "f:4", "f:5", "f:6", "f:7", "f:8", "f:9", "f:10"]);
  const r = cfg.resolve("x", CTX);
  assert.equal(r.port, 2022);
  assert.equal(r.user, "good");
  assert.equal(r.ciphers, null);
  assert.equal(r.proxyJump, null);
});

Deno.test("Host patterns match case-insensitively (deliberate difference)", async () => {
  const cfg = await SshConfig.parse(`Host WEB-*.Example !WEB-9.example\n  User w\n`, {
    env: {},
    sourceName: "cfg",
  });
  assert.equal(cfg.resolve("web-1.example", CTX).user, "w");
  assert.equal(cfg.resolve("Web-1.EXAMPLE", CTX).user, "w");
  assert.equal(cfg.resolve("web-9.example", CTX).user, null);
});

Deno.test("a missing file is an empty config", async () => {
  const cfg = await SshConfig.load("/nonexistent/ssh-mcp/config", { env: {} });
  assert.deepEqual(cfg.warnings, []);
  assert.deepEqual(cfg.resolve("x", CTX), {
    hostName: null,
    port: null,
    user: null,
    identityFiles: [],
    identitiesOnly: null,
    identityAgent: null,
    proxyJump: null,
    proxyCommand: null,
    connectTimeout: null,
    serverAliveInterval: null,
    ciphers: null,
    macs: null,
    kexAlgorithms: null,
    hostKeyAlgorithms: null,
    hostKeyAlias: null,
    warnings: [],
  });
});

Deno.test("Include: recursion stops at depth 16; missing files are silent", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sshcfg-loop-" });
  try {
    const self = join(dir, "self.conf");
    await Deno.writeTextFile(self, `Include ${self}\nUser looped\n`);
    const cfg = await SshConfig.parse(`Include ${self}\nInclude ${dir}/missing-*.conf\n`, {
      env: {},
      sourceName: "main",
    });
    assert.equal(cfg.warnings.length, 1);
    assert.match(cfg.warnings[0] ?? "", /too many recursive configuration includes/);
    assert.equal(cfg.resolve("x", CTX).user, "looped");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Include: a file writable by others is skipped with a warning", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sshcfg-perm-" });
  try {
    const f = join(dir, "open.conf");
    await Deno.writeTextFile(f, "User sneaky\n");
    await Deno.chmod(f, 0o666);
    const cfg = await SshConfig.parse(`Include ${f}\n`, { env: {}, sourceName: "main" });
    assert.equal(cfg.warnings.length, 1);
    assert.match(cfg.warnings[0] ?? "", /bad owner or permissions/);
    assert.equal(cfg.resolve("x", CTX).user, null);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("IdentityFile / IdentityAgent expansion and errors", async () => {
  const cfg = await SshConfig.parse(
    [
      "Host a",
      "  IdentityFile ~/.ssh/id_%r@%h",
      "  IdentityFile ${KEYS}/k1",
      "  IdentityFile ${UNSET_VAR}/k2",
      "  IdentityFile ~/k_%l",
      "  IdentityFile ~other/k",
      "  IdentityAgent SSH_AUTH_SOCK",
      "Host b",
      "  IdentityAgent $MY_AGENT",
      "Host c",
      "  IdentityAgent none",
      "Host d",
      "  IdentityAgent ${XDG}/agent.sock",
    ].join("\n"),
    {
      env: { KEYS: "/srv/keys", SSH_AUTH_SOCK: "/run/agent.sock", MY_AGENT: "/tmp/a", XDG: "/x" },
      sourceName: "cfg",
    },
  );
  const a = cfg.resolve("a", CTX);
  assert.deepEqual(a.identityFiles, ["/home/me/.ssh/id_root@a", "/srv/keys/k1"]);
  assert.equal(a.warnings.length, 3);
  assert.match(a.warnings.join("\n"), /UNSET_VAR is not set/);
  assert.match(a.warnings.join("\n"), /unsupported token %l/);
  assert.match(a.warnings.join("\n"), /~user/);
  assert.equal(a.identityAgent, "/run/agent.sock");
  assert.equal(cfg.resolve("b", CTX).identityAgent, "/tmp/a");
  assert.equal(cfg.resolve("c", CTX).identityAgent, "none");
  assert.equal(cfg.resolve("d", CTX).identityAgent, "/x/agent.sock");
});

Deno.test("ctx.port feeds %p when the file sets no Port", async () => {
  const cfg = await SshConfig.parse(`IdentityFile /k/%h-%p\n`, { env: {}, sourceName: "c" });
  assert.deepEqual(cfg.resolve("h", { ...CTX, port: 2200 }).identityFiles, ["/k/h-2200"]);
  assert.deepEqual(cfg.resolve("h", CTX).identityFiles, ["/k/h-22"]);
});

// ---------------------------------------------------------------------------
// helpers exported for the pool

Deno.test("splitArgs follows OpenSSH argv_split", () => {
  assert.deepEqual(splitArgs(`a "b c" 'd e' f\\ g # comment`), ["a", "b c", "d e", "f g"]);
  assert.deepEqual(splitArgs(`x"y z"w`), ["xy zw"]);
  assert.deepEqual(splitArgs(`"a\\"b"`), ['a"b']);
  assert.deepEqual(splitArgs(`a#b`), ["a#b"]);
  assert.equal(splitArgs(`"open`), null);
});

Deno.test("parseJumpHop", () => {
  assert.deepEqual(parseJumpHop("u@h:2"), { user: "u", host: "h", port: 2 });
  assert.deepEqual(parseJumpHop("a@b@h"), { user: "a@b", host: "h", port: null });
  assert.deepEqual(parseJumpHop("[::1]:23"), { user: null, host: "::1", port: 23 });
  assert.deepEqual(parseJumpHop("ssh://u@h:5/"), { user: "u", host: "h", port: 5 });
  assert.deepEqual(parseJumpHop("h:"), { user: null, host: "h", port: null });
  for (const bad of ["", "@h", "h:0", "h:x", "[::1", "[::1]x", "::1", "ssh://h/path"]) {
    assert.equal(parseJumpHop(bad), null, bad);
  }
});

Deno.test("applyAlgorithmModifiers", () => {
  const def = ["a", "b-sha1", "c"];
  assert.deepEqual(applyAlgorithmModifiers("+d,a", def), ["a", "b-sha1", "c", "d"]);
  assert.deepEqual(applyAlgorithmModifiers("^c,d", def), ["c", "d", "a", "b-sha1"]);
  assert.deepEqual(applyAlgorithmModifiers("-*sha1,c", def), ["a"]);
  assert.deepEqual(applyAlgorithmModifiers("x,y,x", def), ["x", "y"]);
});

Deno.test("modifiers resolve against the ssh2 defaults when none are passed", async () => {
  const cfg = await SshConfig.parse(`Ciphers -aes128*\nHostKeyAlgorithms +ssh-dss\n`, {
    env: {},
    sourceName: "c",
  });
  const r = cfg.resolve("h", CTX);
  assert.deepEqual(
    r.ciphers,
    ssh2Algorithms().defaults.ciphers.filter((c) => !c.startsWith("aes128")),
  );
  assert.deepEqual(r.hostKeyAlgorithms, [
    ...ssh2Algorithms().defaults.hostKeyAlgorithms,
    "ssh-dss",
  ]);
});

Deno.test("toSsh2Algorithms maps names and drops what ssh2 lacks", async () => {
  const cfg = await SshConfig.parse(
    [
      "Ciphers aes256-gcm@openssh.com,aes128-ctr,aes128-cbc-bogus",
      "MACs umac-128-etm@openssh.com,hmac-sha2-256",
      "KexAlgorithms sntrup761x25519-sha512,curve25519-sha256",
      "HostKeyAlgorithms ssh-ed25519-cert-v01@openssh.com,ssh-ed25519",
    ].join("\n"),
    { env: {}, sourceName: "c" },
  );
  const a = toSsh2Algorithms(cfg.resolve("h", CTX));
  assert.deepEqual(a.cipher, ["aes256-gcm@openssh.com", "aes128-ctr"]);
  assert.deepEqual(a.hmac, ["hmac-sha2-256"]);
  assert.deepEqual(a.kex, ["curve25519-sha256"]);
  assert.deepEqual(a.serverHostKey, ["ssh-ed25519"]);
  assert.equal(a.warnings.length, 4);
  assert.equal(a.error, undefined);
  const none = toSsh2Algorithms(
    cfg.resolve("h", CTX) && {
      ...cfg.resolve("h", CTX),
      ciphers: null,
      macs: null,
      kexAlgorithms: null,
      hostKeyAlgorithms: null,
    },
  );
  assert.deepEqual(none, { warnings: [] });
});

Deno.test("toSsh2Algorithms fails closed when nothing supported is left", async () => {
  const cfg = await SshConfig.parse(`Host *\n  MACs umac-64@openssh.com\n  Ciphers -*\n`, {
    env: {},
    sourceName: "c",
  });
  const a = toSsh2Algorithms(cfg.resolve("h", CTX));
  assert.match(a.error ?? "", /MACs lists no algorithm ssh2 supports/);
  assert.match(a.error ?? "", /Ciphers lists no algorithm/);
  // never an empty list (ssh2 would silently fall back to its defaults)
  assert.deepEqual(a.hmac, ["umac-64@openssh.com"]);
  assert.deepEqual(a.cipher, ["none"]);
});
