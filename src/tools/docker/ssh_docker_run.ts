import { z } from "zod";
import { defineTool, HostArg, TimeoutArg } from "../define.ts";
import { done, finish, MutatingResult, planned, preparePrefixes, runCli } from "./_cli.ts";
import { probeContainer, probeImage } from "./_probe.ts";
import { assertNoEscalation, CheckArg, checkRunOptions, ImageArg, nameArg } from "./_validate.ts";

/** A new container from an image (TOOLS.md §10.3, DOCKER-3/4/5). */
export default defineTool({
  name: "ssh_docker_run",
  group: "docker",
  tier: "dangerous",
  posixOnly: true,
  description:
    "Create and run a container from an image with allowlisted flags; privileged options refused.",
  input: z.strictObject({
    host: HostArg,
    image: ImageArg,
    args: z.array(z.string().max(4096)).max(200).nullish().describe(
      "Command and args",
    ),
    name: nameArg("Container").nullish().describe(
      "Container",
    ),
    remove: z.boolean().default(true).describe(
      "--rm",
    ),
    detached: z.boolean().default(false).describe("Detach (-d)"),
    run_options: z.array(z.string().max(4096)).max(100).nullish().describe(
      'Allowlisted run flags, e.g. ["-p", "8080:80", "-e", "K=v"]',
    ),
    timeout: TimeoutArg,
    check: CheckArg,
  }),
  output: MutatingResult,
  prepare(args, pctx) {
    const privileged = pctx.settings.ALLOW_DOCKER_PRIVILEGED;
    if (!privileged && args.args?.length) assertNoEscalation("args", args.args);
    const binds = checkRunOptions(args.run_options ?? [], privileged);
    return { p: preparePrefixes(args, pctx), binds: privileged ? [] : binds };
  },
  async handler(args, ctx, { p, binds }) {
    // DOCKER-23: a bind source is file access: it must pass the host's path policy
    for (const b of binds) await ctx.checkPath(ctx.host, b, { mustExist: false, audit: null });
    const { image, name, remove, detached, timeout, check } = args;
    if (check) {
      const img = await probeImage(ctx, p, image);
      const existing = name ? (await probeContainer(ctx, p, name)).state : null;
      const res = finish(ctx, img.raw);
      return planned({ ...res, stdout: "", stdout_bytes: 0 }, {
        action: `run a container from ${image}${name ? ` named ${name}` : ""}`,
        changes: !(existing?.exists),
        before: {
          image_present: img.state.exists,
          image_id: img.state.id,
          ...(name ? { name_in_use: existing?.exists ?? false } : {}),
        },
        after: {
          container: detached ? "running (detached)" : "runs to completion",
          removed_on_exit: remove,
        },
        items: [image, ...(name ? [name] : [])],
        notes: [
          ...(img.state.exists ? [] : [`${image} is not present locally: run would pull it first`]),
          ...(existing?.exists ? [`a container named ${name} exists: run would fail`] : []),
          ...(binds.length ? [`bind sources passed the path policy: ${binds.join(", ")}`] : []),
        ],
      });
    }
    const argv = ["run"];
    if (remove) argv.push("--rm");
    if (detached) argv.push("-d");
    if (name) argv.push("--name", name);
    argv.push(...(args.run_options ?? []), "--", image, ...(args.args ?? []));
    const r = await runCli(ctx, p.docker, argv, { timeout: timeout ?? null });
    return done(finish(ctx, r));
  },
});
