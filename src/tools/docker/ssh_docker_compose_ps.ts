import { z } from "zod";
import { defineTool, HostArg } from "../define.ts";
import { EXEC_RESULT_FIELDS } from "../exec_result.ts";
import { DockerObjects, finish, listing, preparePrefixes } from "./_cli.ts";
import { ComposeFileArg } from "./_compose.ts";
import { composeContainers } from "./_probe.ts";
import { ComposeV1Arg, IncludeLabelsArg, nameArg } from "./_validate.ts";

const STATUS = [
  "paused",
  "restarting",
  "removing",
  "running",
  "dead",
  "created",
  "exited",
] as const;

/** Containers of a compose project (TOOLS.md §10.1). */
export default defineTool({
  name: "ssh_docker_compose_ps",
  group: "docker",
  tier: "read",
  posixOnly: true,
  description: "List the containers of a compose project.",
  input: z.strictObject({
    host: HostArg,
    compose_file: ComposeFileArg,
    include_labels: IncludeLabelsArg,
    compose_v1: ComposeV1Arg,
    service: nameArg("One service").nullish().describe(
      "One service",
    ),
    status: z.enum(STATUS).nullish().describe("Status filter"),
  }),
  output: z.strictObject({ ...EXEC_RESULT_FIELDS, services: DockerObjects }),
  paths: [{ field: "compose_file", mustExist: true }],
  prepare: preparePrefixes,
  async handler({ compose_file, include_labels, compose_v1, service, status }, ctx, p) {
    const view = await composeContainers(ctx, p, compose_file, compose_v1, {
      status: status ?? null,
      service: service ?? null,
    });
    // v1 CLIs: view.raw is the `<docker> ps --filter id=...` call, whose stdout is the rows
    const l = listing(finish(ctx, view.raw), view.raw.stdout, include_labels);
    return { ...l.res, services: l.objects };
  },
});
