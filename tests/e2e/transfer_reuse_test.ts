/**
 * Pipelined SFTP reads with recycled buffers (issue 17 item 3): `readRange`
 * with `reuse` hands out a bounded set of buffers, each valid until the
 * consumer asks for the chunk after next, and the `local_path` download that
 * uses it stays byte-identical across chunk and pipeline boundaries. A long
 * download flushes the local file in the background as it goes (one flush
 * at a time), and a failed flush fails it. Real sshd, the real server in
 * process, a real MCP client.
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { put, sha, shaOf, withFiles } from "./_files_fixture.ts";
import { PIPELINE_DEPTH, SftpChannel } from "../../src/ssh/sftp_channel.ts";
import { downloadTo, FLUSH_EVERY_BYTES, readRange } from "../../src/ssh/transfer.ts";

/** Deterministic, non-repeating bytes (a chunk shifted by one would not match). */
function bytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

Deno.test("local_path download with recycled read buffers: byte-identical at every chunk and pipeline boundary", async () => {
  await withFiles(async ({ s, root, local }) => {
    const policy = s.app.hosts().resolve("h1");
    const chunk = (await SftpChannel.open(await s.app.pool.acquire(policy))).readChunk;
    // more chunks than the pipeline holds, so buffers are recycled many times over
    const sizes = [0, 1, chunk - 1, chunk, chunk + 1, (PIPELINE_DEPTH * 2 + 5) * chunk + 123];
    for (const [i, n] of sizes.entries()) {
      const data = bytes(n, i + 7);
      await put(`${root}/f${i}.bin`, data);
      const r = await s.ok<{ size: number; local_path_written: string }>("ssh_sftp_download", {
        host: "h1",
        path: `${root}/f${i}.bin`,
        local_path: `${local}/f${i}.bin`,
      });
      assert.equal(r.size, n, `size of f${i}`);
      assert.equal(r.local_path_written, `${local}/f${i}.bin`);
      assert.equal(await sha(`${local}/f${i}.bin`), shaOf(data), `content of f${i} (${n} bytes)`);
    }
  });
});

Deno.test("readRange reuse: a chunk is intact until the chunk after next is asked for, and the buffers are bounded", async () => {
  await withFiles(async ({ s, root }) => {
    const policy = s.app.hosts().resolve("h1");
    const ch = await SftpChannel.open(await s.app.pool.acquire(policy));
    const n = (PIPELINE_DEPTH * 3 + 2) * ch.readChunk + 999;
    const data = bytes(n, 99);
    await put(`${root}/big.bin`, data);
    const handle = await ch.openHandle(`${root}/big.bin`, "r");
    try {
      const whole = createHash("sha256");
      const buffers = new Set<ArrayBufferLike>();
      let prev: { view: Uint8Array; hash: string } | null = null;
      let off = 0;
      let chunks = 0;
      for await (
        const c of readRange(ch, handle, `${root}/big.bin`, n, undefined, { reuse: true })
      ) {
        // let the reads in flight land (in recycled buffers) before looking at the
        // previous chunk (k-1): asking for k may only have freed k-2
        await new Promise((r) => setTimeout(r, 3));
        if (prev) assert.equal(shaOf(prev.view), prev.hash, `chunk ${chunks - 1} changed early`);
        assert.equal(shaOf(c), shaOf(data.subarray(off, off + c.length)), `chunk ${chunks}`);
        whole.update(c);
        buffers.add(c.buffer);
        prev = { view: c, hash: shaOf(c) };
        off += c.length;
        chunks++;
      }
      assert.equal(off, n);
      assert.equal(whole.digest("hex"), shaOf(data));
      assert.ok(chunks > PIPELINE_DEPTH * 3, `${chunks} chunks`);
      // bounded: the pipeline plus the two the consumer may hold, whatever the size
      assert.ok(
        buffers.size <= PIPELINE_DEPTH + 2,
        `${buffers.size} distinct buffers for ${chunks} chunks (want <= ${PIPELINE_DEPTH + 2})`,
      );
      // and without reuse every chunk is its own buffer (readFile keeps them all)
      const kept: Uint8Array[] = [];
      for await (const c of readRange(ch, handle, `${root}/big.bin`, n)) kept.push(c);
      assert.equal(new Set(kept.map((c) => c.buffer)).size, kept.length);
      const all = createHash("sha256");
      for (const c of kept) all.update(c);
      assert.equal(all.digest("hex"), shaOf(data));
    } finally {
      await ch.closeHandle(handle, `${root}/big.bin`);
    }
  });
});

/** Random bytes (getRandomValues fills at most 64 KiB per call). */
function random(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let o = 0; o < n; o += 65536) crypto.getRandomValues(out.subarray(o, o + 65536));
  return out;
}

/** A real local file whose `syncData` is observed (and made to fail from call `failAt` on). */
async function observedFile(path: string, failAt = Infinity) {
  const real = await Deno.open(path, { write: true, createNew: true, mode: 0o600 });
  const seen = { flushes: 0, inFlight: 0, maxInFlight: 0, writesAfterFailure: 0, failed: false };
  const file = {
    write: (b: Uint8Array) => {
      if (seen.failed) seen.writesAfterFailure++;
      return real.write(b);
    },
    syncData: async () => {
      seen.flushes++;
      seen.inFlight++;
      seen.maxInFlight = Math.max(seen.maxInFlight, seen.inFlight);
      try {
        if (seen.flushes >= failAt) {
          seen.failed = true;
          throw new Deno.errors.Interrupted("EIO (test): the disk lost the written pages");
        }
        await real.syncData();
      } finally {
        seen.inFlight--;
      }
    },
  };
  return { file: file as unknown as Deno.FsFile, real, seen };
}

Deno.test("LOCAL-8: a long download flushes its bytes in the background as they arrive, one flush at a time, and stays byte-identical", async () => {
  await withFiles(async ({ s, root, local }) => {
    const ch = await SftpChannel.open(await s.app.pool.acquire(s.app.hosts().resolve("h1")));
    const n = FLUSH_EVERY_BYTES * 3 + 12345;
    const data = random(n);
    await put(`${root}/long.bin`, data);
    const { file, real, seen } = await observedFile(`${local}/long.bin`);
    try {
      assert.equal(await downloadTo(ch, `${root}/long.bin`, file), n);
    } finally {
      real.close();
    }
    assert.equal(await sha(`${local}/long.bin`), shaOf(data));
    assert.ok(seen.flushes >= 2 && seen.flushes <= 3, `${seen.flushes} background flushes`);
    assert.equal(seen.maxInFlight, 1, "flushes overlapped");
    assert.equal(seen.inFlight, 0, "a flush still running when the download returned");
  });
});

Deno.test("LOCAL-8: a failed background flush fails the download (an I/O error is reported once) and no byte is written after it is seen", async () => {
  await withFiles(async ({ s, root, local }) => {
    const ch = await SftpChannel.open(await s.app.pool.acquire(s.app.hosts().resolve("h1")));
    const n = FLUSH_EVERY_BYTES * 3 + 1;
    await put(`${root}/long.bin`, random(n));
    const { file, real, seen } = await observedFile(`${local}/long.bin`, 1);
    try {
      await assert.rejects(
        () => downloadTo(ch, `${root}/long.bin`, file),
        (e: Error) => e instanceof Deno.errors.Interrupted && /EIO \(test\)/.test(e.message),
      );
    } finally {
      real.close();
    }
    assert.equal(seen.flushes, 1);
    // at most the write already in flight when the flush failed
    assert.ok(seen.writesAfterFailure <= 1, `${seen.writesAfterFailure} writes after the failure`);
    assert.ok((await Deno.stat(`${local}/long.bin`)).size < n, "the whole file was written");
    // the channel is still usable: the failure was local
    assert.equal((await ch.stat(`${root}/long.bin`, undefined)).size, n);
  });
});
