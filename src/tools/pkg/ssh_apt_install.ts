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

/**
 * `apt-get -y install -- <pkgs...>` (TOOLS.md §12), optionally after
 * `apt-get update` (its result discarded; a failure becomes a stderr line).
 * Non-interactive (see `_apt.ts`); check=true runs `apt-get -s install`.
 */
export default defineTool({
  name: "ssh_apt_install",
  group: "pkg",
  tier: "dangerous",
  hints: { idempotentHint: true },
  elevation: "host-opt-in",
  posixOnly: true,
  taskSupport: "optional",
  description: "Install Debian/Ubuntu packages (apt-get install, non-interactive).",
  input: z.strictObject({
    host: HostArg,
    packages: PackagesArg,
    update_first: z.boolean().default(false).describe(
      "apt-get update first",
    ),
    timeout: TimeoutArg,
    check: CheckArg,
  }),
  output: AptMutationResult,
  prepare: preparePackages,
  async handler({ update_first, timeout, check }, ctx, { packages }) {
    const install = sh`${NONINTERACTIVE} apt-get -y ${DPKG_OPTIONS} install -- ${packages}`;
    if (check && update_first) {
      ctx.warn("update_first is not simulated in check mode: the current package lists were used");
    }
    return await runApt(ctx, {
      action: "install",
      packages,
      check,
      timeout,
      command: update_first
        ? sh`${NONINTERACTIVE} apt-get -q update >/dev/null 2>&1 || printf 'W: apt-get update failed (exit %s); installing from the current package lists\\n' "$?" >&2; ${install}`
        : install,
      simulate: sh`apt-get -s -y install -- ${packages}`,
      fromSimulation: (out) => simulationFields(parseSimulation(out)),
    });
  },
});
