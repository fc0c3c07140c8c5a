/**
 * ssh_config line syntax and argument values, as OpenSSH reads them: the
 * keyword / argument split ({@link splitKeyword}, {@link splitArgs}), time
 * values ({@link convtime}), ports ({@link parsePort}) and ProxyJump hops
 * ({@link parseJumpHop}).
 *
 * @module
 */

import type { ProxyJumpHop } from "./ssh_config_types.ts";

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
export function splitKeyword(line: string): { keyword: string; rest: string } | null {
  const m = /^[ \t]*([^ \t="]+)[ \t]*(?:=[ \t]*)?/.exec(line);
  if (m === null) {
    return line.trim() === "" ? null : { keyword: line.trim(), rest: "" };
  }
  const keyword = m[1] as string;
  if (keyword.startsWith("#")) return null;
  return { keyword, rest: line.slice(m[0].length) };
}

/** OpenSSH `convtime`: `90`, `1m30s`, `2h`; returns seconds or null. */
export function convtime(s: string): number | null {
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
export function parsePort(s: string): number | null {
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
