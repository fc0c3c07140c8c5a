/**
 * PATH-51, the read proof, as it runs against real sshd hosts with dash and
 * bash login shells: the host hashes what the reader announced while the
 * bytes travel (one digest per read, started before the first chunk), hashes
 * a whole-file prefix straight from the descriptor and a shorter one through
 * `head -c`, retries exactly once through `head -c` after a mismatch, still
 * refuses a real mismatch, stops its digest when the read fails, and lets a
 * file that grows during the read download as the prefix seen at open.
 *
 * The exec boundary of {@link RemoteFs} is wrapped to watch (and in two tests
 * to alter) the host's digest; everything else is the real server code.
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { RemoteFs } from "../../src/ssh/fs.ts";
import { type PinExec, PinnedShell } from "../../src/ssh/pinned.ts";
import type { RawExecResult } from "../../src/ssh/exec.ts";
import type { CheckedPath } from "../../src/checked.ts";
import type { Connection } from "../../src/ssh/connection.ts";
import { ToolError } from "../../src/errors.ts";
import { type FilesCtx, type LoginShell, put, withFiles } from "./_files_fixture.ts";

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const MiB = 1 << 20;

interface HashCall {
  script: string;
  signal: AbortSignal | undefined;
}

/**
 * A RemoteFs on `alias` (h1) whose host commands pass through a tap: hash runs
 * are recorded and may be altered by `alter`, the capability probe's answer by
 * `probe`.
 */
async function tapped(
  c: FilesCtx,
  log: string[],
  alter?: (n: number, r: RawExecResult) => RawExecResult,
  opts: { alias?: string; probe?: (r: RawExecResult) => RawExecResult } = {},
): Promise<{ fs: RemoteFs; conn: Connection; hashes: HashCall[]; exec: PinExec }> {
  const conn = await c.s.app.pool.acquire(c.s.app.hosts().resolve(opts.alias ?? "h1"));
  const hashes: HashCall[] = [];
  const exec: PinExec = async (cmd, o) => {
    const script = String(cmd);
    const isHash = script.includes("ssh-mcp-hash");
    if (isHash) {
      hashes.push({ script, signal: o?.signal });
      log.push("hash");
    }
    const r = await conn.exec(cmd, {
      timeoutMs: 60_000,
      stdoutCap: 1 << 20,
      stderrCap: 64 << 10,
      ...o,
    });
    if (isHash && alter) return alter(hashes.length, r);
    return opts.probe && script.includes("ssh-mcp-probe") ? opts.probe(r) : r;
  };
  return { fs: await RemoteFs.open(conn, { exec }), conn, hashes, exec };
}

function bytes(n: number, seed = 7): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed + (i >> 11)) & 0xff;
  return b;
}

/** Host processes with `path` open (the hosts are loopback sshd on this machine). */
async function readersOf(path: string): Promise<number[]> {
  const out: number[] = [];
  for await (const e of Deno.readDir("/proc")) {
    if (!/^[0-9]+$/.test(e.name)) continue;
    try {
      for await (const fd of Deno.readDir(`/proc/${e.name}/fd`)) {
        if (await Deno.readLink(`/proc/${e.name}/fd/${fd.name}`).catch(() => "") === path) {
          out.push(Number(e.name));
          break;
        }
      }
    } catch {
      // gone, or not ours to read
    }
  }
  return out;
}

const wrong = (r: RawExecResult): RawExecResult => ({ ...r, stdout: `${"0".repeat(64)}  -\n` });

for (const shell of ["sh", "bash"] as LoginShell[]) {
  Deno.test(`PATH-51 (${shell}): the host hashes a whole-file prefix from the descriptor, a shorter or exact one through head -c`, async () => {
    await withFiles(async (c) => {
      const f = `${c.root}/data.bin`;
      const content = bytes(300_000);
      await put(f, content);
      // a stand-in for <alg>sum that says what its stdin is: the file itself, or a pipe
      await put(
        `${c.root}/kindsum`,
        '#!/bin/sh\nif [ -f /dev/stdin ]; then k=file; else k=pipe; fi\necho "$k $(wc -c | tr -d " ")"\n',
        { mode: 0o755 },
      );
      const { conn, exec } = await tapped(c, []);
      const pin = await PinnedShell.open(conn, exec);
      assert.ok(pin, "the test host is hardened");
      const kind = async (o: { prefix?: number; exact?: boolean }) =>
        (await pin.digest(f, `${c.root}/kind`, o)).stdout.trim();
      assert.equal(await kind({ prefix: content.length }), `file ${content.length}`);
      assert.equal(await kind({ prefix: content.length - 1 }), `pipe ${content.length - 1}`);
      assert.equal(await kind({ prefix: content.length, exact: true }), `pipe ${content.length}`);
      assert.equal(await kind({ prefix: 0 }), "pipe 0");
      // and the real digest agrees with the bytes in every mode
      for (
        const o of [{ prefix: content.length }, { prefix: 1234 }, {
          prefix: content.length,
          exact: true,
        }]
      ) {
        const r = await pin.digest(f, "sha256", o);
        assert.equal(
          r.stdout.split(/\s/)[0],
          sha(content.subarray(0, o.prefix)),
          JSON.stringify(o),
        );
      }
    }, { shell });
  });

  Deno.test(`PATH-51 (${shell}): sha256 runs openssl where the probe's known answer matched, else sha256sum; both agree with the bytes`, async () => {
    await withFiles(async (c) => {
      const f = `${c.root}/data.bin`;
      const content = bytes(300_000);
      await put(f, content);
      const modes = [{ prefix: content.length }, { prefix: 1234 }, {
        prefix: content.length,
        exact: true,
      }, {}];
      for (const [alias, hide] of [["h1", false], ["h2", true]] as const) {
        // h2's probe reports no usable openssl, as on a host without one
        const { conn, exec, hashes } = await tapped(c, [], undefined, {
          alias,
          ...(hide ? { probe: (r) => ({ ...r, stdout: r.stdout.replace(" o=1", " o=0") }) } : {}),
        });
        const pin = await PinnedShell.open(conn, exec);
        assert.ok(pin, "the test host is hardened");
        assert.equal(
          pin.caps.openssl,
          !hide,
          `${alias}: the test host has openssl (CI installs it)`,
        );
        for (const o of modes) {
          const r = await pin.digest(f, "sha256", o);
          assert.equal(r.exitCode, 0, r.stderr);
          assert.equal(
            r.stdout.split(/\s/)[0],
            sha(o.prefix === undefined ? content : content.subarray(0, o.prefix)),
            `${alias} ${JSON.stringify(o)}`,
          );
          const last = hashes.at(-1)!.script;
          // the program is the script's last arguments
          assert.equal(last.endsWith(" openssl dgst -sha256 -r"), !hide, last);
          assert.equal(last.endsWith(" sha256sum"), hide, last);
        }
        // other algorithms are always <alg>sum
        await pin.digest(f, "sha512", {});
        assert.ok(hashes.at(-1)!.script.endsWith(" sha512sum"));
      }
    }, { shell, hosts: 2 });
  });

  Deno.test(`PATH-51 (${shell}): one host digest per read, started before the first byte arrives`, async () => {
    await withFiles(async (c) => {
      const f = `${c.root}/big.bin` as CheckedPath;
      const content = bytes(6 * MiB);
      await put(f, content);
      const log: string[] = [];
      const { fs, hashes } = await tapped(c, log);
      const out = `${c.local}/big.bin`;
      const file = await Deno.open(out, { write: true, create: true, truncate: true });
      let n: number;
      try {
        n = await fs.downloadTo(f, file, undefined, undefined, () => log.push("chunk"));
      } finally {
        file.close();
      }
      assert.equal(n, content.length);
      assert.equal(sha(await Deno.readFile(out)), sha(content));
      assert.equal(hashes.length, 1, "one digest for the whole read");
      assert.equal(log[0], "hash", "the host digest starts before the first chunk arrives");
      assert.ok(log.filter((x) => x === "chunk").length > 1);
      // readFile (with a cap) and the streamed chunks announce what they read too
      log.length = 0;
      const head = await fs.readFile(f, 100_000);
      assert.equal(sha(head), sha(content.subarray(0, 100_000)));
      assert.deepEqual(log, ["hash"]);
      let streamed = 0;
      for await (const ch of fs.chunks(f)) streamed += ch.length;
      assert.equal(streamed, content.length);
      assert.equal(hashes.length, 3);
    }, { shell });
  });

  Deno.test(`PATH-51 (${shell}): a mismatch is hashed again exactly once through head -c; a real mismatch is refused`, async () => {
    await withFiles(async (c) => {
      const f = `${c.root}/f.bin` as CheckedPath;
      const content = bytes(200_000);
      await put(f, content);
      // the first digest disagrees, as when the file grew between the host's size check and its hash
      const once = await tapped(c, [], (n, r) => n === 1 ? wrong(r) : r);
      const got = await once.fs.readFile(f, 1 << 20);
      assert.equal(sha(got), sha(content));
      assert.equal(once.hashes.length, 2);
      assert.ok(
        once.hashes[0]!.script.includes("stat -L"),
        "the first digest may hash the whole file",
      );
      assert.ok(
        once.hashes[1]!.script.includes("head -c") && !once.hashes[1]!.script.includes("stat -L"),
        "the retry hashes exactly the prefix",
      );
      // every digest disagrees: the bytes read are not the checked file's
      const always = await tapped(c, [], (_n, r) => wrong(r));
      await assert.rejects(
        () => always.fs.readFile(f, 1 << 20),
        (e: unknown) =>
          e instanceof ToolError && e.code === "PathNotAllowed" &&
          /not the content of the checked file/.test(e.message),
      );
      assert.equal(always.hashes.length, 2, "no third attempt");
    }, { shell });
  });

  Deno.test(`PATH-51 (${shell}): a read that fails stops the host's digest`, async () => {
    await withFiles(async (c) => {
      const f = `${c.root}/f.bin` as CheckedPath;
      await put(f, "");
      // 4 GiB of holes: the host's sha256sum needs many seconds for it
      await Deno.truncate(f, 4 * 1024 * MiB);
      const { fs, hashes } = await tapped(c, []);
      const file = await Deno.open(`${c.local}/x`, { write: true, create: true });
      try {
        // over the cap: refused after the handle was checked, so the digest had started
        await assert.rejects(
          () => fs.downloadTo(f, file, undefined, 1000),
          /over the 1000-byte cap/,
        );
      } finally {
        file.close();
      }
      assert.equal(hashes.length, 1);
      assert.equal(hashes[0]!.signal?.aborted, true, "the host digest was cancelled");
      // and on the host nothing reads the file a moment later (a digest left running would
      // still be hashing its 4 GiB; the cancelled one's process group was killed)
      await new Promise((r) => setTimeout(r, 1500));
      const readers = await readersOf(f);
      assert.deepEqual(readers, [], "no host process still hashes the file");
    }, { shell });
  });

  Deno.test(`PATH-51 (${shell}): a file that grows during the download arrives as the prefix seen at open`, async () => {
    await withFiles(async (c) => {
      const f = `${c.root}/live.log`;
      const start = bytes(4 * MiB, 3);
      await put(f, start);
      // an appender on the host, as the test user would run it (the file is the user's)
      const appender = new Deno.Command("sh", {
        args: ["-c", `while :; do head -c 65536 /dev/urandom >> '${f}'; done`],
        stdout: "null",
        stderr: "null",
      }).spawn();
      try {
        await new Promise((r) => setTimeout(r, 50));
        const { size } = await c.s.ok<{ size: number }>("ssh_sftp_download", {
          host: "h1",
          path: f,
          local_path: `${c.local}/live.log`,
        });
        assert.ok(size >= start.length);
        const mine = await Deno.readFile(`${c.local}/live.log`);
        assert.equal(mine.length, size);
        appender.kill("SIGTERM");
        await appender.status;
        const now = await Deno.readFile(f);
        assert.ok(now.length > size, "the file kept growing after the read");
        assert.equal(sha(mine), sha(now.subarray(0, size)));
      } finally {
        try {
          appender.kill("SIGKILL");
        } catch { /* already gone */ }
        await appender.status;
      }
    }, { shell });
  });
}
