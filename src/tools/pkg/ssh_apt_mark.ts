import { z } from "zod";
import { sh } from "../../checked.ts";
import { defineTool, HostArg, TimeoutArg } from "../define.ts";
import { AptMutationResult, NONINTERACTIVE, runApt } from "./_apt.ts";
import { parseHolds } from "./_parse.ts";
import { CheckArg, PackagesArg, preparePackages } from "./_pkg.ts";

/** `apt-mark <hold|unhold> -- <pkgs...>` (TOOLS.md §12). */
export default defineTool({
  name: "ssh_apt_mark",
  group: "pkg",
  tier: "dangerous",
  hints: { destructiveHint: false, idempotentHint: true },
  elevation: "host-opt-in",
  posixOnly: true,
  taskSupport: "optional",
  description: "Hold or unhold packages (apt-mark).",
  input: z.strictObject({
    host: HostArg,
    action: z.enum(["hold", "unhold"]).describe("hold or unhold"),
    packages: PackagesArg,
    timeout: TimeoutArg,
    check: CheckArg,
  }),
  output: AptMutationResult,
  prepare: preparePackages,
  async handler({ action, timeout, check }, ctx, { packages }) {
    return await runApt(ctx, {
      action,
      packages,
      check,
      timeout,
      command: sh`${NONINTERACTIVE} apt-mark ${action} -- ${packages}`,
      simulate: sh`apt-mark showhold`,
      fromSimulation: (out) => {
        const held = parseHolds(out);
        return {
          holds: {
            held_now: held,
            would_hold: action === "hold" ? packages.filter((p) => !held.includes(p)) : [],
            would_unhold: action === "unhold" ? packages.filter((p) => held.includes(p)) : [],
          },
        };
      },
    });
  },
});
