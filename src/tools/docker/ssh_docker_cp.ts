import { z } from "zod";
import { defineTool, HostArg, TimeoutArg } from "../define.ts";
import { withSftpErrors } from "../sftp-read/_common.ts";
import { done, finish, MutatingResult, planned, preparePrefixes, runCli } from "./_cli.ts";
import { probeContainer } from "./_probe.ts";
import { assertContainerPath, CheckArg, ContainerArg } from "./_validate.ts";

/** Copy between a container and the host (TOOLS.md §10.2, DOCKER-8, DOCKER-24/25). */
export default defineTool({
  name: "ssh_docker_cp",
  group: "docker",
  tier: "low-access",
  hints: { idempotentHint: true },
  posixOnly: true,
  destructive: true,
  description: "Copy a file or directory between a container and the host.",
  input: z.strictObject({
    host: HostArg,
    container: ContainerArg,
    container_path: z.string().min(1).max(4096).describe(
      "Path in the container",
    ),
    host_path: z.string().min(1).max(4096).describe(
      "Path on the host",
    ),
    direction: z.enum(["from_container", "to_container"]).describe("Copy direction"),
    timeout: TimeoutArg,
    check: CheckArg,
  }),
  output: MutatingResult,
  paths: [{
    field: "host_path",
    mustExist: (a) => a.direction === "to_container",
    // a copy reads or lands a whole tree: zones below host_path hold for all of it
    subtree: true,
  }],
  prepare(args, pctx) {
    assertContainerPath(args.container_path);
    return preparePrefixes(args, pctx);
  },
  async handler({ container, container_path, host_path, direction, timeout, check }, ctx, p) {
    // DOCKER-24/25: the registry checked the whole tree at host_path (restricted zones,
    // restricted globs, redact-listed names) before this handler ran (subtree: true)
    const fs = await ctx.fs();
    const st = await withSftpErrors("WriteError", () => fs.lstatOrNull(host_path, ctx.signal));
    const containerRef = `${container}:${container_path}`;
    if (check) {
      const { raw, state } = await probeContainer(ctx, p, container);
      const res = finish(ctx, raw);
      return planned({ ...res, stdout: "", stdout_bytes: 0 }, {
        action: direction === "from_container"
          ? `copy ${containerRef} to ${host_path}`
          : `copy ${host_path} into ${containerRef}`,
        changes: state.exists,
        before: {
          container: state.exists ? state.status : null,
          host_path_kind: st?.kind ?? null,
        },
        after: null,
        items: [direction === "from_container" ? host_path : containerRef],
        notes: [
          ...(state.exists ? [] : [`no container named ${container}: the call would fail`]),
          ...(direction === "from_container" && st?.kind === "dir"
            ? [`${host_path} is a directory: the copy would land inside it`]
            : []),
          ...(direction === "from_container" && st && st.kind !== "dir"
            ? [`${host_path} exists and would be overwritten`]
            : []),
        ],
      });
    }
    if (direction === "from_container") await fs.recheck(host_path, "resolved", ctx.signal);
    const argv = direction === "from_container"
      ? ["cp", "--", containerRef, host_path]
      : ["cp", "--", host_path, containerRef];
    const r = await runCli(ctx, p.docker, argv, { timeout: timeout ?? null });
    return done(finish(ctx, r));
  },
});
