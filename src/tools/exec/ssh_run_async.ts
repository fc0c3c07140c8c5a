import { z } from "zod";
import { commandHash } from "../../audit/audit.ts";
import { ToolError } from "../../errors.ts";
import { effectivePolicy } from "../../policy/effective.ts";
import { defineTool, HostArg, TimeoutArg } from "../define.ts";
import { CommandArg } from "../exec_result.ts";
import { POLL_INTERVAL_S, TaskStatusEnum } from "./_tasks.ts";

/** Starts a command as a background task owned by this MCP session (SECURITY.md §TASK). */
export default defineTool({
  taskSupport: "optional",
  name: "ssh_run_async",
  group: "exec",
  tier: "dangerous",
  description: "Start a command in the background; returns a task id to poll.",
  input: z.strictObject({
    host: HostArg,
    command: CommandArg,
    timeout: TimeoutArg,
  }),
  output: z.strictObject({
    task_id: z.string(),
    status: TaskStatusEnum,
    keep_alive_s: z.number().int(),
    poll_interval_s: z.number().int(),
    host: z.string(),
    command_hash: z.string(),
    timeout_s: z.number().int(),
  }),
  posixOnly: true,
  command: { field: "command", kind: "command", cheatsheet: true },
  handler({ command, timeout }, ctx) {
    const host = ctx.host;
    const p = host.policy;
    const eff = effectivePolicy(p, ctx.settings);
    const timeoutS = timeout ?? eff.command_timeout_s;
    // the hash of the caller's text, like the call's own audit line (not of the re-emission)
    const hash = commandHash(ctx.rawCommand());
    const cid = ctx.correlationId;
    const t = ctx.tasks.submit({
      owner: ctx.sessionKey,
      alias: p.alias,
      hostname: p.hostname,
      commandHash: hash,
      correlationId: cid,
      ringBytes: eff.stdout_cap_bytes + eff.stderr_cap_bytes,
      run: async ({ signal, onData, started }) => {
        if (signal.aborted) throw new ToolError("Cancelled", "The task was cancelled.");
        return await ctx.execOn(host, command, {
          timeoutMs: timeoutS * 1000,
          signal,
          onData,
          onStart: started,
        });
      },
      onFinish: async (task) => {
        const r = task.raw;
        const err = r?.cancelled ? "Cancelled" : task.error?.code;
        await ctx.auditLine({
          host: host.requested,
          alias: p.alias,
          hostname: p.hostname,
          result: err ? "error" : "ok",
          duration_ms: (task.finishedAt ?? Date.now()) - task.createdAt,
          task_id: task.id,
          command_hash: hash,
          ...(err ? { error: err } : {}),
          ...(r
            ? {
              exit_code: r.exitCode,
              timed_out: r.timedOut,
              cancelled: r.cancelled,
              bytes_out: r.stdoutBytes,
              bytes_err: r.stderrBytes,
            }
            : { cancelled: task.status === "cancelled" }),
        });
      },
    });
    ctx.audit({ task_id: t.id });
    return Promise.resolve({
      task_id: t.id,
      status: "pending" as const,
      keep_alive_s: ctx.settings.SSH_TASK_KEEPALIVE_S,
      poll_interval_s: POLL_INTERVAL_S,
      host: p.hostname,
      command_hash: hash,
      timeout_s: timeoutS,
    });
  },
});
