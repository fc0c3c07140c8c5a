/**
 * Rolling execution (src/fleet/rolling.ts): batches, concurrency limit,
 * failure threshold, health checks, cancellation. Every concurrency test
 * asserts an observable ordering (AC-026).
 */

import assert from "node:assert/strict";
import { batchSizes, overThreshold, rollout } from "../../src/fleet/rolling.ts";
import { ToolError } from "../../src/errors.ts";

const targets = (n: number) => Array.from({ length: n }, (_, i) => `h${i + 1}`);
const tick = (ms = 1) => new Promise((r) => setTimeout(r, ms));

Deno.test("batchSizes: counts, percentages (rounded down, min 1), lists whose last entry repeats", () => {
  assert.deepEqual(batchSizes(10, null), [10]);
  assert.deepEqual(batchSizes(10, 3), [3, 3, 3, 1]);
  assert.deepEqual(batchSizes(10, "25%"), [2, 2, 2, 2, 2]);
  assert.deepEqual(batchSizes(3, "10%"), [1, 1, 1]);
  assert.deepEqual(batchSizes(30, [1, 5, "50%"]), [1, 5, 15, 9]);
  assert.deepEqual(batchSizes(0, 5), []);
  for (const bad of [0, -1, 1.5, "0%", "101%", "abc", "5"]) {
    assert.throws(() => batchSizes(10, bad), ToolError, String(bad));
  }
});

Deno.test("overThreshold: strictly greater than the percentage of all targets", () => {
  assert.equal(overThreshold(3, 30, 10), false);
  assert.equal(overThreshold(4, 30, 10), true);
  assert.equal(overThreshold(1, 30, 0), true);
  assert.equal(overThreshold(30, 30, 100), false);
  assert.equal(overThreshold(5, 30, null), false);
});

Deno.test("rollout: concurrency limit is never exceeded (observed entry/exit order)", async () => {
  const events: string[] = [];
  let active = 0;
  let peak = 0;
  const out = await rollout(
    targets(12),
    { concurrency: 3, serial: null, maxFailPercentage: null },
    {
      run: async (t) => {
        active++;
        peak = Math.max(peak, active);
        events.push(`+${t}`);
        await tick(5);
        events.push(`-${t}`);
        active--;
        return 0;
      },
      failed: () => false,
    },
  );
  assert.equal(peak, 3);
  assert.equal(out.results.size, 12);
  // the 4th target starts only after one of the first three finished
  assert.ok(
    events.indexOf("+h4") >
      Math.min(events.indexOf("-h1"), events.indexOf("-h2"), events.indexOf("-h3")),
  );
  assert.equal(out.stopReason, null);
});

Deno.test("rollout: serial batches run one after the other; health check between batches only", async () => {
  const order: string[] = [];
  const checks: string[][] = [];
  const out = await rollout(targets(7), { concurrency: 10, serial: 3, maxFailPercentage: null }, {
    run: async (t) => {
      order.push(`run ${t}`);
      await tick();
      return 0;
    },
    failed: () => false,
    healthCheck: (batch) => {
      checks.push(batch);
      order.push(`check ${batch.join(",")}`);
      return Promise.resolve({ passed: true, detail: null });
    },
  });
  assert.deepEqual(checks, [["h1", "h2", "h3"], ["h4", "h5", "h6"]]);
  assert.ok(order.indexOf("check h1,h2,h3") > order.indexOf("run h3"));
  assert.ok(order.indexOf("run h4") > order.indexOf("check h1,h2,h3"));
  assert.deepEqual(out.batches.map((b) => b.targets.length), [3, 3, 1]);
  assert.equal(out.batches[2]!.health_check, null);
});

Deno.test("rollout: max_fail_percentage stops at the threshold (30 targets, 10%, serial 5)", async () => {
  const failing = new Set(["h3", "h7", "h8", "h12", "h13", "h20"]);
  const out = await rollout(targets(30), { concurrency: 1, serial: 5, maxFailPercentage: 10 }, {
    run: async (t) => {
      await tick();
      return failing.has(t) ? 1 : 0;
    },
    failed: (r) => r !== 0,
  });
  // 10% of 30 = 3 failures allowed; the 4th (h12) stops the rollout
  assert.equal(out.stopReason, "max_fail_percentage");
  assert.equal(out.failed, 4);
  assert.deepEqual([...out.results.keys()], targets(12));
  assert.deepEqual(out.skipped, targets(30).slice(12));
});

Deno.test("rollout: with concurrency, in-flight targets finish but nothing new starts", async () => {
  const failing = new Set(["h1", "h2"]);
  const out = await rollout(targets(20), { concurrency: 4, serial: null, maxFailPercentage: 0 }, {
    run: async (t) => {
      await tick(failing.has(t) ? 1 : 20);
      return failing.has(t) ? 1 : 0;
    },
    failed: (r) => r !== 0,
  });
  assert.equal(out.stopReason, "max_fail_percentage");
  assert.ok(out.results.size <= 5, `ran ${out.results.size}`);
  assert.ok(out.skipped.length >= 15);
});

Deno.test("rollout: a failing health check stops before the next batch", async () => {
  const out = await rollout(targets(9), { concurrency: 3, serial: 3, maxFailPercentage: null }, {
    run: () => Promise.resolve(0),
    failed: () => false,
    healthCheck: (batch) => Promise.resolve({ passed: !batch.includes("h5"), detail: batch }),
  });
  assert.equal(out.stopReason, "health_check");
  assert.deepEqual(out.skipped, ["h7", "h8", "h9"]);
  assert.equal(out.batches[1]!.health_check?.passed, false);
});

Deno.test("rollout: cancellation stops starting targets and reaches running ones", async () => {
  const ac = new AbortController();
  let sawAbort = 0;
  const out = await rollout(targets(10), {
    concurrency: 2,
    serial: null,
    maxFailPercentage: null,
    signal: ac.signal,
  }, {
    run: async (t, signal) => {
      if (t === "h2") ac.abort();
      await tick(5);
      if (signal.aborted) sawAbort++;
      return 0;
    },
    failed: () => false,
  });
  assert.equal(out.stopReason, "cancelled");
  assert.ok(sawAbort >= 1);
  assert.ok(out.skipped.length >= 7);
});

Deno.test("rollout: bad knobs are ValueErrors", async () => {
  const hooks = { run: () => Promise.resolve(0), failed: () => false };
  await assert.rejects(
    rollout(targets(2), { concurrency: 0, serial: null, maxFailPercentage: null }, hooks),
    ToolError,
  );
  await assert.rejects(
    rollout(targets(2), { concurrency: 1, serial: null, maxFailPercentage: 101 }, hooks),
    ToolError,
  );
});
