/**
 * The checked values through which a tool reaches a host (the "one door").
 *
 * This module is a leaf: it imports nothing from the project, so every layer
 * (policy, ssh, registry, tools) can name these types without importing
 * another layer.
 *
 * - {@link CheckedPath}: a canonical remote path that passed the path policy
 *   (minted only by `src/policy/mint.ts`, used by the path checker).
 * - {@link EntryPath}: a path found by listing a directory that was itself
 *   reached through checked values (minted only by the remote file system).
 * - {@link CheckedCommand}: a caller-owned command line the command policy
 *   admitted (minted only by `src/policy/mint.ts`).
 * - {@link ShellCommand}: a command line built by the {@link sh} template,
 *   every interpolated value POSIX-single-quoted.
 * - {@link AdmittedHost}: a host that passed resolution, blocklist, network
 *   and platform policy for one call (minted only by the registry).
 *
 * At run time the string brands are plain strings; the brands exist so that a
 * handler that forgets a check does not type-check. `src/` is checked by the
 * structure tests for casts to these types outside their minting modules.
 *
 * @module
 */

declare const checkedPathBrand: unique symbol;
declare const entryPathBrand: unique symbol;
declare const shellBrand: unique symbol;
declare const checkedCommandBrand: unique symbol;
declare const admittedBrand: unique symbol;

/**
 * A remote path that passed the path policy (SECURITY.md §PATH): the
 * canonical absolute path on the host.
 */
export type CheckedPath = string & { readonly [checkedPathBrand]: true };

/**
 * A path below a checked directory, found by listing it (`<dir>/<name>`, the
 * name free of separators, never `.` or `..`). Metadata reads (lstat,
 * readlink, readdir) accept it; anything that changes the host needs a
 * {@link CheckedPath}.
 */
export type EntryPath = string & { readonly [entryPathBrand]: true };

/** A command line whose every interpolated value was quoted by {@link sh}. */
export type ShellCommand = string & { readonly [shellBrand]: true };

/** A caller-owned command string admitted by the command policy (exec family). */
export type CheckedCommand = string & { readonly [checkedCommandBrand]: true };

/** What the ssh layer will run. */
export type RemoteCommand = ShellCommand | CheckedCommand;

/**
 * A host admitted for one call: resolved (alias, hostname or allowlist),
 * not blocklisted, on a platform the tool supports. Network policy is applied
 * again by the pool on every connect. `P` is the host policy type
 * (`HostPolicy`, which lives in the configuration layer).
 */
export interface AdmittedHost<P = unknown> {
  /** the alias or hostname as the caller typed it */
  readonly requested: string;
  /** the host's merged policy (read-only) */
  readonly policy: P;
  readonly [admittedBrand]: true;
}

const SAFE = /^[A-Za-z0-9@%+=:,./_-]+$/;

/**
 * POSIX single-quote quoting, the exact equivalent of Python `shlex.quote`:
 * safe strings stay bare, others become `'...'` with `'` written as `'"'"'`.
 */
export function quote(s: string): string {
  if (s === "") return "''";
  if (SAFE.test(s)) return s;
  return "'" + s.replaceAll("'", `'"'"'`) + "'";
}

/** `shlex.join`: quotes every element and joins with spaces. */
export function quoteArgv(argv: readonly string[]): string {
  return argv.map(quote).join(" ");
}

/** Key of the verbatim text of a {@link RawShell}; not exported, so nothing else can build one. */
const VERBATIM: unique symbol = Symbol("verbatim");

/**
 * A fragment inserted verbatim by {@link sh}: constant shell syntax
 * ({@link raw}), an already built command ({@link nested}) or an admitted
 * command ({@link nestedChecked}). Only this module creates one.
 */
export interface RawShell {
  readonly [VERBATIM]: string;
}

function verbatim(text: string): RawShell {
  return { [VERBATIM]: text };
}

function isRawShell(v: unknown): v is RawShell {
  return typeof v === "object" && v !== null && VERBATIM in v;
}

/**
 * Marks constant shell syntax for verbatim insertion. Only a compile-time
 * literal string is accepted: text computed at run time (`raw(x + y)`, a
 * template with interpolations such as `` `2>${x}` ``, a `string` variable)
 * does not type-check (`{} extends Record<T, 1>` holds exactly when `T` has
 * non-literal members).
 */
// deno-lint-ignore ban-types
export function raw<const T extends string>(text: {} extends Record<T, 1> ? never : T): RawShell {
  return verbatim(text);
}

/**
 * Nests a command built by {@link sh} inside another {@link sh} template
 * without quoting it again.
 */
export function nested(cmd: ShellCommand): RawShell {
  return verbatim(cmd);
}

/**
 * Nests a command the command policy admitted (e.g. inside the cwd wrapper of
 * a persistent shell) without quoting it: it runs as the policy checked it.
 */
export function nestedChecked(cmd: CheckedCommand): RawShell {
  return verbatim(cmd);
}

/** Values accepted inside the {@link sh} template. */
export type ShValue = string | number | readonly string[] | RawShell;

/**
 * Tagged template that quotes every interpolated value:
 * strings and numbers become one quoted word, arrays become one quoted word per
 * element, and {@link RawShell} values are inserted verbatim.
 *
 * ```ts
 * sh`getent passwd -- ${user}`
 * ```
 */
export function sh(strings: TemplateStringsArray, ...values: ShValue[]): ShellCommand {
  // a real template object is frozen; an array built at run time is not
  if (!Object.isFrozen(strings) || !Object.isFrozen(strings.raw)) {
    throw new TypeError("sh`` must be used as a tagged template");
  }
  let out = strings[0] ?? "";
  values.forEach((v, i) => {
    out += render(v) + (strings[i + 1] ?? "");
  });
  return out as ShellCommand;
}

function render(v: ShValue): string {
  if (isRawShell(v)) return v[VERBATIM];
  if (typeof v === "number") {
    if (!Number.isFinite(v)) throw new TypeError("sh``: non-finite number");
    return String(v);
  }
  if (Array.isArray(v)) return quoteArgv(v as readonly string[]);
  return quote(v as string);
}
