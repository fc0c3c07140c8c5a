/**
 * The pool key of one SSH connection (one hop): user, host name, port and the
 * jump connection it goes through. Its own module so the pool can key
 * connections without loading the connection machinery (`connection.ts`).
 *
 * @module
 */

/** Pool identity of a connection: `(user, hostname, port)` plus the route. */
export function connectionKey(user: string, hostname: string, port: number, via?: string): string {
  return `${user}@${hostname}:${port}${via ? ` via ${via}` : ""}`;
}
