import { z } from "zod";
import { raw } from "../../checked.ts";
import { ToolError } from "../../errors.ts";
import { defineTool, HostArg } from "../define.ts";
import { EXEC_RESULT_FIELDS } from "../exec_result.ts";
import { DockerObjects, finish, listing, preparePrefixes, runCli } from "./_cli.ts";
import { R_DOCKER_FILTER, timeArg } from "./_validate.ts";

/** Engine events in a time window (TOOLS.md §10.1). */
export default defineTool({
  name: "ssh_docker_events",
  group: "docker",
  tier: "read",
  posixOnly: true,
  description: "Container engine events in a time range.",
  input: z.strictObject({
    host: HostArg,
    since: timeArg("Since: epoch, 15m, ISO time")
      .default(
        "1h",
      ),
    until: timeArg("Until (default now)").default("now"),
    filters: z.array(
      z.string().max(300).regex(
        R_DOCKER_FILTER,
        "must be key=value, e.g. type=container, event=die, container=web (R_DOCKER_FILTER)",
      ),
    ).max(20).nullish().describe("Filters, e.g. event=die"),
  }),
  output: z.strictObject({ ...EXEC_RESULT_FIELDS, events: DockerObjects }),
  prepare(args, pctx) {
    if (args.until !== "now" && args.since === args.until) {
      throw new ToolError("ValueError", "since and until describe an empty window.");
    }
    return preparePrefixes(args, pctx);
  },
  async handler({ since, until, filters }, ctx, p) {
    const argv = ["events", `--since=${since}`];
    if (until !== "now") argv.push(`--until=${until}`);
    argv.push("--format", "{{json .}}");
    for (const f of filters ?? []) argv.push("--filter", f);
    // "now" is computed on the host, 2 s ahead: Docker CLI 28 rejects the word, and Podman
    // returns only the first event unless the end lies in the future
    const r = await runCli(ctx, p.docker, argv, {
      ...(until === "now" ? { tail: raw('--until="$(($(date +%s)+2))"') } : {}),
    });
    const l = listing(finish(ctx, r), r.stdout, true);
    return { ...l.res, events: l.objects };
  },
});
