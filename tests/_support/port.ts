/**
 * A free TCP port for a test server.
 *
 * @module
 */

/** A free TCP port on `hostname` (bound and released). */
export function freePort(hostname = "127.0.0.1"): number {
  const l = Deno.listen({ hostname, port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}
