/**
 * util/timer.ts `afterMs`: the early reader's idle timer (issue 17: not the
 * Node timers behind Deno's global setTimeout). It fires once, not before
 * its time; a cancelled timer never fires; cancelling twice or after firing
 * is harmless; zero and negative delays fire on the next turns.
 */

import assert from "node:assert/strict";
import { afterMs } from "../../src/util/timer.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("afterMs fires once, after its delay", async () => {
  const t0 = performance.now();
  const fired: number[] = [];
  afterMs(30, () => fired.push(performance.now() - t0));
  await sleep(120);
  assert.equal(fired.length, 1);
  assert.ok(fired[0]! >= 29, `fired after ${fired[0]} ms`);
});

Deno.test("afterMs: a cancelled timer never fires; cancel is idempotent", async () => {
  let n = 0;
  const cancel = afterMs(20, () => n++);
  cancel();
  cancel();
  const fire = afterMs(10, () => n += 10);
  await sleep(80);
  fire(); // after it fired: nothing happens
  assert.equal(n, 10);
});

Deno.test("afterMs: zero and negative delays fire", async () => {
  let n = 0;
  afterMs(0, () => n++);
  afterMs(-5, () => n++);
  await sleep(50);
  assert.equal(n, 2);
});
