/**
 * Host / Match evaluation: which blocks of a parsed ssh_config apply to a
 * host ({@link hostLineMatches}, OpenSSH's `match_pattern` in
 * {@link wildcardMatch}) and which option values win
 * ({@link collectOptions}: first value wins, IdentityFile accumulates,
 * ProxyJump and ProxyCommand exclude each other).
 *
 * @module
 */

import type { Item, Opt } from "./ssh_config_parse.ts";

/** OpenSSH's identity file limit (SSH_MAX_IDENTITY_FILES). */
const MAX_IDENTITY_FILES = 100;

/** `fnmatch`-style match of OpenSSH's `match_pattern` (`*`, `?`). */
export function wildcardMatch(s: string, pattern: string): boolean {
  // iterative glob with backtracking on the last '*'
  let si = 0;
  let pi = 0;
  let star = -1;
  let mark = 0;
  while (si < s.length) {
    const pc = pattern[pi];
    if (pc === "?" || (pc !== undefined && pc !== "*" && pc === s[si])) {
      si++;
      pi++;
    } else if (pc === "*") {
      star = pi++;
      mark = si;
    } else if (star >= 0) {
      pi = star + 1;
      si = ++mark;
    } else {
      return false;
    }
  }
  while (pattern[pi] === "*") pi++;
  return pi === pattern.length;
}

/** A `Host` line matches when a positive pattern matches and no negated one does. */
function hostLineMatches(host: string, patterns: string[]): boolean {
  let active = false;
  for (const raw of patterns) {
    const negated = raw.startsWith("!");
    const p = (negated ? raw.slice(1) : raw).toLowerCase();
    if (wildcardMatch(host, p)) {
      if (negated) return false;
      active = true;
    }
  }
  return active;
}

/** The option values that apply to one host, from {@link collectOptions}. */
export interface CollectedOptions {
  /** the winning line of each single-valued option, by keyword */
  got: Map<string, { opt: Opt; at: string }>;
  /** every IdentityFile of every matching block, in order, raw, de-duplicated */
  identities: { v: string; at: string }[];
}

/**
 * Walks the parsed `items` for `h` (the lower-cased host) like OpenSSH: a
 * `Host` / `Match` line switches the following options on or off, the first
 * value of an option wins, IdentityFile accumulates (up to
 * MAX_IDENTITY_FILES), and ProxyJump / ProxyCommand exclude each other.
 */
export function collectOptions(items: Item[], h: string): CollectedOptions {
  const got = new Map<string, { opt: Opt; at: string }>();
  const identities: { v: string; at: string }[] = [];
  // OpenSSH: ProxyJump and ProxyCommand exclude each other, first one wins.
  let jumpSeen = false;
  let proxyCommandSeen = false;

  const apply = (opt: Opt, at: string): void => {
    switch (opt.k) {
      case "identityfile":
        if (
          identities.length < MAX_IDENTITY_FILES && !identities.some((i) => i.v === opt.v)
        ) identities.push({ v: opt.v, at });
        return;
      case "proxyjump":
        if (jumpSeen || proxyCommandSeen) return;
        jumpSeen = true;
        if (opt.v !== "none") proxyCommandSeen = true;
        got.set(opt.k, { opt, at });
        return;
      case "proxycommand":
        // `ProxyJump none` does not block a later ProxyCommand (OpenSSH 9.x)
        if (proxyCommandSeen) return;
        proxyCommandSeen = true;
        got.set(opt.k, { opt, at });
        return;
      default:
        if (!got.has(opt.k)) got.set(opt.k, { opt, at });
    }
  };

  const walk = (list: Item[], startActive: boolean): void => {
    let active = startActive;
    for (const it of list) {
      switch (it.t) {
        case "host":
          active = hostLineMatches(h, it.patterns);
          break;
        case "match":
          active = it.all;
          break;
        case "opt":
          if (active) apply(it.opt, it.at);
          break;
        case "include":
          // an Include in an inactive block contributes nothing (SSHCONF_NEVERMATCH);
          // Host lines inside an included file do not change the includer's state
          if (active) walk(it.items, true);
          break;
      }
    }
  };
  walk(items, true);
  return { got, identities };
}
