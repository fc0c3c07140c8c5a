import { z } from "zod";
import { defineTool, HostArg } from "../define.ts";
import { ExecResult } from "../exec_result.ts";
import { finish, preparePrefixes, runCli } from "./_cli.ts";
import { ContainerArg, MaxBytesArg, TailArg, timeArg } from "./_validate.ts";

/** A container's log tail (TOOLS.md §10.1). */
export default defineTool({
  name: "ssh_docker_logs",
  group: "docker",
  tier: "read",
  posixOnly: true,
  description:
    "Tail a container's logs (stdout and stderr of the container, capped at max_bytes), optionally since a time and with timestamps.",
  input: z.strictObject({
    host: HostArg,
    container: ContainerArg,
    tail: TailArg,
    since: timeArg("Only lines after this time").nullish().describe(
      "Only lines after this time: epoch, 15m / 1h30m (s/m/h), ISO date-time (R_DOCKER_TIME)",
    ),
    timestamps: z.boolean().default(false).describe("Prefix each line with its timestamp"),
    max_bytes: MaxBytesArg,
  }),
  output: ExecResult,
  prepare: preparePrefixes,
  async handler({ container, tail, since, timestamps, max_bytes }, ctx, p) {
    const argv = ["logs", `--tail=${tail}`];
    if (since) argv.push(`--since=${since}`);
    if (timestamps) argv.push("--timestamps");
    argv.push("--", container);
    const r = await runCli(ctx, p.docker, argv, { stdoutCap: max_bytes });
    return finish(ctx, r);
  },
});
