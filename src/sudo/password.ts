/**
 * Sudo password sources (SECURITY.md SUDO-2, CONFIG.md §3.7), in order:
 *
 * 1. per-host `sudo_password_cmd`
 * 2. per-host `sudo_password_secret` (secret file; never `SSH_MCP_SECRET_*`)
 * 3. OS keyring, service `ssh-mcp-sudo`, account `<alias>`
 * 4. `SSH_SUDO_PASSWORD_CMD`
 * 5. OS keyring, service `ssh-mcp-sudo`, account `default`
 * 6. none (sudo runs with `-n`)
 *
 * A failing source is skipped with a WARNING that names the source, never its
 * output or stderr. The keyring is reached through the platform CLI
 * (`secret-tool` on Linux, `security` on macOS, PowerShell's
 * CredentialManager module on Windows); a missing CLI skips the source
 * silently, as does a keyring without an entry. The password is fetched once
 * per tool call and never cached across calls. `SSH_SUDO_PASSWORD` is never
 * read here (it is fatal at startup, AUTH-7).
 *
 * @module
 */

import * as path from "node:path";
import type { HostPolicy, Settings } from "../config/types.ts";
import { readSecret, runSecretCommand } from "../config/secrets.ts";
import { isToolError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { quote } from "../checked.ts";

/** Keyring service name of sudo passwords. */
export const KEYRING_SERVICE = "ssh-mcp-sudo";

/** Where a password came from (for logs and tests; never the value). */
export type PasswordSource =
  | "sudo_password_cmd"
  | "sudo_password_secret"
  | "keyring:alias"
  | "SSH_SUDO_PASSWORD_CMD"
  | "keyring:default";

/** A fetched password, or none. */
export interface SudoPassword {
  value: string | null;
  source: PasswordSource | null;
}

/** The I/O the resolver uses (real implementations by default; tests inject fakes). */
export interface PasswordDeps {
  runCommand(cmd: string, what: string): Promise<string>;
  readSecret(name: string, what: string): Promise<string>;
  /** null when no keyring CLI exists or it has no entry */
  keyring(account: string): Promise<string | null>;
}

/** Inputs the real {@link PasswordDeps} need. */
export interface PasswordEnv {
  settings: Settings;
  /** the configuration's environment (PATH for the keyring CLI, secrets dir expansion) */
  env: Record<string, string | undefined>;
  logger: Logger;
}

/** Finds an executable on PATH (absolute path) or null. */
export async function findOnPath(
  name: string,
  envPath: string | undefined,
): Promise<string | null> {
  const dirs = (envPath ?? "").split(Deno.build.os === "windows" ? ";" : ":").filter(Boolean);
  const exts = Deno.build.os === "windows" ? [".exe", ".cmd", ""] : [""];
  for (const d of dirs) {
    for (const ext of exts) {
      const p = path.join(d, name + ext);
      try {
        // sequential probing of PATH entries; the first hit wins
        // deno-lint-ignore no-await-in-loop
        const st = await Deno.stat(p);
        if (st.isFile && (Deno.build.os === "windows" || ((st.mode ?? 0) & 0o111) !== 0)) return p;
      } catch {
        // not here
      }
    }
  }
  return null;
}

/** PowerShell single-quoted literal (INPUT-4 escaping). */
function psQuote(s: string): string {
  return "'" + s.replaceAll("'", "''") + "'";
}

/**
 * The keyring lookup command for this platform, or null when the CLI is
 * missing (the source is then skipped).
 */
export async function keyringCommand(
  account: string,
  envPath: string | undefined,
  os: typeof Deno.build.os = Deno.build.os,
): Promise<string | null> {
  if (os === "darwin") {
    const cli = await findOnPath("security", envPath);
    return cli
      ? `${quote(cli)} find-generic-password -s ${quote(KEYRING_SERVICE)} -a ${quote(account)} -w`
      : null;
  }
  if (os === "windows") {
    const cli = await findOnPath("powershell", envPath);
    if (!cli) return null;
    const script = `$c = Get-StoredCredential -Target ${
      psQuote(`${KEYRING_SERVICE}/${account}`)
    }; if ($c) { $c.GetNetworkCredential().Password } else { exit 1 }`;
    return `"${cli}" -NoProfile -NonInteractive -Command "${script.replaceAll('"', '\\"')}"`;
  }
  const cli = await findOnPath("secret-tool", envPath);
  return cli
    ? `${quote(cli)} lookup service ${quote(KEYRING_SERVICE)} user ${quote(account)}`
    : null;
}

/** The real sources. */
export function realPasswordDeps(e: PasswordEnv): PasswordDeps {
  return {
    runCommand: (cmd, what) => runSecretCommand(cmd, { what }),
    readSecret: (name, what) =>
      readSecret(name, {
        dir: e.settings.SSH_SECRETS_DIR,
        // CONFIG.md §4.7: SSH_MCP_SECRET_* variables are never a sudo password source
        allowEnv: false,
        env: e.env,
        what,
        logger: e.logger,
      }),
    async keyring(account) {
      const cmd = await keyringCommand(account, e.env.PATH);
      if (!cmd) return null;
      try {
        const v = await runSecretCommand(cmd, { what: `keyring ${KEYRING_SERVICE}/${account}` });
        return v === "" ? null : v;
      } catch {
        // no entry (or a locked keyring): this source has nothing
        return null;
      }
    },
  };
}

/**
 * Resolves the sudo password for one call (SUDO-2 order). Never throws for a
 * failing source; returns `{value: null}` when every source is empty.
 */
export async function resolveSudoPassword(
  policy: HostPolicy,
  settings: Settings,
  deps: PasswordDeps,
  logger: Logger,
): Promise<SudoPassword> {
  const attempt = async (
    source: PasswordSource,
    fetch: () => Promise<string>,
  ): Promise<SudoPassword | null> => {
    try {
      const value = await fetch();
      // a line break would end the password early and turn the rest into command input
      if (value !== "" && !/[\r\n]/.test(value)) return { value, source };
      logger.warn(
        "sudo password source returned an empty value or one with a line break; trying the next one",
        { host: policy.alias, source },
      );
    } catch (e) {
      logger.warn("sudo password source failed; trying the next one", {
        host: policy.alias,
        source,
        error: isToolError(e) ? e.code : "error",
      });
    }
    return null;
  };
  const hostCmd = policy.sudo_password_cmd;
  const hostSecret = policy.sudo_password_secret;
  const envCmd = settings.SSH_SUDO_PASSWORD_CMD;
  const found = (hostCmd
    ? await attempt(
      "sudo_password_cmd",
      () => deps.runCommand(hostCmd, `sudo_password_cmd for host ${policy.alias}`),
    )
    : null) ??
    (hostSecret
      ? await attempt(
        "sudo_password_secret",
        () => deps.readSecret(hostSecret, `sudo_password_secret for host ${policy.alias}`),
      )
      : null);
  if (found) return found;
  const usable = (v: string | null): v is string => v !== null && v !== "" && !/[\r\n]/.test(v);
  const perHost = await deps.keyring(policy.alias);
  if (usable(perHost)) return { value: perHost, source: "keyring:alias" };
  const fromEnv = envCmd
    ? await attempt("SSH_SUDO_PASSWORD_CMD", () => deps.runCommand(envCmd, "SSH_SUDO_PASSWORD_CMD"))
    : null;
  if (fromEnv) return fromEnv;
  const dflt = await deps.keyring("default");
  if (usable(dflt)) return { value: dflt, source: "keyring:default" };
  return { value: null, source: null };
}
