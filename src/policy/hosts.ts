/**
 * Host selection (CONFIG.md §6, SECURITY.md §HOST).
 *
 * Resolution of a `host` argument, in order: hosts.toml alias -> the
 * `hostname` of some entry (first in file order) -> `SSH_HOSTS_ALLOWLIST`
 * entry -> `HostNotAllowed` listing the aliases. The blocklist is then matched
 * against the selected policy's canonical hostname, normalised (HOST-2, HOST-5);
 * unknown-and-blocked names report `HostNotAllowed` (HOST-3).
 *
 * One registry value is immutable; a reload builds a new one and swaps it.
 *
 * @module
 */

import type { HostPolicy, HostsFile, Settings } from "../config/types.ts";
import { envHostPolicy } from "../config/hosts.ts";
import { ToolError } from "../errors.ts";
import { normalizeHostname } from "./hostname.ts";
import { deepFreeze } from "../util/freeze.ts";

/** Immutable view of the configured hosts. */
export class HostRegistry {
  readonly file: HostsFile;
  readonly #settings: Settings;
  readonly #byHostname = new Map<string, HostPolicy>();
  readonly #allowlist: Set<string>;
  readonly #blocked: Set<string>;
  readonly #envPolicies = new Map<string, HostPolicy>();

  constructor(file: HostsFile, settings: Settings) {
    this.file = file;
    this.#settings = settings;
    for (const p of file.hosts.values()) {
      // policies are shared with every call: nothing may widen them in place
      deepFreeze(p);
      if (!this.#byHostname.has(p.hostname)) this.#byHostname.set(p.hostname, p);
    }
    this.#allowlist = new Set(settings.SSH_HOSTS_ALLOWLIST);
    this.#blocked = new Set(
      settings.SSH_HOSTS_BLOCKLIST.map((h) => normalizeHostname(h) ?? h.toLowerCase()),
    );
  }

  /** hosts.toml entries in file order. */
  list(): HostPolicy[] {
    return [...this.file.hosts.values()];
  }

  /** The hosts.toml entry with this alias. */
  get(alias: string): HostPolicy | undefined {
    return this.file.hosts.get(alias);
  }

  /** True when no host can ever be selected. */
  get empty(): boolean {
    return this.file.hosts.size === 0 && this.#allowlist.size === 0;
  }

  /** True when `hostname` (any spelling) is on `SSH_HOSTS_BLOCKLIST`. */
  isBlocked(hostname: string): boolean {
    const n = normalizeHostname(hostname) ?? hostname.toLowerCase();
    return this.#blocked.has(n);
  }

  /** Resolution without the blocklist (HOST-1). */
  lookup(host: string): HostPolicy | undefined {
    const byAlias = this.file.hosts.get(host);
    if (byAlias) return byAlias;
    const byName = this.#byHostname.get(host);
    if (byName) return byName;
    if (this.#allowlist.has(host)) {
      let p = this.#envPolicies.get(host);
      if (!p) {
        p = deepFreeze(envHostPolicy(host, this.#settings));
        this.#envPolicies.set(host, p);
      }
      return p;
    }
    return undefined;
  }

  /** Full resolution of a tool's `host` argument (HOST-1..3). */
  resolve(host: string): HostPolicy {
    if (this.empty) {
      throw new ToolError(
        "HostNotAllowed",
        "No hosts configured: add entries to hosts.toml (SSH_HOSTS_FILE) or names to SSH_HOSTS_ALLOWLIST.",
      );
    }
    const p = this.lookup(host);
    if (!p) {
      const aliases = [...this.file.hosts.keys()].sort();
      const shown = aliases.length > 20 ? [...aliases.slice(0, 20), "..."] : aliases;
      throw new ToolError(
        "HostNotAllowed",
        `Host ${JSON.stringify(host)} is not configured. Known aliases: ${
          shown.length ? shown.join(", ") : "(none; only SSH_HOSTS_ALLOWLIST names)"
        }. Use ssh_host_list to see them.`,
      );
    }
    this.assertNotBlocked(p, host);
    return p;
  }

  /** Throws HostBlocked when the policy's hostname is blocklisted (HOST-2, HOST-4). */
  assertNotBlocked(p: HostPolicy, requested: string = p.alias): void {
    if (this.isBlocked(p.hostname)) {
      throw new ToolError(
        "HostBlocked",
        `Host ${
          JSON.stringify(requested)
        } (${p.hostname}) is on SSH_HOSTS_BLOCKLIST; the operator has blocked it.`,
        { reason: "blocklist" },
      );
    }
  }
}
