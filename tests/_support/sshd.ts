/**
 * Real OpenSSH servers for tests: one `sshd` per loopback address, each with
 * its own generated host keys, logging in a dedicated test user whose shell is
 * `/bin/sh`. No Docker, no mocks.
 *
 * A test that needs sshd and cannot find it FAILS (it never skips).
 *
 * - As root: the test user is `sshmcp` (created with `useradd` if missing), sshd
 *   listens on port 22 of a random 127.x.y.z address.
 * - Otherwise: sshd runs unprivileged and only the current user can log in; it
 *   listens on a random high port.
 *
 * @module
 */

export const SSHD_BIN = "/usr/sbin/sshd";

/** Key algorithms the tests generate. */
export type KeyType = "ed25519" | "rsa" | "ecdsa";

/** A generated key pair. */
export interface KeyPair {
  type: KeyType;
  bits?: number;
  privatePath: string;
  publicPath: string;
  /** `ssh-ed25519 AAAA... comment` */
  publicLine: string;
  /** `<algo> <base64>` without comment, as in known_hosts / authorized_keys */
  publicKey: string;
  /** `SHA256:...` as printed by `ssh-keygen -l` */
  fingerprint: string;
  passphrase?: string;
}

/** The OS account tests log in as. */
export interface TestUser {
  name: string;
  home: string;
  uid: number;
}

const isRoot = Deno.uid() === 0;
const cachedUsers = new Map<LoginShell, TestUser>();

/**
 * The login shell of a test user: `sh` (dash on Debian), `bash`, `tcsh` (a
 * csh-family shell) or `fish` (neither is POSIX: the TIMEOUT-3 probe).
 */
export type LoginShell = "sh" | "bash" | "tcsh" | "fish";

/** Test user names per login shell (root runs). */
export const TEST_USERS: Record<LoginShell, string> = {
  sh: "sshmcp",
  bash: "sshmcpbash",
  tcsh: "sshmcptcsh",
  fish: "sshmcpfish",
};

/** The login shell program of each test user (`.ci/run` creates the users with the same). */
const SHELL_PATHS: Record<LoginShell, string> = {
  sh: "/bin/sh",
  bash: "/bin/bash",
  tcsh: "/usr/bin/tcsh",
  fish: "/usr/bin/fish",
};

async function run(cmd: string, args: string[], opts: { stdin?: string } = {}) {
  const p = new Deno.Command(cmd, {
    args,
    stdin: opts.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (opts.stdin !== undefined) {
    const w = p.stdin.getWriter();
    await w.write(new TextEncoder().encode(opts.stdin));
    await w.close();
  }
  const out = await p.output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** Runs a command and throws with its stderr when it fails. */
export async function mustRun(
  cmd: string,
  args: string[],
  opts: { stdin?: string } = {},
): Promise<string> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) {
    throw new Error(`${cmd} ${args.join(" ")} failed (${r.code}): ${r.stderr || r.stdout}`);
  }
  return r.stdout;
}

/**
 * The login user for test hosts (created on first use when running as root):
 * `sshmcp` with `/bin/sh` (dash), `sshmcpbash` with `/bin/bash`, or
 * `sshmcptcsh` with `/usr/bin/tcsh`, `sshmcpfish` with `/usr/bin/fish`. Without
 * root only the current user exists, so a bash host needs a bash user shell.
 */
export async function testUser(shell: LoginShell = "sh"): Promise<TestUser> {
  const cached = cachedUsers.get(shell);
  if (cached) return cached;
  const name = isRoot
    ? TEST_USERS[shell]
    : (Deno.env.get("USER") ?? (await mustRun("id", ["-un"])).trim());
  let entry = (await run("getent", ["passwd", name])).stdout.trim();
  if (!entry && isRoot) {
    await mustRun("useradd", ["-m", "-s", SHELL_PATHS[shell], name]);
    await mustRun("usermod", ["-p", "*", name]);
    entry = (await run("getent", ["passwd", name])).stdout.trim();
  }
  if (!entry) throw new Error(`test user ${name} not found (getent passwd ${name})`);
  const f = entry.split(":");
  const loginShell = f[6] ?? "";
  if (isRoot && !loginShell.endsWith(`/${shell}`)) {
    throw new Error(`test user ${name} has login shell ${loginShell}, expected ${shell}`);
  }
  const user = { name, uid: Number(f[2]), home: f[5] ?? `/home/${name}` };
  cachedUsers.set(shell, user);
  return user;
}

/** A fresh temporary directory readable by sshd and the test user. */
export async function tempDir(prefix = "sshmcp-test-"): Promise<string> {
  const d = await Deno.makeTempDir({ prefix });
  await Deno.chmod(d, 0o755);
  scratch.add(d);
  return d;
}

/** Temporary directories of this test module, removed when the module's isolate unloads. */
const scratch = new Set<string>();
globalThis.addEventListener("unload", () => {
  for (const d of scratch) {
    try {
      Deno.removeSync(d, { recursive: true });
    } catch {
      // already removed by the test, or held by a process that is gone now
    }
  }
});

/** Generates a key pair with ssh-keygen. */
export async function generateKey(
  dir: string,
  opts: {
    type: KeyType;
    bits?: number;
    passphrase?: string;
    format?: "openssh" | "pem";
    name?: string;
    comment?: string;
  },
): Promise<KeyPair> {
  const name = opts.name ?? `${opts.type}${opts.bits ?? ""}-${crypto.randomUUID().slice(0, 8)}`;
  const privatePath = `${dir}/${name}`;
  const args = [
    "-q",
    "-t",
    opts.type,
    "-N",
    opts.passphrase ?? "",
    "-C",
    opts.comment ?? name,
    "-f",
    privatePath,
  ];
  if (opts.bits) args.push("-b", String(opts.bits));
  if (opts.format === "pem") args.push("-m", "PEM");
  await mustRun("ssh-keygen", args);
  const publicPath = privatePath + ".pub";
  const publicLine = (await Deno.readTextFile(publicPath)).trim();
  const fp = (await mustRun("ssh-keygen", ["-l", "-E", "sha256", "-f", publicPath])).split(
    /\s+/,
  )[1]!;
  return {
    type: opts.type,
    bits: opts.bits,
    privatePath,
    publicPath,
    publicLine,
    publicKey: publicLine.split(/\s+/).slice(0, 2).join(" "),
    fingerprint: fp,
    passphrase: opts.passphrase,
  };
}

const usedAddresses = new Set<string>();

/** A random 127.x.y.z address (never 127.0.0.1), unique within this process. */
export function randomLoopback(): string {
  for (;;) {
    const b = crypto.getRandomValues(new Uint8Array(3));
    const a = `127.${1 + (b[0]! % 250)}.${b[1]! % 255}.${2 + (b[2]! % 250)}`;
    if (!usedAddresses.has(a)) {
      usedAddresses.add(a);
      return a;
    }
  }
}

let port22: Promise<boolean> | undefined;

/**
 * True when this process may use port 22 on a 127.x address: root, and no
 * system sshd holds the wildcard address (0.0.0.0:22 makes every 127.x:22 bind
 * fail with "Address already in use").
 */
function port22Usable(): Promise<boolean> {
  if (!isRoot) return Promise.resolve(false);
  if (port22 === undefined) {
    let ok: boolean;
    try {
      const l = Deno.listen({ hostname: randomLoopback(), port: 22 });
      l.close();
      ok = true;
    } catch {
      ok = false;
    }
    port22 = Promise.resolve(ok);
  }
  return port22;
}

function randomPort(): number {
  return 20000 + Math.floor(Math.random() * 40000);
}

/** Options of {@link startSshd}. */
export interface SshdOptions {
  address?: string;
  port?: number;
  /** host key types, one key each (default: ed25519) */
  hostKeyTypes?: KeyType[];
  /** authorized_keys lines */
  authorizedKeys?: string[];
  /** extra sshd_config lines */
  extraConfig?: string[];
  /** directory for keys, config and logs (default: a fresh temp dir) */
  dir?: string;
  /** the login shell of the test user the server admits (default `sh`, i.e. dash) */
  loginShell?: LoginShell;
}

/** A running sshd. */
export interface SshdInstance {
  address: string;
  port: number;
  dir: string;
  user: TestUser;
  hostKeys: KeyPair[];
  authorizedKeysPath: string;
  configPath: string;
  /** known_hosts lines for this server (`host key` or `[host]:port key`) */
  knownHostsLines(name?: string): string[];
  /** Adds an authorized_keys line (takes effect on the next login). */
  authorize(publicLine: string): Promise<void>;
  /** Stops the server (idempotent). */
  stop(): Promise<void>;
  /** Starts it again after {@link stop} (same address, port and keys). */
  start(): Promise<void>;
  /** The sshd log so far. */
  log(): Promise<string>;
  /** Kills every live connection (the per-connection sshd processes), keeping the listener. */
  killConnections(): Promise<number>;
}

/** The fields of a `/proc/<pid>/stat` text after the command name: [state, ppid, ...]. */
function statFields(stat: string): string[] {
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
}

/** Whether process `pid` still runs (a zombie has exited and closed its descriptors). */
function running(pid: number): boolean {
  try {
    return statFields(Deno.readTextFileSync(`/proc/${pid}/stat`))[0] !== "Z";
  } catch {
    return false;
  }
}

/** Sends `sig` to each of `pids`; one already gone is skipped. */
function signalAll(pids: Iterable<number>, sig: Deno.Signal): void {
  for (const pid of pids) {
    try {
      Deno.kill(pid, sig);
    } catch {
      // already gone
    }
  }
}

/** All descendant pids of `root` (from /proc). */
export async function descendants(root: number): Promise<number[]> {
  const parent = new Map<number, number>();
  for await (const e of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const stat = await Deno.readTextFile(`/proc/${e.name}/stat`);
      const ppid = Number(statFields(stat)[1]);
      parent.set(Number(e.name), ppid);
    } catch {
      // process exited
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const [pid, pp] of parent) {
      if (pp === p) {
        out.push(pid);
        walk(pid);
      }
    }
  };
  walk(root);
  return out;
}

async function waitListening(address: string, port: number, child: Deno.ChildProcess) {
  const deadline = Date.now() + 10_000;
  let exited = false;
  child.status.then(() => (exited = true));
  while (Date.now() < deadline) {
    if (exited) throw new Error(`sshd on ${address}:${port} exited during start-up`);
    try {
      const c = await Deno.connect({ hostname: address, port });
      c.close();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  throw new Error(`sshd on ${address}:${port} did not start listening within 10 s`);
}

/** Starts a real OpenSSH server on loopback. */
export async function startSshd(opts: SshdOptions = {}): Promise<SshdInstance> {
  try {
    await Deno.stat(SSHD_BIN);
  } catch {
    throw new Error(
      `${SSHD_BIN} not found: the tests need a real OpenSSH server (apt-get install -y openssh-server)`,
    );
  }
  const user = await testUser(opts.loginShell ?? "sh");
  const dir = opts.dir ?? await tempDir("sshmcp-sshd-");
  const address = opts.address ?? randomLoopback();
  const port = opts.port ?? (await port22Usable() ? 22 : randomPort());
  if (isRoot) await Deno.mkdir("/run/sshd", { recursive: true });
  const hostKeys: KeyPair[] = [];
  for (const t of opts.hostKeyTypes ?? ["ed25519"]) {
    hostKeys.push(
      await generateKey(dir, { type: t, name: `host_${t}`, comment: `host-${address}` }),
    );
  }
  const authorizedKeysPath = `${dir}/authorized_keys`;
  await Deno.writeTextFile(
    authorizedKeysPath,
    (opts.authorizedKeys ?? []).map((l) => l + "\n").join(""),
  );
  await Deno.chmod(authorizedKeysPath, 0o644);
  const configPath = `${dir}/sshd_config`;
  // sshd uses the first value of most keywords, so test overrides come first
  const lines = [
    ...(opts.extraConfig ?? []),
    `ListenAddress ${address}:${port}`,
    ...hostKeys.map((k) => `HostKey ${k.privatePath}`),
    `AuthorizedKeysFile ${authorizedKeysPath}`,
    "UsePAM no",
    "StrictModes no",
    "PasswordAuthentication no",
    "KbdInteractiveAuthentication no",
    "PermitRootLogin no",
    `AllowUsers ${user.name}`,
    "Subsystem sftp internal-sftp",
    `PidFile ${dir}/sshd.pid`,
    "MaxStartups 1000:30:1000",
    "LogLevel VERBOSE",
  ];
  await Deno.writeTextFile(configPath, lines.join("\n") + "\n");
  const logPath = `${dir}/sshd.log`;
  let child: Deno.ChildProcess | undefined;

  async function start() {
    if (child) return;
    child = new Deno.Command(SSHD_BIN, {
      args: ["-D", "-f", configPath, "-E", logPath],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    await waitListening(address, port, child);
  }

  async function stop() {
    const c = child;
    if (!c) return;
    child = undefined;
    try {
      c.kill("SIGTERM");
    } catch {
      // already gone
    }
    await c.status;
  }

  await start();
  const inst: SshdInstance = {
    address,
    port,
    dir,
    user,
    hostKeys,
    authorizedKeysPath,
    configPath,
    knownHostsLines(name?: string) {
      const h = name ?? address;
      const pat = port === 22 ? h : `[${h}]:${port}`;
      return hostKeys.map((k) => `${pat} ${k.publicKey}`);
    },
    async authorize(publicLine: string) {
      await Deno.writeTextFile(authorizedKeysPath, publicLine + "\n", { append: true });
    },
    stop,
    start,
    async log() {
      try {
        return await Deno.readTextFile(logPath);
      } catch {
        return "";
      }
    },
    async killConnections() {
      if (!child) return 0;
      // stop first, kill after: a stopped process cannot fork, and a child is listed while
      // its parent still runs, so nothing of a connection is orphaned to init unseen (a
      // child forked after the list was read and orphaned by its parent's SIGKILL was
      // missed once and kept the connection open); then wait until each has exited, so
      // the kernel has closed every connection's socket when this returns
      const stopped = new Set<number>();
      const deadline = Date.now() + 5_000;
      for (;;) {
        const found = (await descendants(child.pid)).filter((p) => !stopped.has(p));
        if (!found.length) break;
        for (const pid of found) stopped.add(pid);
        signalAll(found, "SIGSTOP");
      }
      signalAll(stopped, "SIGKILL");
      for (;;) {
        const alive = [...stopped].filter(running);
        if (!alive.length) break;
        if (Date.now() > deadline) {
          throw new Error(
            `killConnections: processes of sshd ${child.pid} still alive after 5 s: ${
              alive.join(" ")
            }`,
          );
        }
        await new Promise((r) => setTimeout(r, 10));
      }
      return stopped.size;
    },
  };
  return inst;
}

/**
 * Runs OpenSSH's own client with strict host-key checking and returns whether
 * it accepted the server (the oracle for known_hosts verdicts).
 */
export async function opensshAccepts(opts: {
  sshd: SshdInstance;
  knownHostsPath: string;
  identity: string;
  /** name used for the known_hosts lookup (HostKeyAlias); default: the address */
  hostKeyAlias?: string;
  /** more `-o` options (e.g. `HostKeyAlgorithms=...`) */
  extraOptions?: string[];
}): Promise<{ accepted: boolean; stderr: string }> {
  const args = [
    "-F",
    "/dev/null",
    "-o",
    "StrictHostKeyChecking=yes",
    "-o",
    `UserKnownHostsFile=${opts.knownHostsPath}`,
    "-o",
    "GlobalKnownHostsFile=/dev/null",
    "-o",
    "BatchMode=yes",
    "-o",
    "CheckHostIP=no",
    "-o",
    "ConnectTimeout=5",
    "-o",
    "IdentitiesOnly=yes",
    "-i",
    opts.identity,
    "-p",
    String(opts.sshd.port),
  ];
  if (opts.hostKeyAlias) args.push("-o", `HostKeyAlias=${opts.hostKeyAlias}`);
  for (const o of opts.extraOptions ?? []) args.push("-o", o);
  args.push(`${opts.sshd.user.name}@${opts.sshd.address}`, "true");
  const r = await run("ssh", args);
  return { accepted: r.code === 0, stderr: r.stderr };
}

const PASSWORD_FILE = "/var/lib/sshmcp-test/password";

/**
 * The test user's login password, generated once per machine (root only) and
 * stored root-readable in `/var/lib/sshmcp-test/password`. Parallel test
 * processes agree on it because the file is created exclusively.
 */
export async function testUserPassword(): Promise<string> {
  if (!isRoot) throw new Error("password-based tests need root (to set the test user's password)");
  const user = await testUser();
  await Deno.mkdir("/var/lib/sshmcp-test", { recursive: true, mode: 0o700 });
  const pw = "T" + crypto.randomUUID().replaceAll("-", "").slice(0, 22);
  try {
    const f = await Deno.open(PASSWORD_FILE, { createNew: true, write: true, mode: 0o600 });
    await mustRun("chpasswd", [], { stdin: `${user.name}:${pw}\n` });
    await f.write(new TextEncoder().encode(pw));
    f.close();
    return pw;
  } catch (e) {
    if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
  }
  for (let i = 0; i < 100; i++) {
    const v = (await Deno.readTextFile(PASSWORD_FILE)).trim();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`${PASSWORD_FILE} stayed empty`);
}
