import { z } from "zod";
import { sh } from "../../checked.ts";
import { defineTool, HostArg, TimeoutArg } from "../define.ts";
import { AptMutationResult, NONINTERACTIVE, runApt } from "./_apt.ts";
import { parsePrintUris } from "./_parse.ts";
import { CheckArg } from "./_pkg.ts";

/** `apt-get update` (TOOLS.md §15, optional; dangerous): refreshes the package index. */
export default defineTool({
  name: "ssh_apt_update",
  group: "pkg",
  tier: "dangerous",
  hints: { destructiveHint: false, idempotentHint: true },
  elevation: "host-opt-in",
  posixOnly: true,
  taskSupport: "optional",
  description: "Refresh the package index (apt-get update).",
  input: z.strictObject({ host: HostArg, timeout: TimeoutArg, check: CheckArg }),
  output: AptMutationResult,
  async handler({ timeout, check }, ctx) {
    return await runApt(ctx, {
      action: "update",
      packages: [],
      check,
      timeout,
      command: sh`${NONINTERACTIVE} apt-get update`,
      simulate: sh`apt-get --print-uris update`,
      fromSimulation: (out) => ({ would_fetch: parsePrintUris(out) }),
    });
  },
});
