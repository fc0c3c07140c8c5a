/**
 * The compose tools that act on a project (TOOLS.md §10.2/§10.3): start,
 * stop, restart (low-access) and up, down, pull (dangerous), each with the
 * NEW `check` plan built from the project view (services and their
 * containers now, and what the verb would do to them). `compose_up` first
 * runs the escalation scan of the rendered configuration (DOCKER-26).
 *
 * @module
 */

import { z } from "zod";
import { ToolError } from "../../errors.ts";
import { defineTool, HostArg, TimeoutArg, type Tool } from "../define.ts";
import type { ToolContext } from "../context.ts";
import type { CheckedPath } from "../../checked.ts";
import {
  done,
  finish,
  MutatingResult,
  type PlanT,
  type Prefixes,
  preparePrefixes,
  runCli,
} from "./_cli.ts";
import { ComposeFileArg, projectView, type ServiceView } from "./_compose.ts";
import { composeEscalation } from "./_compose_scan.ts";
import { CheckArg, ComposeV1Arg } from "./_validate.ts";

type Verb = "start" | "stop" | "restart" | "up" | "down" | "pull";

function running(s: ServiceView): boolean {
  return s.containers.some((c) => c.state === "running");
}

/** The plan of `verb` for the project's services. */
export function composePlan(
  verb: Verb,
  file: string,
  services: ServiceView[],
  opts: { volumes?: boolean; build?: boolean },
): PlanT {
  const before: Record<string, unknown> = {};
  const after: Record<string, unknown> = {};
  const items: string[] = [];
  const notes: string[] = [];
  for (const s of services) {
    const states = s.containers.map((c) => c.state);
    before[s.service] = states.length ? states : "no container";
    let next: unknown = before[s.service];
    switch (verb) {
      case "start":
        if (s.containers.length && !running(s)) {
          next = "running";
          items.push(s.service);
        }
        break;
      case "stop":
        if (running(s)) {
          next = "exited";
          items.push(s.service);
        }
        break;
      case "restart":
        if (s.containers.length) {
          next = "running (restarted)";
          items.push(s.service);
        }
        break;
      case "up":
        if (!s.containers.length) {
          next = "created and started";
          items.push(s.service);
        } else if (!running(s)) {
          next = "started (recreated if its configuration or image changed)";
          items.push(s.service);
        } else {
          next = "running (recreated only if its configuration or image changed)";
        }
        break;
      case "down":
        if (s.containers.length) {
          next = "removed";
          items.push(s.service);
        }
        break;
      case "pull":
        next = before[s.service];
        items.push(s.service);
        break;
    }
    after[s.service] = next;
  }
  if (verb === "down") {
    notes.push("the project's default network would be removed");
    notes.push(
      opts.volumes
        ? "volumes=true: the project's named and anonymous volumes would be DELETED with their data"
        : "volumes are kept (volumes=false)",
    );
  }
  if (verb === "up" && opts.build) {
    notes.push("build=true: images with a build section are rebuilt");
  }
  if (verb === "pull") {
    notes.push("images of every service are pulled; running containers are not changed");
  }
  return {
    action: `compose ${verb} ${file}`,
    changes: items.length > 0,
    before,
    after,
    items,
    notes,
  };
}

async function checkPlan(
  ctx: ToolContext,
  p: Prefixes,
  file: CheckedPath,
  v1: boolean,
  verb: Verb,
  opts: { volumes?: boolean; build?: boolean },
) {
  const view = await projectView(ctx, p, file, v1);
  const plan = composePlan(verb, file, view.services, opts);
  plan.notes.push(...view.notes);
  return {
    host: ctx.host.policy.hostname,
    exit_code: 0,
    stdout: "",
    stderr: "",
    stdout_bytes: 0,
    stderr_bytes: 0,
    stdout_truncated: false,
    stderr_truncated: false,
    duration_ms: 0,
    timed_out: false,
    cancelled: false,
    killed_by_signal: null,
    hint: null,
    output_warnings: [],
    check: true,
    plan,
  };
}

/** Declares `ssh_docker_compose_<verb>`. */
export function composeTool(verb: Verb, description: string): Tool {
  const dangerous = verb === "up" || verb === "down" || verb === "pull";
  const input = z.strictObject({
    host: HostArg,
    compose_file: ComposeFileArg,
    ...(verb === "up"
      ? {
        detached: z.boolean().default(true).describe("Run in the background (-d)"),
        build: z.boolean().default(false).describe("Build images first (--build)"),
      }
      : {}),
    ...(verb === "down"
      ? {
        volumes: z.boolean().default(false).describe(
          "Delete volumes (-v)",
        ),
      }
      : {}),
    ...(dangerous ? { timeout: TimeoutArg } : {}),
    compose_v1: ComposeV1Arg,
    check: CheckArg,
  });
  return defineTool({
    name: `ssh_docker_compose_${verb}`,
    group: "docker",
    tier: dangerous ? "dangerous" : "low-access",
    posixOnly: true,
    // up recreates changed containers, down removes them, stop/restart kill processes;
    // every verb but restart reaches a fixed state when repeated
    hints: {
      destructiveHint: verb !== "start" && verb !== "pull",
      idempotentHint: verb !== "restart",
    },
    description,
    input,
    output: MutatingResult,
    paths: [{ field: "compose_file", mustExist: true }],
    prepare: preparePrefixes,
    async handler(args, ctx, p) {
      const a = args as Record<string, unknown> & {
        compose_file: CheckedPath;
        compose_v1: boolean;
        check: boolean;
      };
      const file = a.compose_file;
      const v1 = a.compose_v1;
      const opts = { volumes: a.volumes === true, build: a.build === true };
      if (verb === "up" && !ctx.settings.ALLOW_DOCKER_PRIVILEGED) {
        const esc = await composeEscalation(ctx, p, file, v1);
        if (esc) {
          throw new ToolError(
            "ValueError",
            `compose_file ${file} asks for ${esc}; ssh_docker_compose_up refuses privilege escalation (privileged, cap_add, devices, host namespaces, binds of / or system directories or an engine socket, ...) unless the operator sets ALLOW_DOCKER_PRIVILEGED=true.`,
            { rule: esc, setting: "ALLOW_DOCKER_PRIVILEGED" },
          );
        }
      }
      if (a.check) return await checkPlan(ctx, p, file, v1, verb, opts);
      const argv = ["-f", file, verb];
      if (verb === "up") {
        if (a.detached !== false) argv.push("-d");
        if (a.build === true) argv.push("--build");
      }
      if (verb === "down" && a.volumes === true) argv.push("-v");
      const timeout = typeof a.timeout === "number" ? a.timeout : null;
      const r = await runCli(ctx, p.compose(v1), argv, { timeout });
      return done(finish(ctx, r));
    },
  });
}
