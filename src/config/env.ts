/**
 * Environment helpers: the `.env` loader (CONFIG.md §1 source 2), case-insensitive
 * variable lookup, `~` / `${VAR}` path expansion, and a POSIX shell splitter.
 *
 * Nothing here reads the process environment: callers pass the variables in.
 *
 * @module
 */

import * as path from "../util/local_path.ts";
import { ConfigError } from "../errors.ts";
import type { ConfigNotice } from "./types.ts";

/** Result of {@link loadDotenv}. */
export interface DotenvResult {
  /** real environment merged over the `.env` values (the real environment wins) */
  vars: Record<string, string>;
  /** absolute path of the `.env` file that was read, or null (absent or disabled) */
  path: string | null;
  /** true when `SSH_MCP_DISABLE_DOTENV` switched the loader off */
  disabled: boolean;
  /** malformed lines that were skipped (line numbers only, never content) */
  notices: ConfigNotice[];
}

/**
 * Looks a variable up by name: the exact spelling first, then any other
 * spelling that is equal ignoring case (CONFIG.md §1: names are matched
 * case-insensitively). Returns undefined when absent.
 */
export function getEnv(
  env: Record<string, string | undefined>,
  name: string,
): string | undefined {
  if (Object.hasOwn(env, name)) return env[name];
  const upper = name.toUpperCase();
  for (const [k, v] of Object.entries(env)) {
    if (k.toUpperCase() === upper) return v;
  }
  return undefined;
}

/**
 * Reads `.env` from `cwd` (UTF-8, KEY=VALUE, optional quotes, `export ` prefix
 * tolerated, comments) unless env SSH_MCP_DISABLE_DOTENV is non-empty. Real env
 * wins over .env (also when the two spell the name with different case).
 * Returns the merged variables and the absolute path loaded (null when
 * absent/disabled). An unreadable or non-UTF-8 `.env` is a {@link ConfigError}.
 */
export function loadDotenv(env: Record<string, string>, cwd: string): DotenvResult {
  const vars: Record<string, string> = { ...env };
  const disabledBy = getEnv(env, "SSH_MCP_DISABLE_DOTENV");
  if (disabledBy !== undefined && disabledBy !== "") {
    return { vars, path: null, disabled: true, notices: [] };
  }
  const file = path.resolve(cwd, ".env");
  let bytes: Uint8Array;
  try {
    const st = Deno.statSync(file);
    if (!st.isFile) return { vars, path: null, disabled: false, notices: [] };
    bytes = Deno.readFileSync(file);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      return { vars, path: null, disabled: false, notices: [] };
    }
    throw new ConfigError(
      `cannot read ${file}: ${errorText(e)}. Fix its permissions, or set ` +
        `SSH_MCP_DISABLE_DOTENV=1 to skip the .env file.`,
    );
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new ConfigError(`${file} is not valid UTF-8; save it as UTF-8.`);
  }
  const { values, badLines } = parseDotenv(text, env);
  const realUpper = new Set(Object.keys(env).map((k) => k.toUpperCase()));
  for (const [k, v] of Object.entries(values)) {
    if (!realUpper.has(k.toUpperCase())) vars[k] = v;
  }
  const notices: ConfigNotice[] = badLines.length === 0 ? [] : [{
    level: "WARNING",
    message: `${file}: skipped malformed line(s) ${badLines.join(", ")} ` +
      `(expected KEY=VALUE)`,
  }];
  return { vars, path: file, disabled: false, notices };
}

/**
 * Parses `.env` text with python-dotenv semantics: `#` comments, optional
 * `export ` prefix, `KEY=VALUE` with blanks around `=`, single quotes literal,
 * double quotes with `\n \t \r \" \\` escapes (may span lines), unquoted
 * values trimmed with ` #` comments dropped; `${VAR}` / `${VAR:-default}`
 * interpolated in unquoted and double-quoted values (earlier `.env` values
 * first, then `env`). Returns the values and the 1-based numbers of skipped
 * malformed lines.
 */
export function parseDotenv(
  text: string,
  env: Record<string, string | undefined> = {},
): { values: Record<string, string>; badLines: number[] } {
  const src = text.replace(/^\uFEFF/, "").replace(/\r\n?/g, "\n");
  const values: Record<string, string> = {};
  const badLines: number[] = [];
  let i = 0;
  let line = 1;
  const n = src.length;
  const lookup = (name: string): string | undefined =>
    Object.hasOwn(values, name) ? values[name] : env[name];

  while (i < n) {
    const startLine = line;
    let end = src.indexOf("\n", i);
    if (end < 0) end = n;
    const raw = src.slice(i, end);
    const trimmed = raw.trim();
    if (trimmed === "" || trimmed.startsWith("#")) {
      i = end + 1;
      line++;
      continue;
    }
    const m = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*(=)?\s*/.exec(raw);
    if (!m || m[1] === undefined) {
      badLines.push(startLine);
      i = end + 1;
      line++;
      continue;
    }
    const key = m[1];
    if (m[2] === undefined) {
      // `KEY` without `=`: python-dotenv yields None, i.e. no value.
      if (raw.slice(m[0].length).trim() !== "" && !raw.slice(m[0].length).trim().startsWith("#")) {
        badLines.push(startLine);
      }
      i = end + 1;
      line++;
      continue;
    }
    let j = i + m[0].length;
    const q = src[j];
    if (q === "'" || q === '"') {
      // quoted value, may span lines
      let k = j + 1;
      let out = "";
      let closed = false;
      while (k < n) {
        const c = src[k] as string;
        if (c === q) {
          closed = true;
          break;
        }
        if (q === '"' && c === "\\" && k + 1 < n) {
          const d = src[k + 1] as string;
          const map: Record<string, string> = { n: "\n", t: "\t", r: "\r", '"': '"', "\\": "\\" };
          out += map[d] ?? "\\" + d;
          if (d === "\n") line++;
          k += 2;
          continue;
        }
        if (c === "\n") line++;
        out += c;
        k++;
      }
      let after = src.indexOf("\n", k);
      if (after < 0) after = n;
      const rest = closed ? src.slice(k + 1, after).trim() : "x";
      if (!closed || (rest !== "" && !rest.startsWith("#"))) {
        badLines.push(startLine);
        // resynchronise at the line after the opening one
        line = startLine + 1;
        i = end + 1;
        continue;
      }
      values[key] = q === '"' ? interpolate(out, lookup) : out;
      i = after + 1;
      line++;
      continue;
    }
    // unquoted: up to end of line, ` #` starts a comment
    let v = src.slice(j, end);
    const hash = v.search(/\s#/);
    if (hash >= 0) v = v.slice(0, hash);
    v = v.trim();
    values[key] = interpolate(v, lookup);
    j = end;
    i = j + 1;
    line++;
  }
  return { values, badLines };
}

function interpolate(v: string, lookup: (name: string) => string | undefined): string {
  return v.replace(
    /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g,
    (_all, name: string, def: string | undefined) => {
      const got = lookup(name);
      return got !== undefined && got !== "" ? got : (def ?? got ?? "");
    },
  );
}

/**
 * `~` and `${VAR}` expansion for path values, done at use time. `$VAR` and
 * `${VAR}` are replaced when VAR is defined and left unchanged otherwise (as
 * Python's `os.path.expandvars`); then a leading `~` (alone or followed by a
 * separator) becomes `HOME` (or `USERPROFILE`). `~user` is left unchanged.
 */
export function expandPath(p: string, env: Record<string, string | undefined>): string {
  let out = p.replace(
    /\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))/g,
    (all, braced: string | undefined, bare: string | undefined) => {
      const v = env[(braced ?? bare) as string];
      return v === undefined ? all : v;
    },
  );
  if (out === "~" || out.startsWith("~/") || out.startsWith("~\\")) {
    const home = nonEmpty(env["HOME"]) ?? nonEmpty(env["USERPROFILE"]);
    if (home !== undefined) out = home + out.slice(1);
  }
  return out;
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v === "" ? undefined : v;
}

/**
 * Splits a command line with POSIX shell quoting rules (no expansion): blanks
 * separate words, `'…'` is literal, `"…"` honours `\" \\ \$ \`` and
 * line continuation, a backslash outside quotes escapes the next character.
 * Throws an `Error` on an unterminated quote or trailing backslash.
 */
export function shellSplit(s: string): string[] {
  const out: string[] = [];
  let cur = "";
  let inWord = false;
  let i = 0;
  while (i < s.length) {
    const c = s[i] as string;
    if (c === " " || c === "\t" || c === "\n") {
      if (inWord) out.push(cur);
      cur = "";
      inWord = false;
      i++;
      continue;
    }
    inWord = true;
    if (c === "'") {
      const end = s.indexOf("'", i + 1);
      if (end < 0) throw new Error("unterminated single quote");
      cur += s.slice(i + 1, end);
      i = end + 1;
      continue;
    }
    if (c === '"') {
      let k = i + 1;
      let closed = false;
      while (k < s.length) {
        const d = s[k] as string;
        if (d === '"') {
          closed = true;
          break;
        }
        if (d === "\\" && k + 1 < s.length) {
          const e = s[k + 1] as string;
          if (e === "\n") {
            k += 2;
            continue;
          }
          if ('"\\$`'.includes(e)) {
            cur += e;
            k += 2;
            continue;
          }
        }
        cur += d;
        k++;
      }
      if (!closed) throw new Error("unterminated double quote");
      i = k + 1;
      continue;
    }
    if (c === "\\") {
      if (i + 1 >= s.length) throw new Error("trailing backslash");
      const e = s[i + 1] as string;
      if (e !== "\n") cur += e;
      i += 2;
      continue;
    }
    cur += c;
    i++;
  }
  if (inWord) out.push(cur);
  return out;
}

/** Short, safe text of an unknown error (class and message, one line). */
export function errorText(e: unknown): string {
  if (e instanceof Error) return (e.message.split("\n")[0] ?? "").trim() || e.name;
  return String(e);
}
