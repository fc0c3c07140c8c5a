/**
 * The unit mutations of TOOLS.md §11 (`systemctl <verb> -- <unit>`, dangerous
 * tier), generated from one table. Each tool still has its own file
 * (`ssh_systemctl_start.ts` = `unitMutation("ssh_systemctl_start")`), so a
 * search for the tool name finds both its row here and its definition.
 *
 * Every mutation: the unit is checked in `prepare` (R_UNIT) before any I/O;
 * `check: true` reads the unit's state with `systemctl show`, refuses a unit
 * that does not exist and says what the action would change, changing nothing;
 * otherwise the command runs as the login user or through the host's elevation
 * (`sudo_tool_groups`, see `_runner.ts`), reports MCP progress, supports MCP
 * task mode, and a non-zero exit is data. Cancellation kills the remote
 * process group. The audit line carries `unit_hash`.
 *
 * @module
 */

import { z } from "zod";
import { sh } from "../../checked.ts";
import { ToolError, valueError } from "../../errors.ts";
import { mergeWarnings, sanitize } from "../../policy/sanitize.ts";
import { defineTool, HostArg, TimeoutArg, type Tool } from "../define.ts";
import { execAudit } from "../exec_result.ts";
import { OutputWarnings } from "../_schemas.ts";
import { FACT_PROPERTIES, parseShow, predict, unitFacts } from "./_parse.ts";
import { ProgressChain, runMutation } from "../_runner.ts";
import { CheckArg, prepareUnit, readSystemd, UnitArg } from "./_systemctl.ts";

/** One row per unit mutation: the literal tool name, its verb and what it does. */
export const UNIT_ACTIONS = {
  ssh_systemctl_start: {
    verb: "start",
    description: "Start a systemd unit.",
  },
  ssh_systemctl_stop: {
    verb: "stop",
    description: "Stop a systemd unit.",
  },
  ssh_systemctl_restart: {
    verb: "restart",
    description: "Restart a systemd unit.",
  },
  ssh_systemctl_reload: {
    verb: "reload",
    description: "Reload a unit's configuration without restart.",
  },
  ssh_systemctl_enable: {
    verb: "enable",
    description: "Enable a unit at boot (does not start it).",
  },
  ssh_systemctl_disable: {
    verb: "disable",
    description: "Disable a unit at boot (does not stop it).",
  },
  ssh_systemctl_mask: {
    verb: "mask",
    description: "Mask a unit so nothing can start it.",
  },
  ssh_systemctl_unmask: {
    verb: "unmask",
    description: "Unmask a systemd unit.",
  },
  ssh_systemctl_reset_failed: {
    verb: "reset-failed",
    description: "Clear a unit's failed state.",
  },
} as const;

/** A unit mutation tool name. */
export type UnitActionTool = keyof typeof UNIT_ACTIONS;

/** The unit facts check mode reports. */
const Facts = z.strictObject({
  id: z.string(),
  load_state: z.string(),
  active_state: z.string(),
  sub_state: z.string(),
  unit_file_state: z.string(),
});

/** Result of a unit mutation: TOOLS.md §11 plus NEW check-mode and run facts. */
export const UnitMutationResult = z.strictObject({
  host: z.string(),
  unit: z.string(),
  action: z.string().describe("The systemctl verb (reset-failed with a dash)"),
  exit_code: z.number().int(),
  stdout: z.string(),
  stderr: z.string(),
  output_warnings: OutputWarnings,
  check: z.boolean().describe("true: nothing was changed (check mode)"),
  timed_out: z.boolean(),
  duration_ms: z.number().int(),
  via: z.enum(["login", "sudo", "doas"]).describe(
    "Who ran systemctl: the login user, or the host's elevation (sudo_tool_groups)",
  ),
  current: Facts.nullable().describe("Check mode: the unit's state before any change"),
  would_change: z.boolean().nullable().describe("Check mode: the action would change the unit"),
  predicted: z.string().nullable().describe("Check mode: what the action would do"),
});

/** Builds the tool of one {@link UNIT_ACTIONS} row. */
export function unitMutation(name: UnitActionTool): Tool {
  const { verb, description } = UNIT_ACTIONS[name];
  return defineTool({
    name,
    group: "systemctl",
    tier: "dangerous",
    elevation: "host-opt-in",
    posixOnly: true,
    taskSupport: "optional",
    hints: {
      // stop, restart, disable and mask take something away; the others only add or refresh
      destructiveHint: verb === "stop" || verb === "restart" || verb === "disable" ||
        verb === "mask",
      idempotentHint: verb !== "restart",
    },
    description,
    input: z.strictObject({ host: HostArg, unit: UnitArg, timeout: TimeoutArg, check: CheckArg }),
    output: UnitMutationResult,
    auditHash: { unit_hash: "unit" },
    prepare: prepareUnit,
    async handler({ timeout, check }, ctx, { unit }) {
      const t0 = performance.now();
      const host = ctx.host.policy.hostname;
      if (check) {
        const o = await readSystemd(
          ctx,
          "systemctl",
          sh`systemctl show ${`--property=${FACT_PROPERTIES}`} -- ${unit}`,
          timeout,
        );
        const props = parseShow(o.stdout);
        if (!props.LoadState) {
          throw new ToolError(
            "RuntimeError",
            `systemctl show did not report the state of ${unit} on ${ctx.host.policy.alias} ` +
              `(exit ${o.exitCode}): ${o.stderr.trim().slice(0, 300) || "no output"}`,
          );
        }
        const current = unitFacts(props, unit);
        if (current.load_state === "not-found") {
          throw valueError(
            `unit: ${JSON.stringify(unit)} does not exist on ${ctx.host.policy.alias} ` +
              "(LoadState=not-found); nothing was changed",
            { parameter: "unit" },
          );
        }
        const p = predict(verb, current);
        return {
          host,
          unit,
          action: verb,
          exit_code: o.exitCode,
          stdout: "",
          stderr: "",
          output_warnings: o.warnings,
          check: true,
          timed_out: false,
          duration_ms: Math.round(performance.now() - t0),
          via: "login" as const,
          current,
          would_change: p.would_change,
          predicted: p.summary,
        };
      }
      const progress = new ProgressChain(ctx);
      progress.send(`systemctl ${verb} ${unit}: running`);
      const { r, via, warnings } = await runMutation(
        ctx,
        "systemctl",
        "systemctl",
        sh`systemctl ${verb} -- ${unit}`,
        { timeout, onLine: (s, l) => progress.send(`${s}: ${sanitize(l).text}`) },
      );
      ctx.audit(execAudit(r));
      if (r.cancelled) {
        await progress.flush();
        throw new ToolError(
          "Cancelled",
          `systemctl ${verb} ${unit} was cancelled; the remote process group was killed ` +
            "(systemd may still finish a job it already accepted: check with ssh_systemctl_status).",
        );
      }
      progress.send(
        `systemctl ${verb} ${unit}: ${r.timedOut ? "timed out" : `exit ${r.exitCode}`}`,
      );
      await progress.flush();
      const out = sanitize(r.stdout);
      const err = sanitize(r.stderr);
      const w = mergeWarnings(warnings, out.warnings, err.warnings);
      if (r.timedOut) w.push(`systemctl ${verb} timed out; the remote process was killed`);
      return {
        host,
        unit,
        action: verb,
        exit_code: r.exitCode,
        stdout: out.text,
        stderr: err.text,
        output_warnings: w,
        check: false,
        timed_out: r.timedOut,
        duration_ms: r.durationMs,
        via,
        current: null,
        would_change: null,
        predicted: null,
      };
    },
  });
}
