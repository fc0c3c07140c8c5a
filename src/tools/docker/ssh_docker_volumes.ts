import { z } from "zod";
import { defineTool, HostArg } from "../define.ts";
import { EXEC_RESULT_FIELDS } from "../exec_result.ts";
import { DockerObjects, finish, listing, preparePrefixes, runCli } from "./_cli.ts";
import { nameArg } from "./_validate.ts";

/** Volumes: the list, or one volume's details (TOOLS.md §10.1). */
export default defineTool({
  name: "ssh_docker_volumes",
  group: "docker",
  tier: "read",
  posixOnly: true,
  description:
    "List volumes (volume ls) or, with name, inspect one volume (driver, mountpoint, labels, options).",
  input: z.strictObject({
    host: HostArg,
    name: nameArg("Volume (omit: all)").nullish().describe(
      "Volume (omit: all)",
    ),
  }),
  output: z.strictObject({
    ...EXEC_RESULT_FIELDS,
    volumes: DockerObjects.describe("volume ls rows, or the inspect array (empty on failure)"),
  }),
  prepare: preparePrefixes,
  async handler({ name }, ctx, p) {
    const argv = name
      ? ["volume", "inspect", "--", name]
      : ["volume", "ls", "--format", "{{json .}}"];
    const r = await runCli(ctx, p.docker, argv);
    const l = listing(finish(ctx, r), r.stdout, true, { onlyOnSuccess: Boolean(name) });
    return { ...l.res, volumes: l.objects };
  },
});
