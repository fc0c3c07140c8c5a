/**
 * Network policy: IP / CIDR allow and block lists with DNS verification
 * (CONFIG.md §4.8, SECURITY.md HOST-7, TOOLS.md §15 "network" row).
 *
 * The name to connect to is resolved once to all of its A/AAAA records; every
 * address is checked (block lists first, then, when any allow list is
 * configured, every address must be inside one) and the caller connects to the
 * verified address the decision returns, never to the name (no second lookup,
 * so a DNS answer that changes between check and connect cannot redirect the
 * connection: AC-110).
 *
 * Lookups time out after 5 s, successful answers are cached 60 s per name, and
 * at most 10 real lookups per second are made for one name; concurrent callers
 * share the in-flight lookup.
 *
 * IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) and IPv4-mapped IPv6 ranges
 * (`::ffff:0:0/96` and longer prefixes) are treated as the IPv4 address /
 * range they map, so neither form slips past a rule written in the other.
 *
 * @module
 */

import type ipaddr from "ipaddr.js";
import { ip } from "../config/ip_slot.ts";
import type { NetworkConfig } from "../config/types.ts";
import { ConfigError } from "../errors.ts";
import { canonicalIpAddress, isCanonicalIp, normalizeHostname } from "./hostname.ts";

/** The outcome of {@link NetworkPolicy.check}. */
export interface NetworkDecision {
  /** true when the connection may be opened */
  allowed: boolean;
  /** all resolved addresses (or the literal IP), canonical text, de-duplicated */
  addresses: string[];
  /**
   * The verified address to connect to (first address, IPv4 preferred); the
   * name itself when DNS resolution is disabled and nothing forbids it; null
   * when denied.
   */
  connectAddress: string | null;
  /** why the connection is denied, e.g. `169.254.169.254 is in block_cidrs 169.254.0.0/16`; null when allowed */
  reason: string | null;
  /** `resolve-failed` when the name could not be resolved (the caller maps it to `ConnectError`, AC-111) */
  kind: "allowed" | "blocked" | "resolve-failed";
}

/** Resolves a name to all of its A and AAAA addresses. */
export type Resolver = (name: string) => Promise<string[]>;

/** Lookup timeout of the resolver (CONFIG.md §4.8). */
export const DNS_TIMEOUT_MS = 5000;
/** How long a successful answer is reused. */
export const DNS_CACHE_TTL_MS = 60_000;
/** Maximum real lookups per name per second. */
export const DNS_MAX_LOOKUPS_PER_SECOND = 10;
/** Names kept in the cache before the oldest entries are dropped. */
const CACHE_MAX_ENTRIES = 4096;

type Addr = ipaddr.IPv4 | ipaddr.IPv6;
type Range = [Addr, number];

/** One parsed list entry, remembered with the list it came from (for reasons). */
interface Rule {
  range: Range;
  entry: string;
  list: string;
}

/** The lists that apply to one check, already parsed. */
interface EffectiveLists {
  block: Rule[];
  allow: Rule[];
  resolveDns: boolean;
}

/** Turns an IPv4-mapped IPv6 address into its IPv4 address. */
function unmap(a: Addr): Addr {
  if (a.kind() === "ipv6") {
    const v6 = a as ipaddr.IPv6;
    if (v6.isIPv4MappedAddress()) return v6.toIPv4Address();
  }
  return a;
}

/** Turns an IPv4-mapped IPv6 range (prefix >= 96) into the IPv4 range. */
function unmapRange([a, bits]: Range): Range {
  if (a.kind() === "ipv6" && bits >= 96) {
    const v6 = a as ipaddr.IPv6;
    if (v6.isIPv4MappedAddress()) return [v6.toIPv4Address(), bits - 96];
  }
  return [a, bits];
}

const PREFIX_RE = /^(0|[1-9][0-9]{0,2})$/;

/** Parses a strict IP (dotted-quad IPv4 or IPv6 without zone); null if invalid. */
function parseStrictIp(s: string): Addr | null {
  if (ip().IPv4.isValidFourPartDecimal(s)) return ip().IPv4.parse(s);
  if (!s.includes("%") && ip().IPv6.isValid(s)) return ip().IPv6.parse(s);
  return null;
}

/**
 * Validates one list entry as an IP (kind `ip`) or a CIDR (kind `cidr`; a bare
 * IP is accepted there as a single-address range). IPv4 must be a dotted quad
 * (no `127.1`, hex or octal forms); IPv6 zone ids are rejected. Returns an
 * error text or null when the entry is valid. Used by the config loader.
 */
export function validateNetworkEntry(entry: string, kind: "ip" | "cidr"): string | null {
  if (typeof entry !== "string" || entry.trim() !== entry || entry.length === 0) {
    return `${JSON.stringify(entry)} is not a valid ${kind === "ip" ? "IP address" : "CIDR"}`;
  }
  const slash = entry.indexOf("/");
  if (kind === "ip" || slash < 0) {
    if (slash >= 0) return `${JSON.stringify(entry)} is a CIDR; *_ips lists take plain addresses`;
    return parseStrictIp(entry) === null
      ? `${JSON.stringify(entry)} is not a valid IP address`
      : null;
  }
  const addr = parseStrictIp(entry.slice(0, slash));
  const prefix = entry.slice(slash + 1);
  if (addr === null) return `${JSON.stringify(entry)} is not a valid CIDR (bad address)`;
  const max = addr.kind() === "ipv4" ? 32 : 128;
  if (!PREFIX_RE.test(prefix) || Number(prefix) > max) {
    return `${JSON.stringify(entry)} is not a valid CIDR (prefix length must be 0..${max})`;
  }
  return null;
}

/** Parses a validated entry into a range (bare IPs become /32 or /128). */
function parseEntry(entry: string, kind: "ip" | "cidr", list: string): Rule {
  const err = validateNetworkEntry(entry, kind);
  if (err !== null) throw new ConfigError(`${list}: ${err}`);
  const slash = entry.indexOf("/");
  let range: Range;
  if (slash >= 0) {
    range = ip().parseCIDR(entry);
  } else {
    const a = ip().parse(entry);
    range = [a, a.kind() === "ipv4" ? 32 : 128];
  }
  return { range: unmapRange(range), entry, list };
}

function parseList(entries: readonly string[], kind: "ip" | "cidr", list: string): Rule[] {
  return entries.map((e) => parseEntry(e, kind, list));
}

function matches(a: Addr, rule: Rule): boolean {
  const [net, bits] = rule.range;
  return a.kind() === net.kind() && a.match(net, bits);
}

/** Races `p` against a timer; the timer is always cleared. */
function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

function errorText(e: unknown): string {
  if (e instanceof Error) {
    const code = (e as Error & { code?: unknown }).code;
    return typeof code === "string" && !e.message.includes(code)
      ? `${code}: ${e.message}`
      : e.message;
  }
  return String(e);
}

/**
 * Default resolver: `node:dns/promises` `lookup(name, {all: true, verbatim:
 * true})` (the system resolver, so `/etc/hosts` applies), with a 5 s timeout.
 * Imported on the first lookup: a static import would start Deno's Node layer
 * before the server's first answer (issue 17).
 */
export const systemResolver: Resolver = async (name: string): Promise<string[]> => {
  const { lookup } = await import("node:dns/promises");
  const answers = await withTimeout(lookup(name, { all: true, verbatim: true }), DNS_TIMEOUT_MS);
  return answers.map((a) => a.address);
};

interface CacheEntry {
  addresses: string[];
  expires: number;
}

/** Options of {@link NetworkPolicy}. */
export interface NetworkPolicyOptions {
  /** hosts.toml `[network]` (already validated) */
  global: NetworkConfig;
  /** `SSH_NETWORK_ALLOW_CIDRS`, unioned into every allow_cidrs list */
  envAllowCidrs: readonly string[];
  /** `SSH_NETWORK_BLOCK_CIDRS`, unioned into every block_cidrs list */
  envBlockCidrs: readonly string[];
  /** `SSH_NETWORK_RESOLVE_DNS`; false turns DNS verification off everywhere */
  resolveDns: boolean;
  /** name resolver; default {@link systemResolver} */
  resolver?: Resolver;
  /** monotonic clock in ms for the cache and the rate limit; default `performance.now` */
  now?: () => number;
  /** lookup timeout in ms; default 5000 (tests use a short one) */
  dnsTimeoutMs?: number;
  /** cache lifetime in ms; default 60000 */
  cacheTtlMs?: number;
  /** real lookups per name per second; default 10 */
  maxLookupsPerSecond?: number;
}

/**
 * The network policy of the server. One instance per loaded configuration
 * (a reload builds a new one, which also drops the DNS cache).
 */
export class NetworkPolicy {
  #global: EffectiveLists;
  #envAllow: Rule[];
  #envBlock: Rule[];
  #envResolve: boolean;
  #resolver: Resolver;
  #now: () => number;
  #timeoutMs: number;
  #ttlMs: number;
  #maxPerSecond: number;
  #overrides = new WeakMap<NetworkConfig, EffectiveLists>();
  #cache = new Map<string, CacheEntry>();
  #inflight = new Map<string, Promise<string[]>>();
  #lookupTimes = new Map<string, number[]>();

  /**
   * `global` = hosts.toml `[network]` (already validated); the env lists
   * `SSH_NETWORK_ALLOW_CIDRS` / `SSH_NETWORK_BLOCK_CIDRS` are unioned into it
   * and into every per-host override; `resolveDns` = `SSH_NETWORK_RESOLVE_DNS`
   * (ANDed with the `resolve_dns` key of the table in force).
   *
   * @throws ConfigError when a list entry is not a valid IP / CIDR
   */
  constructor(opts: NetworkPolicyOptions) {
    this.#envAllow = parseList(opts.envAllowCidrs, "cidr", "SSH_NETWORK_ALLOW_CIDRS");
    this.#envBlock = parseList(opts.envBlockCidrs, "cidr", "SSH_NETWORK_BLOCK_CIDRS");
    this.#envResolve = opts.resolveDns;
    this.#global = this.#effective(opts.global);
    this.#resolver = opts.resolver ?? systemResolver;
    this.#now = opts.now ?? (() => performance.now());
    this.#timeoutMs = opts.dnsTimeoutMs ?? DNS_TIMEOUT_MS;
    this.#ttlMs = opts.cacheTtlMs ?? DNS_CACHE_TTL_MS;
    this.#maxPerSecond = opts.maxLookupsPerSecond ?? DNS_MAX_LOOKUPS_PER_SECOND;
  }

  /**
   * True when no list is configured globally or in the env lists (per-host
   * overrides may still restrict a host). Checks still resolve names to
   * provide the connect address.
   */
  get unrestricted(): boolean {
    return this.#global.allow.length === 0 && this.#global.block.length === 0;
  }

  #effective(cfg: NetworkConfig): EffectiveLists {
    return {
      block: [
        ...parseList(cfg.block_ips, "ip", "block_ips"),
        ...parseList(cfg.block_cidrs, "cidr", "block_cidrs"),
        ...this.#envBlock,
      ],
      allow: [
        ...parseList(cfg.allow_ips, "ip", "allow_ips"),
        ...parseList(cfg.allow_cidrs, "cidr", "allow_cidrs"),
        ...this.#envAllow,
      ],
      resolveDns: cfg.resolve_dns && this.#envResolve,
    };
  }

  #listsFor(override: NetworkConfig | null): EffectiveLists {
    if (override === null) return this.#global;
    let eff = this.#overrides.get(override);
    if (eff === undefined) {
      try {
        eff = this.#effective(override);
      } catch (e) {
        throw new ConfigError(`hosts.<alias>.network: ${errorText(e)}`);
      }
      this.#overrides.set(override, eff);
    }
    return eff;
  }

  /**
   * Decides whether `hostname` (the final connect name: after ssh_config
   * `HostName`; also every proxy hop) may be connected to.
   *
   * Per-host lists (`hostOverride`) REPLACE the global lists for that host;
   * the env lists still union in. Block lists are checked first; if any allow
   * list (cidrs or ips) is non-empty, EVERY address must be in one. Literal
   * IPs skip DNS but are checked. With `resolve_dns = false` names are not
   * resolved: block lists cannot apply to names, and when an allow list is
   * non-empty a name cannot be verified, so it is blocked; an allowed name is
   * returned as its own `connectAddress`.
   */
  async check(hostname: string, hostOverride: NetworkConfig | null): Promise<NetworkDecision> {
    const lists = this.#listsFor(hostOverride);
    const name = normalizeHostname(hostname);
    if (name === null) {
      return deny("blocked", [], `${JSON.stringify(hostname)} is not a valid host name`);
    }
    if (isCanonicalIp(name)) return evaluate([name], lists);
    if (!lists.resolveDns) {
      if (lists.allow.length > 0) {
        return deny(
          "blocked",
          [],
          `${name} cannot be verified against the allow lists: DNS resolution is disabled (resolve_dns = false)`,
        );
      }
      return { allowed: true, addresses: [], connectAddress: name, reason: null, kind: "allowed" };
    }
    let answer: string[];
    try {
      answer = await this.#resolve(name);
    } catch (e) {
      return deny("resolve-failed", [], `DNS lookup failed: ${errorText(e)}`);
    }
    return evaluate(answer, lists);
  }

  /** Cached / rate-limited / shared lookup of a normalised name. */
  #resolve(name: string): Promise<string[]> {
    const now = this.#now();
    const hit = this.#cache.get(name);
    if (hit !== undefined) {
      if (hit.expires > now) return Promise.resolve(hit.addresses);
      this.#cache.delete(name);
    }
    const pending = this.#inflight.get(name);
    if (pending !== undefined) return pending;

    const times = (this.#lookupTimes.get(name) ?? []).filter((t) => now - t < 1000);
    if (times.length >= this.#maxPerSecond) {
      this.#lookupTimes.set(name, times);
      return Promise.reject(
        new Error(`rate limit of ${this.#maxPerSecond} lookups per second reached`),
      );
    }
    times.push(now);
    this.#lookupTimes.set(name, times);
    this.#pruneLookupTimes(now);

    const p = (async () => {
      try {
        const raw = await withTimeout(
          Promise.resolve().then(() => this.#resolver(name)),
          this.#timeoutMs,
        );
        const addresses = canonicalAnswer(raw);
        this.#store(name, addresses);
        return addresses;
      } finally {
        this.#inflight.delete(name);
      }
    })();
    this.#inflight.set(name, p);
    return p;
  }

  #store(name: string, addresses: string[]): void {
    const now = this.#now();
    this.#cache.delete(name);
    this.#cache.set(name, { addresses, expires: now + this.#ttlMs });
    if (this.#cache.size <= CACHE_MAX_ENTRIES) return;
    for (const [k, v] of this.#cache) {
      if (v.expires <= now) this.#cache.delete(k);
    }
    for (const k of this.#cache.keys()) {
      if (this.#cache.size <= CACHE_MAX_ENTRIES) break;
      this.#cache.delete(k);
    }
  }

  #pruneLookupTimes(now: number): void {
    if (this.#lookupTimes.size <= CACHE_MAX_ENTRIES) return;
    for (const [k, v] of this.#lookupTimes) {
      if (v.every((t) => now - t >= 1000)) this.#lookupTimes.delete(k);
    }
  }
}

/** Canonicalises and de-duplicates a resolver answer; throws on garbage or an empty answer. */
function canonicalAnswer(raw: unknown): string[] {
  if (!Array.isArray(raw)) throw new Error("resolver returned no address list");
  const out: string[] = [];
  for (const a of raw) {
    const c = typeof a === "string" ? canonicalIpAddress(a) : null;
    if (c === null) throw new Error(`resolver returned an invalid address ${JSON.stringify(a)}`);
    if (!out.includes(c)) out.push(c);
  }
  if (out.length === 0) throw new Error("no A/AAAA records");
  return out;
}

function deny(
  kind: "blocked" | "resolve-failed",
  addresses: string[],
  reason: string,
): NetworkDecision {
  return { allowed: false, addresses, connectAddress: null, reason, kind };
}

/** Applies the lists to canonical addresses. */
function evaluate(addresses: string[], lists: EffectiveLists): NetworkDecision {
  const parsed = addresses.map((a) => ({ text: a, addr: unmap(ip().parse(a)) }));
  for (const { text, addr } of parsed) {
    const rule = lists.block.find((r) => matches(addr, r));
    if (rule !== undefined) {
      return deny("blocked", addresses, `${text} is in ${rule.list} ${rule.entry}`);
    }
  }
  if (lists.allow.length > 0) {
    for (const { text, addr } of parsed) {
      if (!lists.allow.some((r) => matches(addr, r))) {
        return deny("blocked", addresses, `${text} is not in any allow list`);
      }
    }
  }
  const v4 = parsed.find((p) => p.addr.kind() === "ipv4");
  const first = v4 ?? parsed[0];
  return {
    allowed: true,
    addresses,
    connectAddress: first === undefined ? null : first.text,
    reason: null,
    kind: "allowed",
  };
}
