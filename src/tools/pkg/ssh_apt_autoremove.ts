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
import { CheckArg } from "./_pkg.ts";

/** `apt-get -y autoremove` (TOOLS.md §12). */
export default defineTool({
  name: "ssh_apt_autoremove",
  group: "pkg",
  tier: "dangerous",
  hints: { idempotentHint: true },
  elevation: "host-opt-in",
  posixOnly: true,
  taskSupport: "optional",
  description: "Remove unneeded dependency packages (apt-get autoremove).",
  input: z.strictObject({ host: HostArg, timeout: TimeoutArg, check: CheckArg }),
  output: AptMutationResult,
  async handler({ timeout, check }, ctx) {
    return await runApt(ctx, {
      action: "autoremove",
      packages: [],
      check,
      timeout,
      command: sh`${NONINTERACTIVE} apt-get -y ${DPKG_OPTIONS} autoremove`,
      simulate: sh`apt-get -s -y autoremove`,
      fromSimulation: (out) => simulationFields(parseSimulation(out)),
    });
  },
});
