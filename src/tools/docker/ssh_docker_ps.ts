import { z } from "zod";
import type { HostPolicy } from "../../config/types.ts";
import { isToolError, ToolError } from "../../errors.ts";
import { resolvePattern } from "../../fleet/pattern.ts";
import { rollout } from "../../fleet/rolling.ts";
import { mergeWarnings } from "../../policy/sanitize.ts";
import { defineTool, HostArg } from "../define.ts";
import { EXEC_RESULT_FIELDS, execResult } from "../exec_result.ts";
import type { Host } from "../context.ts";
import { DockerObjects, finish, listing, prefixesFor, runCli } from "./_cli.ts";
import { ContainerArg, IncludeLabelsArg, LabelArg, nameArg } from "./_validate.ts";
import type { DockerObject } from "./_parse.ts";

const STATUS = ["created", "running", "paused", "restarting", "exited", "dead"] as const;
const MAX_FLEET = 200;
const FLEET_CONCURRENCY = 16;

function psArgv(a: {
  all_: boolean;
  name?: string | null;
  status?: string | null;
  label?: string | null;
  ancestor?: string | null;
}): string[] {
  const argv = ["ps", "--format", "{{json .}}", "--no-trunc"];
  if (a.name) argv.push("--filter", `name=${a.name}`);
  if (a.status) argv.push("--filter", `status=${a.status}`);
  if (a.label) argv.push("--filter", `label=${a.label}`);
  if (a.ancestor) argv.push("--filter", `ancestor=${a.ancestor}`);
  if (a.all_) argv.push("-a");
  return argv;
}

const HostRow = z.strictObject({
  host: z.string(),
  exit_code: z.number().int().nullable(),
  containers: DockerObjects,
  stderr: z.string(),
  error: z.string().nullable(),
  message: z.string().nullable(),
});

/** Containers on a host, or across a host list / pattern in one call (TOOLS.md §10.1 + NEW fan-out). */
export default defineTool({
  name: "ssh_docker_ps",
  group: "docker",
  tier: "read",
  posixOnly: true,
  fanOut: true,
  description: "List containers with filters; hosts or pattern asks many hosts at once.",
  input: z.strictObject({
    host: HostArg.nullish().describe(
      "Host alias",
    ),
    all_: z.boolean().default(false).describe("Include stopped (-a)"),
    include_labels: IncludeLabelsArg,
    name: nameArg("Name filter (R_DOCKER_NAME)").nullish().describe("Name filter (R_DOCKER_NAME)"),
    status: z.enum(STATUS).nullish().describe("Status filter"),
    label: LabelArg.nullish().describe("key or key=value"),
    ancestor: ContainerArg.nullish().describe(
      "Image name or id",
    ),
    hosts: z.array(z.string().min(1).max(100)).min(1).max(MAX_FLEET).nullish().describe(
      "Hosts (instead of host)",
    ),
    pattern: z.string().min(1).max(2000).nullish().describe(
      "Host pattern (instead of host)",
    ),
  }),
  output: z.strictObject({
    ...EXEC_RESULT_FIELDS,
    containers: DockerObjects.describe("ps rows (Labels removed unless include_labels)"),
    fleet: z.strictObject({
      hosts_matched: z.array(z.string()),
      results: z.record(z.string(), HostRow),
      hosts_with_containers: z.array(z.string()).describe(
        "Aliases with at least one container matching the filters",
      ),
      failed: z.array(z.string()),
      elapsed_ms: z.number().int(),
    }).nullable().describe("Fan-out mode only (hosts or pattern given): one row per host"),
  }),
  async handler(args, ctx) {
    const modes = [args.host, args.hosts, args.pattern].filter((v) =>
      v !== undefined && v !== null
    );
    if (modes.length !== 1) {
      throw new ToolError("ValueError", "Give exactly one of host, hosts or pattern.");
    }
    const argv = psArgv(args);
    if (args.host) {
      const p = prefixesFor(ctx.host.policy, ctx.settings);
      const r = await runCli(ctx, p.docker, argv);
      const l = listing(finish(ctx, r), r.stdout, args.include_labels);
      return { ...l.res, containers: l.objects, fleet: null };
    }
    // fan-out: resolve every target in memory first
    let targets: HostPolicy[];
    if (args.hosts) {
      const bad: string[] = [];
      const byAlias = new Map<string, HostPolicy>();
      for (const h of new Set(args.hosts)) {
        try {
          const pol = ctx.inventory.resolve(h);
          byAlias.set(pol.alias, pol);
        } catch (e) {
          if (!isToolError(e)) throw e;
          bad.push(`${h} (${e.code})`);
        }
      }
      if (bad.length) {
        throw new ToolError(
          "ValueError",
          `Some hosts cannot be used, nothing was run: ${bad.join(", ")}.`,
        );
      }
      targets = [...byAlias.values()];
    } else {
      targets = resolvePattern(args.pattern!, ctx.inventory);
      if (!targets.length) {
        throw new ToolError(
          "ValueError",
          `pattern ${JSON.stringify(args.pattern)} selects no host.`,
        );
      }
    }
    if (targets.length > MAX_FLEET) {
      throw new ToolError(
        "ValueError",
        `${targets.length} hosts exceed the fan-out limit of ${MAX_FLEET}.`,
      );
    }
    const started = performance.now();
    const admitted = new Map<string, Host>();
    const rows: Record<string, z.output<typeof HostRow>> = {};
    for (const pol of targets) {
      try {
        admitted.set(pol.alias, ctx.admitTarget(pol, null));
      } catch (e) {
        if (!isToolError(e)) throw e;
        rows[pol.alias] = {
          host: pol.hostname,
          exit_code: null,
          containers: [],
          stderr: "",
          error: e.code,
          message: e.message,
        };
      }
    }
    const warnings: string[] = [];
    const aliases = targets.map((t) => t.alias);
    await rollout(aliases.filter((a) => admitted.has(a)), {
      concurrency: FLEET_CONCURRENCY,
      serial: null,
      maxFailPercentage: null,
      signal: ctx.signal,
    }, {
      run: async (alias, signal) => {
        const host = admitted.get(alias)!;
        const pol = host.policy;
        const t0 = performance.now();
        try {
          const p = prefixesFor(pol, ctx.settings);
          const r = await runCli(ctx, p.docker, argv, { host, signal });
          const res = execResult(pol.hostname, r);
          const l = listing(res, r.stdout, args.include_labels);
          warnings.push(...l.res.output_warnings.map((w) => `${alias}: ${w}`));
          rows[alias] = {
            host: pol.hostname,
            exit_code: r.exitCode,
            containers: l.objects as DockerObject[],
            stderr: res.stderr.slice(0, 2000),
            error: r.timedOut ? "Timeout" : null,
            message: r.timedOut ? "timed out" : null,
          };
          await ctx.auditLine({
            host: alias,
            alias,
            hostname: pol.hostname,
            result: "ok",
            duration_ms: Math.round(performance.now() - t0),
            exit_code: r.exitCode,
            bytes_out: r.stdoutBytes,
          });
        } catch (e) {
          const code = isToolError(e) ? e.code : "RuntimeError";
          rows[alias] = {
            host: pol.hostname,
            exit_code: null,
            containers: [],
            stderr: "",
            error: code,
            message: isToolError(e) ? e.message : "internal error (see the server log)",
          };
          await ctx.auditLine({
            host: alias,
            alias,
            hostname: pol.hostname,
            result: "error",
            duration_ms: Math.round(performance.now() - t0),
            error: code,
          });
        }
        return rows[alias]!;
      },
      failed: (r) => r.error !== null || r.exit_code !== 0,
    });
    if (ctx.signal.aborted) throw new ToolError("Cancelled", "The request was cancelled.");
    const ordered: Record<string, z.output<typeof HostRow>> = {};
    for (const a of aliases) if (rows[a]) ordered[a] = rows[a]!;
    const failed = aliases.filter((a) => ordered[a]?.error || ordered[a]?.exit_code !== 0);
    const elapsed = Math.round(performance.now() - started);
    return {
      host: "",
      exit_code: failed.length ? 1 : 0,
      stdout: "",
      stderr: "",
      stdout_bytes: 0,
      stderr_bytes: 0,
      stdout_truncated: false,
      stderr_truncated: false,
      duration_ms: elapsed,
      timed_out: false,
      cancelled: false,
      killed_by_signal: null,
      hint: null,
      output_warnings: mergeWarnings(warnings),
      containers: [],
      fleet: {
        hosts_matched: aliases,
        results: ordered,
        hosts_with_containers: aliases.filter((a) => (ordered[a]?.containers.length ?? 0) > 0),
        failed,
        elapsed_ms: elapsed,
      },
    };
  },
});
