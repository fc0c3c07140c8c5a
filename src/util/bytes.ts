/**
 * Byte-array helpers.
 *
 * @module
 */

/** Concatenates byte arrays. */
export function concat(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * Bytes as a byte string: one char per byte, code point = byte value (what
 * Node calls `latin1`). Not `TextDecoder("latin1")`, which is windows-1252 and
 * maps 0x80-0x9f elsewhere.
 */
export function latin1(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i += 0x2000) {
    s += String.fromCharCode.apply(null, b.subarray(i, i + 0x2000) as unknown as number[]);
  }
  return s;
}

/** The inverse of {@link latin1}: the low byte of each UTF-16 code unit. */
export function fromLatin1(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i) & 0xff;
  return out;
}
