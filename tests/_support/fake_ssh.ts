/**
 * An in-process SSH server for registry and pipeline tests: no root, no sshd.
 *
 * {@link startFakeSsh} runs an ssh2 `Server` on a loopback address (port 0)
 * with a freshly generated ed25519 host key. It accepts exactly one generated
 * ed25519 client key by public-key authentication (the signature is verified)
 * and then behaves like a small OpenSSH for the current OS user:
 *
 * - `exec`: the command runs for real as `<shell> -c <command>` in its own
 *   session (process group), cwd and HOME = the fake's home directory; stdin,
 *   stdout and stderr are piped; the exit status (or signal) is sent after the
 *   output, then EOF and close. An early channel close kills the process group.
 * - subsystem `sftp`: OpenSSH's own `sftp-server` binary, piped to the channel.
 *   A machine without it makes {@link startFakeSsh} throw (tests never skip).
 * - everything that reached the "host" is appended to `records`, so a test can
 *   assert that a refused call ran nothing at all, and `connections` counts TCP
 *   connections (a refused host must not even be dialled).
 *
 * It exists for the pipeline's gates and stages. Real behaviour (OpenSSH's
 * channel limits, sudo, PTY-less quirks, ...) stays with the real-sshd suites
 * in `tests/e2e/`. Known differences from sshd: `env`, `pty`, `shell` and
 * forwarding requests are refused; commands get a minimal environment (HOME,
 * USER, LOGNAME, SHELL, PATH, LANG, plus `opts.env`); no MaxSessions limit;
 * a `signal` request signals the shell only; a channel closed while its
 * command runs kills the command's process group (sshd only closes the pipes,
 * so the product's own TIMEOUT-3 kill is not exercised here); stdin sent after
 * the command closed its stdin is dropped.
 *
 * {@link writeFakeHostsConfig} writes hosts.toml + known_hosts for one or more
 * fakes and returns the env for `startInProcess`.
 *
 * @module
 */

// @ts-types="npm:@types/ssh2@1.15.5"
import ssh2 from "ssh2";
import net from "node:net";
import { type ChildProcess, spawn } from "node:child_process";
import { Buffer } from "node:buffer";
import { timingSafeEqual } from "node:crypto";
import process from "node:process";
import type { Readable, Writable } from "node:stream";
import { baseEnv } from "./mcp.ts";
import { POSIX_PROBE } from "../../src/ssh/connection.ts";

/** Where distributions put OpenSSH's sftp-server. */
export const SFTP_SERVER_CANDIDATES: readonly string[] = [
  "/usr/lib/openssh/sftp-server",
  "/usr/libexec/openssh/sftp-server",
  "/usr/lib/ssh/sftp-server",
  "/usr/lib64/openssh/sftp-server",
  "/usr/libexec/sftp-server",
];

/** The TIMEOUT-3 probe on a channel of its own (when no command carried it yet). */
export { POSIX_PROBE };

/**
 * The PID-marker prefix the exec engine puts before every command on a POSIX
 * host; a new connection's first command carries the TIMEOUT-3 probe in it
 * (`"$((6*7)):$$"` instead of `"$$"`).
 */
export const PID_MARKER_PREFIX =
  /^printf '__SSHMCP_PID_[0-9a-f]{16}__ %s\\n' "(?:\$\(\(6\*7\)\):)?\$\$" >&2; /;

/** The marker prefix of a command that carries the probe (a new connection's first). */
export const PROBE_MARKER_PREFIX =
  /^printf '__SSHMCP_PID_[0-9a-f]{16}__ %s\\n' "\$\(\(6\*7\)\):\$\$" >&2; /;

/** Something that reached the fake host. */
export interface FakeRecord {
  kind: "exec" | "subsystem";
  /** the exec command text exactly as received, or the subsystem name */
  command: string;
  /** `Date.now()` when the request arrived */
  ts: number;
  /** 1-based number of the TCP connection it came on */
  conn: number;
}

/** Options of {@link startFakeSsh}. */
export interface FakeSshOptions {
  /** loopback address to listen on (default 127.0.0.1; any 127.x works without root) */
  address?: string;
  /** cwd and HOME of commands (default: a fresh temp dir, removed by close()) */
  home?: string;
  /** the "login shell" running `-c <command>` (default /bin/sh; e.g. /bin/dash, /bin/bash) */
  shell?: string;
  /** the only accepted login name (default: the current user) */
  user?: string;
  /** extra environment of commands (like sshd's SetEnv); PATH here replaces the default */
  env?: Record<string, string>;
  /** fault: authenticate, then never answer a session channel request */
  hangAfterAuth?: boolean;
  /**
   * hook: awaited with each exec command (as received) before it runs, so a
   * test can change the host's disk at an exact point of a call
   */
  onExec?: (command: string) => void | Promise<void>;
  /**
   * hook: awaited with each SFTP request, in order, before OpenSSH's
   * sftp-server sees it (the request waits for the hook; errors it throws
   * are ignored, so a hook keeps its own)
   */
  onSftp?: (req: SftpRequest) => void | Promise<void>;
}

/** One SFTP request as {@link FakeSshOptions.onSftp} sees it. */
export interface SftpRequest {
  /** SSH_FXP_* packet type */
  type: number;
  /** `OPEN`, `LSTAT`, `REALPATH`, `RENAME`, ..., or the extension name (`posix-rename@openssh.com`) */
  name: string;
  /** the path arguments of the request (none for handle-based requests) */
  paths: string[];
}

const SFTP_NAMES: Record<number, string> = {
  1: "INIT",
  3: "OPEN",
  4: "CLOSE",
  5: "READ",
  6: "WRITE",
  7: "LSTAT",
  8: "FSTAT",
  9: "SETSTAT",
  10: "FSETSTAT",
  11: "OPENDIR",
  12: "READDIR",
  13: "REMOVE",
  14: "MKDIR",
  15: "RMDIR",
  16: "REALPATH",
  17: "STAT",
  18: "RENAME",
  19: "READLINK",
  20: "SYMLINK",
  200: "EXTENDED",
};

/** Request types whose first argument is a path (handle-based ones carry none). */
const SFTP_ONE_PATH = new Set([3, 7, 9, 11, 13, 14, 15, 16, 17, 19]);
/** Extensions with two path arguments. */
const SFTP_EXT_TWO = new Set(["posix-rename@openssh.com", "hardlink@openssh.com"]);

/** Decodes the type and path arguments of one SFTP packet (length prefix included). */
export function decodeSftpRequest(p: Buffer): SftpRequest {
  const type = p[4] ?? 0;
  const strings: string[] = [];
  let off = 9; // length, type, request id
  const str = (): string | null => {
    if (off + 4 > p.length) return null;
    const n = p.readUInt32BE(off);
    if (off + 4 + n > p.length) return null;
    const v = p.subarray(off + 4, off + 4 + n).toString("utf8");
    off += 4 + n;
    return v;
  };
  if (type === 200) {
    const ext = str() ?? "";
    const n = SFTP_EXT_TWO.has(ext) ? 2 : 1;
    for (let i = 0; i < n; i++) {
      const v = str();
      if (v !== null) strings.push(v);
    }
    return { type, name: ext, paths: strings };
  }
  const n = type === 18 || type === 20 ? 2 : SFTP_ONE_PATH.has(type) ? 1 : 0;
  for (let i = 0; i < n; i++) {
    const v = str();
    if (v !== null) strings.push(v);
  }
  return { type, name: SFTP_NAMES[type] ?? `TYPE${type}`, paths: strings };
}

/** A running fake host. */
export interface FakeSsh {
  /** listen address */
  host: string;
  port: number;
  /** login name it accepts */
  user: string;
  /** cwd / HOME of commands */
  home: string;
  shell: string;
  /** `[host]:port ssh-ed25519 AAAA...` */
  knownHostsLine: string;
  /** `ssh-ed25519 AAAA...` of the host key */
  hostPublicKey: string;
  /** the accepted client private key (OpenSSH format, mode 0600) */
  clientKeyPath: string;
  /** every exec command and subsystem start, in arrival order */
  records: FakeRecord[];
  /** TCP connections accepted so far */
  readonly connections: number;
  /** connections that passed authentication */
  readonly authenticated: number;
  /** exec commands without the connection probe and with the PID marker stripped */
  commands(): string[];
  /** Stops listening, drops every connection, kills what still runs (idempotent). */
  close(): Promise<void>;
}

let sftpServerPath: string | undefined;

/** The sftp-server binary, or an error telling how to get it. */
export function findSftpServer(): string {
  if (sftpServerPath) return sftpServerPath;
  const found: string[] = [...SFTP_SERVER_CANDIDATES];
  for (const dir of ["/usr/lib", "/usr/lib64", "/usr/libexec"]) {
    try {
      for (const e of Deno.readDirSync(dir)) {
        if (e.name.startsWith("openssh")) found.push(`${dir}/${e.name}/sftp-server`);
      }
    } catch {
      // no such directory
    }
  }
  for (const p of found) {
    try {
      if (Deno.statSync(p).isFile) return (sftpServerPath = p);
    } catch {
      // not here
    }
  }
  throw new Error(
    `OpenSSH's sftp-server was not found (looked in ${
      found.join(", ")
    }): the fake SSH host needs it for the sftp subsystem (apt-get install -y openssh-sftp-server).`,
  );
}

/**
 * An ed25519 key pair from ssh2. Under Deno about 1 in 256 generated keys is
 * malformed: a public key whose first byte is 0 comes out 31 bytes long and
 * ssh2's own `parseKey` then refuses the private key ("Malformed OpenSSH
 * private key"). Such a pair is thrown away and generated again.
 */
export function generateEd25519(comment: string): { private: string; public: string } {
  for (let i = 0; i < 20; i++) {
    const k = ssh2.utils.generateKeyPairSync("ed25519", { comment });
    const priv = ssh2.utils.parseKey(k.private);
    const pub = ssh2.utils.parseKey(k.public);
    if (
      !(priv instanceof Error) && !(pub instanceof Error) &&
      pub.getPublicSSH().length === 4 + 11 + 4 + 32 &&
      Buffer.compare(priv.getPublicSSH(), pub.getPublicSSH()) === 0
    ) {
      return k;
    }
  }
  throw new Error("ssh2 did not generate a well-formed ed25519 key in 20 attempts");
}

function currentUser(): string {
  const u = Deno.env.get("USER") ?? Deno.env.get("LOGNAME");
  if (u) return u;
  const out = new Deno.Command("id", { args: ["-un"], stdout: "piped", stderr: "null" })
    .outputSync();
  const name = new TextDecoder().decode(out.stdout).trim();
  if (!name) throw new Error("cannot tell the current user name (id -un)");
  return name;
}

function same(input: Buffer, allowed: Buffer): boolean {
  // constant time, and the same comparison work when the lengths differ
  const ok = input.length === allowed.length;
  return timingSafeEqual(ok ? input : allowed, allowed) && ok;
}

/**
 * Copies a child's stdout and stderr to a server channel one chunk at a time,
 * in the order the child produced them, with backpressure on the child.
 *
 * Never two writes in flight: ssh2 1.17's server keeps ONE "waiting for the
 * window" slot per channel; when stdout and stderr both wait, a window adjust
 * resumes only stdout and the stderr chunk is stuck forever. It also never
 * clears the resumed stdout chunk (`_chunk`), so a later stderr stall would
 * re-send stale stdout data; the slot is cleared after every completed write.
 */
class OutputPump {
  readonly #channel: ssh2.ServerChannel;
  readonly #sources: Readable[] = [];
  readonly #queue: { err: boolean; data: Buffer }[] = [];
  #queued = 0;
  #busy = false;
  #paused = false;
  #idle: (() => void)[] = [];

  constructor(channel: ssh2.ServerChannel) {
    this.#channel = channel;
  }

  /** Reads `src` into the channel's stdout (or stderr). */
  add(src: Readable, err: boolean): void {
    this.#sources.push(src);
    src.on("data", (d: Buffer) => {
      this.#queue.push({ err, data: d });
      this.#queued += d.length;
      if (this.#queued > 1024 * 1024 && !this.#paused) {
        this.#paused = true;
        for (const s of this.#sources) s.pause();
      }
      this.#kick();
    });
  }

  /** Resolves when every chunk read so far has been sent. */
  drained(): Promise<void> {
    if (!this.#busy && !this.#queue.length) return Promise.resolve();
    return new Promise((r) => this.#idle.push(r));
  }

  #kick(): void {
    if (this.#busy) return;
    const next = this.#queue.shift();
    if (!next) {
      for (const r of this.#idle.splice(0)) r();
      return;
    }
    this.#busy = true;
    const ch = this.#channel;
    const w: Writable = next.err ? ch.stderr : ch;
    w.write(next.data, () => {
      const slot = ch as unknown as Record<string, unknown>;
      slot._chunk =
        slot._chunkcb =
        slot._chunkErr =
        slot._chunkcbErr =
          undefined;
      this.#busy = false;
      this.#queued -= next.data.length;
      if (this.#paused && this.#queued < 256 * 1024) {
        this.#paused = false;
        for (const s of this.#sources) s.resume();
      }
      this.#kick();
    });
  }
}

/**
 * Channel data -> the child's stdin, EOF -> EOF. Once the child closed its
 * stdin, further data is read and dropped: ssh2 emits a server channel's
 * `close` only after its readable side ended, so a stalled reader would hide
 * the client's channel close (and the process group would not be killed).
 */
function feedStdin(channel: ssh2.ServerChannel, child: ChildProcess): void {
  const stdin = child.stdin!;
  channel.pipe(stdin);
  stdin.once("close", () => {
    channel.unpipe(stdin);
    channel.resume();
  });
}

/**
 * {@link feedStdin} for the sftp subsystem with {@link FakeSshOptions.onSftp}:
 * the client's bytes are cut into SFTP packets and each one goes to
 * sftp-server only after the hook has seen it (in order).
 */
function feedSftpTapped(
  channel: ssh2.ServerChannel,
  child: ChildProcess,
  hook: (req: SftpRequest) => void | Promise<void>,
): void {
  const stdin = child.stdin!;
  let buf = Buffer.alloc(0);
  let chain: Promise<void> = Promise.resolve();
  let stdinClosed = false;
  stdin.once("close", () => {
    stdinClosed = true;
    channel.resume();
  });
  channel.on("data", (d: Buffer) => {
    buf = buf.length ? Buffer.concat([buf, d]) : Buffer.from(d);
    while (buf.length >= 4) {
      const len = buf.readUInt32BE(0);
      if (buf.length < 4 + len) break;
      const packet = buf.subarray(0, 4 + len);
      buf = buf.subarray(4 + len);
      chain = chain.then(async () => {
        try {
          await hook(decodeSftpRequest(packet));
        } catch {
          // the hook keeps its own errors
        }
        if (!stdinClosed) stdin.write(packet);
      });
    }
  });
  channel.once("end", () => {
    chain = chain.then(() => {
      if (!stdinClosed) stdin.end();
    });
  });
}

/** Children whose process and pipes are all gone (their group id may be reused). */
const settled = new WeakSet<ChildProcess>();

/**
 * Kills the child's process group. Also after the shell itself exited: while
 * its pipes are open, a member of the group (a background job) still holds
 * them, so the group id is still that group's.
 */
function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || settled.has(child)) return;
  try {
    // detached: the child leads its own session and process group
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
  }
}

/** Starts a fake SSH host (see module docs). */
export async function startFakeSsh(opts: FakeSshOptions = {}): Promise<FakeSsh> {
  const sftpServer = findSftpServer();
  const shell = opts.shell ?? "/bin/sh";
  try {
    Deno.statSync(shell);
  } catch {
    throw new Error(`fake ssh: shell ${shell} does not exist`);
  }
  const address = opts.address ?? "127.0.0.1";
  const user = opts.user ?? currentUser();
  const stateDir = await Deno.makeTempDir({ prefix: "sshmcp-fake-" });
  const ownHome = opts.home === undefined;
  const home = opts.home ?? await Deno.makeTempDir({ prefix: "sshmcp-fakehome-" });

  const hostKey = generateEd25519("fake-ssh-host");
  const clientKey = generateEd25519("fake-ssh-client");
  const clientKeyPath = `${stateDir}/client_ed25519`;
  await Deno.writeTextFile(clientKeyPath, clientKey.private, { mode: 0o600 });
  await Deno.chmod(clientKeyPath, 0o600);
  const allowed = ssh2.utils.parseKey(clientKey.public);
  if (allowed instanceof Error) throw allowed;
  const allowedBlob = allowed.getPublicSSH();
  const allowedUser = Buffer.from(user);

  const cmdEnv: Record<string, string> = {
    HOME: home,
    USER: user,
    LOGNAME: user,
    SHELL: shell,
    PATH: "/usr/local/bin:/usr/bin:/bin",
    LANG: "C.UTF-8",
    ...opts.env,
  };

  const records: FakeRecord[] = [];
  const children = new Set<ChildProcess>();
  const exited = new Set<Promise<void>>();
  const sockets = new Set<net.Socket>();
  let connections = 0;
  let authenticated = 0;
  let closed = false;

  /** Spawns `file args` for one channel; resolves when the process and its pipes are done. */
  function run(file: string, args: string[]): ChildProcess {
    const child = spawn(file, args, {
      cwd: home,
      env: cmdEnv,
      detached: true,
      stdio: ["pipe", "pipe", "pipe"],
    });
    children.add(child);
    const done = new Promise<void>((resolve) => {
      child.once("close", () => {
        settled.add(child);
        resolve();
      });
      child.once("error", () => {
        settled.add(child);
        resolve();
      });
    });
    exited.add(done);
    done.then(() => {
      children.delete(child);
      exited.delete(done);
    });
    child.stdin?.on("error", () => {}); // EPIPE when the command ignores its input
    return child;
  }

  function onExec(channel: ssh2.ServerChannel, child: ChildProcess): void {
    let channelOpen = true;
    channel.on("error", () => {});
    channel.stderr.on("error", () => {});
    channel.once("close", () => {
      channelOpen = false;
      killGroup(child, "SIGKILL");
    });
    feedStdin(channel, child);
    const pump = new OutputPump(channel);
    pump.add(child.stdout!, false);
    pump.add(child.stderr!, true);
    let answered = false;
    child.once("error", (e: Error) => {
      if (!channelOpen || answered) return;
      answered = true;
      channel.stderr.write(`fake ssh: cannot run the shell: ${e.message}\n`);
      channel.exit(127);
      channel.end();
    });
    child.once("close", async (code: number | null, signal: NodeJS.Signals | null) => {
      if (!channelOpen || answered) return;
      answered = true;
      // OpenSSH order: output, exit-status (or exit-signal), EOF, close
      await pump.drained();
      if (!channelOpen) return;
      try {
        if (signal) channel.exit(signal.replace(/^SIG/, ""), false, "");
        else channel.exit(code ?? 255);
        channel.end();
      } catch {
        // the client went away meanwhile
      }
    });
  }

  function onSftp(channel: ssh2.ServerChannel, child: ChildProcess): void {
    let channelOpen = true;
    channel.on("error", () => {});
    channel.once("close", () => {
      channelOpen = false;
      killGroup(child, "SIGKILL");
    });
    if (opts.onSftp) feedSftpTapped(channel, child, opts.onSftp);
    else feedStdin(channel, child);
    const pump = new OutputPump(channel);
    pump.add(child.stdout!, false);
    child.stderr!.on("data", () => {});
    child.once("close", async (code: number | null) => {
      if (!channelOpen) return;
      await pump.drained();
      try {
        channel.exit(code ?? 255);
        channel.end();
      } catch {
        // gone
      }
    });
  }

  /** remote port of each accepted socket -> its connection number */
  const connByPort = new Map<number, number>();
  const server = new ssh2.Server({ hostKeys: [hostKey.private] }, (client, info) => {
    const connNo = connByPort.get(info.port) ?? 0;
    const mine = new Set<ChildProcess>();
    client.on("error", () => {});
    client.on("close", () => {
      for (const c of mine) killGroup(c, "SIGKILL");
    });
    client.on("authentication", (ctx) => {
      if (ctx.method !== "publickey" || !same(Buffer.from(ctx.username), allowedUser)) {
        ctx.reject(["publickey"]);
        return;
      }
      if (ctx.key.algo !== allowed.type || !same(ctx.key.data, allowedBlob)) {
        ctx.reject(["publickey"]);
        return;
      }
      // without a signature the client only asks whether this key would do
      if (ctx.signature && allowed.verify(ctx.blob!, ctx.signature, ctx.hashAlgo) !== true) {
        ctx.reject(["publickey"]);
        return;
      }
      ctx.accept();
    });
    client.on("ready", () => {
      authenticated++;
      client.on("session", (accept, _reject) => {
        if (opts.hangAfterAuth) return; // never answered
        const session = accept();
        let child: ChildProcess | undefined;
        session.on("exec", (acceptExec, _rejectExec, info) => {
          records.push({ kind: "exec", command: info.command, ts: Date.now(), conn: connNo });
          const channel = acceptExec();
          const start = () => {
            child = run(shell, ["-c", info.command]);
            mine.add(child);
            onExec(channel, child);
          };
          if (!opts.onExec) {
            start();
            return;
          }
          channel.pause(); // stdin waits for the command
          Promise.resolve()
            .then(() => opts.onExec!(info.command))
            .catch(() => {}) // the hook keeps its own errors
            .then(() => {
              if (!closed) start();
            });
        });
        session.on("subsystem", (acceptSub, rejectSub, info) => {
          records.push({ kind: "subsystem", command: info.name, ts: Date.now(), conn: connNo });
          if (info.name !== "sftp") {
            rejectSub();
            return;
          }
          const channel = acceptSub();
          child = run(sftpServer, ["-e", "-l", "QUIET"]);
          mine.add(child);
          onSftp(channel, child);
        });
        session.on("signal", (_a, _r, info) => {
          const name = info.name.toUpperCase().replace(/^SIG/, "");
          if (child?.pid !== undefined && child.exitCode === null) {
            try {
              process.kill(child.pid, `SIG${name}` as NodeJS.Signals);
            } catch {
              // unknown signal or gone
            }
          }
        });
      });
    });
  });

  const tcp = net.createServer((sock) => {
    if (closed) {
      sock.destroy();
      return;
    }
    connections++;
    if (sock.remotePort !== undefined) connByPort.set(sock.remotePort, connections);
    sockets.add(sock);
    sock.once("close", () => sockets.delete(sock));
    sock.on("error", () => {});
    sock.setNoDelay(true);
    server.injectSocket(sock);
  });
  await new Promise<void>((resolve, reject) => {
    tcp.once("error", reject);
    tcp.listen(0, address, () => {
      tcp.off("error", reject);
      resolve();
    });
  });
  const port = (tcp.address() as net.AddressInfo).port;
  const hostPublicKey = hostKey.public.split(/\s+/).slice(0, 2).join(" ");

  const fake: FakeSsh = {
    host: address,
    port,
    user,
    home,
    shell,
    knownHostsLine: `[${address}]:${port} ${hostPublicKey}`,
    hostPublicKey,
    clientKeyPath,
    records,
    get connections() {
      return connections;
    },
    get authenticated() {
      return authenticated;
    },
    commands() {
      return records
        .filter((r) => r.kind === "exec" && r.command !== POSIX_PROBE)
        .map((r) => r.command.replace(PID_MARKER_PREFIX, ""));
    },
    async close() {
      if (closed) return;
      closed = true;
      const stopped = new Promise<void>((r) => tcp.close(() => r()));
      for (const s of sockets) s.destroy();
      for (const c of children) killGroup(c, "SIGKILL");
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        Promise.all([...exited]),
        new Promise((r) => (timer = setTimeout(r, 5000))),
      ]);
      clearTimeout(timer);
      if (children.size) {
        const pids = [...children].map((c) => c.pid).join(", ");
        throw new Error(`fake ssh: processes ${pids} still hold their pipes 5 s after SIGKILL`);
      }
      await stopped;
      await Deno.remove(stateDir, { recursive: true }).catch(() => {});
      if (ownHome) await Deno.remove(home, { recursive: true }).catch(() => {});
    },
  };
  return fake;
}

/** One host of {@link writeFakeHostsConfig}. */
export interface FakeHostSpec {
  alias: string;
  fake: FakeSsh;
  /**
   * `hostname` in hosts.toml instead of the fake's address (a name the test's
   * resolver maps to it); known_hosts then pins the key for `[name]:port` too
   */
  hostname?: string;
  /** extra TOML lines inside `[hosts.<alias>]` (e.g. `path_allowlist = [...]`) */
  toml?: string;
}

/** Options of {@link writeFakeHostsConfig}. */
export interface FakeConfigOptions {
  /** where hosts.toml, known_hosts and audit.log go (default: a fresh temp dir) */
  dir?: string;
  /** tool tier besides read (ALLOW_LOW_ACCESS_TOOLS / ALLOW_DANGEROUS_TOOLS) */
  tier?: "read" | "low-access" | "dangerous";
  /** TOML appended after the host tables (e.g. a `[defaults]` table) */
  extraToml?: string;
  /** more server env (wins over the generated keys) */
  env?: Record<string, string>;
}

/** Files and env written by {@link writeFakeHostsConfig}. */
export interface FakeConfig {
  dir: string;
  hostsTomlPath: string;
  knownHostsPath: string;
  /** SSH_AUDIT_LOG of the server */
  auditPath: string;
  /** env for `startInProcess` */
  env: Record<string, string>;
}

const toml = (s: string) => JSON.stringify(s);

/**
 * Writes hosts.toml (key auth with each fake's client key) and a known_hosts
 * pinning each fake's host key, and returns the server env: `SSH_HOSTS_FILE`,
 * `SSH_KNOWN_HOSTS`, `SSH_AUDIT_LOG` (a file), the tier flag, plus `env`.
 */
export async function writeFakeHostsConfig(
  hosts: readonly FakeHostSpec[],
  opts: FakeConfigOptions = {},
): Promise<FakeConfig> {
  const dir = opts.dir ?? await Deno.makeTempDir({ prefix: "sshmcp-fakecfg-" });
  const hostsTomlPath = `${dir}/hosts.toml`;
  const knownHostsPath = `${dir}/known_hosts`;
  const auditPath = `${dir}/audit.log`;
  const blocks = hosts.map(({ alias, fake, toml: extra, hostname }) =>
    [
      `[hosts.${alias}]`,
      `hostname = ${toml(hostname ?? fake.host)}`,
      `port = ${fake.port}`,
      `user = ${toml(fake.user)}`,
      extra ?? "",
      `[hosts.${alias}.auth]`,
      `method = "key"`,
      `key = ${toml(fake.clientKeyPath)}`,
      "",
    ].join("\n")
  );
  await Deno.writeTextFile(hostsTomlPath, blocks.join("\n") + "\n" + (opts.extraToml ?? "") + "\n");
  await Deno.writeTextFile(
    knownHostsPath,
    [
      ...new Set(
        hosts.flatMap((h) =>
          h.hostname === undefined
            ? [h.fake.knownHostsLine]
            : [h.fake.knownHostsLine, `[${h.hostname}]:${h.fake.port} ${h.fake.hostPublicKey}`]
        ),
      ),
    ].join("\n") + "\n",
  );
  const tier: Record<string, string> = opts.tier === "dangerous"
    ? { ALLOW_DANGEROUS_TOOLS: "true" }
    : opts.tier === "low-access"
    ? { ALLOW_LOW_ACCESS_TOOLS: "true" }
    : {};
  return {
    dir,
    hostsTomlPath,
    knownHostsPath,
    auditPath,
    env: baseEnv({
      SSH_HOSTS_FILE: hostsTomlPath,
      SSH_KNOWN_HOSTS: knownHostsPath,
      SSH_AUDIT_LOG: auditPath,
      ...tier,
      ...opts.env,
    }),
  };
}
