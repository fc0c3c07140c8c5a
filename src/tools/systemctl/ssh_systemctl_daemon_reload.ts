import { z } from "zod";
import { sh } from "../../checked.ts";
import { ToolError } from "../../errors.ts";
import { mergeWarnings, sanitize } from "../../policy/sanitize.ts";
import { defineTool, HostArg, TimeoutArg } from "../define.ts";
import { execAudit } from "../exec_result.ts";
import { OutputWarnings } from "../_schemas.ts";
import { ProgressChain, runMutation, runRead } from "../_runner.ts";
import { CheckArg } from "./_systemctl.ts";

/**
 * `systemctl daemon-reload` (TOOLS.md §15, optional; dangerous): systemd
 * re-reads unit files after they were edited. Running services are not
 * restarted.
 */
export default defineTool({
  name: "ssh_systemctl_daemon_reload",
  group: "systemctl",
  tier: "dangerous",
  hints: { destructiveHint: false, idempotentHint: true },
  elevation: "host-opt-in",
  posixOnly: true,
  taskSupport: "optional",
  description: "Reload systemd unit files (systemctl daemon-reload).",
  input: z.strictObject({ host: HostArg, timeout: TimeoutArg, check: CheckArg }),
  output: z.strictObject({
    host: z.string(),
    action: z.literal("daemon-reload"),
    exit_code: z.number().int(),
    stdout: z.string(),
    stderr: z.string(),
    output_warnings: OutputWarnings,
    check: z.boolean(),
    timed_out: z.boolean(),
    duration_ms: z.number().int(),
    via: z.enum(["login", "sudo", "doas"]),
    predicted: z.string().nullable(),
  }),
  async handler({ timeout, check }, ctx) {
    const host = ctx.host.policy.hostname;
    if (check) {
      const t0 = performance.now();
      const r = await runRead(ctx, "systemctl", sh`systemctl --version >/dev/null`);
      return {
        host,
        action: "daemon-reload" as const,
        exit_code: r.exitCode,
        stdout: "",
        stderr: "",
        output_warnings: [],
        check: true,
        timed_out: false,
        duration_ms: Math.round(performance.now() - t0),
        via: "login" as const,
        predicted:
          "would reload the unit files and regenerate the dependency tree; running services are not restarted",
      };
    }
    const progress = new ProgressChain(ctx);
    progress.send("systemctl daemon-reload: running");
    const { r, via, warnings } = await runMutation(
      ctx,
      "systemctl",
      "systemctl",
      sh`systemctl daemon-reload`,
      { timeout, onLine: (s, l) => progress.send(`${s}: ${sanitize(l).text}`) },
    );
    ctx.audit(execAudit(r));
    await progress.flush();
    if (r.cancelled) {
      throw new ToolError(
        "Cancelled",
        "systemctl daemon-reload was cancelled; the remote process group was killed.",
      );
    }
    const out = sanitize(r.stdout);
    const err = sanitize(r.stderr);
    return {
      host,
      action: "daemon-reload" as const,
      exit_code: r.exitCode,
      stdout: out.text,
      stderr: err.text,
      output_warnings: mergeWarnings(warnings, out.warnings, err.warnings),
      check: false,
      timed_out: r.timedOut,
      duration_ms: r.durationMs,
      via,
      predicted: null,
    };
  },
});
