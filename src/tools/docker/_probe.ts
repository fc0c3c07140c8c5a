/**
 * Read-only probes the docker tools share: container and image state (for
 * `check` plans and the lifecycle tools), `ps` rows, and the compose view of
 * a project (services and their containers) that works with compose v2
 * (`ps --format json`, NDJSON or a JSON array) and with the v1 tools
 * (`docker-compose`, `podman-compose`: `ps -q`, then `<docker> ps --filter id=`).
 *
 * @module
 */

import type { CheckedPath } from "../../checked.ts";
import type { Host, ToolContext } from "../context.ts";
import { type Prefixes, runCli } from "./_cli.ts";
import {
  type ContainerState,
  containerState,
  type DockerObject,
  looksLikeJson,
  parseIds,
  parseJsonOutput,
  parseServices,
} from "./_parse.ts";
import type { RawExecResult } from "../../ssh/exec.ts";

const PROBE_TIMEOUT_S = 60;

/** `inspect --type container` of one container: its state (exists=false when unknown). */
export async function probeContainer(
  ctx: ToolContext,
  p: Prefixes,
  name: string,
): Promise<{ raw: RawExecResult; state: ContainerState }> {
  const raw = await runCli(ctx, p.docker, ["inspect", "--type", "container", "--", name], {
    timeout: PROBE_TIMEOUT_S,
  });
  const state = containerState(raw.exitCode === 0 ? parseJsonOutput(raw.stdout) : []);
  return { raw, state };
}

/** Facts about one local image. */
export interface ImageState {
  exists: boolean;
  id: string | null;
  tags: string[];
}

/** `image inspect` of one image. */
export async function probeImage(
  ctx: ToolContext,
  p: Prefixes,
  image: string,
): Promise<{ raw: RawExecResult; state: ImageState }> {
  const raw = await runCli(ctx, p.docker, ["image", "inspect", "--", image], {
    timeout: PROBE_TIMEOUT_S,
  });
  const o = raw.exitCode === 0 ? parseJsonOutput(raw.stdout)[0] : undefined;
  return {
    raw,
    state: {
      exists: Boolean(o),
      id: typeof o?.Id === "string" ? o.Id : null,
      tags: Array.isArray(o?.RepoTags)
        ? (o!.RepoTags as unknown[]).filter((t): t is string => typeof t === "string")
        : [],
    },
  };
}

/** `ps -a --no-trunc --format {{json .}}` with filters (`key=value` words). */
export async function psRows(
  ctx: ToolContext,
  p: Prefixes,
  filters: readonly string[],
  opts: { all?: boolean; host?: Host } = {},
): Promise<{ raw: RawExecResult; rows: DockerObject[] }> {
  const argv = ["ps", "--format", "{{json .}}", "--no-trunc"];
  for (const f of filters) argv.push("--filter", f);
  if (opts.all !== false) argv.push("-a");
  const raw = await runCli(ctx, p.docker, argv, {
    timeout: PROBE_TIMEOUT_S,
    ...(opts.host ? { host: opts.host } : {}),
  });
  return { raw, rows: raw.exitCode === 0 ? parseJsonOutput(raw.stdout) : [] };
}

/** The compose view of a project. */
export interface ComposeView {
  /** `ps` rows of the project's containers */
  rows: DockerObject[];
  /** the last exec (for the result fields) */
  raw: RawExecResult;
  /** "v2-json" or "v1-ids" */
  source: "v2-json" | "v1-ids";
}

/**
 * The project's containers: `<compose> -f F ps --format json [-a] [--filter
 * status=S] [service]`; when the compose CLI does not speak JSON (v1 prints
 * its usage, podman-compose exits 2) `ps -q [service]` and then
 * `<docker> ps -a --filter id=...`.
 */
export async function composeContainers(
  ctx: ToolContext,
  p: Prefixes,
  file: CheckedPath,
  v1: boolean,
  opts: { status?: string | null; service?: string | null; all?: boolean } = {},
): Promise<ComposeView> {
  const compose = p.compose(v1);
  // the v1 tools (docker-compose 1.x, podman-compose 1.0) never print JSON: go straight to ps -q
  if (!v1) {
    const argv = ["-f", file, "ps", "--format", "json"];
    if (opts.all) argv.push("-a");
    if (opts.status) argv.push("--filter", `status=${opts.status}`);
    if (opts.service) argv.push(opts.service);
    const first = await runCli(ctx, compose, argv, { timeout: PROBE_TIMEOUT_S });
    // a v1 CLI behind `<docker> compose` prints its usage to stderr and exits 0: only JSON
    // (or a silent empty answer) counts as the v2 form
    const silent = first.stdout.trim() === "" && first.stderr.trim() === "";
    if (first.exitCode === 0 && (looksLikeJson(first.stdout) || silent)) {
      return { rows: parseJsonOutput(first.stdout), raw: first, source: "v2-json" };
    }
    if (first.timedOut || first.cancelled) return { rows: [], raw: first, source: "v2-json" };
  }
  const q = ["-f", file, "ps", "-q"];
  if (opts.service) q.push(opts.service);
  const ids = await runCli(ctx, compose, q, { timeout: PROBE_TIMEOUT_S });
  if (ids.exitCode !== 0) return { rows: [], raw: ids, source: "v1-ids" };
  const list = parseIds(ids.stdout);
  if (!list.length) return { rows: [], raw: ids, source: "v1-ids" };
  const filters = list.map((id) => `id=${id}`);
  if (opts.status) filters.push(`status=${opts.status}`);
  const ps = await psRows(ctx, p, filters);
  return { rows: ps.rows, raw: ps.raw, source: "v1-ids" };
}

/** `config --services`: the services a compose file defines. */
export async function composeServices(
  ctx: ToolContext,
  p: Prefixes,
  file: CheckedPath,
  v1: boolean,
): Promise<{ raw: RawExecResult; services: string[] | null }> {
  const raw = await runCli(ctx, p.compose(v1), ["-f", file, "config", "--services"], {
    timeout: PROBE_TIMEOUT_S,
  });
  return { raw, services: raw.exitCode === 0 ? parseServices(raw.stdout) : null };
}
