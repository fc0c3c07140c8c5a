import { z } from "zod";
import { defineTool, HostArg } from "../define.ts";
import { ExecResult } from "../exec_result.ts";
import { finish, preparePrefixes, runCli } from "./_cli.ts";
import { sanitize } from "../../policy/sanitize.ts";
import { linkTruncated, withCapture } from "../_outputs.ts";
import { ContainerArg, MaxBytesArg, TailArg, timeArg } from "./_validate.ts";

/** A container's log tail (TOOLS.md §10.1). */
export default defineTool({
  name: "ssh_docker_logs",
  group: "docker",
  tier: "read",
  posixOnly: true,
  description: "Tail a container's logs.",
  input: z.strictObject({
    host: HostArg,
    container: ContainerArg,
    tail: TailArg,
    since: timeArg("Only lines after this time").nullish().describe(
      "Since: epoch, 15m, ISO time",
    ),
    timestamps: z.boolean().default(false).describe("Timestamps"),
    max_bytes: MaxBytesArg,
  }),
  output: ExecResult,
  prepare: preparePrefixes,
  async handler({ container, tail, since, timestamps, max_bytes }, ctx, p) {
    const argv = ["logs", `--tail=${tail}`];
    if (since) argv.push(`--since=${since}`);
    if (timestamps) argv.push("--timestamps");
    argv.push("--", container);
    // issue 12 item 3: logs over max_bytes keep head/tail inline plus a resource link
    const { ctx: c, capture } = withCapture(ctx);
    const r = await runCli(c, p.docker, argv, { stdoutCap: max_bytes });
    const res = finish(ctx, r);
    const notes = [
      linkTruncated(ctx, capture, "stdout", r.stdoutTruncated, (t) => sanitize(t).text),
      linkTruncated(ctx, capture, "stderr", r.stderrTruncated, (t) => sanitize(t).text),
    ].filter((w): w is string => w !== null);
    if (notes.length) res.output_warnings = [...res.output_warnings, ...notes];
    return res;
  },
});
