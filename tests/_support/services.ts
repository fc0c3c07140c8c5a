/**
 * The services + packages test bed shared by the systemctl and apt test
 * modules (root only; everything is real, nothing is mocked):
 *
 * - `.ci/testbed_services.sh setup` (run once per test process, idempotent and
 *   serialized by the script's own lock) provides a standalone journald, the
 *   systemctl-compatible script (patched, `--root` state under
 *   `/var/lib/sshmcp-services/root`) driving real unit processes, a local apt
 *   repository of packages built with dpkg-deb and two private apt views
 *   (`stable`, `updates`) over the machine's real dpkg database, and the users
 *   `sshmcpsvc` (reads; journal group; sudo with a password) and `sshmcpsvc0`
 *   (uid 0, for mutations without sudo);
 * - {@link startServicesHosts} starts real sshd hosts whose sessions see that
 *   bed through `SetEnv PATH=... APT_CONFIG=...`, and writes a hosts.toml with
 *   the aliases below.
 *
 * | alias     | login      | sshd / view                 | purpose                                 |
 * | --------- | ---------- | --------------------------- | --------------------------------------- |
 * | svc       | sshmcpsvc  | stable                      | read tools as an unprivileged user      |
 * | root      | sshmcpsvc0 | stable                      | mutations as root (reference set-up)    |
 * | rootup    | sshmcpsvc0 | updates (newer versions)    | upgrades                                |
 * | svcup     | sshmcpsvc  | updates                     | reads of the newer index                |
 * | sudo      | sshmcpsvc  | stable, sudo_tool_groups    | mutations through sudo with a password  |
 * | sudonopw  | sshmcpsvc  | stable, sudo_tool_groups    | sudo without a password source          |
 * | noapt     | sshmcpsvc  | PATH without apt/systemctl  | PlatformNotSupported                    |
 * | nosystemd | sshmcpsvc  | the machine's own systemctl | systemd not PID 1: PlatformNotSupported |
 * | win       | -          | platform = "windows"        | POSIX gate before I/O                   |
 * | standin   | sshmcpsvc0 | stable, `standinBin` first  | only with `standinBin`: stand-in tools  |
 *
 * Unit state is shared by every module on the machine, so each test creates
 * units with unique names ({@link createUnit}); the dpkg database is the
 * machine's, so every test that changes it (or compares it) runs inside
 * {@link withAptLock}, a lock across test processes.
 *
 * A missing fixture or a bed that cannot be built FAILS the test (never skips).
 *
 * @module
 */

import { generateKey, mustRun, type SshdInstance, startSshd, tempDir } from "./sshd.ts";
import { baseEnv, type InProcess, startInProcess } from "./mcp.ts";

const ROOT = new URL("../..", import.meta.url).pathname;
const SCRIPT = `${ROOT}.ci/testbed_services.sh`;

/** What `.ci/testbed_services.sh status` prints. */
export interface BedFacts {
  BED: string;
  SYSTEMCTL_ROOT: string;
  UNIT_DIR: string;
  BIN: string;
  LIBEXEC: string;
  EMPTY_BIN: string;
  PATH_LINE: string;
  APT_STABLE: string;
  APT_UPDATES: string;
  SVC_USER: string;
  ROOT_USER: string;
  PASSWORD_FILE: string;
  SLOW_FLAG: string;
}

let bed: Promise<BedFacts> | undefined;

/** Builds (once per process) and describes the bed; throws when it cannot be built. */
export function ensureServicesBed(): Promise<BedFacts> {
  bed ??= (async () => {
    if (Deno.uid() !== 0) {
      throw new Error("the services test bed needs root (.ci/testbed_services.sh)");
    }
    const out = await mustRun("bash", [SCRIPT, "setup", "status"]);
    const facts: Record<string, string> = {};
    for (const line of out.split("\n")) {
      const i = line.indexOf("=");
      if (i > 0) facts[line.slice(0, i)] = line.slice(i + 1);
    }
    for (
      const k of [
        "BED",
        "UNIT_DIR",
        "BIN",
        "LIBEXEC",
        "APT_STABLE",
        "APT_UPDATES",
        "PASSWORD_FILE",
      ]
    ) {
      if (!facts[k]) throw new Error(`testbed_services.sh status did not print ${k}`);
    }
    return facts as unknown as BedFacts;
  })();
  return bed;
}

/** Runs a local command (as root), returning its outcome. */
export async function run(
  cmd: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(cmd, { args, env, stdout: "piped", stderr: "piped" })
    .output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** The bed's systemctl, run locally as root (set-up, teardown and oracles). */
export async function localSystemctl(
  ...args: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  const f = await ensureServicesBed();
  return await run(`${f.BIN}/systemctl`, args);
}

/** A unit file a test created in the bed. */
export interface TestUnit {
  /** `sshmcp-<prefix>-<random>.service` */
  name: string;
  /** stops and disables the unit, removes its file, masks and cgroup */
  remove(): Promise<void>;
}

/**
 * Creates a unit running a bed program: `ticker` (a long-running service that
 * logs a line every `interval` seconds), `failer` (fails at start-up while
 * `config` is missing, logging why) or `oneshot` (`Type=oneshot` running
 * `/bin/sleep`: `systemctl start` waits for it).
 */
export async function createUnit(
  kind: "ticker" | "failer" | "oneshot",
  opts: {
    prefix?: string;
    description?: string;
    interval?: number;
    config?: string;
    /** an `ExecStop=` command line */
    execStop?: string;
    /** `oneshot`: the argument of its `/bin/sleep` (a unique token finds the process) */
    sleep?: string;
  } = {},
): Promise<TestUnit> {
  const f = await ensureServicesBed();
  const name = `sshmcp-${opts.prefix ?? kind}-${crypto.randomUUID().slice(0, 8)}.service`;
  const base = name.replace(/\.service$/, "");
  const exec = kind === "ticker"
    ? `${f.LIBEXEC}/ticker ${base} ${opts.interval ?? 1}`
    : kind === "failer"
    ? `${f.LIBEXEC}/failer ${base} ${opts.config ?? `/etc/${base}.conf`}`
    : `/bin/sleep ${opts.sleep ?? "6000"}`;
  const text = [
    "[Unit]",
    `Description=${opts.description ?? `ssh-mcp test ${kind}`}`,
    "[Service]",
    `Type=${kind === "oneshot" ? "oneshot" : "simple"}`,
    `ExecStart=${exec}`,
    ...(opts.execStop ? [`ExecStop=${opts.execStop}`] : []),
    "[Install]",
    "WantedBy=multi-user.target",
    "",
  ].join("\n");
  await Deno.writeTextFile(`${f.UNIT_DIR}/${name}`, text);
  return {
    name,
    async remove() {
      await localSystemctl("stop", "--", name);
      await localSystemctl("unmask", "--", name);
      await localSystemctl("disable", "--", name);
      await localSystemctl("reset-failed", "--", name);
      await Deno.remove(`${f.UNIT_DIR}/${name}`).catch(() => {});
      for (const cg of ["/sys/fs/cgroup/unified/system.slice", "/sys/fs/cgroup/system.slice"]) {
        // a process killed just now may still be leaving the cgroup (EBUSY)
        for (let i = 0; i < 40; i++) {
          try {
            await Deno.remove(`${cg}/${name}`);
            break;
          } catch (e) {
            if (e instanceof Deno.errors.NotFound) break;
            await new Promise((r) => setTimeout(r, 50));
          }
        }
      }
    },
  };
}

/**
 * Everything that describes the state of `units` in the bed: each unit's
 * is-active / is-enabled answer, its `show` facts and the links (enable,
 * mask) under the bed's /etc. Equal snapshots = nothing changed.
 */
export async function unitSnapshot(units: string[]): Promise<string> {
  const f = await ensureServicesBed();
  const parts: string[] = [];
  for (const u of units) {
    const a = await localSystemctl("is-active", "--", u);
    const e = await localSystemctl("is-enabled", "--", u);
    const s = await localSystemctl(
      "show",
      "--property=LoadState,ActiveState,SubState,UnitFileState,MainPID",
      "--",
      u,
    );
    parts.push(
      `${u}: ${a.stdout.trim()} ${e.stdout.trim()} ${s.stdout.trim().split("\n").join(" ")}`,
    );
  }
  const links = await run("find", [`${f.SYSTEMCTL_ROOT}/etc`, "-printf", "%p %l\n"]);
  parts.push(
    links.stdout.split("\n").filter((l) => units.some((u) => l.includes(u))).sort().join("\n"),
  );
  return parts.join("\n");
}

/** Polls `cond` (no wall-clock assertion: the deadline only bounds a broken bed). */
export async function eventually(
  what: string,
  cond: () => Promise<boolean>,
  maxMs = 20_000,
): Promise<void> {
  const end = Date.now() + maxMs;
  while (Date.now() < end) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`never happened: ${what}`);
}

// ---------------------------------------------------------------------------
// apt

const APT_TEST_LOCK = "/run/lock/sshmcp-services-apt-tests.lock";

/**
 * Runs `fn` holding a lock shared by every test process on the machine, so
 * tests that change (or compare) the real dpkg database never overlap.
 */
export async function withAptLock<T>(fn: () => Promise<T>): Promise<T> {
  await ensureServicesBed();
  const file = await Deno.open(APT_TEST_LOCK, { create: true, write: true });
  try {
    await file.lock(true);
    return await fn();
  } finally {
    file.close();
  }
}

async function sha256(path: string): Promise<string> {
  try {
    const data = await Deno.readFile(path);
    const h = new Uint8Array(await crypto.subtle.digest("SHA-256", data));
    return Array.from(h, (b) => b.toString(16).padStart(2, "0")).join("");
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return "absent";
    throw e;
  }
}

/**
 * The package database as a comparable value: dpkg's status file (versions,
 * states, holds), apt's auto-install marks of the private views and the
 * installed test packages' files. Equal snapshots = nothing changed.
 */
export async function dpkgSnapshot(): Promise<string> {
  const f = await ensureServicesBed();
  const files = ["/var/lib/dpkg/status", `${f.BED}/apt/extended_states`];
  const parts = await Promise.all(files.map(async (p) => `${p} ${await sha256(p)}`));
  const owned = await run("sh", ["-c", "ls -l /usr/share/sshmcp-test 2>/dev/null || true"]);
  return [...parts, owned.stdout.trim()].join("\n");
}

/** `name -> "<status> <version>"` of the installed test packages. */
export async function testPackages(): Promise<Record<string, string>> {
  const r = await run("dpkg-query", [
    "-W",
    "-f",
    "${binary:Package} ${db:Status-Status} ${Version} ${db:Status-Want}\n",
    "sshmcp-test-*",
  ]);
  const out: Record<string, string> = {};
  for (const line of r.stdout.split("\n")) {
    const [name, status, version, want] = line.trim().split(/\s+/);
    if (name && status && status !== "not-installed") out[name] = `${status} ${version} ${want}`;
  }
  return out;
}

/** Purges every test package (recovering an interrupted dpkg first); call inside {@link withAptLock}. */
export async function purgeTestPackages(): Promise<void> {
  await mustRun("bash", [SCRIPT, "clean-packages"]);
}

/** A process holding a dpkg/apt lock the way apt does (fcntl). */
export interface HeldLock {
  pid: number;
  release(): Promise<void>;
}

/**
 * Holds `path` (default: dpkg's frontend lock) with an fcntl lock from a
 * python3 process, like apt; flock(1) would not block apt or dpkg.
 */
export async function holdDpkgLock(path = "/var/lib/dpkg/lock-frontend"): Promise<HeldLock> {
  const child = new Deno.Command("/usr/bin/python3", {
    args: [
      "-c",
      "import fcntl,sys\nf=open(sys.argv[1],'a')\nfcntl.lockf(f,fcntl.LOCK_EX)\nprint('locked',flush=True)\nsys.stdin.read()",
      path,
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.getReader();
  const { value } = await reader.read();
  if (!new TextDecoder().decode(value).includes("locked")) {
    throw new Error(`could not lock ${path}`);
  }
  const writer = child.stdin.getWriter();
  return {
    pid: child.pid,
    async release() {
      await writer.close().catch(() => {});
      reader.releaseLock();
      await child.stdout.cancel().catch(() => {});
      await child.status;
    },
  };
}

// ---------------------------------------------------------------------------
// hosts

/** Running sshd hosts over the bed, with a hosts.toml (see module docs). */
export interface ServicesHosts {
  facts: BedFacts;
  dir: string;
  hostsTomlPath: string;
  knownHostsPath: string;
  sshd: { stable: SshdInstance; updates: SshdInstance; noapt: SshdInstance; plain: SshdInstance };
  /** the argument lists the bed's systemctl received from these hosts' sessions (no sudo) */
  systemctlArgv(): Promise<string[]>;
  /** env for a server on these hosts (extra keys override) */
  env(extra?: Record<string, string>): Record<string, string>;
  stop(): Promise<void>;
}

/** Starts the hosts of the module docs' table. */
export async function startServicesHosts(
  opts: { extraToml?: string; standinBin?: string } = {},
): Promise<ServicesHosts> {
  const f = await ensureServicesBed();
  const dir = await tempDir("sshmcp-services-");
  const key = await generateKey(dir, { type: "ed25519", name: "client" });
  const common = [
    `AllowUsers ${f.SVC_USER} ${f.ROOT_USER}`,
    "PermitRootLogin prohibit-password",
    "MaxSessions 64",
  ];
  const start = (env: string | null) =>
    startSshd({
      authorizedKeys: [key.publicLine],
      extraConfig: [...(env ? [`SetEnv ${env}`] : []), ...common],
    });
  const argvLogPath = `${dir}/systemctl-argv.log`;
  await Deno.writeTextFile(argvLogPath, "");
  await Deno.chmod(argvLogPath, 0o666);
  const trace = `SSHMCP_SYSTEMCTL_ARGV_LOG=${argvLogPath}`;
  const [stable, updates, noapt, plain] = await Promise.all([
    start(`PATH=${f.PATH_LINE} APT_CONFIG=${f.APT_STABLE} ${trace}`),
    start(`PATH=${f.PATH_LINE} APT_CONFIG=${f.APT_UPDATES} ${trace}`),
    start(`PATH=${f.EMPTY_BIN}`),
    start(null),
  ]);
  // alias `standin` (only with `standinBin`): the root login whose PATH finds
  // the test's stand-in programs first, for failures real apt cannot be made
  // to produce on demand
  const standin = opts.standinBin === undefined ? null : await start(
    `PATH=${opts.standinBin}:${f.PATH_LINE} APT_CONFIG=${f.APT_STABLE}`,
  );
  const all = [stable, updates, noapt, plain, ...(standin ? [standin] : [])];
  const knownHostsPath = `${dir}/known_hosts`;
  await Deno.writeTextFile(
    knownHostsPath,
    all.flatMap((s) => s.knownHostsLines()).join("\n") + "\n",
  );
  const host = (alias: string, s: SshdInstance, user: string, extra: string[] = []) =>
    [
      `[hosts.${alias}]`,
      `hostname = "${s.address}"`,
      `port = ${s.port}`,
      `user = "${user}"`,
      ...extra,
      `[hosts.${alias}.auth]`,
      `method = "key"`,
      `key = "${key.privatePath}"`,
      "",
    ].join("\n");
  const sudoGroups = 'sudo_tool_groups = ["systemctl", "pkg"]';
  const hostsTomlPath = `${dir}/hosts.toml`;
  await Deno.writeTextFile(
    hostsTomlPath,
    [
      host("svc", stable, f.SVC_USER),
      host("root", stable, f.ROOT_USER),
      host("rootup", updates, f.ROOT_USER),
      host("svcup", updates, f.SVC_USER),
      host("sudo", stable, f.SVC_USER, [
        sudoGroups,
        `sudo_password_cmd = "cat ${f.PASSWORD_FILE}"`,
      ]),
      host("sudonopw", stable, f.SVC_USER, [sudoGroups]),
      host("noapt", noapt, f.SVC_USER),
      host("nosystemd", plain, f.SVC_USER),
      host("win", stable, f.SVC_USER, ['platform = "windows"']),
      standin ? host("standin", standin, f.ROOT_USER) : "",
      opts.extraToml ?? "",
    ].join("\n"),
  );
  return {
    facts: f,
    dir,
    hostsTomlPath,
    knownHostsPath,
    sshd: { stable, updates, noapt, plain },
    async systemctlArgv() {
      return (await Deno.readTextFile(argvLogPath)).split("\n").filter(Boolean);
    },
    env(extra = {}) {
      return baseEnv({
        SSH_HOSTS_FILE: hostsTomlPath,
        SSH_KNOWN_HOSTS: knownHostsPath,
        ...extra,
      });
    },
    async stop() {
      await Promise.all(all.map((s) => s.stop()));
    },
  };
}

/** Tier flags for {@link withServicesServer}. */
export const TIERS = {
  read: {},
  dangerous: { ALLOW_DANGEROUS_TOOLS: "true" },
  sudo: { ALLOW_DANGEROUS_TOOLS: "true", ALLOW_SUDO: "true" },
} as const;

/** Starts hosts and the real server in process, runs `fn`, tears both down. */
export async function withServicesServer(
  fn: (s: InProcess, h: ServicesHosts, auditPath: string) => Promise<void>,
  opts: {
    tier?: keyof typeof TIERS;
    env?: Record<string, string>;
    extraToml?: string;
    standinBin?: string;
  } = {},
): Promise<void> {
  const h = await startServicesHosts({ extraToml: opts.extraToml, standinBin: opts.standinBin });
  try {
    const auditPath = `${h.dir}/audit.log`;
    const s = await startInProcess(
      h.env({ SSH_AUDIT_LOG: auditPath, ...TIERS[opts.tier ?? "read"], ...opts.env }),
    );
    try {
      await fn(s, h, auditPath);
    } finally {
      await s.close();
    }
  } finally {
    await h.stop();
  }
}

/** The audit lines of a server's audit file. */
export async function readAudit(path: string): Promise<Record<string, unknown>[]> {
  let text = "";
  try {
    text = await Deno.readTextFile(path);
  } catch {
    // not written yet
  }
  return text.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
}

/** A fixture file's text; a missing fixture fails the test. */
export function fixture(group: "systemctl" | "apt", name: string): string {
  return Deno.readTextFileSync(new URL(`../fixtures/${group}/${name}`, import.meta.url));
}

/**
 * Runs apt-get locally as root in one of the bed's private views
 * (non-interactive); for set-up and teardown inside {@link withAptLock}.
 */
export async function aptLocal(view: "stable" | "updates", ...args: string[]): Promise<string> {
  const f = await ensureServicesBed();
  const r = await run("apt-get", ["-y", "-o", "Dpkg::Use-Pty=0", ...args], {
    APT_CONFIG: view === "stable" ? f.APT_STABLE : f.APT_UPDATES,
    DEBIAN_FRONTEND: "noninteractive",
    PATH: Deno.env.get("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin",
  });
  if (r.code !== 0) throw new Error(`apt-get ${args.join(" ")} failed: ${r.stderr || r.stdout}`);
  return r.stdout;
}
