/**
 * Start-up warnings about the command policy (SECURITY.md EXEC-19, EXEC-31):
 * allowlisted programs that run whatever they are given (a shell, `env`,
 * `xargs`, an interpreter, ...) and `SSH_COMMAND_ENV_ALLOWLIST` entries that
 * can never be admitted.
 *
 * @module
 */

import type { HostPolicy, Settings } from "../config/types.ts";
import { isForbiddenEnvName } from "./command_env.ts";
import { effectivePolicy } from "./effective.ts";

/** EXEC-19: programs that grant arbitrary execution when allowlisted. */
export const EXEC_WRAPPERS: readonly string[] = [
  "sh",
  "bash",
  "zsh",
  "dash",
  "ksh",
  "fish",
  "env",
  "xargs",
  "sudo",
  "su",
  "doas",
  "nohup",
  "timeout",
  "nice",
  "ionice",
  "setsid",
  "stdbuf",
  "find",
  "awk",
  "gawk",
  "perl",
  "python",
  "python3",
  "ruby",
  "node",
  "busybox",
  "docker",
  "podman",
  "kubectl",
  "ssh",
];

function isWrapper(entry: string): boolean {
  const base = entry.slice(entry.lastIndexOf("/") + 1);
  return EXEC_WRAPPERS.includes(base) || /^python[0-9.]*$/.test(base);
}

/**
 * One warning per host whose effective allowlist names a wrapper (when the
 * dangerous tier is on), plus one for every forbidden name in
 * `SSH_COMMAND_ENV_ALLOWLIST`.
 */
export function commandPolicyWarnings(
  hosts: readonly HostPolicy[],
  settings: Settings,
): string[] {
  const out: string[] = [];
  for (const name of settings.SSH_COMMAND_ENV_ALLOWLIST) {
    const n = name.endsWith("*") ? name.slice(0, -1) : name;
    if (isForbiddenEnvName(n)) {
      out.push(
        `SSH_COMMAND_ENV_ALLOWLIST names ${name}, an interpreter/loader hook that is never admitted (EXEC-31); remove it`,
      );
    }
  }
  if (!settings.ALLOW_DANGEROUS_TOOLS) return out;
  for (const p of hosts) {
    const wrappers = effectivePolicy(p, settings).command_allowlist.filter(isWrapper);
    if (wrappers.length) {
      out.push(
        `host ${p.alias}: command_allowlist names ${
          wrappers.join(", ")
        }, which run whatever they are given (EXEC-19); allow the commands themselves instead`,
      );
    }
  }
  return out;
}
