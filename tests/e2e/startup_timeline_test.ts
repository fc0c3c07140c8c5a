/**
 * The start-up timeline (issue 17, src/startup.ts): the real server, started
 * as `deno task start` starts it, logs where its cold start went on the
 * "serving MCP on stdio" line, with marks taken in the launcher's isolate and
 * in the Worker's on one clock; `deno task bench` reads that line
 * (bench/_lib.ts `startupPhases`).
 *
 * @module
 */

import assert from "node:assert/strict";
import { baseEnv, START_PERMS } from "../_support/mcp.ts";
import { STARTUP_PHASES, startupPhases } from "../../bench/_lib.ts";
import { adopt, mark, snapshot, startupFields } from "../../src/startup.ts";

const ROOT = new URL("../..", import.meta.url).pathname;
const ORDER = ["launcher", "plan", "worker", "config", "app", "early", "serving"];
const enc = new TextEncoder();

Deno.test("start-up timeline: the serving line carries every phase, in order, on the spawn's clock", async () => {
  const spawnedAt = Date.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", ...START_PERMS, `${ROOT}main.ts`, "serve"],
    env: baseEnv({ SSH_AUDIT_LOG: "off", LOG_LEVEL: "INFO", SSH_LOG_FORMAT: "json" }),
    clearEnv: true,
    cwd: ROOT,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  // a client's first exchange: initialize, initialized, tools/list (answered early, mcp/early.ts)
  const w = child.stdin.getWriter();
  await w.write(enc.encode(
    [
      {
        jsonrpc: "2.0",
        id: 1,
        method: "initialize",
        params: {
          protocolVersion: "2025-11-25",
          capabilities: {},
          clientInfo: { name: "t", version: "1" },
        },
      },
      { jsonrpc: "2.0", method: "notifications/initialized" },
      { jsonrpc: "2.0", id: 2, method: "tools/list" },
    ].map((m) => JSON.stringify(m) + "\n").join(""),
  ));
  const stderr = new Response(child.stderr).text();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let got = "";
  while (!got.includes('"id":2')) {
    const { value, done } = await reader.read();
    assert.ok(!done, `stdout ended before the tools/list answer: ${got}`);
    got += value;
  }
  const listedAt = Date.now();
  await w.close(); // EOF: the server ends with 0
  reader.releaseLock();
  await child.stdout.cancel().catch(() => {});
  const code = (await child.status).code;
  const endedAt = Date.now();
  const err = await stderr;
  assert.equal(code, 0, err);
  const line = err.split("\n").find((l) => l.includes("serving MCP on stdio"));
  assert.ok(line, `no serving line in:\n${err}`);
  const o = JSON.parse(line) as {
    startup_ms: Record<string, number>;
    startup_origin_epoch_ms: number;
  };
  // the launcher's runtime started after the spawn and before the process ended
  assert.ok(o.startup_origin_epoch_ms >= spawnedAt - 50, line);
  assert.ok(o.startup_origin_epoch_ms <= endedAt, line);
  // every mark present (the Worker took over the launcher's), in the order the server runs them
  assert.deepEqual(Object.keys(o.startup_ms), ORDER, line);
  const at = ORDER.map((k) => o.startup_ms[k]!);
  assert.ok(at[0]! > 0, line);
  for (let i = 1; i < at.length; i++) assert.ok(at[i]! >= at[i - 1]!, `${ORDER[i]}: ${line}`);
  assert.ok(o.startup_origin_epoch_ms + at.at(-1)! <= endedAt, line);
  // tools/list was answered before the MCP layer loaded: after `early`, before `serving`
  const origin = o.startup_origin_epoch_ms;
  assert.ok(origin + o.startup_ms.early! <= listedAt, line);
  assert.ok(listedAt <= origin + o.startup_ms.serving!, `listed at ${listedAt - origin}: ${line}`);
  // the bench's reading of the same line: one duration per phase, none negative
  const phases = startupPhases(err, spawnedAt, listedAt);
  assert.ok(phases, line);
  assert.equal(phases.length, STARTUP_PHASES.length);
  for (const p of phases) assert.ok(p >= 0 && Number.isFinite(p), JSON.stringify(phases));
});

Deno.test("start-up timeline: the Worker adopts only finite numbers, the first mark of a name wins", () => {
  const before = snapshot();
  adopt({ origin: "x", marks: { a: "1", b: NaN, c: Infinity, d: null } });
  adopt(null);
  adopt("nonsense");
  assert.equal(snapshot().origin, before.origin);
  for (const k of ["a", "b", "c", "d"]) assert.equal(k in snapshot().marks, false);
  const o = before.origin;
  adopt({ origin: o - 1000, marks: { "t-first": o - 990 } });
  mark("t-first", o + 5); // a later record of the same name is ignored
  const f = startupFields() as { startup_ms: Record<string, number> };
  assert.equal(f.startup_ms["t-first"], 10);
  assert.equal(snapshot().origin, o - 1000);
});
