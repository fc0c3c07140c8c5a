import { z } from "zod";
import { defineTool, HostArg } from "../define.ts";
import { ExecResult } from "../exec_result.ts";
import { finish, preparePrefixes, runCli } from "./_cli.ts";
import { ComposeFileArg } from "./_compose.ts";
import { ComposeV1Arg, MaxBytesArg, nameArg, TailArg } from "./_validate.ts";

/** Logs of a compose project (TOOLS.md §10.1). */
export default defineTool({
  name: "ssh_docker_compose_logs",
  group: "docker",
  tier: "read",
  posixOnly: true,
  description:
    "Tail the logs of a compose project or one of its services (no colours, capped at max_bytes).",
  input: z.strictObject({
    host: HostArg,
    compose_file: ComposeFileArg,
    tail: TailArg,
    service: nameArg("One service").nullish().describe(
      "One service",
    ),
    max_bytes: MaxBytesArg,
    compose_v1: ComposeV1Arg,
  }),
  output: ExecResult,
  paths: [{ field: "compose_file", mustExist: true }],
  prepare: preparePrefixes,
  async handler({ compose_file, tail, service, max_bytes, compose_v1 }, ctx, p) {
    const compose = p.compose(compose_v1);
    const argv = ["-f", compose_file, "logs", `--tail=${tail}`, "--no-color"];
    if (service) argv.push(service);
    let r = await runCli(ctx, compose, argv, { stdoutCap: max_bytes });
    if (r.exitCode !== 0 && /unrecognized arguments: --no-color/.test(r.stderr)) {
      // podman-compose has no --no-color (and prints none)
      r = await runCli(ctx, compose, argv.filter((a) => a !== "--no-color"), {
        stdoutCap: max_bytes,
      });
    }
    return finish(ctx, r);
  },
});
