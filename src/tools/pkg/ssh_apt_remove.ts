import { z } from "zod";
import { sh } from "../../checked.ts";
import { defineTool, HostArg, TimeoutArg } from "../define.ts";
import {
  AptMutationResult,
  DPKG_OPTIONS,
  NONINTERACTIVE,
  runApt,
  simulationFields,
} from "./_apt.ts";
import { parseSimulation } from "./_parse.ts";
import { CheckArg, PackagesArg, preparePackages } from "./_pkg.ts";

/** `apt-get -y <remove|purge> -- <pkgs...>` (TOOLS.md §12). */
export default defineTool({
  name: "ssh_apt_remove",
  group: "pkg",
  tier: "dangerous",
  hints: { idempotentHint: true },
  elevation: "host-opt-in",
  posixOnly: true,
  taskSupport: "optional",
  description: "Remove packages (apt-get remove, or purge).",
  input: z.strictObject({
    host: HostArg,
    packages: PackagesArg,
    purge: z.boolean().default(false).describe("Purge configs"),
    timeout: TimeoutArg,
    check: CheckArg,
  }),
  output: AptMutationResult,
  prepare: preparePackages,
  async handler({ purge, timeout, check }, ctx, { packages }) {
    const verb = purge ? "purge" : "remove";
    return await runApt(ctx, {
      action: verb,
      packages,
      check,
      timeout,
      command: sh`${NONINTERACTIVE} apt-get -y ${DPKG_OPTIONS} ${verb} -- ${packages}`,
      simulate: sh`apt-get -s -y ${verb} -- ${packages}`,
      fromSimulation: (out) => simulationFields(parseSimulation(out)),
    });
  },
});
