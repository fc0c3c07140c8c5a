/**
 * SHA-256 and HMAC-SHA1 of small values (audit value hashes, key
 * fingerprints, ETags, owner tags, hashed known_hosts names), synchronous and
 * without Deno's Node layer: `node:crypto` is the costliest built-in the
 * server would evaluate before its first answer (~19 ms in the permission
 * Worker, issue 17), and these values are tens of bytes, where @noble/hashes
 * is as fast as it (~3 us a hash). Whole files are hashed by
 * `util/file_digest.ts` with `node:crypto` (about 8x faster per byte), which
 * only the tools that need it import.
 *
 * @module
 */

import { sha256 as nobleSha256 } from "@noble/hashes/sha2.js";
import { sha1 } from "@noble/hashes/legacy.js";
import { hmac } from "@noble/hashes/hmac.js";

const encoder = new TextEncoder();

/** SHA-256 of bytes, or of a string's UTF-8 encoding. */
export function sha256(data: Uint8Array | string): Uint8Array {
  return nobleSha256(typeof data === "string" ? encoder.encode(data) : data);
}

/** HMAC-SHA1 (hashed known_hosts names, OpenSSH's `HASH_MAGIC "|1|"` format). */
export function hmacSha1(key: Uint8Array, data: Uint8Array): Uint8Array {
  return hmac(sha1, key, data);
}
