/**
 * The CONFIG.md §9.2 WARNING notices about risky host policies: catch-all
 * path allowlists without deny roots for the sensitive zones, commands that
 * may run anything, literal secrets in `*_cmd` values, unimplemented or
 * self-defeating settings (checked on each merged host).
 *
 * @module
 */

import * as path from "../util/local_path.ts";
import { isLiteralSecretCommand, SENSITIVE_ZONES, wrapperEntries } from "./settings.ts";
import type { ConfigNotice, HostPolicy, Settings } from "./types.ts";

/** Appends the §9.2 warnings for one merged host to `notices`. */
export function hostNotices(p: HostPolicy, settings: Settings, notices: ConfigNotice[]): void {
  const table = `hosts.${p.alias}`;
  const warn = (message: string) =>
    notices.push({ level: "WARNING", message: `${table}: ${message}` });
  const catchAll = p.path_allowlist.filter((e) => e === "*" || e === "/");
  for (const e of catchAll) {
    warn(`path_allowlist contains ${JSON.stringify(e)}: every path on this host is allowed`);
  }
  if (catchAll.length > 0 && p.platform === "posix") {
    const roots = [...p.restricted_paths, ...settings.SSH_RESTRICTED_PATHS].map(normalizeRoot);
    const missing = SENSITIVE_ZONES.filter((z) =>
      !roots.some((r) => r === z || z.startsWith(r === "/" ? "/" : r + "/"))
    );
    if (missing.length > 0) {
      warn(
        `path_allowlist ${JSON.stringify(catchAll[0])} without restricted_paths covering ` +
          `${missing.join(", ")}; add them to restricted_paths or SSH_RESTRICTED_PATHS`,
      );
    }
  }
  if (settings.ALLOW_DANGEROUS_TOOLS) {
    if (p.command_allowlist.includes("*")) {
      warn('command_allowlist contains "*": any command may run (ALLOW_DANGEROUS_TOOLS=true)');
    }
    if (p.command_allowlist.length === 0 && settings.ALLOW_ANY_COMMAND) {
      warn("empty command_allowlist with ALLOW_ANY_COMMAND=true: any command may run");
    }
  }
  const wrappers = wrapperEntries(p.command_allowlist);
  if (wrappers.length > 0) {
    warn(
      `command_allowlist allows program(s) that run arbitrary commands: ${wrappers.join(", ")}`,
    );
  }
  const cmds: [string, string | null][] = [
    ["auth.passphrase_cmd", p.auth.passphrase_cmd],
    ["auth.password_cmd", p.auth.password_cmd],
    ["sudo_password_cmd", p.sudo_password_cmd],
  ];
  for (const [k, v] of cmds) {
    if (v !== null && isLiteralSecretCommand(v)) {
      warn(
        `${k} starts with echo/printf: the literal secret is visible in the local process list ` +
          "and in hosts.toml; use a password manager command or a *_secret file",
      );
    }
  }
  if (p.sudo_mode === "persistent-su") {
    warn('sudo_mode = "persistent-su" is not implemented; per-call sudo is used');
  }
  if (p.auth.method === "key" && p.auth.key === null) {
    warn('auth.method = "key" without auth.key: connections will fail (AuthenticationFailed)');
  }
  if (
    p.auth.method === "password" && p.auth.password_cmd === null && p.auth.password_secret === null
  ) {
    warn(
      'auth.method = "password" without password_cmd or password_secret: connections will fail',
    );
  }
  if (p.auth.method === "agent" && p.auth.identities_only && p.auth.identity_fingerprint === null) {
    warn("auth.identities_only = true without identity_fingerprint: connections will fail");
  }
  if (
    p.command_timeout !== null && p.max_command_timeout !== null &&
    p.command_timeout > p.max_command_timeout
  ) {
    warn("command_timeout is above max_command_timeout");
  }
}

function normalizeRoot(r: string): string {
  const n = path.posix.normalize(r);
  return n.length > 1 && n.endsWith("/") ? n.slice(0, -1) : n;
}
