/**
 * The small-value hashes and byte-string helpers that replaced `node:crypto`
 * and `node:buffer` on the start path (issue 17, start-up) give the same
 * bytes as the Node APIs they replaced: SHA-256 of bytes and of strings
 * (including lone surrogates, which both encode as U+FFFD), HMAC-SHA1 (hashed
 * known_hosts names), latin1 in both directions over every byte value and
 * across the chunk size, and the base64 / hex forms the callers print.
 */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createHash, createHmac } from "node:crypto";
import { fromLatin1, latin1 } from "../../src/util/bytes.ts";
import { hmacSha1, sha256 } from "../../src/util/digest.ts";
import { sha256Hex } from "../../src/util/file_digest.ts";
import { fingerprintSha256 } from "../../src/ssh/key_blob.ts";
import { byteString, hashHostName } from "../../src/ssh/known_hosts_match.ts";

function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(out.subarray(i, i + 65536));
  return out;
}

const SIZES = [0, 1, 55, 56, 63, 64, 65, 1000, 0x2000 - 1, 0x2000, 0x2000 + 1, 100_000];

Deno.test("sha256 of bytes equals node:crypto", () => {
  for (const n of SIZES) {
    const b = randomBytes(n);
    const want = createHash("sha256").update(b).digest("hex");
    assert.equal(sha256(b).toHex(), want, `${n} bytes`);
    assert.equal(sha256Hex(b), want, `${n} bytes (file digest)`);
  }
});

Deno.test("sha256 of strings equals node:crypto's UTF-8 hash, lone surrogates included", () => {
  for (const s of ["", "abc", "é€😀", "a\ud800b", "\udfff", "x".repeat(5000), "\0\n\r"]) {
    assert.equal(sha256(s).toHex(), createHash("sha256").update(s, "utf8").digest("hex"), s);
  }
});

Deno.test("hmacSha1 equals node:crypto (hashed known_hosts names)", () => {
  for (const [k, m] of [[20, 0], [20, 9], [20, 300], [64, 64], [65, 10], [0, 5]] as const) {
    const key = randomBytes(k);
    const msg = randomBytes(m);
    const want = createHmac("sha1", key).update(msg).digest("base64");
    assert.equal(hmacSha1(key, msg).toBase64(), want, `key ${k}, message ${m}`);
  }
  const salt = randomBytes(20);
  const name = "Host.Example.org";
  const want = `|1|${Buffer.from(salt).toString("base64")}|${
    createHmac("sha1", salt).update(Buffer.from(name.toLowerCase(), "latin1")).digest("base64")
  }`;
  assert.equal(hashHostName(name, salt), want);
});

Deno.test("latin1 and fromLatin1 equal Buffer's latin1 over every byte value and chunk edge", () => {
  const every = new Uint8Array(256).map((_, i) => i);
  for (const b of [every, ...SIZES.map(randomBytes)]) {
    const s = latin1(b);
    assert.equal(s, Buffer.from(b).toString("latin1"), `${b.length} bytes`);
    assert.deepEqual(fromLatin1(s), b);
  }
  // chars above 0xff keep their low byte, as Buffer.from(s, "latin1") does
  const wide = "\u0100\u20ac\uffff\ud83d\ude00a";
  assert.deepEqual(fromLatin1(wide), new Uint8Array(Buffer.from(wide, "latin1")));
  // not windows-1252: 0x80..0x9f map to U+0080..U+009F
  assert.equal(latin1(new Uint8Array([0x80, 0x9f])), "\u0080\u009f");
});

Deno.test("byteString and fingerprintSha256 keep their Node-era values", () => {
  for (const s of ["host", "hôst-é.example", "😀", "a\ud800"]) {
    assert.equal(byteString(s), Buffer.from(s, "utf8").toString("latin1"), s);
  }
  const blob = randomBytes(51);
  const want = "SHA256:" + createHash("sha256").update(blob).digest("base64").replace(/=+$/, "");
  assert.equal(fingerprintSha256(blob), want);
});
