import { z } from "zod";
import { defineTool, HostArg } from "../define.ts";
import { EXEC_RESULT_FIELDS } from "../exec_result.ts";
import { DockerObjects, finish, listing, preparePrefixes, runCli } from "./_cli.ts";

/** Disk usage by images, containers, volumes and build cache (TOOLS.md §10.1). */
export default defineTool({
  name: "ssh_docker_system_df",
  group: "docker",
  tier: "read",
  posixOnly: true,
  description: "Disk used by images, containers and volumes.",
  input: z.strictObject({ host: HostArg }),
  output: z.strictObject({
    ...EXEC_RESULT_FIELDS,
    categories: DockerObjects.describe("Rows with Type, TotalCount, Active, Size, Reclaimable"),
  }),
  prepare: preparePrefixes,
  async handler(_args, ctx, p) {
    const r = await runCli(ctx, p.docker, ["system", "df", "--format", "{{json .}}"]);
    const l = listing(finish(ctx, r), r.stdout, true);
    return { ...l.res, categories: l.objects };
  },
});
