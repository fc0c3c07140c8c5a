/**
 * How the pkg group runs apt (TOOLS.md §12), shared by its tools:
 *
 * - every command starts with the `command -v apt` probe (PlatformNotSupported
 *   "apt not available" on hosts without apt, AC-783) — in the same round trip;
 * - mutations run non-interactively: `DEBIAN_FRONTEND=noninteractive`,
 *   `--force-confdef --force-confold` (a changed conffile keeps the local
 *   version, no prompt can hang until the timeout, AC-785) and
 *   `Dpkg::Use-Pty=0` (dpkg stays in the command's process group, so a cancel
 *   or timeout really stops it instead of leaving it running detached);
 * - `check: true` runs apt's own simulation (`apt-get -s`, `apt-mark
 *   showhold`, `apt-get --print-uris update`) as the login user and changes
 *   nothing;
 * - a held dpkg/apt lock is an error naming the lock and its holder, also
 *   when apt failed without printing its lock message (the state report
 *   looks the holders up in `/proc/locks`);
 * - after a run that did not finish cleanly (non-zero exit, timeout, cancel)
 *   the result says what state dpkg is in (packages left half-configured or
 *   unpacked) and how to recover.
 *
 * @module
 */

import { z } from "zod";
import { nested, raw, sh, type ShellCommand } from "../../checked.ts";
import { commandHash } from "../../audit/audit.ts";
import { ToolError } from "../../errors.ts";
import { randomHex } from "../../util/random.ts";
import { mergeWarnings, sanitize } from "../../policy/sanitize.ts";
import type { ToolContext } from "../context.ts";
import { execAudit, timeoutOpts } from "../exec_result.ts";
import { OutputWarnings } from "../_schemas.ts";
import { ProgressChain, runMutation, runRead } from "../_runner.ts";
import {
  aptPhase,
  dpkgInterrupted,
  hasAptError,
  LOCK_FILES,
  LOCK_LINE,
  type LockHolder,
  parseLockError,
  parseReportLocks,
  parseUnsettled,
  type Simulation,
  type UnsettledPackage,
} from "./_parse.ts";
import type { PackageName } from "./_words.ts";

/** Environment of every apt mutation (no prompt, no pager, no restart dialog). */
export const NONINTERACTIVE = raw(
  "DEBIAN_FRONTEND=noninteractive NEEDRESTART_MODE=a APT_LISTCHANGES_FRONTEND=none",
);

/** dpkg options of every apt-get mutation (see module docs). */
export const DPKG_OPTIONS = raw(
  "-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold -o Dpkg::Use-Pty=0",
);

/** Actions of AptMutationResult (TOOLS.md §12, plus NEW `update`). */
export const APT_ACTIONS = [
  "install",
  "upgrade",
  "remove",
  "purge",
  "autoremove",
  "hold",
  "unhold",
  "update",
] as const;
/** One apt action. */
export type AptAction = typeof APT_ACTIONS[number];

const Pkg = z.strictObject({
  name: z.string(),
  version: z.string(),
  from_version: z.string().optional(),
});

/** AptMutationResult (TOOLS.md §12) plus the NEW check-mode and recovery fields. */
export const AptMutationResult = z.strictObject({
  host: z.string(),
  action: z.enum(APT_ACTIONS),
  packages: z.array(z.string()),
  exit_code: z.number().int(),
  stdout: z.string(),
  stderr: z.string(),
  duration_ms: z.number().int(),
  stdout_truncated: z.boolean(),
  output_warnings: OutputWarnings,
  check: z.boolean().describe("true: apt's simulation ran, nothing was changed"),
  timed_out: z.boolean(),
  via: z.enum(["login", "sudo", "doas"]).describe(
    "Who ran apt: the login user, or the host's elevation (sudo_tool_groups)",
  ),
  simulation: z.strictObject({
    would_install: z.array(Pkg),
    would_upgrade: z.array(Pkg),
    would_remove: z.array(Pkg),
    would_purge: z.array(Pkg),
    kept_back: z.array(z.string()),
  }).nullable().describe("Check mode of install/upgrade/remove/autoremove: apt-get -s"),
  holds: z.strictObject({
    held_now: z.array(z.string()),
    would_hold: z.array(z.string()),
    would_unhold: z.array(z.string()),
  }).nullable().describe("Check mode of ssh_apt_mark"),
  would_fetch: z.array(z.string()).nullable().describe("Check mode of ssh_apt_update"),
  dpkg_state: z.strictObject({
    interrupted: z.boolean().describe("dpkg must be recovered before the next apt run"),
    unsettled: z.array(z.strictObject({
      name: z.string(),
      status: z.string(),
      version: z.string(),
    })),
    recovery: z.string().nullable(),
  }).nullable().describe("When the run did not finish cleanly: what state dpkg is in"),
});
/** One AptMutationResult. */
export type AptMutationResultT = z.output<typeof AptMutationResult>;

/** What dpkg looks like after an unclean run. */
export interface DpkgState {
  interrupted: boolean;
  unsettled: UnsettledPackage[];
  recovery: string | null;
}

const RECOVERY =
  "dpkg did not finish: run `dpkg --configure -a` as root to complete the interrupted " +
  "configuration (ssh_exec_run on a root login, or ssh_sudo_exec), then repeat the apt call.";

/**
 * Shell function `sshmcp_locks`: for each of {@link LOCK_FILES}, the process
 * that holds an fcntl lock on it now, as `sshmcp-lock <file> <pid> <comm>`.
 * A holder is a POSIX or OFD lock line of `/proc/locks` on the file's inode
 * (waiters, `->`, are not holders) whose process has the file open, so an
 * equal inode number on another filesystem is not taken for the lock. Needs
 * nothing but `stat`, `readlink` and `/proc`; prints nothing where those are
 * missing or no one holds a lock.
 */
const LOCK_HOLDERS =
  sh`sshmcp_locks() { for f in ${LOCK_FILES}; do i=$(stat -c %i "$f" 2>/dev/null) || continue; while read -r _ t _ _ p d _; do case "$t" in POSIX|OFDLCK) ;; *) continue;; esac; case "$d" in *:"$i") ;; *) continue;; esac; for fd in /proc/"$p"/fd/*; do if [ "$(readlink "$fd" 2>/dev/null)" = "$f" ]; then printf '%s %s %s %s\\n' ${LOCK_LINE} "$f" "$p" "$(tr -d '\\000-\\037\\177' </proc/"$p"/comm 2>/dev/null)"; break; fi; done; done </proc/locks; done; };`;

/**
 * Wraps an apt mutation so that dpkg's state is reported in the same round
 * trip whenever the run does not finish cleanly: the command runs in the
 * background of a shell that, on TERM (the exec engine's cancel/timeout kill),
 * ignores further TERMs, stops its whole process group (apt-get, dpkg,
 * maintainer scripts; under sudo the group of the elevated shell), waits for
 * its child, prints `marker` and the packages dpkg left between states to
 * stderr and exits 143; after a non-zero exit it prints the same report. The
 * report arrives before the engine's KILL (2 s later), so a cancelled call can
 * still say what dpkg was left with, without another exec.
 */
export function withStateReport(cmd: ShellCommand, marker: string): ShellCommand {
  return sh`${
    nested(LOCK_HOLDERS)
  } sshmcp_report() { printf '\\n%s\\n' ${marker} >&2; sshmcp_locks >&2; dpkg-query -W -f='\${db:Status-Status} \${binary:Package} \${Version}\\n' 2>/dev/null | grep -v -E '^(installed|config-files|not-installed) ' >&2; }; trap 'trap "" TERM; g=$$; read -r _ _ _ _ g _ </proc/$$/stat 2>/dev/null; kill -TERM -- -"$g" 2>/dev/null; wait; sshmcp_report; exit 143' TERM; { ${
    nested(cmd)
  }; } & wait $!; sshmcp_rc=$?; [ "$sshmcp_rc" -eq 0 ] || sshmcp_report; exit "$sshmcp_rc"`;
}

/** Splits apt's stderr from the state report of {@link withStateReport}. */
export function splitReport(
  stderr: string,
  marker: string,
): { stderr: string; report: string | null } {
  const at = stderr.lastIndexOf(`\n${marker}\n`);
  if (at < 0) return { stderr, report: null };
  return { stderr: stderr.slice(0, at), report: stderr.slice(at + marker.length + 2) };
}

/** dpkg's state from a report (or a separate probe), with the recovery advice. */
export function dpkgState(report: string, aptText: string): DpkgState {
  const unsettled = parseUnsettled(report);
  const interrupted = unsettled.length > 0 || dpkgInterrupted(aptText);
  return { interrupted, unsettled, recovery: interrupted ? RECOVERY : null };
}

/** Reads the packages dpkg left between states with a separate command (as the login user). */
export async function probeDpkgState(ctx: ToolContext, aptText: string): Promise<DpkgState> {
  const r = await ctx.exec(
    sh`dpkg-query -W -f='\${db:Status-Status} \${binary:Package} \${Version}\\n' 2>/dev/null | grep -v -E '^(installed|config-files|not-installed) '`,
    { timeoutMs: 20_000 },
  );
  return dpkgState(r.stdout, aptText);
}

/**
 * The error for a held lock; looks up the holder's name when neither apt nor
 * the state report gave it (check mode has no report).
 */
async function lockError(ctx: ToolContext, lock: LockHolder): Promise<ToolError> {
  let holder = lock.holder === null ? null : sanitize(lock.holder).text.slice(0, 64) || null;
  if (lock.pid !== null && holder === null) {
    const r = await ctx.exec(sh`cat ${`/proc/${lock.pid}/comm`} 2>/dev/null`, {
      timeoutMs: 10_000,
    });
    holder = sanitize(r.stdout.trim()).text.slice(0, 64) || null;
  }
  const who = lock.pid === null
    ? "another process"
    : `process ${lock.pid}${holder ? ` (${holder})` : ""}`;
  return new ToolError(
    "PackageManagerLocked",
    `The package manager is busy on ${ctx.host.policy.alias}: ${lock.lock} is held by ${who}. ` +
      "Another apt/dpkg run (unattended-upgrades, an operator) is working; wait for it to " +
      "finish and call again. Never remove the lock file.",
    {
      reason: "package-manager-locked",
      lock: lock.lock,
      holder_pid: lock.pid,
      holder,
    },
  );
}

/** One apt mutation as a tool runs it. */
export interface AptRun {
  action: AptAction;
  packages: readonly PackageName[];
  check: boolean;
  timeout: number | null | undefined;
  /** the mutation (without probe; the runner adds it) */
  command: ShellCommand;
  /** the check-mode command (run as the login user) */
  simulate: ShellCommand;
  /** fills the check-mode fields from the simulation's sanitized stdout */
  fromSimulation: (stdout: string) => Partial<AptMutationResultT>;
}

/** Empty NEW fields of a result. */
const NO_EXTRAS = {
  simulation: null,
  holds: null,
  would_fetch: null,
  dpkg_state: null,
} satisfies Partial<AptMutationResultT>;

/** Check-mode fields of a simulation. */
export function simulationFields(s: Simulation): Partial<AptMutationResultT> {
  return { simulation: s };
}

/** Runs one apt mutation (see module docs) and builds its AptMutationResult. */
export async function runApt(ctx: ToolContext, run: AptRun): Promise<AptMutationResultT> {
  const host = ctx.host.policy.hostname;
  ctx.audit({ command_hash: commandHash(`${run.action} ${run.packages.join(" ")}`.trim()) });
  if (run.check) {
    const r = await runRead(ctx, "apt", run.simulate, timeoutOpts(run.timeout));
    const out = sanitize(r.stdout);
    const err = sanitize(r.stderr);
    const lock = r.exitCode !== 0 ? parseLockError(r.stderr) : null;
    if (lock) throw await lockError(ctx, lock);
    return {
      host,
      action: run.action,
      packages: [...run.packages],
      exit_code: r.exitCode,
      stdout: out.text,
      stderr: err.text,
      duration_ms: r.durationMs,
      stdout_truncated: r.stdoutTruncated,
      output_warnings: mergeWarnings(out.warnings, err.warnings),
      check: true,
      timed_out: r.timedOut,
      via: "login",
      ...NO_EXTRAS,
      ...(r.exitCode === 0 ? run.fromSimulation(out.text) : {}),
    };
  }
  const progress = new ProgressChain(ctx);
  progress.send(
    `apt ${run.action}${run.packages.length ? ` ${run.packages.join(" ")}` : ""}: starting`,
  );
  const marker = `__SSHMCP_DPKG_STATE_${randomHex(8)}__`;
  const { r, via, warnings } = await runMutation(
    ctx,
    "pkg",
    "apt",
    withStateReport(run.command, marker),
    {
      timeout: run.timeout,
      onLine: (_s, line) => {
        const phase = aptPhase(line);
        if (phase) progress.send(`apt ${run.action}: ${sanitize(phase).text}`);
      },
    },
  );
  ctx.audit(execAudit(r));
  const split = splitReport(r.stderr, marker);
  const held = parseReportLocks(split.report ?? "");
  const clean = r.exitCode === 0 && !r.timedOut && !r.cancelled;
  const failed = !clean && !r.cancelled;
  const said = failed ? parseLockError(split.stderr) : null;
  let lock: LockHolder | null = null;
  if (said) {
    // dpkg names the pid only: the report, in the same round trip, has its name
    const named = held.locks.find((l) => l.pid === said.pid)?.holder ?? null;
    lock = { ...said, holder: said.holder ?? named };
  } else if (failed && !r.timedOut && !hasAptError(split.stderr)) {
    // apt can die without saying why (under load apt-mark was seen killed by
    // SIGPIPE writing to dpkg, which had refused the lock): a lock held right
    // after the failure, with no error of apt's own, is the cause
    lock = held.locks[0] ?? null;
  }
  if (lock) {
    await progress.flush();
    throw await lockError(ctx, lock);
  }
  const aptText = `${r.stdout}\n${split.stderr}`;
  const state = clean
    ? null
    : split.report !== null
    ? dpkgState(held.rest, aptText)
    : r.cancelled
    ? null
    : await probeDpkgState(ctx, aptText);
  if (r.cancelled) {
    await progress.flush();
    const what = state === null
      ? "dpkg's state could not be read before the connection closed: check it (ssh_apt_list, " +
        "or `dpkg --audit` through ssh_exec_run) before the next apt run."
      : state.interrupted
      ? `dpkg was interrupted: ${
        state.unsettled.map((p) => `${p.name} ${p.status}`).join(", ") || "see apt's message"
      }. ${RECOVERY}`
      : "dpkg is consistent (no package was left half-installed or half-configured).";
    ctx.logger.warn("apt run cancelled", {
      action: run.action,
      dpkg_interrupted: state?.interrupted ?? null,
    });
    throw new ToolError(
      "Cancelled",
      `apt ${run.action} was cancelled; the remote process group (apt-get, dpkg and maintainer ` +
        `scripts) was killed. ${what}`,
      {
        dpkg_interrupted: state === null ? null : state.interrupted,
        unsettled: (state?.unsettled ?? []).map((p) => `${p.name}:${p.status}`),
      },
    );
  }
  progress.send(`apt ${run.action}: ${r.timedOut ? "timed out" : `exit ${r.exitCode}`}`);
  await progress.flush();
  const out = sanitize(r.stdout);
  const err = sanitize(split.stderr);
  const w = mergeWarnings(warnings, out.warnings, err.warnings);
  if (r.timedOut) w.push(`apt ${run.action} timed out; apt-get and dpkg were killed`);
  if (state?.interrupted) w.push(RECOVERY);
  return {
    host,
    action: run.action,
    packages: [...run.packages],
    exit_code: r.exitCode,
    stdout: out.text,
    stderr: err.text,
    duration_ms: r.durationMs,
    stdout_truncated: r.stdoutTruncated,
    output_warnings: w,
    check: false,
    timed_out: r.timedOut,
    via,
    ...NO_EXTRAS,
    dpkg_state: state,
  };
}
