/**
 * EXEC-46: one command checker for every exec surface, end to end on real
 * OpenSSH hosts (bash and dash login shells) through a real MCP client:
 * ssh_exec_run, ssh_exec_run_streaming, ssh_run_async, ssh_shell_exec,
 * ssh_broadcast, ssh_run_on_tag (command and health_check), ssh_exec_script,
 * ssh_plan, and the sudo tools (ssh_sudo_exec, ssh_sudo_run_script). On each,
 * an expansion attack is refused with the same reason and an admitted
 * command runs re-emitted (EXEC-22) with the expected output.
 */

import assert from "node:assert/strict";
import { withFleetServer } from "../_support/fleet.ts";
import type { McpHandle } from "../_support/mcp.ts";
import type { LoginShell } from "../_support/sshd.ts";
import { startBedServer, startSudoBed } from "../_support/sudo.ts";

const SHELLS: readonly LoginShell[] = ["sh", "bash"];
const ATTACK = "uname ${x@P}";
const BENIGN = "uname -s";

type Exec = { exit_code: number; stdout: string; stderr: string };

async function refused(s: McpHandle, tool: string, args: Record<string, unknown>, reason: string) {
  const e = await s.err(tool, args);
  assert.equal(e.code, "CommandNotAllowed", `${tool}: ${e.message}`);
  assert.equal(e.meta.reason, reason, `${tool}: ${e.message}`);
  return e;
}

async function taskResult(s: McpHandle, taskId: string): Promise<Record<string, unknown>> {
  for (;;) {
    const r = await s.ok<Record<string, unknown>>("ssh_get_task_result", { task_id: taskId });
    if (r.status !== "running" && r.status !== "pending") return r;
    await new Promise((res) => setTimeout(res, 50));
  }
}

for (const shell of SHELLS) {
  Deno.test(`EXEC-46 (${shell}): every exec surface reaches the same checker and runs the re-emitted command`, async () => {
    await withFleetServer(2, async ({ s }) => {
      const why = "run-time-expansion";
      // ssh_exec_run, ssh_exec_run_streaming
      for (const tool of ["ssh_exec_run", "ssh_exec_run_streaming"]) {
        await refused(s, tool, { host: "h1", command: ATTACK }, why);
        const r = await s.ok<Exec>(tool, { host: "h1", command: BENIGN });
        assert.equal(r.stdout, "Linux\n", tool);
      }
      // ssh_run_async
      await refused(s, "ssh_run_async", { host: "h1", command: ATTACK }, why);
      const t = await s.ok<{ task_id: string }>("ssh_run_async", { host: "h1", command: BENIGN });
      const tr = await taskResult(s, t.task_id);
      assert.equal(tr.stdout, "Linux\n", JSON.stringify(tr));
      // ssh_shell_exec: cd and pwd stay builtins, the cwd is tracked
      const { session_id } = await s.ok<{ session_id: string }>("ssh_shell_open", { host: "h1" });
      await refused(s, "ssh_shell_exec", { session_id, command: ATTACK }, why);
      const cd = await s.ok<{ cwd: string }>("ssh_shell_exec", {
        session_id,
        command: "cd /usr/share",
      });
      assert.equal(cd.cwd, "/usr/share");
      const pwd = await s.ok<Exec>("ssh_shell_exec", { session_id, command: "pwd" });
      assert.equal(pwd.stdout, "/usr/share\n");
      const sh = await s.ok<Exec>("ssh_shell_exec", { session_id, command: BENIGN });
      assert.equal(sh.stdout, "Linux\n");
      // ssh_broadcast: a refusal fails each host alone, nothing runs
      const b = await s.ok<{ failed: string[]; errors: Record<string, string> }>("ssh_broadcast", {
        hosts: ["h1", "h2"],
        command: ATTACK,
      });
      assert.deepEqual(b.failed, ["h1", "h2"]);
      assert.deepEqual(Object.values(b.errors), ["CommandNotAllowed", "CommandNotAllowed"]);
      const ok = await s.ok<{ results: Record<string, Exec> }>("ssh_broadcast", {
        hosts: ["h1", "h2"],
        command: BENIGN,
        group_output: false,
      });
      assert.deepEqual(Object.values(ok.results).map((r) => r.stdout), ["Linux\n", "Linux\n"]);
      // ssh_run_on_tag, with a health check
      const tag = await s.ok<{ results: Record<string, Exec> }>("ssh_run_on_tag", {
        tag: "web",
        command: BENIGN,
        health_check: "uname -s",
        group_output: false,
      });
      assert.equal(Object.keys(tag.results).length, 2);
      const hc = await refused(s, "ssh_run_on_tag", {
        tag: "web",
        command: BENIGN,
        health_check: ATTACK,
        serial: 1,
      }, why);
      assert.match(hc.message, /health_check refused/);
      // ssh_exec_script: scripts need allow-any on a restrictive host
      await refused(s, "ssh_exec_script", { host: "h1", script: BENIGN }, "script-needs-allow-any");
      // ssh_plan gives the same decision without running anything
      const plan = await s.ok<{ targets: Record<string, unknown>[] }>("ssh_plan", {
        host: "h1",
        command: ATTACK,
      });
      assert.equal(plan.targets[0]!.command_decision, "deny");
      assert.equal(plan.targets[0]!.command_reason, why);
      const good = await s.ok<{ targets: Record<string, unknown>[] }>("ssh_plan", {
        host: "h1",
        command: BENIGN,
      });
      assert.equal(good.targets[0]!.command_decision, "allow");
    }, {
      tier: "dangerous",
      sshd: { loginShell: shell },
      env: { ALLOW_LOW_ACCESS_TOOLS: "true" },
      perHost: () => 'command_allowlist = ["uname", "cd", "pwd"]\ntags = ["web"]',
    });
  });
}

Deno.test("EXEC-46 (sh, sudo): ssh_sudo_exec and ssh_sudo_run_script reach the same checker; the re-emitted command runs under sudo sh -c", async () => {
  const bed = await startSudoBed();
  try {
    const s = await startBedServer(bed);
    try {
      // `locked`: the password user with command_allowlist = ["systemctl"]
      await refused(
        s,
        "ssh_sudo_exec",
        { host: "locked", command: "systemctl ${x@P}" },
        "run-time-expansion",
      );
      await refused(s, "ssh_sudo_exec", { host: "locked", command: "id" }, "not-allowlisted");
      const r = await s.ok<Exec>("ssh_sudo_exec", {
        host: "locked",
        command: "systemctl --version",
      });
      assert.equal(r.exit_code, 0, r.stderr);
      assert.match(r.stdout, /^systemd \d+/);
      await refused(
        s,
        "ssh_sudo_run_script",
        { host: "locked", script: "id\n" },
        "script-needs-allow-any",
      );
    } finally {
      await s.close();
    }
  } finally {
    await bed.stop();
  }
});
