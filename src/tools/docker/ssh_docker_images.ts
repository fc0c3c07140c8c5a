import { z } from "zod";
import { defineTool, HostArg } from "../define.ts";
import { EXEC_RESULT_FIELDS } from "../exec_result.ts";
import { DockerObjects, finish, listing, preparePrefixes, runCli } from "./_cli.ts";
import { IncludeLabelsArg, LabelArg, R_REF_FILTER } from "./_validate.ts";

/** Local images (TOOLS.md §10.1). */
export default defineTool({
  name: "ssh_docker_images",
  group: "docker",
  tier: "read",
  posixOnly: true,
  description: "List local container images.",
  input: z.strictObject({
    host: HostArg,
    include_labels: IncludeLabelsArg,
    reference: z.string().max(256).regex(
      R_REF_FILTER,
      "must match ^[A-Za-z0-9._/:*?@-]{1,256}$ (R_REF_FILTER)",
    ).nullish().describe("Reference glob"),
    dangling: z.boolean().nullish().describe("Untagged only"),
    label: LabelArg.nullish().describe("key or key=value"),
  }),
  output: z.strictObject({ ...EXEC_RESULT_FIELDS, images: DockerObjects }),
  prepare: preparePrefixes,
  async handler({ include_labels, reference, dangling, label }, ctx, p) {
    const argv = ["images", "--format", "{{json .}}"];
    if (reference) argv.push("--filter", `reference=${reference}`);
    if (typeof dangling === "boolean") argv.push("--filter", `dangling=${dangling}`);
    if (label) argv.push("--filter", `label=${label}`);
    const r = await runCli(ctx, p.docker, argv);
    const l = listing(finish(ctx, r), r.stdout, include_labels);
    return { ...l.res, images: l.objects };
  },
});
