/**
 * OpenSSH client configuration, the subset ssh-mcp honours (CONFIG.md §7).
 *
 * ssh2 has no config parser, so this module reads `SSH_CONFIG_FILE` itself and
 * answers "what would `ssh -G <host>` say" for the keywords below. The file
 * only contributes connection details; it can never widen policy, and the
 * caller re-checks every name it yields (HOST-6, HOST-8).
 *
 * Supported: `Host` (several whitespace-separated patterns, `*`, `?`, `!neg`),
 * `Match all` (= `Host *`), `Include` (globs, `~`, relative to `~/.ssh`, depth
 * limit 16), `Key value` / `Key=value` / quoted values / comments, and the
 * keywords HostName, Port, User, IdentityFile, IdentitiesOnly, IdentityAgent,
 * ProxyJump, ProxyCommand, ConnectTimeout, ServerAliveInterval, Ciphers, MACs,
 * KexAlgorithms, HostKeyAlgorithms, HostKeyAlias. The first obtained value
 * wins (IdentityFile accumulates).
 *
 * Not supported: any other `Match` (WARNING; the block is ignored up to the
 * next `Host` / `Match`). Forwarding keywords (ForwardAgent, LocalForward,
 * RemoteForward, DynamicForward, ForwardX11, Tunnel, LocalCommand, ...) are
 * ignored with a WARNING (AC-115); all other keywords are ignored (DEBUG).
 *
 * Deliberate differences from OpenSSH: a bad line is a warning and is skipped
 * (OpenSSH refuses the whole file); `Host` patterns match case-insensitively
 * (OpenSSH compares the typed name case-sensitively); IdentityFile tokens
 * `%d %u %h %r %n %p %%`, `~` and `${VAR}` are supported, other tokens drop
 * the entry with a warning; an include file that is writable by group/others
 * or owned by another user is skipped with a warning (OpenSSH aborts).
 *
 * @module
 */

import { isAbsolute, join, resolve as resolvePath } from "node:path";
import ssh2Constants from "ssh2/lib/protocol/constants.js";
import { type Logger, nullLogger } from "../log.ts";

/** One ProxyJump hop. */
export interface ProxyJumpHop {
  user: string | null;
  host: string;
  port: number | null;
}

/** The options ssh_config yields for one host (null = not set in the file). */
export interface SshConfigResult {
  /** `HostName` (tokens `%h` / `%%` expanded, lower-cased) */
  hostName: string | null;
  port: number | null;
  user: string | null;
  /** every IdentityFile of every matching block, in order, expanded, de-duplicated */
  identityFiles: string[];
  identitiesOnly: boolean | null;
  /**
   * `IdentityAgent` expanded (`~`, `${VAR}`, tokens); `SSH_AUTH_SOCK` and
   * `$VAR` are replaced by that environment variable (null when unset);
   * `none` is returned as the string `none` (= use no agent).
   */
  identityAgent: string | null;
  /** jump hops in connection order; null when unset or `ProxyJump none` */
  proxyJump: ProxyJumpHop[] | null;
  /**
   * raw `ProxyCommand` (tokens not expanded); null when unset or `none`. It
   * runs a local command: the caller honours it only with
   * `ALLOW_SSH_CONFIG_PROXYCOMMAND=true` (a warning is added to `warnings`).
   */
  proxyCommand: string | null;
  /** seconds; null when unset or `none` */
  connectTimeout: number | null;
  /** seconds; 0 disables */
  serverAliveInterval: number | null;
  /** algorithm lists with `+` / `-` / `^` applied to the defaults */
  ciphers: string[] | null;
  macs: string[] | null;
  kexAlgorithms: string[] | null;
  hostKeyAlgorithms: string[] | null;
  hostKeyAlias: string | null;
  /** problems found while resolving this host (bad tokens, ProxyCommand present, ...) */
  warnings: string[];
}

/** Default algorithm lists used to resolve `+` / `-` / `^` modifiers. */
export interface AlgorithmDefaults {
  ciphers: string[];
  macs: string[];
  kexAlgorithms: string[];
  hostKeyAlgorithms: string[];
}

/** Context of {@link SshConfig.resolve}. */
export interface ResolveContext {
  /** `%u` */
  localUser: string;
  /** `%r` */
  remoteUser: string;
  /** `%d` and `~` */
  home: string;
  /** `%p` when the file sets no Port (default 22) */
  port?: number;
  /** defaults for the algorithm modifiers; default {@link SSH2_ALGORITHMS}.defaults */
  algorithmDefaults?: AlgorithmDefaults;
}

function stringList(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
}

const C = ssh2Constants as unknown as Record<string, unknown>;

/**
 * The algorithm names of the bundled ssh2 (default and supported lists, as
 * computed by ssh2 for this runtime's crypto).
 */
export const SSH2_ALGORITHMS: { defaults: AlgorithmDefaults; supported: AlgorithmDefaults } = {
  defaults: {
    ciphers: stringList(C.DEFAULT_CIPHER),
    macs: stringList(C.DEFAULT_MAC),
    kexAlgorithms: stringList(C.DEFAULT_KEX),
    hostKeyAlgorithms: stringList(C.DEFAULT_SERVER_HOST_KEY),
  },
  supported: {
    ciphers: stringList(C.SUPPORTED_CIPHER),
    macs: stringList(C.SUPPORTED_MAC),
    kexAlgorithms: stringList(C.SUPPORTED_KEX),
    hostKeyAlgorithms: stringList(C.SUPPORTED_SERVER_HOST_KEY),
  },
};

/** OpenSSH's include recursion limit (READCONF_MAX_DEPTH). */
export const MAX_INCLUDE_DEPTH = 16;
/** OpenSSH's identity file limit (SSH_MAX_IDENTITY_FILES). */
const MAX_IDENTITY_FILES = 100;

type AlgoKey = "ciphers" | "macs" | "kexalgorithms" | "hostkeyalgorithms";

type Opt =
  | {
    k: "hostname" | "user" | "identityfile" | "identityagent" | "hostkeyalias" | "proxycommand";
    v: string;
  }
  | { k: "port" | "serveraliveinterval"; v: number }
  | { k: "connecttimeout"; v: number | null }
  | { k: "identitiesonly"; v: boolean }
  | { k: "proxyjump"; v: ProxyJumpHop[] | "none" }
  | { k: AlgoKey; v: string };

type Item =
  | { t: "host"; patterns: string[]; at: string }
  | { t: "match"; all: boolean; at: string }
  | { t: "opt"; opt: Opt; at: string }
  | { t: "include"; items: Item[]; at: string };

/** Keywords that would forward something or run local commands: ignored with a WARNING (AC-115). */
const FORWARDING = new Map<string, string>([
  ["forwardagent", "ForwardAgent"],
  ["forwardx11", "ForwardX11"],
  ["forwardx11trusted", "ForwardX11Trusted"],
  ["localforward", "LocalForward"],
  ["remoteforward", "RemoteForward"],
  ["dynamicforward", "DynamicForward"],
  ["tunnel", "Tunnel"],
  ["tunneldevice", "TunnelDevice"],
  ["permitlocalcommand", "PermitLocalCommand"],
  ["localcommand", "LocalCommand"],
  ["remotecommand", "RemoteCommand"],
  ["gatewayports", "GatewayPorts"],
]);
/** Values of a forwarding keyword that request nothing (no warning). */
const NEGATIVE = new Set(["no", "false", "none", "off"]);

const WS = " \t";

/**
 * Splits the argument part of a line like OpenSSH's `argv_split` (quotes
 * removed, `\"`, `\'`, `\\` and `\ ` escapes, an unquoted `#` starting a
 * comment). Returns null on an unterminated quote.
 */
export function splitArgs(s: string): string[] | null {
  const out: string[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i] as string;
    if (WS.includes(c)) {
      i++;
      continue;
    }
    if (c === "#") break;
    let quote = "";
    let arg = "";
    for (; i < s.length; i++) {
      const ch = s[i] as string;
      if (ch === "\\") {
        const next = s[i + 1];
        if (
          next === "'" || next === '"' || next === "\\" || (quote === "" && next === " ")
        ) {
          i++;
          arg += next;
        } else {
          arg += ch;
        }
      } else if (quote === "" && WS.includes(ch)) {
        break;
      } else if (quote === "" && (ch === '"' || ch === "'")) {
        quote = ch;
      } else if (quote !== "" && ch === quote) {
        quote = "";
      } else {
        arg += ch;
      }
    }
    if (quote !== "") return null;
    out.push(arg);
  }
  return out;
}

/**
 * Splits a line into keyword and the rest (OpenSSH `strdelim`: the keyword
 * ends at whitespace or one `=`). Returns null for blank and comment lines.
 */
function splitKeyword(line: string): { keyword: string; rest: string } | null {
  const m = /^[ \t]*([^ \t="]+)[ \t]*(?:=[ \t]*)?/.exec(line);
  if (m === null) {
    return line.trim() === "" ? null : { keyword: line.trim(), rest: "" };
  }
  const keyword = m[1] as string;
  if (keyword.startsWith("#")) return null;
  return { keyword, rest: line.slice(m[0].length) };
}

/** `fnmatch`-style match of OpenSSH's `match_pattern` (`*`, `?`). */
function wildcardMatch(s: string, pattern: string): boolean {
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

/** OpenSSH `convtime`: `90`, `1m30s`, `2h`; returns seconds or null. */
function convtime(s: string): number | null {
  if (s.length > 32 || !/^(?:[0-9]+[sSmMhHdDwW])*[0-9]+[sSmMhHdDwW]?$/.test(s)) return null;
  const mult: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };
  let total = 0;
  for (const m of s.matchAll(/([0-9]+)([sSmMhHdDwW]?)/g)) {
    const unit = (m[2] ?? "").toLowerCase();
    total += Number(m[1]) * (unit === "" ? 1 : mult[unit] ?? 1);
  }
  return Number.isSafeInteger(total) && total <= 2147483647 ? total : null;
}

/** Parses a port (1..65535). */
function parsePort(s: string): number | null {
  if (!/^[0-9]{1,5}$/.test(s)) return null;
  const n = Number(s);
  return n >= 1 && n <= 65535 ? n : null;
}

/** Parses one `[user@]host[:port]` or `ssh://[user@]host[:port]` ProxyJump hop. */
export function parseJumpHop(spec: string): ProxyJumpHop | null {
  let s = spec;
  if (s.toLowerCase().startsWith("ssh://")) {
    s = s.slice(6);
    if (s.endsWith("/")) s = s.slice(0, -1);
    if (s.includes("/")) return null;
  }
  let user: string | null = null;
  const at = s.lastIndexOf("@");
  if (at >= 0) {
    user = s.slice(0, at);
    if (user === "") return null;
    s = s.slice(at + 1);
  }
  let host: string;
  let portText: string | null = null;
  if (s.startsWith("[")) {
    const close = s.indexOf("]");
    if (close < 0) return null;
    host = s.slice(1, close);
    const after = s.slice(close + 1);
    if (after !== "") {
      if (!after.startsWith(":")) return null;
      portText = after.slice(1);
    }
  } else {
    const colon = s.indexOf(":");
    host = colon >= 0 ? s.slice(0, colon) : s;
    portText = colon >= 0 ? s.slice(colon + 1) : null;
  }
  if (host === "" || /[\s,]/.test(host) || (user !== null && /[\s]/.test(user))) return null;
  let port: number | null = null;
  if (portText !== null && portText !== "") {
    port = parsePort(portText);
    if (port === null) return null;
  }
  return { user, host, port };
}

function formatWhere(file: string, line: number): string {
  return `${file}:${line}`;
}

/** Values of a token map for `%` expansion. */
type Tokens = Record<string, string>;

/** `%x` expansion; throws on an unknown token or a trailing `%`. */
function percentExpand(s: string, tokens: Tokens): string {
  let out = "";
  for (let i = 0; i < s.length; i++) {
    const c = s[i] as string;
    if (c !== "%") {
      out += c;
      continue;
    }
    const t = s[++i];
    if (t === "%") out += "%";
    else if (t !== undefined && Object.hasOwn(tokens, t)) out += tokens[t];
    else throw new Error(t === undefined ? "trailing %" : `unsupported token %${t}`);
  }
  return out;
}

/** `${VAR}` expansion from `env`; throws on an undefined variable or a bad reference. */
function dollarExpand(s: string, env: Record<string, string | undefined>): string {
  let out = "";
  for (let i = 0; i < s.length; i++) {
    const c = s[i] as string;
    if (c === "$" && s[i + 1] === "{") {
      const end = s.indexOf("}", i + 2);
      if (end < 0) throw new Error("unterminated ${");
      const name = s.slice(i + 2, end);
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`bad variable name ${name}`);
      const v = env[name];
      if (v === undefined) throw new Error(`environment variable ${name} is not set`);
      out += v;
      i = end;
    } else {
      out += c;
    }
  }
  return out;
}

/** `~` / `~/x` expansion (not `~user`). */
function tildeExpand(s: string, home: string): string {
  if (s === "~") return home;
  if (s.startsWith("~/")) return join(home, s.slice(2));
  if (s.startsWith("~")) throw new Error("~user paths are not supported");
  return s;
}

const GLOB_CHARS = /[*?[]/;

/** Converts one path component glob to a RegExp (`*`, `?`, `[...]`, `[!...]`). */
function globComponentRe(p: string): RegExp {
  let re = "^";
  for (let i = 0; i < p.length; i++) {
    const c = p[i] as string;
    if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else if (c === "[") {
      const end = p.indexOf("]", i + 2);
      if (end < 0) {
        re += "\\[";
        continue;
      }
      let body = p.slice(i + 1, end);
      let neg = false;
      if (body.startsWith("!") || body.startsWith("^")) {
        neg = true;
        body = body.slice(1);
      }
      re += `[${neg ? "^" : ""}${body.replace(/[\\\]^]/g, (m) => `\\${m}`)}]`;
      i = end;
    } else re += c.replace(/[.+^${}()|\\/]/g, (m) => `\\${m}`);
  }
  return new RegExp(re + "$");
}

/** Expands a glob over the file system like glob(3): sorted, hidden names only on an explicit dot. */
async function expandGlob(pattern: string): Promise<string[]> {
  if (!GLOB_CHARS.test(pattern)) {
    try {
      await Deno.stat(pattern);
      return [pattern];
    } catch {
      return [];
    }
  }
  const absolute = isAbsolute(pattern);
  const parts = pattern.split(/[\\/]+/).filter((p, i) => p !== "" || i === 0);
  let bases: string[] = [absolute ? (parts[0] === "" ? "/" : `${parts[0]}/`) : "."];
  const rest = absolute ? parts.slice(1) : parts;
  for (let idx = 0; idx < rest.length; idx++) {
    const part = rest[idx] as string;
    const last = idx === rest.length - 1;
    const next: string[] = [];
    if (!GLOB_CHARS.test(part)) {
      for (const b of bases) next.push(join(b, part));
    } else {
      const re = globComponentRe(part);
      // each level depends on the previous one
      // deno-lint-ignore no-await-in-loop
      const lists = await Promise.all(bases.map(async (b) => {
        const names: string[] = [];
        try {
          for await (const e of Deno.readDir(b)) {
            if (e.name.startsWith(".") && !part.startsWith(".")) continue;
            if (!re.test(e.name)) continue;
            if (!last && !(e.isDirectory || e.isSymlink)) continue;
            names.push(join(b, e.name));
          }
        } catch {
          // unreadable directory: no matches from it
        }
        return names.sort();
      }));
      for (const l of lists) next.push(...l);
    }
    bases = next;
  }
  const existing = await Promise.all(bases.map(async (p) => {
    try {
      await Deno.stat(p);
      return p;
    } catch {
      return null;
    }
  }));
  return existing.filter((p): p is string => p !== null);
}

/** Options of {@link SshConfig.parse}. */
export interface SshConfigParseOptions {
  /** environment for `${VAR}`, `HOME` (`~` in Include) and `SSH_AUTH_SOCK` */
  env: Record<string, string | undefined>;
  /** file name used in warnings */
  sourceName: string;
  /** directory relative Include paths are resolved against; default `$HOME/.ssh` */
  includeBase?: string;
  /** receives DEBUG lines (ignored keywords, includes that matched nothing) */
  logger?: Logger;
}

interface ParseState {
  includeBase: string | null;
  home: string | null;
  logger: Logger;
  warnings: string[];
  uid: number | null;
}

/** A parsed OpenSSH client configuration. */
export class SshConfig {
  /**
   * File-level warnings (Match blocks, forwarding keywords, bad lines, skipped
   * includes), each prefixed with `file:line`. They are returned, not logged:
   * the caller logs them once at WARNING (the logger only gets DEBUG lines).
   */
  readonly warnings: string[];
  /** the name of the top-level file */
  readonly source: string;
  #items: Item[];
  #env: Record<string, string | undefined>;

  private constructor(
    source: string,
    items: Item[],
    warnings: string[],
    env: Record<string, string | undefined>,
  ) {
    this.source = source;
    this.#items = items;
    this.warnings = warnings;
    this.#env = env;
  }

  /**
   * Reads and parses `path` (`~` expanded from `env.HOME`). A missing file
   * gives an empty configuration (the caller logs it); any other read error
   * throws.
   */
  static async load(
    path: string,
    opts: { env: Record<string, string | undefined>; logger?: Logger; includeBase?: string },
  ): Promise<SshConfig> {
    const home = opts.env.HOME ?? opts.env.USERPROFILE;
    const file = home !== undefined && (path === "~" || path.startsWith("~/"))
      ? tildeExpand(path, home)
      : path;
    let text: string;
    try {
      text = await Deno.readTextFile(file);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) {
        return new SshConfig(file, [], [], opts.env);
      }
      throw new Error(`cannot read ssh_config ${file}: ${e instanceof Error ? e.message : e}`);
    }
    return SshConfig.parse(text, {
      env: opts.env,
      sourceName: file,
      includeBase: opts.includeBase,
      logger: opts.logger,
    });
  }

  /** Parses configuration text; `Include` files are read now (relative to `includeBase`). */
  static async parse(text: string, opts: SshConfigParseOptions): Promise<SshConfig> {
    const home = opts.env.HOME ?? opts.env.USERPROFILE ?? null;
    let uid: number | null = null;
    try {
      uid = Deno.uid();
    } catch {
      uid = null;
    }
    const st: ParseState = {
      includeBase: opts.includeBase ?? (home !== null ? join(home, ".ssh") : null),
      home,
      logger: opts.logger ?? nullLogger,
      warnings: [],
      uid,
    };
    const items = await parseText(text, opts.sourceName, 0, st);
    return new SshConfig(opts.sourceName, items, st.warnings, opts.env);
  }

  /**
   * Resolves the options for `host` (the policy hostname) as `ssh -G` would
   * for this subset. `localUser` / `remoteUser` / `home` feed the `%u` / `%r`
   * / `%d` tokens.
   */
  resolve(host: string, ctx: ResolveContext): SshConfigResult {
    const h = host.toLowerCase();
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

    const walk = (items: Item[], startActive: boolean): void => {
      let active = startActive;
      for (const it of items) {
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
    walk(this.#items, true);

    const warnings: string[] = [];
    const str = (k: Opt["k"]): { v: string; at: string } | null => {
      const e = got.get(k);
      return e !== undefined && typeof e.opt.v === "string" ? { v: e.opt.v, at: e.at } : null;
    };
    const num = (k: Opt["k"]): number | null => {
      const e = got.get(k);
      return e !== undefined && typeof e.opt.v === "number" ? e.opt.v : null;
    };

    // HostName: only %h and %% (OpenSSH), lower-cased
    let hostName: string | null = null;
    const hn = str("hostname");
    if (hn !== null) {
      try {
        hostName = percentExpand(hn.v, { h }).toLowerCase();
      } catch (e) {
        warnings.push(`${hn.at}: HostName ${JSON.stringify(hn.v)} ignored: ${msg(e)}`);
      }
    }
    const port = num("port");
    const remoteHost = hostName ?? h;
    const tokens: Tokens = {
      d: ctx.home,
      u: ctx.localUser,
      h: remoteHost,
      r: ctx.remoteUser,
      n: h,
      p: String(port ?? ctx.port ?? 22),
    };
    const expandPath = (v: string): string =>
      percentExpand(tildeExpand(dollarExpand(v, this.#env), ctx.home), tokens);

    const identityFiles: string[] = [];
    for (const id of identities) {
      try {
        const p = expandPath(id.v);
        if (!identityFiles.includes(p)) identityFiles.push(p);
      } catch (e) {
        warnings.push(`${id.at}: IdentityFile ${JSON.stringify(id.v)} ignored: ${msg(e)}`);
      }
    }

    let identityAgent: string | null = null;
    const ia = str("identityagent");
    if (ia !== null) {
      if (ia.v === "none") identityAgent = "none";
      else if (ia.v === "SSH_AUTH_SOCK") identityAgent = this.#env.SSH_AUTH_SOCK ?? null;
      else if (/^\$[A-Za-z_][A-Za-z0-9_]*$/.test(ia.v)) {
        identityAgent = this.#env[ia.v.slice(1)] ?? null;
        if (identityAgent === null) {
          warnings.push(`${ia.at}: IdentityAgent ${ia.v}: variable is not set`);
        }
      } else {
        try {
          identityAgent = expandPath(ia.v);
        } catch (e) {
          warnings.push(`${ia.at}: IdentityAgent ${JSON.stringify(ia.v)} ignored: ${msg(e)}`);
        }
      }
    }

    let proxyJump: ProxyJumpHop[] | null = null;
    const pj = got.get("proxyjump");
    if (pj !== undefined && pj.opt.k === "proxyjump" && pj.opt.v !== "none") {
      proxyJump = pj.opt.v.map((hop) => ({ ...hop }));
    }
    let proxyCommand: string | null = null;
    const pc = str("proxycommand");
    if (pc !== null && pc.v !== "none") {
      proxyCommand = pc.v;
      warnings.push(
        `${pc.at}: ProxyCommand applies to ${h}; it runs a local command and is ignored unless ALLOW_SSH_CONFIG_PROXYCOMMAND=true`,
      );
    }

    const ct = got.get("connecttimeout");
    const connectTimeout = ct !== undefined && ct.opt.k === "connecttimeout" ? ct.opt.v : null;
    const io = got.get("identitiesonly");
    const identitiesOnly = io !== undefined && io.opt.k === "identitiesonly" ? io.opt.v : null;

    const defaults = ctx.algorithmDefaults ?? SSH2_ALGORITHMS.defaults;
    const algo = (k: AlgoKey, def: string[]): string[] | null => {
      const e = str(k);
      if (e === null) return null;
      return applyAlgorithmModifiers(e.v, def);
    };

    return {
      hostName,
      port,
      user: str("user")?.v ?? null,
      identityFiles,
      identitiesOnly,
      identityAgent,
      proxyJump,
      proxyCommand,
      connectTimeout,
      serverAliveInterval: num("serveraliveinterval"),
      ciphers: algo("ciphers", defaults.ciphers),
      macs: algo("macs", defaults.macs),
      kexAlgorithms: algo("kexalgorithms", defaults.kexAlgorithms),
      hostKeyAlgorithms: algo("hostkeyalgorithms", defaults.hostKeyAlgorithms),
      // lower-cased like OpenSSH (known_hosts names are compared in lower case)
      hostKeyAlias: str("hostkeyalias")?.v.toLowerCase() ?? null,
      warnings,
    };
  }
}

function msg(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function dedupe(list: string[]): string[] {
  return [...new Set(list)];
}

/**
 * Applies an OpenSSH algorithm list value to `defaults`: `+a,b` appends,
 * `-a,b*` removes (wildcards allowed), `^a,b` puts first, a plain list
 * replaces. Duplicates are removed.
 */
export function applyAlgorithmModifiers(value: string, defaults: string[]): string[] {
  const mod = value[0];
  const names = (mod === "+" || mod === "-" || mod === "^" ? value.slice(1) : value)
    .split(",")
    .filter((n) => n !== "");
  switch (mod) {
    case "+":
      return dedupe([...defaults, ...names]);
    case "^":
      return dedupe([...names, ...defaults]);
    case "-":
      return defaults.filter((d) => !names.some((n) => wildcardMatch(d, n)));
    default:
      return dedupe(names);
  }
}

/** Result of {@link toSsh2Algorithms}. */
export interface Ssh2Algorithms {
  cipher?: string[];
  hmac?: string[];
  kex?: string[];
  serverHostKey?: string[];
  warnings: string[];
  error?: string;
}

/**
 * ssh2 `algorithms` option (`cipher` / `hmac` / `kex` / `serverHostKey`) for
 * the algorithm lists of `r`, dropping names ssh2 does not support (with a
 * warning). When nothing usable is left of a list the result is fail-closed:
 * the list keeps the unsupported names (ssh2 then refuses to connect with
 * "Unsupported algorithm") and `error` says why — an empty list would make
 * ssh2 silently use its defaults, which the operator ruled out.
 */
export function toSsh2Algorithms(r: SshConfigResult): Ssh2Algorithms {
  const out: Ssh2Algorithms = { warnings: [] };
  const map: [keyof AlgorithmDefaults, "cipher" | "hmac" | "kex" | "serverHostKey", string][] = [
    ["ciphers", "cipher", "Ciphers"],
    ["macs", "hmac", "MACs"],
    ["kexAlgorithms", "kex", "KexAlgorithms"],
    ["hostKeyAlgorithms", "serverHostKey", "HostKeyAlgorithms"],
  ];
  for (const [field, key, keyword] of map) {
    const list = r[field];
    if (list === null) continue;
    const supported = SSH2_ALGORITHMS.supported[field];
    const kept = list.filter((n) => supported.includes(n));
    const dropped = list.filter((n) => !supported.includes(n));
    if (dropped.length > 0) {
      out.warnings.push(
        `ssh_config ${keyword}: not supported by ssh2, ignored: ${dropped.join(",")}`,
      );
    }
    if (kept.length === 0) {
      const e = `ssh_config ${keyword} lists no algorithm ssh2 supports (${
        list.join(",") || "empty list"
      }); the connection will be refused`;
      out.error = out.error === undefined ? e : `${out.error}; ${e}`;
      out.warnings.push(e);
      out[key] = list.length > 0 ? list : ["none"];
    } else {
      out[key] = kept;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// Parsing

async function parseText(
  text: string,
  file: string,
  depth: number,
  st: ParseState,
): Promise<Item[]> {
  const items: Item[] = [];
  const lines = text.split("\n");
  for (let n = 0; n < lines.length; n++) {
    const line = (lines[n] as string).replace(/[ \t\r\f\v]+$/, "");
    const at = formatWhere(file, n + 1);
    const kw = splitKeyword(line);
    if (kw === null) continue;
    const warn = (m: string): void => {
      st.warnings.push(`${at}: ${m}`);
    };
    const keyword = kw.keyword.toLowerCase();
    if (kw.rest.trim() === "") {
      warn(`no argument after keyword "${kw.keyword}"; line ignored`);
      continue;
    }
    const args = splitArgs(kw.rest);
    if (args === null) {
      warn(`invalid quotes; line ignored`);
      continue;
    }
    if (args.length === 0) {
      warn(`no argument after keyword "${kw.keyword}"; line ignored`);
      continue;
    }
    const single = (): string | null => {
      if (args.length !== 1) {
        warn(`${kw.keyword} takes one argument; line ignored`);
        return null;
      }
      return args[0] as string;
    };
    switch (keyword) {
      case "host": {
        if (args.some((a) => a === "" || a === "!")) {
          warn(`empty Host pattern; line ignored`);
          items.push({ t: "host", patterns: [], at });
          break;
        }
        items.push({ t: "host", patterns: args, at });
        break;
      }
      case "match": {
        const all = args.length === 1 && (args[0] as string).toLowerCase() === "all";
        if (!all) {
          warn(`Match is not supported; the block up to the next Host/Match is ignored`);
        }
        items.push({ t: "match", all, at });
        break;
      }
      case "include": {
        const included: Item[] = [];
        if (depth + 1 > MAX_INCLUDE_DEPTH) {
          warn(
            `too many recursive configuration includes (limit ${MAX_INCLUDE_DEPTH}); Include ignored`,
          );
          break;
        }
        for (const arg of args) {
          // deno-lint-ignore no-await-in-loop
          included.push(...await includeFiles(arg, at, depth, st, warn));
        }
        items.push({ t: "include", items: included, at });
        break;
      }
      case "hostname":
      case "user":
      case "identityfile":
      case "identityagent":
      case "hostkeyalias": {
        const v = single();
        if (v === null) break;
        if (v === "") {
          warn(`${kw.keyword}: empty value; line ignored`);
          break;
        }
        items.push({ t: "opt", opt: { k: keyword, v }, at });
        break;
      }
      case "port": {
        const v = single();
        if (v === null) break;
        const p = parsePort(v);
        if (p === null) warn(`bad port number ${JSON.stringify(v)}; line ignored`);
        else items.push({ t: "opt", opt: { k: "port", v: p }, at });
        break;
      }
      case "connecttimeout":
      case "serveraliveinterval": {
        const v = single();
        if (v === null) break;
        const secs = v.toLowerCase() === "none" ? null : convtime(v);
        if (secs === null && v.toLowerCase() !== "none") {
          warn(`${kw.keyword}: bad time value ${JSON.stringify(v)}; line ignored`);
        } else if (keyword === "connecttimeout") {
          items.push({ t: "opt", opt: { k: "connecttimeout", v: secs }, at });
        } else {
          items.push({ t: "opt", opt: { k: "serveraliveinterval", v: secs ?? 0 }, at });
        }
        break;
      }
      case "identitiesonly": {
        const v = single();
        if (v === null) break;
        const l = v.toLowerCase();
        if (l === "yes" || l === "true") {
          items.push({ t: "opt", opt: { k: "identitiesonly", v: true }, at });
        } else if (l === "no" || l === "false") {
          items.push({ t: "opt", opt: { k: "identitiesonly", v: false }, at });
        } else warn(`IdentitiesOnly: expected yes or no, got ${JSON.stringify(v)}; line ignored`);
        break;
      }
      case "proxyjump": {
        const v = single();
        if (v === null) break;
        if (v.toLowerCase() === "none") {
          items.push({ t: "opt", opt: { k: "proxyjump", v: "none" }, at });
          break;
        }
        const hops = v.split(",").map(parseJumpHop);
        if (hops.some((x) => x === null)) {
          warn(`ProxyJump: bad jump specification ${JSON.stringify(v)}; line ignored`);
          break;
        }
        items.push({
          t: "opt",
          opt: { k: "proxyjump", v: hops.filter((x): x is ProxyJumpHop => x !== null) },
          at,
        });
        break;
      }
      case "proxycommand": {
        // the raw rest of the line, like OpenSSH (quotes and comments kept)
        const raw = kw.rest.replace(/^[ \t=]+/, "");
        items.push({ t: "opt", opt: { k: "proxycommand", v: raw }, at });
        break;
      }
      case "ciphers":
      case "macs":
      case "kexalgorithms":
      case "hostkeyalgorithms": {
        const v = single();
        if (v === null) break;
        const body = /^[+\-^]/.test(v) ? v.slice(1) : v;
        if (!/^[A-Za-z0-9@._+*?,-]+$/.test(body)) {
          warn(`${kw.keyword}: bad algorithm list ${JSON.stringify(v)}; line ignored`);
        } else if (!v.startsWith("-") && /[*?]/.test(body)) {
          warn(`${kw.keyword}: wildcards are only allowed after "-"; line ignored`);
        } else {
          items.push({ t: "opt", opt: { k: keyword, v }, at });
        }
        break;
      }
      default: {
        const fwd = FORWARDING.get(keyword);
        if (fwd !== undefined) {
          if (!(args.length === 1 && NEGATIVE.has((args[0] as string).toLowerCase()))) {
            warn(
              `${fwd} is ignored: ssh-mcp never forwards ports, agents or X11 nor runs local commands`,
            );
          }
        } else {
          st.logger.debug(`ssh_config: ${at}: keyword ${kw.keyword} not supported; ignored`);
        }
      }
    }
  }
  return items;
}

/** Reads the files of one Include argument. */
async function includeFiles(
  arg: string,
  at: string,
  depth: number,
  st: ParseState,
  warn: (m: string) => void,
): Promise<Item[]> {
  let pattern: string;
  if (arg.startsWith("~")) {
    if (st.home === null) {
      warn(`Include ${JSON.stringify(arg)}: HOME is not set; ignored`);
      return [];
    }
    try {
      pattern = tildeExpand(arg, st.home);
    } catch (e) {
      warn(`Include ${JSON.stringify(arg)}: ${msg(e)}; ignored`);
      return [];
    }
  } else if (isAbsolute(arg)) {
    pattern = arg;
  } else {
    if (st.includeBase === null) {
      warn(`Include ${JSON.stringify(arg)}: relative path and HOME is not set; ignored`);
      return [];
    }
    pattern = join(st.includeBase, arg);
  }
  const files = await expandGlob(resolvePath(pattern));
  if (files.length === 0) {
    st.logger.debug(`ssh_config: ${at}: Include ${pattern} matched no files`);
    return [];
  }
  const items: Item[] = [];
  for (const f of files) {
    let text: string;
    try {
      // deno-lint-ignore no-await-in-loop
      const info = await Deno.stat(f);
      if (info.isDirectory) {
        warn(`Include ${f}: is a directory; ignored`);
        continue;
      }
      const mode = info.mode;
      const owner = info.uid;
      if (
        mode !== null && owner !== null &&
        ((mode & 0o022) !== 0 || (owner !== 0 && st.uid !== null && owner !== st.uid))
      ) {
        warn(`Include ${f}: bad owner or permissions (writable by others); ignored`);
        continue;
      }
      // deno-lint-ignore no-await-in-loop
      text = await Deno.readTextFile(f);
    } catch (e) {
      warn(`Include ${f}: cannot read (${msg(e)}); ignored`);
      continue;
    }
    // deno-lint-ignore no-await-in-loop
    items.push({ t: "include", items: await parseText(text, f, depth + 1, st), at });
  }
  return items;
}
