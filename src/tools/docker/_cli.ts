/**
 * The docker group's runner (TOOLS.md §10.0, SECURITY.md DOCKER-1):
 *
 * - the CLI prefix: per-host `docker_cmd`, else `SSH_DOCKER_CMD`, else
 *   `docker`, split with the configuration's POSIX shell splitter (operator
 *   configuration, never tool input); the compose prefix from `compose_v1`,
 *   `SSH_DOCKER_COMPOSE_CMD` or `<docker> compose`;
 * - one command = `sh` template over the prefix words and the validated argv
 *   words, every word quoted;
 * - a host without the CLI: `PlatformNotSupported` naming the missing program
 *   (detected from the failed call, confirmed by `command -v`, so a working
 *   host pays nothing);
 * - the DockerResult (ExecResult fields + the tool's parsed key) and the
 *   `check` plan shape of the mutating tools.
 *
 * @module
 */

import { z } from "zod";
import { type RawShell, sh, type ShellCommand } from "../../checked.ts";
import { shellSplit } from "../../config/env.ts";
import type { HostPolicy, Settings } from "../../config/types.ts";
import { ToolError } from "../../errors.ts";
import { effectivePolicy } from "../../policy/effective.ts";
import { mergeWarnings } from "../../policy/sanitize.ts";
import type { RawExecResult } from "../../ssh/exec.ts";
import type { PrepareContext } from "../define.ts";
import { assertNotCancelled } from "../_runner.ts";
import type { Host, ToolContext } from "../context.ts";
import { EXEC_RESULT_FIELDS, execAudit, execResult, type ExecResultT } from "../exec_result.ts";
import { type DockerObject, ndjson, parseSanitized, stripLabels } from "./_parse.ts";

/** One parsed object in a result (docker's own JSON, passed through). */
export const DockerObjectSchema = z.record(z.string(), z.unknown());

/** A list of parsed objects. */
export const DockerObjects = z.array(DockerObjectSchema);

/** The `check` plan of a mutating tool (NEW). */
export const Plan = z.strictObject({
  action: z.string().describe("What the call would do"),
  changes: z.boolean().describe("true when the call would change something"),
  before: z.record(z.string(), z.unknown()).nullable().describe("Relevant state now"),
  after: z.record(z.string(), z.unknown()).nullable().describe("Expected state afterwards"),
  items: z.array(z.string()).describe(
    "Containers, images, volumes, networks or services the call would affect",
  ),
  notes: z.array(z.string()),
});
/** One plan. */
export type PlanT = z.output<typeof Plan>;

/** Output fields of the mutating tools: DockerResult + `check` + `plan`. */
export const MUTATING_FIELDS = {
  ...EXEC_RESULT_FIELDS,
  check: z.boolean().describe("true: dry run; nothing was changed"),
  plan: Plan.nullable().describe(
    "check=true: what would change (exit_code/stdout are then those of the read-only probe)",
  ),
};

/** The mutating tools' output schema. */
export const MutatingResult = z.strictObject(MUTATING_FIELDS);
/** One mutating result. */
export type MutatingResultT = z.output<typeof MutatingResult>;

/** The docker prefixes of one host, computed before any I/O. */
export interface Prefixes {
  docker: string[];
  /** the compose prefix for `compose_v1` */
  compose(v1: boolean): string[];
}

function split(what: string, value: string): string[] {
  let words: string[];
  try {
    words = shellSplit(value);
  } catch (e) {
    throw new ToolError(
      "ValueError",
      `${what} ${JSON.stringify(value)} cannot be split into words (${
        (e as Error).message
      }); ask the operator to fix it.`,
    );
  }
  return words;
}

/** DOCKER-1: the prefixes of `policy` (host `docker_cmd` > `SSH_DOCKER_CMD` > `docker`). */
export function prefixesFor(policy: HostPolicy, settings: Settings): Prefixes {
  const hostCmd = policy.docker_cmd?.trim() ?? "";
  const envCmd = settings.SSH_DOCKER_CMD.trim();
  const docker = hostCmd
    ? split(`docker_cmd of ${policy.alias}`, hostCmd)
    : envCmd
    ? split("SSH_DOCKER_CMD", envCmd)
    : ["docker"];
  if (docker.length === 0) docker.push("docker");
  return {
    docker,
    compose(v1: boolean) {
      if (v1) {
        const last = docker[docker.length - 1]!;
        return [...docker.slice(0, -1), `${last}-compose`];
      }
      const explicit = settings.SSH_DOCKER_COMPOSE_CMD.trim();
      if (explicit) {
        const w = split("SSH_DOCKER_COMPOSE_CMD", explicit);
        if (w.length) return w;
      }
      return [...docker, "compose"];
    },
  };
}

/** The prepare stage shared by the single-host docker tools. */
export function preparePrefixes(_args: unknown, p: PrepareContext): Prefixes {
  const host = p.hosts.get("host");
  if (!host) throw new Error("docker tool without a host");
  return prefixesFor(host.policy, p.settings);
}

/** Wrapper programs and their options that take a value. */
const WRAPPERS: Record<string, readonly string[]> = {
  sudo: ["-u", "-g", "-U", "-C", "-D", "-h", "-p", "-r", "-t"],
  doas: ["-u", "-C"],
  env: ["-u", "-C", "-S"],
  nice: ["-n"],
  ionice: ["-c", "-n", "-p"],
  command: [],
  exec: [],
  nohup: [],
};

/** The program a prefix runs (`env X=1 sudo -u u docker` -> `docker`). */
export function cliProgram(prefix: readonly string[]): string {
  let i = 0;
  while (i < prefix.length) {
    const w = prefix[i]!;
    const valueOpts = Object.hasOwn(WRAPPERS, w) ? WRAPPERS[w]! : null;
    if (valueOpts) {
      i++;
      while (i < prefix.length) {
        const o = prefix[i]!;
        if (/^[A-Za-z_][A-Za-z0-9_]*=/.test(o)) i++;
        else if (o === "--") {
          i++;
          break;
        } else if (o.startsWith("-")) {
          i += valueOpts.includes(o) ? 2 : 1;
        } else break;
      }
      continue;
    }
    if (/^[A-Za-z_][A-Za-z0-9_]*=/.test(w)) {
      i++;
      continue;
    }
    return w;
  }
  return prefix[prefix.length - 1] ?? "docker";
}

/** Options of {@link runCli}. */
export interface RunOptions {
  /** stdout cap in bytes (default: the host's) */
  stdoutCap?: number;
  /** seconds (default: the host's command timeout) */
  timeout?: number | null;
  /** constant shell syntax appended after the argv (events' `--until` computed remotely) */
  tail?: RawShell;
  /** the host (default: ctx.host) */
  host?: Host;
  signal?: AbortSignal;
}

const NOT_FOUND =
  /command not found|: not found|No such file or directory|executable file not found/i;

/** Builds `<prefix> <argv...>` with every word quoted. */
export function buildCommand(
  prefix: readonly string[],
  argv: readonly string[],
  tail?: RawShell,
): ShellCommand {
  return tail ? sh`${prefix} ${argv} ${tail}` : sh`${prefix} ${argv}`;
}

/**
 * Runs `<prefix> <argv>` on the host. A failure that looks like a missing
 * program is confirmed with `command -v` and becomes `PlatformNotSupported`.
 */
export async function runCli(
  ctx: ToolContext,
  prefix: readonly string[],
  argv: readonly string[],
  opts: RunOptions = {},
): Promise<RawExecResult> {
  const host = opts.host ?? ctx.host;
  const r = await ctx.execOn(host, buildCommand(prefix, argv, opts.tail), {
    ...(typeof opts.timeout === "number" ? { timeoutMs: opts.timeout * 1000 } : {}),
    ...(opts.stdoutCap ? { stdoutCap: opts.stdoutCap } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
  if (r.timedOut || r.cancelled || r.exitCode === 0) return r;
  const program = cliProgram(prefix);
  const suspicious = r.exitCode === 127 ||
    (r.exitCode !== 0 && r.stdout.trim() === "" && NOT_FOUND.test(r.stderr) &&
      r.stderr.includes(program));
  if (!suspicious) return r;
  const probe = await ctx.execOn(
    host,
    sh`command -v ${program} >/dev/null 2>&1 && echo present || echo missing`,
    { timeoutMs: 15_000, ...(opts.signal ? { signal: opts.signal } : {}) },
  );
  if (probe.stdout.trim() === "missing") {
    throw new ToolError(
      "PlatformNotSupported",
      `The container CLI ${JSON.stringify(program)} is not installed on ${host.policy.alias} ` +
        `(or not on the SSH user's PATH), so the docker tools cannot run there. Install Docker or ` +
        `Podman on the host, or ask the operator to set docker_cmd for this host (e.g. "podman", ` +
        `"sudo docker") or SSH_DOCKER_CMD / SSH_DOCKER_COMPOSE_CMD.`,
      { missing: program, prefix: [...prefix] },
    );
  }
  return r;
}

/** Ends a docker call: audit fields, `Cancelled`, the ExecResult fields. */
export function finish(ctx: ToolContext, r: RawExecResult, host?: Host): ExecResultT {
  ctx.audit(execAudit(r));
  assertNotCancelled(r);
  return execResult((host ?? ctx.host).policy.hostname, r);
}

/**
 * The parsed key of a listing tool plus the ExecResult with labels stripped
 * (TOOLS.md §10.0): `stdout` becomes the compact NDJSON of the stripped
 * objects, `stdout_bytes` its length; `stdout_truncated` is kept.
 */
export function listing(
  res: ExecResultT,
  rawStdout: string,
  includeLabels: boolean,
  opts: { onlyOnSuccess?: boolean } = {},
): { res: ExecResultT; objects: DockerObject[] } {
  if (opts.onlyOnSuccess && res.exit_code !== 0) return { res, objects: [] };
  const parsed = parseSanitized(rawStdout);
  let objects = parsed.objects;
  const warnings = [...parsed.warnings];
  if (res.stdout_truncated) {
    warnings.push("stdout was truncated at the cap: the parsed list may be incomplete");
  }
  let out = res;
  if (!includeLabels) {
    objects = stripLabels(objects);
    const text = ndjson(objects);
    out = { ...res, stdout: text, stdout_bytes: new TextEncoder().encode(text).length };
  }
  return {
    res: { ...out, output_warnings: mergeWarnings(out.output_warnings, warnings) },
    objects,
  };
}

/** The host's stdout cap. */
export function hostStdoutCap(policy: HostPolicy, settings: Settings): number {
  return effectivePolicy(policy, settings).stdout_cap_bytes;
}

/** A result for `check=true`: the probe's ExecResult plus the plan. */
export function planned(res: ExecResultT, plan: PlanT): MutatingResultT {
  return { ...res, check: true, plan };
}

/** A result of a real run. */
export function done(res: ExecResultT): MutatingResultT {
  return { ...res, check: false, plan: null };
}
