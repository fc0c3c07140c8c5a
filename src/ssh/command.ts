/**
 * Remote command construction.
 *
 * The ssh layer accepts only {@link RemoteCommand} values: either a
 * {@link ShellCommand} built by the {@link sh} tagged template (every
 * interpolated value POSIX-single-quoted) or a {@link CheckedCommand} that the
 * command policy admitted. A tool that forgets a check therefore does not
 * type-check (SECURITY.md INV-3, INPUT-1).
 *
 * @module
 */

declare const shellBrand: unique symbol;
declare const checkedBrand: unique symbol;

/** A command line whose every interpolated value was quoted by {@link sh}. */
export type ShellCommand = string & { readonly [shellBrand]: true };

/** A caller-owned command string admitted by the command policy (exec family). */
export type CheckedCommand = string & { readonly [checkedBrand]: true };

/** What the ssh layer will run. */
export type RemoteCommand = ShellCommand | CheckedCommand;

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

/** A fragment inserted verbatim by {@link sh}; only for constant shell syntax. */
export class RawShell {
  constructor(readonly text: string) {}
}

/** Marks a constant shell fragment (never user data) for verbatim insertion. */
export function raw(text: string): RawShell {
  return new RawShell(text);
}

/** Values accepted inside the {@link sh} template. */
export type ShValue = string | number | readonly string[] | RawShell;

/**
 * Tagged template that quotes every interpolated value:
 * strings and numbers become one quoted word, arrays become one quoted word per
 * element, and {@link RawShell} values (constant syntax, or a nested command
 * wrapped with {@link nested}) are inserted verbatim.
 *
 * ```ts
 * sh`getent passwd -- ${user}`
 * ```
 */
export function sh(strings: TemplateStringsArray, ...values: ShValue[]): ShellCommand {
  let out = strings[0] ?? "";
  values.forEach((v, i) => {
    out += render(v) + (strings[i + 1] ?? "");
  });
  return out as ShellCommand;
}

function render(v: ShValue): string {
  if (v instanceof RawShell) return v.text;
  if (typeof v === "number") {
    if (!Number.isFinite(v)) throw new TypeError("sh``: non-finite number");
    return String(v);
  }
  if (Array.isArray(v)) return quoteArgv(v as readonly string[]);
  return quote(v as string);
}

/**
 * Nests an already-built command inside another {@link sh} template without
 * quoting it again.
 */
export function nested(cmd: ShellCommand): RawShell {
  return new RawShell(cmd);
}

/**
 * Brands a command string the command policy admitted. Only the policy module
 * (and tests) may call this.
 */
export function admitCommand(command: string): CheckedCommand {
  return command as CheckedCommand;
}
