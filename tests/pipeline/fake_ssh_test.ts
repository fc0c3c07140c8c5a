/**
 * The fake SSH host itself (tests/_support/fake_ssh.ts): OpenSSH's own client
 * accepts it with strict host-key checking and runs commands and sftp on it;
 * only the one client key and login name get in (signature verified); exit
 * status, stdin, stderr and signals behave like sshd; an early channel close
 * kills the command's process group; records and connection counts are exact.
 */

import assert from "node:assert/strict";
// @ts-types="npm:@types/ssh2@1.15.5"
import ssh2 from "ssh2";
import { Buffer } from "node:buffer";
import { type FakeSsh, generateEd25519, POSIX_PROBE, startFakeSsh } from "../_support/fake_ssh.ts";
import { procsWith, sleeper, waitFor } from "../_support/procs.ts";

const dec = new TextDecoder();

/** An ssh2 client that pins the fake's host key. */
function connect(
  f: FakeSsh,
  o: { privateKey?: string; username?: string } = {},
): Promise<ssh2.Client> {
  const pinned = Buffer.from(f.hostPublicKey.split(" ")[1]!, "base64");
  return new Promise((resolve, reject) => {
    const c = new ssh2.Client();
    c.once("ready", () => resolve(c));
    c.once("error", (e) => reject(e));
    c.connect({
      host: f.host,
      port: f.port,
      username: o.username ?? f.user,
      privateKey: o.privateKey ?? Deno.readTextFileSync(f.clientKeyPath),
      hostVerifier: (key: Buffer) => Buffer.compare(key, pinned) === 0,
      readyTimeout: 5000,
    });
  });
}

interface Ran {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

function exec(c: ssh2.Client, command: string, stdin?: string): Promise<Ran> {
  return new Promise((resolve, reject) => {
    c.exec(command, (err, ch) => {
      if (err) return reject(err);
      const r: Ran = { code: null, signal: null, stdout: "", stderr: "" };
      ch.on("exit", (code: number | null, signal?: string) => {
        r.code = code;
        r.signal = signal ?? null;
      });
      ch.on("data", (d: Uint8Array) => (r.stdout += dec.decode(d)));
      ch.stderr.on("data", (d: Uint8Array) => (r.stderr += dec.decode(d)));
      ch.on("close", () => resolve(r));
      ch.end(stdin);
    });
  });
}

async function ssh(f: FakeSsh, dir: string, args: string[], stdin = ""): Promise<Ran> {
  await Deno.writeTextFile(`${dir}/known_hosts`, f.knownHostsLine + "\n");
  const p = new Deno.Command(args[0] === "sftp" ? "sftp" : "ssh", {
    args: [
      "-F",
      "/dev/null",
      "-o",
      "StrictHostKeyChecking=yes",
      "-o",
      `UserKnownHostsFile=${dir}/known_hosts`,
      "-o",
      "GlobalKnownHostsFile=/dev/null",
      "-o",
      "BatchMode=yes",
      "-o",
      "IdentitiesOnly=yes",
      "-i",
      f.clientKeyPath,
      ...(args[0] === "sftp" ? ["-P", String(f.port), "-b", "-"] : ["-p", String(f.port)]),
      `${f.user}@${f.host}`,
      ...args.slice(1),
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = p.stdin.getWriter();
  await w.write(new TextEncoder().encode(stdin));
  await w.close();
  const o = await p.output();
  return { code: o.code, signal: null, stdout: dec.decode(o.stdout), stderr: dec.decode(o.stderr) };
}

Deno.test("fake ssh: OpenSSH's client accepts the pinned host key, runs a command and sftp", async () => {
  const f = await startFakeSsh({ shell: "/bin/dash" });
  const dir = await Deno.makeTempDir({ prefix: "sshmcp-fake-oc-" });
  try {
    assert.match(f.knownHostsLine, /^\[127\.0\.0\.1\]:\d+ ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI/);
    assert.equal((await Deno.stat(f.clientKeyPath)).mode! & 0o777, 0o600);
    await Deno.writeTextFile(`${f.home}/f.txt`, "abc");
    const r = await ssh(f, dir, ["ssh", 'echo "$0:$HOME"; cat; echo e >&2; exit 7'], "in\n");
    assert.deepEqual([r.code, r.stdout, r.stderr], [7, `/bin/dash:${f.home}\nin\n`, "e\n"]);
    const s = await ssh(f, dir, ["sftp"], "pwd\nls\n");
    assert.equal(s.code, 0, s.stderr);
    assert.match(s.stdout, new RegExp(`Remote working directory: ${f.home}`));
    assert.match(s.stdout, /f\.txt/);
    assert.deepEqual(f.records.map((x) => [x.kind, x.conn]), [["exec", 1], ["subsystem", 2]]);
    assert.equal(f.records[1]!.command, "sftp");
    assert.deepEqual([f.connections, f.authenticated], [2, 2]);
  } finally {
    await f.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("fake ssh: only the generated client key and the login name get in", async () => {
  const f = await startFakeSsh();
  try {
    const other = generateEd25519("intruder").private;
    await assert.rejects(connect(f, { privateKey: other }), /authentication methods failed/);
    await assert.rejects(connect(f, { username: "not-" + f.user }), /authentication/);
    assert.equal(f.authenticated, 0);
    assert.equal(f.connections, 2);
    const c = await connect(f);
    try {
      assert.equal(f.authenticated, 1);
      const r = await exec(c, POSIX_PROBE);
      assert.match(r.stdout, /^42:\d+$/);
      assert.equal(r.code, 0);
    } finally {
      c.end();
    }
  } finally {
    await f.close();
  }
});

Deno.test("fake ssh: exit status, signals, stdin, large output in order; early close kills the process group", async () => {
  const f = await startFakeSsh({ shell: "/bin/bash" });
  const c = await connect(f);
  try {
    const big = await exec(c, "head -c 3000000 /dev/zero | tr '\\0' x; echo done >&2; exit 3");
    assert.equal(big.stdout.length, 3_000_000);
    assert.deepEqual([big.code, big.stderr], [3, "done\n"]);
    const sig = await exec(c, "kill -s KILL $$");
    assert.deepEqual([sig.code, sig.signal], [null, "SIGKILL"]);
    const cat = await exec(c, "wc -c", "12345");
    assert.equal(cat.stdout.trim(), "5");

    const { cmd, token } = sleeper();
    await new Promise<void>((resolve, reject) => {
      c.exec(`${cmd} & ${cmd}; echo never`, (err, ch) => {
        if (err) return reject(err);
        ch.on("data", () => {});
        setTimeout(async () => {
          try {
            // the shell (its argv holds the token too) and the two sleeps
            assert.equal((await procsWith(token)).length, 3);
            ch.close();
            resolve();
          } catch (e) {
            reject(e);
          }
        }, 300);
      });
    });
    await waitFor(async () => (await procsWith(token)).length === 0, 5000, "the group killed");

    // a background job holding the pipes keeps the channel open after the shell exited (as
    // with sshd); closing the channel kills it too
    const bg = sleeper();
    await new Promise<void>((resolve, reject) => {
      c.exec(`${bg.cmd} & echo started`, (err, ch) => {
        if (err) return reject(err);
        let exited = false;
        ch.on("exit", () => (exited = true));
        ch.once("data", () => {
          setTimeout(async () => {
            try {
              assert.equal(exited, false, "exit-status sent while a job holds the pipes");
              assert.equal((await procsWith(bg.token)).length, 1);
              ch.close();
              resolve();
            } catch (e) {
              reject(e);
            }
          }, 200);
        });
      });
    });
    await waitFor(async () => (await procsWith(bg.token)).length === 0, 5000, "the job killed");
  } finally {
    c.end();
    await f.close();
  }
});

Deno.test("fake ssh: hangAfterAuth authenticates and then never answers a session", async () => {
  const f = await startFakeSsh({ hangAfterAuth: true });
  const c = await connect(f);
  try {
    const answered = new Promise<boolean>((resolve) => {
      c.exec("true", () => resolve(true));
      setTimeout(() => resolve(false), 300);
    });
    assert.equal(await answered, false);
    assert.equal(f.records.length, 0);
    assert.equal(f.authenticated, 1);
  } finally {
    c.end();
    await f.close();
  }
});
