import { z } from "zod";
import { defineTool, HostArg } from "../define.ts";
import { ExecResult } from "../exec_result.ts";
import { finish, preparePrefixes, runCli } from "./_cli.ts";
import { ContainerArg, splitPsOptions } from "./_validate.ts";

/** Processes of one container (TOOLS.md §10.1). */
export default defineTool({
  name: "ssh_docker_top",
  group: "docker",
  tier: "read",
  posixOnly: true,
  description: "Processes running inside a container.",
  input: z.strictObject({
    host: HostArg,
    container: ContainerArg,
    ps_options: z.string().max(500).nullish().describe(
      "ps options",
    ),
  }),
  output: ExecResult,
  prepare(args, pctx) {
    return {
      p: preparePrefixes(args, pctx),
      ps: args.ps_options ? splitPsOptions(args.ps_options) : [],
    };
  },
  async handler({ container }, ctx, { p, ps }) {
    const r = await runCli(ctx, p.docker, ["top", "--", container, ...ps]);
    return finish(ctx, r);
  },
});
