import { z } from "zod";
import { defineTool, HostArg } from "../define.ts";
import { done, finish, MutatingResult, planned, preparePrefixes, runCli } from "./_cli.ts";
import { probeContainer } from "./_probe.ts";
import { CheckArg, ContainerArg } from "./_validate.ts";

/** Remove a container (TOOLS.md §10.3). */
export default defineTool({
  name: "ssh_docker_rm",
  group: "docker",
  tier: "dangerous",
  hints: { idempotentHint: true },
  posixOnly: true,
  description: "Remove a container (named volumes kept).",
  input: z.strictObject({
    host: HostArg,
    container: ContainerArg,
    force: z.boolean().default(false).describe("Force (-f)"),
    check: CheckArg,
  }),
  output: MutatingResult,
  prepare: preparePrefixes,
  async handler({ container, force, check }, ctx, p) {
    if (check) {
      const { raw, state } = await probeContainer(ctx, p, container);
      const fails = !state.exists || (state.running && !force);
      return planned({ ...finish(ctx, raw), stdout: "", stdout_bytes: 0 }, {
        action: `remove container ${container}${force ? " (force)" : ""}`,
        changes: !fails,
        before: state.exists ? { status: state.status, image: state.image } : null,
        after: fails ? null : { exists: false },
        items: state.exists ? [container] : [],
        notes: !state.exists
          ? [`no container named ${container}: the call would fail`]
          : state.running && !force
          ? [`${container} is running: rm without force would fail (stop it first)`]
          : [],
      });
    }
    const argv = ["rm", ...(force ? ["-f"] : []), "--", container];
    const r = await runCli(ctx, p.docker, argv);
    return done(finish(ctx, r));
  },
});
