/**
 * Test helpers for client authentication: a real `ssh-agent` per test, and a
 * one-shot ssh2 login against a harness sshd (own `node:net` socket with
 * TCP_NODELAY, host key pinned to the harness key, `authHandler` array form).
 *
 * @module
 */

// @ts-types="npm:@types/ssh2@1.15.5"
import ssh2 from "ssh2";
// @ts-types="npm:@types/ssh2@1.15.5"
import type { AnyAuthMethod } from "ssh2";
import net from "node:net";
import type { Buffer } from "node:buffer";
import { fingerprintSha256 } from "../../src/ssh/key_blob.ts";
import { mustRun, type SshdInstance } from "./sshd.ts";

/** A running `ssh-agent -D`. */
export interface TestAgent {
  socket: string;
  /** `ssh-add <file>` (unencrypted keys) */
  add(privatePath: string): Promise<void>;
  /** `ssh-add -l -E sha256` fingerprints */
  fingerprints(): Promise<string[]>;
  stop(): Promise<void>;
}

/** Starts `ssh-agent -D -a <dir>/agent-<random>.sock` and waits until it accepts connections. */
export async function startAgent(dir: string): Promise<TestAgent> {
  const socket = `${dir}/agent-${crypto.randomUUID().slice(0, 8)}.sock`;
  const child = new Deno.Command("ssh-agent", {
    args: ["-D", "-a", socket],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      // deno-lint-ignore no-await-in-loop
      const st = await Deno.lstat(socket);
      // the socket file appears at bind(), before listen(): wait until it accepts
      if (st.isSocket) {
        // deno-lint-ignore no-await-in-loop
        const c = await Deno.connect({ transport: "unix", path: socket });
        c.close();
        break;
      }
    } catch {
      // not yet
    }
    if (exited) throw new Error("ssh-agent exited during start-up");
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      // deno-lint-ignore no-await-in-loop
      await status;
      throw new Error("ssh-agent did not create its socket within 10 s");
    }
    // deno-lint-ignore no-await-in-loop
    await new Promise((r) => setTimeout(r, 10));
  }
  const env = { SSH_AUTH_SOCK: socket };
  let stopped = false;
  return {
    socket,
    async add(privatePath: string) {
      const out = await new Deno.Command("ssh-add", {
        args: ["-q", privatePath],
        env,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
      if (out.code !== 0) {
        throw new Error(`ssh-add ${privatePath} failed: ${new TextDecoder().decode(out.stderr)}`);
      }
    },
    async fingerprints() {
      const r = await new Deno.Command("ssh-add", {
        args: ["-l", "-E", "sha256"],
        env,
        stdin: "null",
        stdout: "piped",
        stderr: "null",
      }).output();
      return new TextDecoder().decode(r.stdout).split("\n").filter((l) => l.includes("SHA256:"))
        .map((l) => l.split(/\s+/)[1]!);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      try {
        child.kill("SIGTERM");
      } catch {
        // gone
      }
      await status;
    },
  };
}

/** Outcome of {@link tryLogin}. */
export interface LoginResult {
  ok: boolean;
  /** first ssh2 error message (authentication failures, agent errors) */
  error?: string;
  /** `id -un` on the server when `ok` and `exec` was requested */
  output?: string;
}

/**
 * Logs in to `sshd` with ssh2 using `methods` as `authHandler`; waits until the
 * client and socket are closed (test sanitizers). With `exec`, runs `id -un`.
 */
export function tryLogin(
  sshd: SshdInstance,
  username: string,
  methods: AnyAuthMethod[],
  opts: { exec?: boolean; timeoutMs?: number } = {},
): Promise<LoginResult> {
  const hostFps = new Set(sshd.hostKeys.map((k) => k.fingerprint));
  return new Promise<LoginResult>((resolve) => {
    const result: LoginResult = { ok: false };
    const sock = net.connect({ host: sshd.address, port: sshd.port });
    sock.setNoDelay(true);
    const client = new ssh2.Client();
    let closed = false;
    const finish = () => {
      if (closed) return;
      closed = true;
      if (!sock.destroyed) sock.destroy();
      resolve(result);
    };
    client.on("ready", () => {
      result.ok = true;
      if (!opts.exec) {
        client.end();
        return;
      }
      client.exec("id -un", (err, stream) => {
        if (err) {
          result.error = err.message;
          client.end();
          return;
        }
        let out = "";
        stream.on("data", (d: Buffer) => (out += d.toString()));
        stream.stderr.resume();
        stream.on("close", () => {
          result.output = out.trim();
          client.end();
        });
      });
    });
    client.on("error", (e: Error) => {
      result.error ??= e.message;
    });
    client.on("close", finish);
    sock.on("close", () => {
      // ssh2 emits "close" after the socket closed; this is a backstop
      setTimeout(finish, 50);
    });
    try {
      client.connect({
        sock,
        username,
        hostVerifier: (key: Buffer) => hostFps.has(fingerprintSha256(key)),
        authHandler: methods,
        readyTimeout: opts.timeoutMs ?? 20_000,
        agentForward: false,
      });
    } catch (e) {
      result.error = e instanceof Error ? e.message : String(e);
      client.end();
      finish();
    }
  });
}

/** `ssh-keygen -l` fingerprint of a public key file. */
export async function fingerprintOf(publicPath: string): Promise<string> {
  return (await mustRun("ssh-keygen", ["-l", "-E", "sha256", "-f", publicPath])).split(/\s+/)[1]!;
}
