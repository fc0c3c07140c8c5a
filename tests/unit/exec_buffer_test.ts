import assert from "node:assert/strict";
import { CappedBuffer, decodeUtf8 } from "../../src/ssh/exec.ts";
import { Semaphore } from "../../src/util/semaphore.ts";

const enc = new TextEncoder();

Deno.test("OUT-1: under the cap everything is kept", () => {
  const b = new CappedBuffer(100);
  b.push(enc.encode("hello "));
  b.push(enc.encode("world"));
  assert.equal(decodeUtf8(b.bytes()), "hello world");
  assert.equal(b.total, 11);
  assert.equal(b.truncated, false);
});

Deno.test("OUT-1: over the cap head and tail are kept, the middle counted and dropped", () => {
  const b = new CappedBuffer(1000);
  for (let i = 0; i < 10_000; i++) b.push(enc.encode(`line ${i}\n`));
  const text = decodeUtf8(b.bytes());
  assert.ok(b.truncated);
  assert.equal(b.total, Array.from({ length: 10_000 }, (_, i) => `line ${i}\n`).join("").length);
  assert.ok(text.startsWith("line 0\nline 1\n"));
  assert.ok(text.endsWith("line 9999\n"));
  assert.match(text, /bytes omitted: output exceeded the 1000-byte cap/);
  // kept payload never exceeds the cap (the marker line is extra)
  assert.ok(text.replace(/\n\[\.\.\. .* \.\.\.\]\n/, "").length <= 1000);
});

Deno.test("OUT-1: push() hands streaming consumers only head bytes (never beyond the cap)", () => {
  const b = new CappedBuffer(8);
  const kept = [
    b.push(enc.encode("12345")),
    b.push(enc.encode("67890")),
    b.push(enc.encode("abc")),
  ];
  assert.deepEqual(kept.map((k) => k.length), [5, 1, 0]);
});

Deno.test("OUT-1: memory stays O(cap) for 64 MiB of input", () => {
  const b = new CappedBuffer(64 * 1024);
  const chunk = new Uint8Array(1024 * 1024).fill(65);
  for (let i = 0; i < 64; i++) b.push(chunk);
  assert.equal(b.total, 64 * 1024 * 1024);
  assert.ok(b.bytes().length < 64 * 1024 + 200);
});

Deno.test("Semaphore: at most `limit` holders, FIFO, abort while waiting", async () => {
  const s = new Semaphore(2);
  const order: string[] = [];
  let running = 0;
  let maxRunning = 0;
  const job = (id: string) =>
    s.run(async () => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      order.push(`start ${id}`);
      await new Promise((r) => setTimeout(r, 5));
      order.push(`end ${id}`);
      running--;
    });
  await Promise.all(["a", "b", "c", "d"].map(job));
  assert.equal(maxRunning, 2);
  assert.deepEqual(order.filter((o) => o.startsWith("start")), [
    "start a",
    "start b",
    "start c",
    "start d",
  ]);
  const hold = await s.acquire();
  const hold2 = await s.acquire();
  const ac = new AbortController();
  const waiting = s.acquire(ac.signal);
  ac.abort(new Error("stop"));
  await assert.rejects(waiting, /stop/);
  hold();
  hold2();
  assert.equal(s.active, 0);
});
