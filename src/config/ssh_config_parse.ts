/**
 * The ssh_config parser: turns the text of a file (and of every file it
 * includes, read at parse time) into a list of {@link Item}s — `Host` and
 * `Match` lines, validated options and nested includes — collecting a
 * `file:line` warning for every line it skips.
 *
 * @module
 */

import { isAbsolute, join, resolve as resolvePath } from "../util/local_path.ts";
import type { Logger } from "../log.ts";
import { expandGlob, msg, tildeExpand } from "./ssh_config_expand.ts";
import { convtime, parseJumpHop, parsePort, splitArgs, splitKeyword } from "./ssh_config_syntax.ts";
import type { ProxyJumpHop } from "./ssh_config_types.ts";

/** OpenSSH's include recursion limit (READCONF_MAX_DEPTH). */
export const MAX_INCLUDE_DEPTH = 16;

/** The algorithm list keywords (lower-cased). */
export type AlgoKey = "ciphers" | "macs" | "kexalgorithms" | "hostkeyalgorithms";

/** One validated option line: the lower-cased keyword and its converted value. */
export type Opt =
  | {
    k: "hostname" | "user" | "identityfile" | "identityagent" | "hostkeyalias" | "proxycommand";
    v: string;
  }
  | { k: "port" | "serveraliveinterval"; v: number }
  | { k: "connecttimeout"; v: number | null }
  | { k: "identitiesonly"; v: boolean }
  | { k: "proxyjump"; v: ProxyJumpHop[] | "none" }
  | { k: AlgoKey; v: string };

/** One line of a parsed file: Host / Match block starts, options, and included files. */
export type Item =
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

function formatWhere(file: string, line: number): string {
  return `${file}:${line}`;
}

/** State shared by the parse of a file and of everything it includes. */
export interface ParseState {
  /** directory relative Include paths are resolved against (null: HOME unset) */
  includeBase: string | null;
  /** `~` in Include paths (null: HOME unset) */
  home: string | null;
  /** receives DEBUG lines */
  logger: Logger;
  /** collected `file:line: ...` warnings */
  warnings: string[];
  /** this process's uid, for the include file owner check (null: unknown) */
  uid: number | null;
}

/**
 * Parses the text of `file` (`depth` = include nesting level) into items;
 * Include files are read and parsed now. Bad lines add a warning to `st`.
 */
export async function parseText(
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
            `too many recursive configuration includes (limit ${MAX_INCLUDE_DEPTH}); ` +
              "Include ignored",
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
              `${fwd} is ignored: ssh-mcp never forwards ports, agents or X11 ` +
                "nor runs local commands",
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
