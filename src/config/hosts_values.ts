/**
 * Value validation for `hosts.toml`: the {@link ConfigError} formatter
 * ({@link fail}), typed value readers (`asString`, `asInt`, `asStringList`, ...),
 * the unknown-key check with its "did you mean" guess, and {@link parseKeys},
 * the loop that runs a table of per-key parsers ({@link KeyTable}) over one
 * TOML table.
 *
 * @module
 */

import { TomlDate } from "smol-toml";
import { ConfigError } from "../errors.ts";
import type { ConfigNotice, Settings } from "./types.ts";

/** A TOML table as smol-toml returns it. */
export type Table = Record<string, unknown>;

/** Where a value sits, for messages. */
export interface At {
  /** hosts.toml path */
  file: string;
  /** dotted table name (`hosts.web01.auth`); `""` for the top level */
  table: string;
  /** key inside the table; `""` for the table itself */
  key: string;
}

/** What every table parser needs besides the value. */
export interface Ctx {
  /** hosts.toml path */
  file: string;
  /** the resolved environment settings */
  settings: Settings;
  /** environment for `~` / `${VAR}` expansion */
  env: Record<string, string | undefined>;
  /**
   * where accepted-but-deprecated spellings and clamped values are reported
   * (WARNING notices, logged at start-up and on reload); absent = not reported
   */
  notices?: ConfigNotice[];
}

/** The dotted name of a key for messages: `hosts.web.port`, `defaults.auth.method`. */
export function dotted(at: At): string {
  return at.table === "" ? at.key : at.key === "" ? at.table : `${at.table}.${at.key}`;
}

/** Appends a WARNING notice `file: table.key: message` when `ctx` collects notices. */
export function warnAt(at: At, ctx: Pick<Ctx, "notices"> | undefined, message: string): void {
  ctx?.notices?.push({ level: "WARNING", message: `${at.file}: ${dotted(at)}: ${message}` });
}

/** Validates the value of one key (`at` names it) and returns it converted. */
export type KeyParser<V, C> = (v: unknown, at: At, ctx: C) => V;

/**
 * One parser per key of `T`. The mapped type proves the table is complete
 * (every key of `T` has a parser) and exact (no parser for a key `T` lacks);
 * its insertion order is the order of the "known keys" listed in messages.
 */
export type KeyTable<T, C> = {
  readonly [K in keyof T]-?: KeyParser<Exclude<T[K], undefined>, C>;
};

/** The keys of a {@link KeyTable}, in table order. */
export function keysOf<T, C>(parsers: KeyTable<T, C>): (keyof T & string)[] {
  return Object.keys(parsers) as (keyof T & string)[];
}

/**
 * Rejects unknown keys of `t`, then runs the parser of every key in document
 * order and stores each result in `out` under its key.
 */
export function parseKeys<T, C>(
  t: Table,
  parsers: KeyTable<T, C>,
  file: string,
  table: string,
  ctx: C,
  out: Partial<T>,
): void {
  checkKnownKeys(t, keysOf(parsers), file, table);
  const store = out as Record<string, unknown>;
  const run = parsers as unknown as Record<string, KeyParser<unknown, C>>;
  for (const [k, v] of Object.entries(t)) {
    store[k] = (run[k] as KeyParser<unknown, C>)(v, { file, table, key: k }, ctx);
  }
}

/** Throws the {@link ConfigError} `file: where: problem. Fix: fix.` */
export function fail(at: At, problem: string, fix: string): never {
  const where = at.table === ""
    ? `top-level key "${at.key}"`
    : at.key === ""
    ? `[${at.table}]`
    : `[${at.table}] key "${at.key}"`;
  throw new ConfigError(`${at.file}: ${where}: ${problem}. Fix: ${fix}.`);
}

/** True for a TOML table (not an array, not a date). */
export function isTable(v: unknown): v is Table {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof TomlDate);
}

/** The TOML type of `v` for messages ("an integer", "a string", ...). */
export function typeName(v: unknown): string {
  if (typeof v === "bigint") return "an integer";
  if (typeof v === "number") return "a float";
  if (typeof v === "string") return "a string";
  if (typeof v === "boolean") return "a boolean";
  if (Array.isArray(v)) return "an array";
  if (v instanceof TomlDate) return "a date";
  return "a table";
}

/** Value for a message; `_cmd` values may hold secrets and are never shown. */
export function shown(at: At, v: unknown): string {
  if (at.key.endsWith("_cmd") || at.key === "password" || at.key === "passphrase") {
    return typeName(v);
  }
  if (typeof v === "string") {
    return JSON.stringify(v.length > 60 ? v.slice(0, 57) + "..." : v);
  }
  if (typeof v === "bigint" || typeof v === "number" || typeof v === "boolean") return String(v);
  return typeName(v);
}

/** A string. */
export function asString(v: unknown, at: At, fix = "use a quoted string"): string {
  if (typeof v !== "string") fail(at, `expected a string, got ${typeName(v)}`, fix);
  return v;
}

/** Optional string: `""` means unset (null). */
export function asOptString(v: unknown, at: At): string | null {
  const s = asString(v, at, 'use a quoted string (or "" for none)');
  return s === "" ? null : s;
}

/**
 * A boolean (unquoted `true` / `false`). COMPAT: python-ssh-mcp (pydantic, lax
 * mode) also took quoted booleans; `"true"` / `"false"` (any case) are accepted
 * with a deprecation WARNING naming file and key. Other strings stay errors.
 */
export function asBool(v: unknown, at: At, ctx?: Pick<Ctx, "notices">): boolean {
  if (typeof v === "string") {
    const b = parseQuotedBool(v);
    if (b !== null) {
      warnAt(
        at,
        ctx,
        `the quoted boolean ${JSON.stringify(v)} is deprecated (accepted for python-ssh-mcp ` +
          `compatibility); write ${at.key} = ${b} (unquoted)`,
      );
      return b;
    }
  }
  if (typeof v !== "boolean") {
    fail(
      at,
      `expected a boolean, got ${shown(at, v)}`,
      `write ${at.key} = true or false (unquoted)`,
    );
  }
  return v;
}

/**
 * `"true"` / `"false"` in any case (what python-ssh-mcp's documentation and
 * deployments used); other strings are not guessed at.
 */
function parseQuotedBool(v: string): boolean | null {
  const t = v.trim().toLowerCase();
  return t === "true" ? true : t === "false" ? false : null;
}

/**
 * Integer from a TOML integer or a decimal string. COMPAT: an integral float
 * (`90.0`, which python-ssh-mcp accepted) is taken with a deprecation WARNING;
 * a float with a fraction (`22.5`) is an error.
 *
 * `clamp`: when given, an out-of-range value is clamped into `min..max` with a
 * WARNING (the text says why that is safe) instead of being an error; only for
 * keys whose bound is not security-relevant.
 */
export function asInt(
  v: unknown,
  at: At,
  min: number,
  max: number,
  example: number,
  ctx?: Pick<Ctx, "notices">,
  clamp?: string,
): number {
  const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `${min}..${max}`;
  const fix = `use an integer ${range} (e.g. ${at.key} = ${example})`;
  let n: number;
  if (typeof v === "bigint") {
    if (v < BigInt(Number.MIN_SAFE_INTEGER) || v > BigInt(Number.MAX_SAFE_INTEGER)) {
      fail(at, `${v} is out of range`, fix);
    }
    n = Number(v);
  } else if (typeof v === "string" && /^\s*[+-]?[0-9]+\s*$/.test(v)) {
    n = Number(v.trim());
    if (!Number.isSafeInteger(n)) fail(at, `${shown(at, v)} is out of range`, fix);
  } else if (typeof v === "number" && Number.isSafeInteger(v)) {
    n = v;
    warnAt(
      at,
      ctx,
      `the float ${floatText(v)} for an integer key is deprecated (accepted for python-ssh-mcp ` +
        `compatibility); write ${at.key} = ${v}`,
    );
  } else if (typeof v === "number") {
    fail(
      at,
      `${shown(at, v)} is not an integer (only whole floats like 90.0 are accepted)`,
      fix,
    );
  } else {
    fail(at, `${shown(at, v)} is not an integer`, fix);
  }
  if (n < min || n > max) {
    if (clamp === undefined) fail(at, `${n} is out of range`, fix);
    const c = Math.min(max, Math.max(min, n));
    warnAt(at, ctx, `${n} is outside ${range}; using ${c} (${clamp})`);
    return c;
  }
  return n;
}

function floatText(v: number): string {
  return Number.isInteger(v) ? v.toFixed(1) : String(v);
}

/** A finite integer or float `>= min`. */
export function asNumber(v: unknown, at: At, min: number): number {
  let n: number;
  if (typeof v === "bigint") n = Number(v);
  else if (typeof v === "number" && Number.isFinite(v)) n = v;
  else fail(at, `${shown(at, v)} is not a number`, `use a number >= ${min} (e.g. ${at.key} = 4.0)`);
  if (n < min) fail(at, `${n} is out of range`, `use a number >= ${min}`);
  return n;
}

/** An array of strings without blank items. */
export function asStringList(v: unknown, at: At): string[] {
  return readStringList(v, at, false);
}

/** An array of strings that may hold blank items (the caller checks each item). */
export function asStringListAllowBlank(v: unknown, at: At): string[] {
  return readStringList(v, at, true);
}

function readStringList(v: unknown, at: At, allowEmptyItems: boolean): string[] {
  const fix = `write ${at.key} = ["a", "b"] (an array of quoted strings)`;
  if (!Array.isArray(v)) fail(at, `expected an array of strings, got ${typeName(v)}`, fix);
  return v.map((x, i) => {
    if (typeof x !== "string") fail(at, `item ${i + 1} is ${typeName(x)}, not a string`, fix);
    if (!allowEmptyItems && x.trim() === "") {
      fail(at, `item ${i + 1} is an empty string`, "remove it");
    }
    return x;
  });
}

/** One of `values` (case-sensitive). */
export function asEnum<V extends string>(v: unknown, at: At, values: readonly V[]): V {
  const fix = `use one of ${values.map((x) => JSON.stringify(x)).join(", ")}`;
  if (typeof v !== "string") fail(at, `expected a string, got ${typeName(v)}`, fix);
  if (!(values as readonly string[]).includes(v)) fail(at, `${shown(at, v)} is not allowed`, fix);
  return v as V;
}

/** Secret reference names (CONFIG.md §4.7; same rule as secrets.ts). */
const SECRET_NAME_RE = /^[A-Za-z0-9_-]{1,100}$/;

/** A `*_secret` file name inside SSH_SECRETS_DIR; `""` means unset (null). */
export function asSecretName(v: unknown, at: At): string | null {
  const s = asOptString(v, at);
  if (s !== null && !SECRET_NAME_RE.test(s)) {
    fail(
      at,
      `${shown(at, s)} is not a valid secret name`,
      "use a file name inside SSH_SECRETS_DIR made of letters, digits, _ and - (max 100, no path)",
    );
  }
  return s;
}

/** Rejects the first key of `t` not in `known`, with a "did you mean" guess. */
export function checkKnownKeys(
  t: Table,
  known: readonly string[],
  file: string,
  table: string,
): void {
  for (const k of Object.keys(t)) {
    if (known.includes(k)) continue;
    const at = { file, table, key: k };
    const guess = didYouMean(k, known);
    let fix = guess ? `did you mean "${guess}"? ` : "";
    if ((k === "password" || k === "passphrase") && table.endsWith("auth")) {
      fix = "literal passwords are not accepted: use password_cmd / password_secret " +
        "(or passphrase_cmd / passphrase_secret) and remove this key";
    } else if (isTable(t[k]) && (table.startsWith("hosts.") && !table.includes(".", 6))) {
      fix += `remove the key; if the alias contains dots, quote it: [hosts."${
        table.slice(6)
      }.${k}..."]`;
    } else {
      fix += `remove or rename it (known keys: ${known.join(", ")})`;
    }
    fail(at, "unknown key", fix);
  }
}

function didYouMean(k: string, known: readonly string[]): string | null {
  const norm = (s: string) => s.toLowerCase().replace(/[_-]/g, "");
  const nk = norm(k);
  for (const c of known) if (norm(c) === nk) return c;
  let best: string | null = null;
  let bestD = 3;
  for (const c of known) {
    const d = levenshtein(nk, norm(c));
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return best;
}

function levenshtein(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0] as number;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j] as number;
      prev[j] = Math.min(
        (prev[j] as number) + 1,
        (prev[j - 1] as number) + 1,
        diag + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
      diag = tmp;
    }
  }
  return prev[b.length] as number;
}
