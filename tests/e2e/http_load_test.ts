/**
 * Issue 14 load check: 200 concurrent tool calls from 20 HTTP clients (10 of
 * each protocol revision) across 10 real sshd hosts all complete without an
 * error. The latencies (p50/p99) and the server's peak RSS are printed for
 * the closing note; no timing is asserted (the bench judges speed).
 *
 * @module
 */

import assert from "node:assert/strict";
import { startFleet } from "../_support/fleet.ts";
import { legacyHttpClient, modernHttpClient, startHttpServer } from "../_support/http.ts";

const TOKEN = "l".repeat(40);

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

Deno.test("HTTP load: 200 concurrent calls, 20 clients (both revisions), 10 hosts: no error", async () => {
  const fleet = await startFleet(10);
  const srv = await startHttpServer(fleet.env({
    MCP_HTTP_TOKEN: TOKEN,
    MCP_HTTP_RATE_LIMIT: "0",
    ALLOW_DANGEROUS_TOOLS: "true",
    ALLOW_ANY_COMMAND: "true",
  }));
  const clients = await Promise.all(
    Array.from(
      { length: 20 },
      (_, i) => i % 2 ? modernHttpClient(srv.url, TOKEN) : legacyHttpClient(srv.url, TOKEN),
    ),
  );
  try {
    const latencies: number[] = [];
    const errors: string[] = [];
    const t0 = performance.now();
    await Promise.all(clients.flatMap((c, ci) =>
      Array.from({ length: 10 }, async (_, k) => {
        const host = `h${((ci * 10 + k) % 10) + 1}`;
        const s = performance.now();
        try {
          const r = await (c as { callTool(p: unknown): Promise<unknown> }).callTool({
            name: "ssh_exec_run",
            arguments: { host, command: `echo ${host}-${ci}-${k}` },
          }) as { isError?: boolean; structuredContent?: { stdout?: string } };
          if (r.isError) errors.push(`${host}: ${JSON.stringify(r)}`.slice(0, 300));
          else if (r.structuredContent?.stdout !== `${host}-${ci}-${k}\n`) {
            errors.push(`${host}: wrong output ${r.structuredContent?.stdout}`);
          }
        } catch (e) {
          errors.push(`${host}: ${(e as Error).message}`.slice(0, 300));
        }
        latencies.push(performance.now() - s);
      })
    ));
    const wall = performance.now() - t0;
    const status = await Deno.readTextFile(`/proc/${srv.pid}/status`);
    const hwm = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? NaN);
    // deno-lint-ignore no-console -- the figures go to the closing note
    console.log(
      `load: ${latencies.length} calls in ${wall.toFixed(0)} ms; p50 ${
        pct(latencies, 50).toFixed(1)
      } ms, ` +
        `p99 ${pct(latencies, 99).toFixed(1)} ms; server peak RSS ${(hwm / 1024).toFixed(1)} MiB`,
    );
    assert.deepEqual(errors, []);
    assert.equal(latencies.length, 200);
  } finally {
    await Promise.all(clients.map((c) => c.close().catch(() => {})));
    await srv.stop();
    await fleet.stop();
  }
});
