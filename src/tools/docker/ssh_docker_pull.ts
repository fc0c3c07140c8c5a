import { z } from "zod";
import { defineTool, HostArg, TimeoutArg } from "../define.ts";
import { done, finish, MutatingResult, planned, preparePrefixes, runCli } from "./_cli.ts";
import { probeImage } from "./_probe.ts";
import { CheckArg, ImageArg } from "./_validate.ts";

/** Pull an image (TOOLS.md §10.3). */
export default defineTool({
  name: "ssh_docker_pull",
  group: "docker",
  tier: "dangerous",
  hints: { destructiveHint: false, idempotentHint: true },
  posixOnly: true,
  description:
    "Pull an image from its registry (pull -- <image>). check=true reports the local image id now.",
  input: z.strictObject({ host: HostArg, image: ImageArg, timeout: TimeoutArg, check: CheckArg }),
  output: MutatingResult,
  prepare: preparePrefixes,
  async handler({ image, timeout, check }, ctx, p) {
    if (check) {
      const { raw, state } = await probeImage(ctx, p, image);
      return planned({ ...finish(ctx, raw), stdout: "", stdout_bytes: 0 }, {
        action: `pull ${image}`,
        changes: true,
        before: { present: state.exists, id: state.id },
        after: { present: true, id: "the registry's current digest" },
        items: [image],
        notes: state.exists
          ? ["the image is present; a pull replaces the tag if the registry has a newer one"]
          : [],
      });
    }
    const r = await runCli(ctx, p.docker, ["pull", "--", image], { timeout: timeout ?? null });
    return done(finish(ctx, r));
  },
});
