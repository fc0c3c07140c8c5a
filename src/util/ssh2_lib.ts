/**
 * ssh2 loaded on first use, not at start-up: evaluating ssh2 (its protocol
 * constants probe the runtime's crypto) is one of the largest costs before
 * the first `tools/list` answer, and a server that has not connected
 * anywhere yet does not need it (issue 17). Every async path that reaches
 * ssh2 awaits {@link loadSsh2} first; the synchronous helpers that use the
 * library afterwards call {@link ssh2Lib}, which says so loudly when that
 * order was broken instead of failing somewhere inside ssh2.
 *
 * The specifiers are string literals, so `deno compile` packs both modules.
 *
 * @module
 */

// @ts-types="npm:@types/ssh2@1.15.5"
import type * as Ssh2 from "ssh2";

/** The ssh2 module (the package's CommonJS exports). */
export type Ssh2Lib = typeof Ssh2;

/** The constants ssh2 computed for this runtime (default and supported algorithm lists). */
export type Ssh2Constants = Record<string, unknown>;

let lib: Ssh2Lib | null = null;
let libLoading: Promise<Ssh2Lib> | null = null;
let constants: Ssh2Constants | null = null;
let constantsLoading: Promise<Ssh2Constants> | null = null;

/** Loads ssh2 once (concurrent callers share the load). */
export function loadSsh2(): Promise<Ssh2Lib> {
  if (lib) return Promise.resolve(lib);
  libLoading ??= import("ssh2").then((m) => {
    lib = ((m as { default?: unknown }).default ?? m) as Ssh2Lib;
    return lib;
  });
  return libLoading;
}

/** ssh2 after {@link loadSsh2} resolved; an internal error before. */
export function ssh2Lib(): Ssh2Lib {
  if (!lib) throw new Error("internal error: ssh2 used before loadSsh2() resolved");
  return lib;
}

/** Loads ssh2's protocol constants once. */
export function loadSsh2Constants(): Promise<Ssh2Constants> {
  if (constants) return Promise.resolve(constants);
  constantsLoading ??= import("ssh2/lib/protocol/constants.js").then((m) => {
    constants = ((m as { default?: unknown }).default ?? m) as Ssh2Constants;
    return constants;
  });
  return constantsLoading;
}

/** ssh2's constants after {@link loadSsh2Constants} resolved; an internal error before. */
export function ssh2Constants(): Ssh2Constants {
  if (!constants) {
    throw new Error("internal error: ssh2 constants used before loadSsh2Constants() resolved");
  }
  return constants;
}
