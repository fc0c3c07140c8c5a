import { z } from "zod";
import { defineTool, HostArg } from "../define.ts";
import { done, finish, MutatingResult, planned, preparePrefixes, runCli } from "./_cli.ts";
import { probeImage, psRows } from "./_probe.ts";
import { rowNames } from "./_parse.ts";
import { CheckArg, ImageArg } from "./_validate.ts";

/** Remove an image (TOOLS.md §10.3). */
export default defineTool({
  name: "ssh_docker_rmi",
  group: "docker",
  tier: "dangerous",
  hints: { idempotentHint: true },
  posixOnly: true,
  description: "Remove a local image.",
  input: z.strictObject({
    host: HostArg,
    image: ImageArg,
    force: z.boolean().default(false).describe("Force (-f)"),
    check: CheckArg,
  }),
  output: MutatingResult,
  prepare: preparePrefixes,
  async handler({ image, force, check }, ctx, p) {
    if (check) {
      const { raw, state } = await probeImage(ctx, p, image);
      const users = state.exists ? (await psRows(ctx, p, [`ancestor=${image}`])).rows : [];
      const names = users.flatMap(rowNames);
      const fails = !state.exists || (names.length > 0 && !force);
      return planned({ ...finish(ctx, raw), stdout: "", stdout_bytes: 0 }, {
        action: `remove image ${image}${force ? " (force)" : ""}`,
        changes: !fails,
        before: { present: state.exists, id: state.id, tags: state.tags, used_by: names },
        after: fails ? null : { present: false },
        items: state.exists ? [image] : [],
        notes: !state.exists
          ? [`${image} is not present: the call would fail`]
          : names.length && !force
          ? [`containers use it (${names.join(", ")}): rmi without force would fail`]
          : [],
      });
    }
    const argv = ["rmi", ...(force ? ["-f"] : []), "--", image];
    const r = await runCli(ctx, p.docker, argv);
    return done(finish(ctx, r));
  },
});
