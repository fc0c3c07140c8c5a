/**
 * The per-host gates of the pipeline, in memory and before any I/O:
 * resolution (alias / hostname / allowlist) with the blocklist, the platform
 * gate of `posixOnly` tools, and the `timeout` ceiling. A host that passed
 * them becomes an {@link AdmittedHost}; this module is the only place that
 * mints one.
 *
 * @module
 */

import type { AdmittedHost } from "../checked.ts";
import type { HostPolicy, Settings } from "../config/types.ts";
import { ToolError } from "../errors.ts";
import type { Tool } from "../tools/define.ts";
import type { Host } from "../tools/context.ts";

/** Brands a host that passed resolution, blocklist and the platform gate for this call. */
export function admitted(requested: string, policy: HostPolicy): Host {
  return { requested, policy } as AdmittedHost<HostPolicy>;
}

/** PlatformNotSupported before any remote I/O (TIER-8). */
export function platformGate(tool: Tool, policy: HostPolicy): void {
  if (tool.posixOnly && policy.platform === "windows") {
    throw new ToolError(
      "PlatformNotSupported",
      `${tool.name} needs a POSIX host; ${policy.alias} is configured with platform = "windows".`,
    );
  }
}

/** The `timeout` input against the host's (or the global) ceiling. */
export function timeoutCeiling(
  t: unknown,
  policy: HostPolicy | undefined,
  settings: Settings,
): void {
  if (typeof t !== "number") return;
  const max = policy?.max_command_timeout ?? settings.SSH_MAX_COMMAND_TIMEOUT;
  if (t > max) {
    throw new ToolError(
      "ValueError",
      `timeout ${t} s is above the maximum of ${max} s (${
        policy?.max_command_timeout
          ? `max_command_timeout of ${policy.alias}`
          : "SSH_MAX_COMMAND_TIMEOUT"
      }).`,
    );
  }
}
