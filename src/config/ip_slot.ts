/**
 * Where the address checks of `settings.ts` find `ipaddr.js`.
 *
 * `ipaddr.js` is a CommonJS package: the first one an isolate evaluates sets
 * up Deno's CommonJS loader, about 20 ms of a cold start (issue 17). The
 * launcher loads the configuration only to compute the permission plan, so
 * it does not import the package unless its configuration has an address to
 * check: `loadConfig` parses once without it and, when a check asked for it
 * ({@link IpLibNotLoaded}), imports `ip_lib.ts` and parses again. The server
 * program's host names and network policy (`policy/hostname.ts`,
 * `policy/network.ts`) read it from here too: `App.create` imports `ip_lib.ts`
 * before it builds the App, or, for stdio `serve`, with the command and path
 * checkers after the early answers unless building the App checks an address
 * (`App.loadCheckers`). Modules that check addresses without an App import
 * `ip_lib.ts`, which fills this slot when evaluated.
 *
 * @module
 */

import type IpaddrLib from "ipaddr.js";

let lib: typeof IpaddrLib | null = null;

/** Thrown by the address checks before `ip_lib.ts` was imported (internal: `loadConfig` retries). */
export class IpLibNotLoaded extends Error {
  constructor() {
    super("internal error: ipaddr.js used before ip_lib.ts was imported");
  }
}

/** Fills the slot (`ip_lib.ts` only). */
export function provideIpLib(l: typeof IpaddrLib): void {
  lib = l;
}

/** True once `ip_lib.ts` was imported. */
export function ipLibLoaded(): boolean {
  return lib !== null;
}

/** The library; throws {@link IpLibNotLoaded} before `ip_lib.ts` was imported. */
export function ip(): typeof IpaddrLib {
  if (!lib) throw new IpLibNotLoaded();
  return lib;
}
