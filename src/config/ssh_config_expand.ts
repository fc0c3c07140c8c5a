/**
 * Expansions applied to ssh_config values: `%x` tokens ({@link percentExpand}),
 * `${VAR}` ({@link dollarExpand}), `~` ({@link tildeExpand}) and Include globs
 * over the file system ({@link expandGlob}). They throw an Error whose message
 * ({@link msg}) says why a value was dropped.
 *
 * @module
 */

import { isAbsolute, join } from "../util/local_path.ts";

/** Values of a token map for `%` expansion. */
export type Tokens = Record<string, string>;

/** `%x` expansion; throws on an unknown token or a trailing `%`. */
export function percentExpand(s: string, tokens: Tokens): string {
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
export function dollarExpand(s: string, env: Record<string, string | undefined>): string {
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
export function tildeExpand(s: string, home: string): string {
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

/**
 * Expands a glob over the file system like glob(3): sorted, hidden names only
 * on an explicit dot.
 */
export async function expandGlob(pattern: string): Promise<string[]> {
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

/** The message of a thrown value. */
export function msg(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
