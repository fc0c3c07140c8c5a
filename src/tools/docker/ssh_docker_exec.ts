import { z } from "zod";
import { defineTool, HostArg, TimeoutArg } from "../define.ts";
import { CommandArg } from "../exec_result.ts";
import { done, finish, MutatingResult, planned, preparePrefixes, runCli } from "./_cli.ts";
import { probeContainer } from "./_probe.ts";
import { CheckArg, ContainerArg } from "./_validate.ts";

/** A command inside a container, admitted by the host's command policy (TOOLS.md §10.3, DOCKER-6). */
export default defineTool({
  name: "ssh_docker_exec",
  group: "docker",
  tier: "dangerous",
  posixOnly: true,
  description: "Run a shell command inside a running container.",
  input: z.strictObject({
    host: HostArg,
    container: ContainerArg,
    command: CommandArg,
    timeout: TimeoutArg,
    interactive: z.boolean().default(false).describe("Keep stdin open (-i)"),
    check: CheckArg,
  }),
  output: MutatingResult,
  prepare: preparePrefixes,
  async handler({ container, command, timeout, interactive, check }, ctx, p) {
    // DOCKER-6: the same checker as ssh_exec_run (no cheatsheet: this is not a host shell)
    const admitted = await ctx.checkCommand(ctx.host, command, {
      kind: "command",
      cheatsheet: false,
    });
    if (check) {
      const { raw, state } = await probeContainer(ctx, p, container);
      const res = finish(ctx, raw);
      return planned({ ...res, stdout: "", stdout_bytes: 0 }, {
        action: `run sh -c <command> inside ${container}`,
        changes: state.running,
        before: state.exists ? { status: state.status } : null,
        after: null,
        items: state.exists ? [container] : [],
        notes: [
          "the command policy admitted the command",
          ...(state.exists
            ? (state.running ? [] : [`${container} is ${state.status}: exec would fail`])
            : [`no container named ${container}: exec would fail`]),
        ],
      });
    }
    const argv = ["exec", ...(interactive ? ["-i"] : []), "--", container, "sh", "-c", admitted];
    const r = await runCli(ctx, p.docker, argv, { timeout: timeout ?? null });
    return done(finish(ctx, r));
  },
});
