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

/** `apt-get -y upgrade` (TOOLS.md §12): held packages stay; nothing is removed. */
export default defineTool({
  name: "ssh_apt_upgrade",
  group: "pkg",
  tier: "dangerous",
  hints: { idempotentHint: true },
  elevation: "host-opt-in",
  posixOnly: true,
  taskSupport: "optional",
  description:
    "Upgrade installed packages (apt-get upgrade; held ones kept back, nothing removed).",
  input: z.strictObject({ host: HostArg, timeout: TimeoutArg, check: CheckArg }),
  output: AptMutationResult,
  async handler({ timeout, check }, ctx) {
    return await runApt(ctx, {
      action: "upgrade",
      packages: [],
      check,
      timeout,
      command: sh`${NONINTERACTIVE} apt-get -y ${DPKG_OPTIONS} upgrade`,
      simulate: sh`apt-get -s -y upgrade`,
      fromSimulation: (out) => simulationFields(parseSimulation(out)),
    });
  },
});
