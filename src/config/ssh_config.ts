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
 * This module holds the {@link SshConfig} class and re-exports the public
 * names of its parts: `ssh_config_syntax.ts` (line and value syntax),
 * `ssh_config_parse.ts` (parser and Include), `ssh_config_expand.ts` (`%`,
 * `${VAR}`, `~` and glob expansion), `ssh_config_match.ts` (Host / Match
 * evaluation), `ssh_config_algorithms.ts` (algorithm lists, ssh2 mapping) and
 * `ssh_config_types.ts` (result types).
 *
 * @module
 */

import { join } from "../util/local_path.ts";
import { type Logger, nullLogger } from "../log.ts";
import { applyAlgorithmModifiers, ssh2Algorithms } from "./ssh_config_algorithms.ts";
import { loadSsh2Constants } from "../util/ssh2_lib.ts";
import { dollarExpand, msg, percentExpand, tildeExpand, type Tokens } from "./ssh_config_expand.ts";
import { collectOptions } from "./ssh_config_match.ts";
import {
  type AlgoKey,
  type Item,
  type Opt,
  type ParseState,
  parseText,
} from "./ssh_config_parse.ts";
import type { ProxyJumpHop, ResolveContext, SshConfigResult } from "./ssh_config_types.ts";

export {
  applyAlgorithmModifiers,
  type Ssh2Algorithms,
  ssh2Algorithms,
  toSsh2Algorithms,
} from "./ssh_config_algorithms.ts";
export { MAX_INCLUDE_DEPTH } from "./ssh_config_parse.ts";
export { parseJumpHop, splitArgs } from "./ssh_config_syntax.ts";
export type {
  AlgorithmDefaults,
  ProxyJumpHop,
  ResolveContext,
  SshConfigResult,
} from "./ssh_config_types.ts";

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
    // the algorithm lists of resolve() and toSsh2Algorithms() (ssh2 loaded now, not at start-up)
    const [items] = await Promise.all([
      parseText(text, opts.sourceName, 0, st),
      loadSsh2Constants(),
    ]);
    return new SshConfig(opts.sourceName, items, st.warnings, opts.env);
  }

  /**
   * Resolves the options for `host` (the policy hostname) as `ssh -G` would
   * for this subset. `localUser` / `remoteUser` / `home` feed the `%u` / `%r`
   * / `%d` tokens.
   */
  resolve(host: string, ctx: ResolveContext): SshConfigResult {
    const h = host.toLowerCase();
    const { got, identities } = collectOptions(this.#items, h);

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
        `${pc.at}: ProxyCommand applies to ${h}; it runs a local command and is ignored ` +
          "unless ALLOW_SSH_CONFIG_PROXYCOMMAND=true",
      );
    }

    const ct = got.get("connecttimeout");
    const connectTimeout = ct !== undefined && ct.opt.k === "connecttimeout" ? ct.opt.v : null;
    const io = got.get("identitiesonly");
    const identitiesOnly = io !== undefined && io.opt.k === "identitiesonly" ? io.opt.v : null;

    const algo = (k: AlgoKey, def: () => string[]): string[] | null => {
      const e = str(k);
      if (e === null) return null;
      return applyAlgorithmModifiers(e.v, def());
    };
    const defaults = () => ctx.algorithmDefaults ?? ssh2Algorithms().defaults;

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
      ciphers: algo("ciphers", () => defaults().ciphers),
      macs: algo("macs", () => defaults().macs),
      kexAlgorithms: algo("kexalgorithms", () => defaults().kexAlgorithms),
      hostKeyAlgorithms: algo("hostkeyalgorithms", () => defaults().hostKeyAlgorithms),
      // lower-cased like OpenSSH (known_hosts names are compared in lower case)
      hostKeyAlias: str("hostkeyalias")?.v.toLowerCase() ?? null,
      warnings,
    };
  }
}
