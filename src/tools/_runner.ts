/**
 * How the systemctl and pkg groups run their remote programs (shared by both
 * groups; the pkg group imports it):
 *
 * - **availability**: every command starts with `command -v <program>`; when
 *   the program is missing, a per-call nonce marker on stderr and exit 127
 *   turn into `PlatformNotSupported` naming the program (one round trip, no
 *   separate probe). `systemctl` on a host whose PID 1 is not systemd is
 *   reported the same way.
 * - **reads** run as the SSH login user; non-zero exit codes are data.
 * - **mutations** run as the login user (the reference behaviour: a root or
 *   sudoers account), or, when the host opts in with `sudo_tool_groups` and
 *   the sudo tier is enabled (ALLOW_DANGEROUS_TOOLS and ALLOW_SUDO), through the
 *   host's configured elevation (`become_method`, the prompt handshake, the
 *   sudo password sources, NOPASSWD). Output lines feed MCP progress; a
 *   cancelled or timed-out command has its remote process group killed by
 *   the exec engine.
 *
 * @module
 */

import { nested, sh, type ShellCommand } from "../checked.ts";
import type { Group, HostPolicy, Settings } from "../config/types.ts";
import { ToolError } from "../errors.ts";
import type { RawExecResult } from "../ssh/exec.ts";
import { randomHex } from "../util/random.ts";
import type { CtxExecOptions, ToolContext } from "./context.ts";
import { timeoutOpts } from "./exec_result.ts";

/** The remote programs whose presence is checked. */
export type Program = "systemctl" | "journalctl" | "apt";

/** A command wrapped with its availability probe. */
export interface Probed {
  cmd: ShellCommand;
  marker: string;
}

/** `command -v <program>` in front of `body` (see module docs). */
export function probed(program: Program, body: ShellCommand): Probed {
  const marker = `__SSHMCP_MISSING_${randomHex(8)}__`;
  return {
    marker,
    cmd:
      sh`if ! command -v ${program} >/dev/null 2>&1; then printf '%s\n' ${marker} >&2; exit 127; fi; ${
        nested(body)
      }`,
  };
}

/** systemctl's answer on a host whose PID 1 is not systemd. */
const NOT_BOOTED =
  /System has not been booted with systemd as init system|Failed to connect to bus/;

/** Throws PlatformNotSupported when the probe failed or systemd does not run the host. */
export function assertAvailable(
  ctx: ToolContext,
  program: Program,
  r: RawExecResult,
  marker: string,
): void {
  const alias = ctx.host.policy.alias;
  if (r.exitCode === 127 && r.stderr.includes(marker)) {
    throw new ToolError(
      "PlatformNotSupported",
      `${program} not available on ${alias}: \`command -v ${program}\` found nothing on the ` +
        `login user's PATH (${
          program === "apt" ? "not a Debian/Ubuntu host" : "not a systemd host"
        }).`,
      { missing: program },
    );
  }
  if (program === "systemctl" && r.exitCode !== 0 && NOT_BOOTED.test(r.stderr)) {
    throw new ToolError(
      "PlatformNotSupported",
      `systemd is not the init system (PID 1) on ${alias}: systemctl cannot reach the service ` +
        "manager there (a container or a non-systemd init).",
      { missing: "systemd" },
    );
  }
}

/** Throws Cancelled for a cancelled run (the exec engine killed the remote process group). */
export function assertNotCancelled(r: RawExecResult): void {
  if (r.cancelled) {
    throw new ToolError(
      "Cancelled",
      "The request was cancelled; the remote process group was killed.",
    );
  }
}

/** Runs a read command as the login user: probe, cancellation, platform checks. */
export async function runRead(
  ctx: ToolContext,
  program: Program,
  body: ShellCommand,
  opts: CtxExecOptions = {},
): Promise<RawExecResult> {
  const p = probed(program, body);
  const r = await ctx.exec(p.cmd, opts);
  assertNotCancelled(r);
  assertAvailable(ctx, program, r, p.marker);
  return r;
}

/** How a mutation of `group` runs on a host. */
export interface ElevationPlan {
  elevate: boolean;
  /** set when the host opted in but the sudo tier is off */
  warning: string | null;
}

/**
 * The per-host opt-in (`sudo_tool_groups`): elevate only when the host names
 * the group AND the sudo tier is enabled; otherwise the login user runs the
 * command (the reference behaviour), with a warning when the opt-in is set.
 */
export function elevationPlan(policy: HostPolicy, settings: Settings, group: Group): ElevationPlan {
  const groups = policy.sudo_tool_groups ?? [];
  if (!groups.includes(group)) return { elevate: false, warning: null };
  if (settings.ALLOW_DANGEROUS_TOOLS && settings.ALLOW_SUDO) {
    return { elevate: true, warning: null };
  }
  return {
    elevate: false,
    warning: `hosts.toml sudo_tool_groups names ${group} for ${policy.alias}, but the sudo tier ` +
      "is disabled (ALLOW_SUDO=false): ran as the login user without elevation",
  };
}

/** Splits output chunks into complete lines (`\n` or `\r`). */
export class LineSplitter {
  readonly #onLine: (stream: "stdout" | "stderr", line: string) => void;
  #dec = { stdout: new TextDecoder(), stderr: new TextDecoder() };
  #buf = { stdout: "", stderr: "" };

  constructor(onLine: (stream: "stdout" | "stderr", line: string) => void) {
    this.#onLine = onLine;
  }

  /** Feeds one kept chunk (the exec engine's `onOutput`). */
  feed = (stream: "stdout" | "stderr", chunk: Uint8Array): void => {
    this.#buf[stream] += this.#dec[stream].decode(chunk, { stream: true });
    const parts = this.#buf[stream].split(/\r\n|\n|\r/);
    this.#buf[stream] = parts.pop() ?? "";
    if (this.#buf[stream].length > 64 * 1024) this.#buf[stream] = "";
    for (const l of parts) if (l.trim() !== "") this.#onLine(stream, l);
  };

  /** Flushes the last unterminated lines. */
  end(): void {
    for (const s of ["stdout", "stderr"] as const) {
      const l = this.#buf[s] + this.#dec[s].decode();
      this.#buf[s] = "";
      if (l.trim() !== "") this.#onLine(s, l);
    }
  }
}

/** Sends progress messages in order without blocking the output reader. */
export class ProgressChain {
  #chain: Promise<void> = Promise.resolve();
  readonly #ctx: ToolContext;
  sent = 0;

  constructor(ctx: ToolContext) {
    this.#ctx = ctx;
  }

  /** Queues one message (at most 200 characters are sent). */
  send(message: string): void {
    const m = message.length > 200 ? message.slice(0, 197) + "..." : message;
    this.sent++;
    this.#chain = this.#chain.then(() => this.#ctx.progress(m)).catch(() => {});
  }

  /** Waits until every queued message was handed off. */
  async flush(): Promise<void> {
    await this.#chain;
  }
}

/** What {@link runMutation} returns. */
export interface MutationOutcome {
  r: RawExecResult;
  /** who ran the command: the login user, or the host's elevation */
  via: "login" | "sudo" | "doas";
  /** warnings for the result (`output_warnings`) */
  warnings: string[];
}

/**
 * Runs a mutating `body` (wrapped by {@link probed} here) as the login user or
 * through the host's elevation ({@link elevationPlan}). `onLine` sees output
 * lines while the command runs (login user only: the elevated run reads its
 * own stderr for the prompt handshake). A missing program is
 * PlatformNotSupported; a cancelled run is returned (the caller reports it).
 */
export async function runMutation(
  ctx: ToolContext,
  group: Group,
  program: Program,
  body: ShellCommand,
  opts: {
    timeout: number | null | undefined;
    onLine?: (stream: "stdout" | "stderr", line: string) => void;
  },
): Promise<MutationOutcome> {
  const plan = elevationPlan(ctx.host.policy, ctx.settings, group);
  const warnings = plan.warning ? [plan.warning] : [];
  const p = probed(program, body);
  let out: MutationOutcome;
  if (!plan.elevate) {
    const lines = opts.onLine ? new LineSplitter(opts.onLine) : null;
    const r = await ctx.exec(p.cmd, {
      ...timeoutOpts(opts.timeout),
      ...(lines ? { onOutput: lines.feed } : {}),
    });
    lines?.end();
    out = { r, via: "login", warnings };
  } else {
    // the registry serves elevation only to tools declaring `elevation: "host-opt-in"` on
    // hosts that opted in with the sudo tier on (the same rule as elevationPlan)
    const el = await ctx.elevation();
    const r = await el.run({ kind: "shell", inner: p.cmd }, {
      ...(typeof opts.timeout === "number" ? { timeoutMs: opts.timeout * 1000 } : {}),
    });
    if (!r.cancelled && (r.authFailed || !r.started)) {
      warnings.push(
        `elevation through ${el.method} did not start the command on ${ctx.host.policy.alias}` +
          (r.hint ? `: ${r.hint}` : " (see stderr)"),
      );
    }
    out = { r, via: el.method, warnings };
  }
  if (!out.r.cancelled) assertAvailable(ctx, program, out.r, p.marker);
  return out;
}
