/**
 * Issue 9 §7: tier visibility that survived the mutation run (SECURITY.md
 * TIER-1..TIER-5): the sudo tier needs BOTH `ALLOW_DANGEROUS_TOOLS` and
 * `ALLOW_SUDO`; with `ALLOW_SUDO` alone no sudo tool is listed or callable.
 * (The audit gate of the pipeline, AUDIT-14, is held end to end by
 * tests/e2e/audit_sink_test.ts "AUDIT-14: ...".)
 */

import assert from "node:assert/strict";
import { baseEnv, startInProcess } from "../_support/mcp.ts";

async function sudoTools(env: Record<string, string>): Promise<string[]> {
  const s = await startInProcess(baseEnv(env));
  try {
    const listed = (await s.client.listTools()).tools.map((t) => t.name);
    return listed.filter((n) => n.startsWith("ssh_sudo_")).sort();
  } finally {
    await s.close();
  }
}

Deno.test("TIER-1/TIER-5 (§7 rules): sudo tools need ALLOW_DANGEROUS_TOOLS and ALLOW_SUDO together", async () => {
  assert.deepEqual(await sudoTools({ ALLOW_SUDO: "true" }), []);
  assert.deepEqual(
    await sudoTools({ ALLOW_SUDO: "true", ALLOW_LOW_ACCESS_TOOLS: "true" }),
    [],
  );
  assert.deepEqual(await sudoTools({ ALLOW_DANGEROUS_TOOLS: "true" }), []);
  const both = await sudoTools({ ALLOW_DANGEROUS_TOOLS: "true", ALLOW_SUDO: "true" });
  assert.ok(both.includes("ssh_sudo_exec"), both.join(", "));
});
