/**
 * Random identifiers: the one source of random hex text (ids, nonces, temp
 * names, correlation ids).
 *
 * @module
 */

/** `bytes` random bytes from the platform CSPRNG as lowercase hex (2 characters per byte). */
export function randomHex(bytes: number): string {
  const b = crypto.getRandomValues(new Uint8Array(bytes));
  let out = "";
  for (const x of b) out += x.toString(16).padStart(2, "0");
  return out;
}
