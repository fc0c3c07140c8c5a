import { z } from "zod";
import { defineTool, HostArg } from "../define.ts";
import { EXEC_RESULT_FIELDS } from "../exec_result.ts";
import { DockerObjects, finish, listing, preparePrefixes, runCli } from "./_cli.ts";

/** One snapshot of container resource usage (TOOLS.md §10.1). */
export default defineTool({
  name: "ssh_docker_stats",
  group: "docker",
  tier: "read",
  posixOnly: true,
  description: "CPU, memory and I/O per running container.",
  input: z.strictObject({ host: HostArg }),
  output: z.strictObject({ ...EXEC_RESULT_FIELDS, containers: DockerObjects }),
  prepare: preparePrefixes,
  async handler(_args, ctx, p) {
    const r = await runCli(ctx, p.docker, ["stats", "--no-stream", "--format", "{{json .}}"]);
    const l = listing(finish(ctx, r), r.stdout, true);
    return { ...l.res, containers: l.objects };
  },
});
