/**
 * Who made the current call: the HTTP principal (token name or JWT subject,
 * issue 14) carried through an `AsyncLocalStorage` scope that the MCP layer
 * opens around each request, so every audit line and hook event of the call
 * names it without threading it through each stage. On stdio there is no
 * principal (the single local client) and the field is omitted.
 *
 * @module
 */

import { AsyncLocalStorage } from "node:async_hooks";

const storage = new AsyncLocalStorage<string>();

/** The principal scope (see module docs). */
export const principalScope = {
  /** Runs `fn` with `principal` as the caller of everything it starts. */
  run<T>(principal: string | undefined, fn: () => T): T {
    return principal === undefined ? fn() : storage.run(principal, fn);
  },
  /** The current call's principal, if any. */
  current(): string | undefined {
    return storage.getStore();
  },
};

/** `{ principal }` for an audit line or hook event, or nothing on stdio. */
export function principalField(): { principal?: string } {
  const p = storage.getStore();
  return p === undefined ? {} : { principal: p };
}
