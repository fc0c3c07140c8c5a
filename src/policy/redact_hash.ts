/**
 * The marker hash (SECURITY.md §RED RED-14, RED-37): HMAC-SHA256 keyed with
 * `SSH_REDACT_SALT`, or plain SHA-256 when the salt is empty, as lower-case
 * hex. A synchronous SHA-256 written for this use: `node:crypto`'s
 * `createHmac` costs about 55 µs per call in Deno (a stream object per
 * hash), which made marking 100k secrets take seconds; this costs a few
 * microseconds. Tests check it against `node:crypto` on random inputs.
 *
 * @module
 */

const K = new Int32Array([
  0x428a2f98,
  0x71374491,
  0xb5c0fbcf,
  0xe9b5dba5,
  0x3956c25b,
  0x59f111f1,
  0x923f82a4,
  0xab1c5ed5,
  0xd807aa98,
  0x12835b01,
  0x243185be,
  0x550c7dc3,
  0x72be5d74,
  0x80deb1fe,
  0x9bdc06a7,
  0xc19bf174,
  0xe49b69c1,
  0xefbe4786,
  0x0fc19dc6,
  0x240ca1cc,
  0x2de92c6f,
  0x4a7484aa,
  0x5cb0a9dc,
  0x76f988da,
  0x983e5152,
  0xa831c66d,
  0xb00327c8,
  0xbf597fc7,
  0xc6e00bf3,
  0xd5a79147,
  0x06ca6351,
  0x14292967,
  0x27b70a85,
  0x2e1b2138,
  0x4d2c6dfc,
  0x53380d13,
  0x650a7354,
  0x766a0abb,
  0x81c2c92e,
  0x92722c85,
  0xa2bfe8a1,
  0xa81a664b,
  0xc24b8b70,
  0xc76c51a3,
  0xd192e819,
  0xd6990624,
  0xf40e3585,
  0x106aa070,
  0x19a4c116,
  0x1e376c08,
  0x2748774c,
  0x34b0bcb5,
  0x391c0cb3,
  0x4ed8aa4a,
  0x5b9cca4f,
  0x682e6ff3,
  0x748f82ee,
  0x78a5636f,
  0x84c87814,
  0x8cc70208,
  0x90befffa,
  0xa4506ceb,
  0xbef9a3f7,
  0xc67178f2,
]);
const IV = new Int32Array([
  0x6a09e667,
  0xbb67ae85,
  0x3c6ef372,
  0xa54ff53a,
  0x510e527f,
  0x9b05688c,
  0x1f83d9ab,
  0x5be0cd19,
]);
const HEX: readonly string[] = Array.from(
  { length: 256 },
  (_, i) => i.toString(16).padStart(2, "0"),
);
const encoder = new TextEncoder();

/** One 64-byte block at `off` of `b` into state `st`. */
function compress(st: Int32Array, w: Int32Array, b: Uint8Array, off: number): void {
  for (let i = 0; i < 16; i++) {
    const o = off + 4 * i;
    w[i] = (b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!;
  }
  for (let i = 16; i < 64; i++) {
    const x = w[i - 15]!;
    const y = w[i - 2]!;
    const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
    const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
    w[i] = (w[i - 16]! + s0 + w[i - 7]! + s1) | 0;
  }
  let a = st[0]!, b2 = st[1]!, c = st[2]!, d = st[3]!;
  let e = st[4]!, f = st[5]!, g = st[6]!, h = st[7]!;
  for (let i = 0; i < 64; i++) {
    const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const t1 = (h + S1 + ((e & f) ^ (~e & g)) + K[i]! + w[i]!) | 0;
    const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const t2 = (S0 + ((a & b2) ^ (a & c) ^ (b2 & c))) | 0;
    h = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b2;
    b2 = a;
    a = (t1 + t2) | 0;
  }
  st[0] = (st[0]! + a) | 0;
  st[1] = (st[1]! + b2) | 0;
  st[2] = (st[2]! + c) | 0;
  st[3] = (st[3]! + d) | 0;
  st[4] = (st[4]! + e) | 0;
  st[5] = (st[5]! + f) | 0;
  st[6] = (st[6]! + g) | 0;
  st[7] = (st[7]! + h) | 0;
}

/** A reusable SHA-256 / HMAC-SHA256 of strings (UTF-8). */
export class MarkerHash {
  readonly #inner = new Int32Array(IV);
  readonly #outer = new Int32Array(IV);
  readonly #keyed: boolean;
  readonly #st = new Int32Array(8);
  readonly #w = new Int32Array(64);
  readonly #digest = new Uint8Array(128);
  #buf = new Uint8Array(256);

  /** `salt` "" = plain SHA-256; otherwise HMAC-SHA256 keyed with the salt's UTF-8 bytes. */
  constructor(salt: string) {
    this.#keyed = salt !== "";
    if (!this.#keyed) return;
    let k: Uint8Array = encoder.encode(salt);
    if (k.length > 64) k = this.#toBytes(this.#run(IV, k, k.length, 0), new Uint8Array(32));
    const blk = new Uint8Array(64);
    for (let i = 0; i < 64; i++) blk[i] = (k[i] ?? 0) ^ 0x36;
    compress(this.#inner, this.#w, blk, 0);
    for (let i = 0; i < 64; i++) blk[i] = (k[i] ?? 0) ^ 0x5c;
    compress(this.#outer, this.#w, blk, 0);
  }

  /** The hex digest of `value`. */
  hex(value: string): string {
    if (this.#buf.length < value.length * 3 + 128) {
      this.#buf = new Uint8Array(value.length * 3 + 128);
    }
    const n = encoder.encodeInto(value, this.#buf).written;
    let st = this.#run(this.#keyed ? this.#inner : IV, this.#buf, n, this.#keyed ? 64 : 0);
    if (this.#keyed) {
      this.#toBytes(st, this.#digest);
      st = this.#run(this.#outer, this.#digest, 32, 64);
    }
    let s = "";
    for (let i = 0; i < 8; i++) {
      const x = st[i]!;
      s += HEX[(x >>> 24) & 255]! + HEX[(x >>> 16) & 255]! + HEX[(x >>> 8) & 255]! + HEX[x & 255]!;
    }
    return s;
  }

  /**
   * Hashes msg[0, n) from state `init` (which already absorbed `prefix`
   * bytes); `msg` must have 128 spare bytes after n for the padding.
   */
  #run(init: Int32Array, msg: Uint8Array, n: number, prefix: number): Int32Array {
    const st = this.#st;
    st.set(init);
    const full = n & ~63;
    for (let off = 0; off < full; off += 64) compress(st, this.#w, msg, off);
    const rest = n - full;
    const pad = rest + 9 <= 64 ? 64 : 128;
    const tail = msg.length >= full + pad ? msg.subarray(full, full + pad) : new Uint8Array(pad);
    if (tail.buffer !== msg.buffer) tail.set(msg.subarray(full, n));
    tail.fill(0, rest);
    tail[rest] = 0x80;
    const bits = (n + prefix) * 8;
    const hi = Math.floor(bits / 4294967296);
    const lo = bits >>> 0;
    for (let i = 0; i < 4; i++) {
      tail[pad - 8 + i] = (hi >>> (24 - 8 * i)) & 255;
      tail[pad - 4 + i] = (lo >>> (24 - 8 * i)) & 255;
    }
    for (let off = 0; off < pad; off += 64) compress(st, this.#w, tail, off);
    return st;
  }

  #toBytes(st: Int32Array, out: Uint8Array): Uint8Array {
    for (let i = 0; i < 8; i++) {
      const x = st[i]!;
      out[4 * i] = x >>> 24;
      out[4 * i + 1] = x >>> 16;
      out[4 * i + 2] = x >>> 8;
      out[4 * i + 3] = x;
    }
    return out;
  }
}
