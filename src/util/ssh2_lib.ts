/**
 * ssh2 loaded on first use, not at start-up: evaluating ssh2 (its protocol
 * constants probe the runtime's crypto) is one of the largest costs before
 * the first `tools/list` answer, and a server that has not connected
 * anywhere yet does not need it (issue 17). Every async path that reaches
 * ssh2 awaits {@link loadSsh2} first; the synchronous helpers that use the
 * library afterwards call {@link ssh2Lib}, which says so loudly when that
 * order was broken instead of failing somewhere inside ssh2.
 *
 * The specifiers are string literals, so `deno compile` packs the modules.
 *
 * @module
 */

// @ts-types="npm:@types/ssh2@1.15.5"
import type * as Ssh2 from "ssh2";

/** The ssh2 module (the package's CommonJS exports). */
export type Ssh2Lib = typeof Ssh2;

/** The constants ssh2 computed for this runtime (default and supported algorithm lists). */
export type Ssh2Constants = Record<string, unknown>;

/**
 * A module loaded once on first use: `load()` starts (or joins) the import;
 * `get()` returns it after that resolved and throws an internal error before,
 * naming `what`, instead of failing somewhere inside the library.
 */
function loadedOnce<T>(what: string, importer: () => Promise<unknown>) {
  let value: T | null = null;
  let loading: Promise<T> | null = null;
  return {
    load(): Promise<T> {
      if (value) return Promise.resolve(value);
      loading ??= importer().then((m) => {
        value = ((m as { default?: unknown }).default ?? m) as T;
        return value;
      });
      return loading;
    },
    get(): T {
      if (!value) throw new Error(`internal error: ${what} used before it was loaded`);
      return value;
    },
  };
}

const lib = loadedOnce<Ssh2Lib>("ssh2 (loadSsh2)", () => import("ssh2"));
const constants = loadedOnce<Ssh2Constants>(
  "ssh2's constants (loadSsh2Constants)",
  () => import("ssh2/lib/protocol/constants.js"),
);

/** Loads ssh2 once (concurrent callers share the load). */
export const loadSsh2: () => Promise<Ssh2Lib> = lib.load;

/** ssh2 after {@link loadSsh2} resolved; an internal error before. */
export const ssh2Lib: () => Ssh2Lib = lib.get;

const cryptoModule = loadedOnce<unknown>(
  "ssh2's crypto module (loadSsh2Crypto)",
  () => import("ssh2/lib/protocol/crypto.js"),
);

/**
 * Loads ssh2's internal crypto module once (its cipher classes, which
 * `ssh/packet_writes.ts` and `ssh/chacha_fast.ts` change; they describe the
 * part they use).
 */
export const loadSsh2Crypto: () => Promise<unknown> = cryptoModule.load;

/** Loads ssh2's protocol constants once. */
export const loadSsh2Constants: () => Promise<Ssh2Constants> = constants.load;

/** ssh2's constants after {@link loadSsh2Constants} resolved; an internal error before. */
export const ssh2Constants: () => Ssh2Constants = constants.get;
