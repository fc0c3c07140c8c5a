/**
 * start / stop / restart of one container (TOOLS.md §10.2), with the NEW
 * `check` plan: the container's state now and what it would be afterwards.
 *
 * @module
 */

import { z } from "zod";
import { defineTool, HostArg, type Tool } from "../define.ts";
import { done, finish, MutatingResult, planned, preparePrefixes, runCli } from "./_cli.ts";
import { probeContainer } from "./_probe.ts";
import { CheckArg, ContainerArg } from "./_validate.ts";

const AFTER: Record<"start" | "stop" | "restart", string> = {
  start: "running",
  stop: "exited",
  restart: "running",
};

/** Declares `ssh_docker_<verb>`. */
export function lifecycleTool(verb: "start" | "stop" | "restart", description: string): Tool {
  return defineTool({
    name: `ssh_docker_${verb}`,
    group: "docker",
    tier: "low-access",
    posixOnly: true,
    // stop and restart kill the running process; start and stop reach a fixed state
    destructive: verb !== "start",
    hints: { idempotentHint: verb !== "restart" },
    description,
    input: z.strictObject({ host: HostArg, container: ContainerArg, check: CheckArg }),
    output: MutatingResult,
    prepare: preparePrefixes,
    async handler({ container, check }, ctx, p) {
      if (check) {
        const { raw, state } = await probeContainer(ctx, p, container);
        const res = finish(ctx, raw);
        const before = state.exists
          ? { status: state.status, running: state.running, health: state.health }
          : null;
        const changes = state.exists &&
          (verb === "restart" || (verb === "start" ? !state.running : state.running));
        return planned({ ...res, stdout: "", stdout_bytes: 0 }, {
          action: `${verb} container ${container}`,
          changes,
          before,
          after: state.exists ? { status: AFTER[verb], running: AFTER[verb] === "running" } : null,
          items: state.exists ? [container] : [],
          notes: state.exists
            ? (changes ? [] : [`${container} is already ${state.status}; nothing would change`])
            : [`no container named ${container}: the call would fail`],
        });
      }
      const r = await runCli(ctx, p.docker, [verb, "--", container]);
      return done(finish(ctx, r));
    },
  });
}
