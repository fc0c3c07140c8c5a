/**
 * Startup configuration (`.env` + environment + hosts.toml) and hosts.toml
 * reload (CONFIG.md §1, §9, §10).
 *
 * @module
 */

import * as path from "../util/local_path.ts";
import { expandPath, loadDotenv } from "./env.ts";
import { loadHostsFile } from "./hosts.ts";
import { ipLibLoaded, IpLibNotLoaded } from "./ip_slot.ts";
import { parseSettings } from "./settings.ts";
import type { ConfigNotice, HostPolicy, HostsFile, Settings } from "./types.ts";

/** Everything read at startup. */
export interface LoadedConfig {
  readonly settings: Settings;
  readonly hosts: HostsFile;
  /** absolute path of the `.env` file read, or null */
  readonly dotenvPath: string | null;
  /** startup notices in order: dotenv, settings, ssh_config, hosts file */
  readonly notices: readonly ConfigNotice[];
  /** the environment after merging `.env` (the real environment wins) */
  readonly env: Readonly<Record<string, string>>;
  readonly cwd: string;
}

/**
 * Startup: dotenv + settings + hosts file; throws ConfigError on any fatal
 * rule. Notices include the `.env` INFO line (AC-050) and the
 * `SSH_CONFIG_FILE` honoring / missing line (AC-051).
 *
 * Address checks run through {@link withAddressChecks}: a configuration
 * without address lists (and a loopback default bind address) never loads
 * `ipaddr.js`, which keeps it out of the launcher's start.
 */
export function loadConfig(
  opts: { env: Record<string, string>; cwd: string },
): Promise<LoadedConfig> {
  return withAddressChecks(() => loadOnce(opts));
}

/**
 * Runs a parse that may check addresses: without `ipaddr.js` unless it is
 * already loaded and, when a check asked for it ({@link IpLibNotLoaded}), once
 * more after importing `ip_lib.ts` (see `ip_slot.ts`). The answer is the same
 * either way; `parse` must be repeatable (it reads and parses, nothing else).
 */
async function withAddressChecks<T>(parse: () => Promise<T>): Promise<T> {
  try {
    return await parse();
  } catch (e) {
    if (!(e instanceof IpLibNotLoaded) || ipLibLoaded()) throw e;
    await import("./ip_lib.ts");
    return await parse();
  }
}

async function loadOnce(
  opts: { env: Record<string, string>; cwd: string },
): Promise<LoadedConfig> {
  const cwd = path.resolve(opts.cwd);
  const dot = loadDotenv(opts.env, cwd);
  const notices: ConfigNotice[] = [{
    level: "INFO",
    message: dot.path !== null
      ? `dotenv: loaded ${dot.path}`
      : dot.disabled
      ? "dotenv: disabled (SSH_MCP_DISABLE_DOTENV)"
      : "dotenv: absent",
  }, ...dot.notices];
  const { settings, notices: settingNotices } = parseSettings(dot.vars, { cwd });
  notices.push(...settingNotices);
  notices.push(...sshConfigNotices(settings, cwd, dot.vars));
  const hosts = await loadHostsFile(settings, cwd, dot.vars);
  notices.push(...hosts.notices);
  return { settings, hosts, dotenvPath: dot.path, notices, env: dot.vars, cwd };
}

function sshConfigNotices(
  settings: Settings,
  cwd: string,
  env: Record<string, string>,
): ConfigNotice[] {
  if (settings.SSH_CONFIG_FILE === null) return [];
  const file = path.resolve(cwd, expandPath(settings.SSH_CONFIG_FILE, env));
  try {
    if (Deno.statSync(file).isFile) {
      return [{ level: "INFO", message: `ssh_config: honoring ${file}` }];
    }
  } catch {
    // missing or unreadable: warn below
  }
  return [{ level: "WARNING", message: `ssh_config: SSH_CONFIG_FILE ${file} does not exist` }];
}

/** Result of {@link reloadHosts}. */
export interface ReloadResult {
  hosts: HostsFile;
  added: string[];
  removed: string[];
  changed: string[];
}

/**
 * Reload (ssh_host_reload / SIGHUP): re-reads only hosts.toml with the same
 * validation, reusing the already-parsed settings; throws ConfigError and
 * changes nothing on failure. `current` is never mutated: the caller swaps
 * in the returned HostsFile. `changed` = aliases present before and after
 * whose full policy differs structurally. A hosts file that disappeared means
 * env-only mode (every alias removed), as at startup.
 */
export async function reloadHosts(current: LoadedConfig): Promise<ReloadResult> {
  const hosts = await withAddressChecks(() =>
    loadHostsFile(current.settings, current.cwd, current.env)
  );
  const before = current.hosts.hosts;
  const after = hosts.hosts;
  const added = [...after.keys()].filter((a) => !before.has(a));
  const removed = [...before.keys()].filter((a) => !after.has(a));
  const changed = [...after.keys()].filter((a) => {
    const old = before.get(a);
    return old !== undefined && !deepEqual(old, after.get(a) as HostPolicy);
  });
  return { hosts, added, removed, changed };
}

/** Structural equality of JSON-like values (key order ignored). */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  }
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  const rb = b as Record<string, unknown>;
  const ra = a as Record<string, unknown>;
  return ka.every((k) => Object.hasOwn(rb, k) && deepEqual(ra[k], rb[k]));
}
