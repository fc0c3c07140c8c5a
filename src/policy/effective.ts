/**
 * Derived per-host values (CONFIG.md §5): the host's lists unioned with the
 * environment lists at enforcement time (host entries first, de-duplicated,
 * order kept), scalar overrides, and limits.
 *
 * @module
 */

import type { BypassPolicy, HostPolicy, Settings } from "../config/types.ts";

function union(a: readonly string[], b: readonly string[]): string[] {
  return [...new Set([...a, ...b])];
}

/**
 * Built-in `command_denylist` entries (SECURITY.md EXEC-17, EXEC-42..48); host
 * entries are added, never replace them. Each entry matches meaning, not
 * spelling (`src/policy/command_denylist.ts`): word by word, options in any
 * cluster, order or long form, paths also lexically normalised, through
 * wrappers (`sudo -i`, `sh -c`, `xargs`, `env`, `timeout`, ...).
 */
export const BUILTIN_COMMAND_DENYLIST: readonly string[] = [
  // recursive delete of / or of every top-level directory (-r, -R, --recursive; force or not)
  "rm -r /",
  "rm -r /\\*",
  "rm --no-preserve-root",
  "mkfs*",
  "mke2fs*",
  // dd writing to anything but /dev/null, /dev/stdout, /dev/stderr
  "dd of=*",
  "shred /dev/*",
  "wipefs *",
  ":(){ :|:& };:",
  "shutdown*",
  "poweroff*",
  "halt*",
  "reboot*",
  "telinit*",
  "init 0",
  "init 6",
  "systemctl poweroff*",
  "systemctl reboot*",
  "systemctl halt*",
  "systemctl kexec*",
  // mode or owner changes of / (recursive or not)
  "chmod * /",
  "chown * /",
  "chgrp * /",
];

/** Everything a policy check needs for one host, computed once per call. */
export interface EffectivePolicy {
  path_allowlist: string[];
  restricted_paths: string[];
  restricted_globs: string[];
  redact_paths_globs: string[];
  command_allowlist: string[];
  command_denylist: string[];
  redact_bypass_policy: BypassPolicy;
  redact_entropy_detection: boolean;
  redact_hint_chars: number;
  command_timeout_s: number;
  max_command_timeout_s: number;
  stdout_cap_bytes: number;
  stderr_cap_bytes: number;
  /** true when every command is allowed (allowlist `*`, or empty + ALLOW_ANY_COMMAND) */
  allow_any_command: boolean;
}

/** Computes the effective policy of a host. */
export function effectivePolicy(p: HostPolicy, s: Settings): EffectivePolicy {
  const command_allowlist = union(p.command_allowlist, s.SSH_COMMAND_ALLOWLIST);
  return {
    path_allowlist: union(p.path_allowlist, s.SSH_PATH_ALLOWLIST),
    restricted_paths: union(p.restricted_paths, s.SSH_RESTRICTED_PATHS),
    restricted_globs: union(p.restricted_globs, s.SSH_RESTRICTED_GLOBS),
    redact_paths_globs: union(p.redact_paths_globs, s.SSH_REDACT_PATHS_GLOBS),
    command_allowlist,
    command_denylist: union(BUILTIN_COMMAND_DENYLIST, p.command_denylist),
    redact_bypass_policy: p.redact_bypass_policy ?? s.SSH_REDACT_BYPASS_POLICY,
    redact_entropy_detection: p.redact_entropy_detection ?? s.SSH_REDACT_ENTROPY_DETECTION,
    redact_hint_chars: Math.min(4, Math.max(0, p.redact_hint_chars ?? s.SSH_REDACT_HINT_CHARS)),
    command_timeout_s: p.command_timeout ?? s.SSH_COMMAND_TIMEOUT,
    max_command_timeout_s: p.max_command_timeout ?? s.SSH_MAX_COMMAND_TIMEOUT,
    stdout_cap_bytes: p.stdout_cap_bytes ?? s.SSH_STDOUT_CAP_BYTES,
    stderr_cap_bytes: p.stderr_cap_bytes ?? s.SSH_STDERR_CAP_BYTES,
    allow_any_command: command_allowlist.includes("*") ||
      (command_allowlist.length === 0 && s.ALLOW_ANY_COMMAND),
  };
}
