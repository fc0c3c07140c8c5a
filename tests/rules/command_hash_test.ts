/**
 * Issue 9 §7: exact `command_hash` values (SECURITY.md AUDIT-4, AC-850). The
 * hash is `sha256:` + the first 16 hex digits of SHA-256 over the caller's
 * command text AFTER the secret redactions (`password=`/`token=`/... values,
 * URL userinfo passwords, `Authorization:`/`Bearer` values), so it depends
 * on the command's shape, never on the secret. The expected values here are
 * computed in the test from hand-written redacted texts (not with the
 * product's own redaction), so a hash over the raw text, over the server's
 * re-emission, or with a redaction dropped fails.
 *
 * Sites: ssh_exec_run (its audit line and its `policy_decision` line) and
 * ssh_run_async (its result, its start and finish audit lines, the task
 * list), with and without a restrictive allowlist (which makes the server
 * run a re-emitted text: the hash must still be of the caller's text).
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { withFakeHosts } from "../pipeline/_fixture.ts";

/** AUDIT-4 `sha256:` + 16 hex, computed independently of src/audit. */
const h = (text: string) =>
  "sha256:" + createHash("sha256").update(text, "utf8").digest("hex").slice(0, 16);

/** A command carrying secrets in every AUDIT-4 shape, and its redacted form written by hand. */
const CASES: { raw: string; redacted: string; secrets: string[] }[] = [
  {
    raw: "echo PASSWORD=hunter2 done",
    redacted: "echo PASSWORD=<redacted> done",
    secrets: ["hunter2"],
  },
  {
    raw: "true --token=tok-9f8e7d https://deploy:s3cr3tpw@example.invalid/x api_key='k e y'",
    redacted:
      "true --token=<redacted> https://deploy:<redacted>@example.invalid/x api_key=<redacted>",
    secrets: ["tok-9f8e7d", "s3cr3tpw", "k e y"],
  },
  {
    raw: 'true -H "Authorization: Bearer abc.def.ghi" Basic dXNlcjpwdw==',
    redacted: 'true -H "Authorization: Bearer <redacted>" Basic <redacted>',
    secrets: ["abc.def.ghi", "dXNlcjpwdw=="],
  },
];

type Line = Record<string, unknown>;

async function waitDone(
  s: { ok<T>(n: string, a?: Record<string, unknown>): Promise<T> },
  id: string,
): Promise<void> {
  const end = Date.now() + 15_000;
  while (Date.now() < end) {
    const st = await s.ok<{ status: string }>("ssh_get_task_status", { task_id: id });
    if (!["pending", "running"].includes(st.status)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`task ${id} did not finish`);
}

for (const restrictive of [false, true]) {
  const mode = restrictive ? "allowlist (re-emitted command)" : "ALLOW_ANY_COMMAND";
  Deno.test(`AUDIT-4/AC-850 (§7 rules, ${mode}): ssh_exec_run and ssh_run_async record the exact hash of the REDACTED caller text`, async () => {
    await withFakeHosts(
      [{ alias: "h1", toml: restrictive ? 'command_allowlist = ["echo", "true"]' : "" }],
      async (c) => {
        const { s } = c;
        for (const { raw, redacted, secrets } of CASES) {
          const want = h(redacted);
          assert.notEqual(want, h(raw), "the test case must contain something to redact");

          // ssh_exec_run: the audit line and the policy_decision line
          await c.fresh();
          const r = await s.ok("ssh_exec_run", { host: "h1", command: raw });
          assert.equal(r.exit_code, 0, JSON.stringify(r));
          const lines = await c.fresh();
          const audit = lines.filter((l) => l.type === "audit" && l.tool === "ssh_exec_run");
          const pd = lines.filter((l) => l.type === "policy_decision");
          assert.equal(audit.length, 1);
          assert.equal(pd.length, 1);
          assert.equal(audit[0]!.command_hash, want, `exec audit line for ${raw}`);
          assert.equal(pd[0]!.command_hash, want, `policy_decision line for ${raw}`);
          for (const secret of secrets) {
            assert.ok(!JSON.stringify(lines).includes(secret), `${secret} in the audit log`);
          }

          // ssh_run_async: result, start line, finish line, task list
          const t = await s.ok<{ task_id: string; command_hash: string }>("ssh_run_async", {
            host: "h1",
            command: raw,
          });
          assert.equal(t.command_hash, want, `ssh_run_async result for ${raw}`);
          await waitDone(s, t.task_id);
          const list = await s.ok<{ tasks: { task_id: string; command_hash: string }[] }>(
            "ssh_task_list",
          );
          const mine = list.tasks.find((x) => x.task_id === t.task_id);
          assert.equal(mine?.command_hash, want, "ssh_task_list");
          const async = (await c.fresh()).filter((l: Line) =>
            l.tool === "ssh_run_async" && (l.type === "audit" || l.type === "policy_decision")
          );
          // policy_decision + the call's line + the finish line
          assert.equal(async.length, 3, JSON.stringify(async));
          for (const l of async) {
            assert.equal(
              l.command_hash,
              want,
              `ssh_run_async ${l.type} line: ${JSON.stringify(l)}`,
            );
          }
          assert.equal(async.filter((l) => l.task_id === t.task_id).length, 2);
        }
      },
      { tier: "dangerous", env: restrictive ? {} : { ALLOW_ANY_COMMAND: "true" } },
    );
  });
}
