/**
 * Schema pieces and helpers of the compose tools: the `compose_file` path
 * field (declared, so the registry runs the full path chain before any
 * compose command), and the project view used by `check` plans.
 *
 * @module
 */

import { z } from "zod";
import type { CheckedPath } from "../../checked.ts";
import { ToolError } from "../../errors.ts";
import { assertNotCancelled } from "../_runner.ts";
import type { ToolContext } from "../context.ts";
import type { Prefixes } from "./_cli.ts";
import { type DockerObject, rowNames, rowService, rowState } from "./_parse.ts";
import { composeContainers, composeServices } from "./_probe.ts";

/** `compose_file`: a remote path checked by the path policy (DOCKER-8). */
export const ComposeFileArg = z.string().min(1).max(4096).describe(
  "Compose file",
);

/** One service of a project as the plans report it. */
export interface ServiceView {
  service: string;
  containers: { name: string; state: string }[];
}

/**
 * Services defined by the file and the containers that exist for them.
 * Services come from `config --services`; compose CLIs without `config`
 * (podman-compose) fall back to the file's top-level `services:` keys, read
 * through the checked path.
 */
export async function projectView(
  ctx: ToolContext,
  p: Prefixes,
  file: CheckedPath,
  v1: boolean,
): Promise<{ services: ServiceView[]; rows: DockerObject[]; notes: string[] }> {
  const notes: string[] = [];
  let services = (await composeServices(ctx, p, file, v1)).services;
  if (services === null) {
    const fs = await ctx.fs();
    const text = new TextDecoder().decode(await fs.readFile(file, 1024 * 1024, ctx.signal));
    services = servicesFromYaml(text);
    notes.push(
      "service list read from the compose file (the compose CLI has no working config command)",
    );
  }
  const view = await composeContainers(ctx, p, file, v1, { all: true });
  assertNotCancelled(view.raw);
  if (view.raw.exitCode !== 0 || view.raw.timedOut) {
    // an unreadable project must not look like a project without containers (a plan of no changes)
    const why = view.raw.timedOut ? "timed out" : `exit ${view.raw.exitCode}`;
    throw new ToolError(
      "RuntimeError",
      `Could not list the containers of ${file} (${why}), so no plan was made; nothing was changed. ` +
        "Check the compose CLI on the host (ssh_docker_compose_ps shows its own error) and retry.",
      { stage: "compose ps" },
    );
  }
  const rows = view.rows;
  const by = new Map<string, ServiceView>();
  for (const s of services) by.set(s, { service: s, containers: [] });
  for (const r of rows) {
    const svc = rowService(r) ?? "?";
    if (!by.has(svc)) by.set(svc, { service: svc, containers: [] });
    by.get(svc)!.containers.push({ name: rowNames(r)[0] ?? "", state: rowState(r) });
  }
  return { services: [...by.values()], rows, notes };
}

/** Top-level service names of a compose YAML text (a light reader for plans only). */
export function servicesFromYaml(text: string): string[] {
  const lines = text.split("\n");
  const out: string[] = [];
  let inServices = false;
  let indent: number | null = null;
  for (const line of lines) {
    if (/^\s*(#|$)/.test(line)) continue;
    const lead = line.length - line.trimStart().length;
    if (lead === 0) {
      inServices = /^services\s*:\s*$/.test(line);
      indent = null;
      continue;
    }
    if (!inServices) continue;
    if (indent === null) indent = lead;
    if (lead !== indent) continue;
    const m = /^\s*["']?([A-Za-z0-9][A-Za-z0-9_.-]*)["']?\s*:/.exec(line);
    if (m) out.push(m[1]!);
  }
  return out;
}
