/**
 * Issue 14: the official MCP conformance suite
 * (`@modelcontextprotocol/conformance`, pinned in deno.json, run under Deno
 * since it needs a newer Node than this machine has) against the HTTP
 * gateway as `deno task start` runs it. Every server scenario the suite
 * lists runs; those that need the suite's own fixture tools, prompts or
 * resources are in `conformance_expected_failures.json`, each with its
 * reason. The test fails when a scenario outside that file fails, and also
 * when one inside it passes (the file must stay true).
 *
 * @module
 */

import assert from "node:assert/strict";
import { baseEnv, ROOT } from "../_support/mcp.ts";
import { startHttpServer } from "../_support/http.ts";

const SUITE = `${ROOT}node_modules/@modelcontextprotocol/conformance/dist/index.js`;
const EXPECTED: Record<string, string> = JSON.parse(
  await Deno.readTextFile(new URL("./conformance_expected_failures.json", import.meta.url)),
);

async function suite(args: string[]): Promise<{ code: number; out: string }> {
  try {
    await Deno.stat(SUITE);
  } catch {
    throw new Error(
      `conformance suite missing at ${SUITE}: run \`deno install\` in the repository`,
    );
  }
  const o = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", SUITE, ...args],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: o.code, out: dec.decode(o.stdout) + dec.decode(o.stderr) };
}

Deno.test("CONFORMANCE: every server scenario of the official suite passes, except the listed fixture scenarios", async () => {
  const list = await suite(["list"]);
  const scenarios = list.out.split("Client scenarios")[0]!.split("\n")
    .map((l) => /^\s+- (\S+)/.exec(l)?.[1])
    .filter((x): x is string => !!x);
  assert.ok(scenarios.length >= 20, `the suite listed ${scenarios.length} server scenarios`);
  const stale = Object.keys(EXPECTED).filter((k) => !scenarios.includes(k));
  assert.deepEqual(stale, [], "expected-failure entries for scenarios the suite no longer has");

  const srv = await startHttpServer(baseEnv({ SSH_HOSTS_FILE: "/nonexistent/hosts.toml" }));
  const unexpected: string[] = [];
  const passing: string[] = [];
  const summary: string[] = [];
  try {
    for (const sc of scenarios) {
      const r = await suite(["server", "--url", srv.url, "--scenario", sc]);
      const m = /Passed: (\d+)\/(\d+), (\d+) failed/.exec(r.out);
      assert.ok(m, `${sc}: no summary line in the suite's output:\n${r.out.slice(-1500)}`);
      const failed = Number(m[3]);
      const ok = r.code === 0 && failed === 0;
      summary.push(`${sc}: ${m[0]}`);
      if (ok) passing.push(sc);
      if (!ok && !(sc in EXPECTED)) unexpected.push(`${sc}: ${m[0]}\n${r.out.slice(-1200)}`);
      if (ok && sc in EXPECTED) {
        unexpected.push(`${sc} passes now: remove it from the expected failures`);
      }
    }
  } finally {
    await srv.stop();
  }
  // deno-lint-ignore no-console -- the figures go to the closing note
  console.log(
    `conformance: ${passing.length}/${scenarios.length} scenarios pass\n  ${summary.join("\n  ")}`,
  );
  assert.deepEqual(unexpected, []);
  for (
    const must of [
      "server-initialize",
      "tools-list",
      "logging-set-level",
      "dns-rebinding-protection",
    ]
  ) {
    assert.ok(passing.includes(must), `${must} must pass`);
  }
});
