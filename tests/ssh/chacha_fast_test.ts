/**
 * src/ssh/packet_writes.ts, the ChaCha20-Poly1305 fast path: packets laid out
 * by the fast `allocPacket` leave as the same bytes ssh2's own `encrypt`
 * writes for the same plaintext, key and sequence number (a packet ssh2 did
 * not get from `allocPacket` still takes ssh2's own code), decrypt with
 * ssh2's decipher however the stream is cut, and stay intact while later
 * packets reuse the memory block. A real sshd accepting them is in
 * packet_writes_test.ts.
 */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { randomFillSync } from "node:crypto";
import {
  chachaFastPath,
  chachaPacketLength,
  coalescePacketWrites,
} from "../../src/ssh/packet_writes.ts";

/** The part of ssh2's `lib/protocol/crypto.js` these tests drive. */
interface Ssh2Crypto {
  CIPHER_INFO: Record<string, { keyLen: number }>;
  init: Promise<void>;
  createCipher(config: unknown): Cipher;
  createDecipher(config: unknown): { decrypt(data: Uint8Array, p: number, len: number): unknown };
}

interface Cipher {
  allocPacket(payloadLen: number): Uint8Array;
  encrypt(packet: Uint8Array): void;
  outSeqno: number;
}

const CHACHA = "chacha20-poly1305@openssh.com";

async function ssh2Crypto(): Promise<Ssh2Crypto> {
  const m = await import("ssh2/lib/protocol/crypto.js");
  const c = ((m as { default?: unknown }).default ?? m) as Ssh2Crypto;
  await c.init;
  return c;
}

function cipher(c: Ssh2Crypto, key: Uint8Array, seqno: number, out: Uint8Array[]): Cipher {
  return c.createCipher({
    outbound: {
      onWrite: (d: Uint8Array) => out.push(Buffer.from(d)),
      cipherInfo: c.CIPHER_INFO[CHACHA],
      cipherKey: key,
      seqno,
      forceNative: true,
    },
  });
}

function randomKey(): Uint8Array {
  const key = Buffer.alloc(64);
  randomFillSync(key);
  return key;
}

/** A packet as ssh2's class builds it, in a plain buffer (not laid out by the fast path). */
function plainPacket(payload: Uint8Array, padding: Uint8Array): Uint8Array {
  const { pktLen, padLen } = chachaPacketLength(payload.length);
  assert.equal(padding.length, padLen);
  const p = Buffer.alloc(pktLen);
  p.writeUInt32BE(pktLen - 4, 0);
  p[4] = padLen;
  p.set(payload, 5);
  p.set(padding, 5 + payload.length);
  return p;
}

const SIZES = [
  ...Array.from({ length: 41 }, (_, i) => i),
  63,
  64,
  65,
  100,
  1000,
  4096,
  32_768,
  32_777,
  34_975,
  34_980,
  34_985,
  34_990,
  35_000,
  40_000,
];

Deno.test("chacha20-poly1305 fast path: installed, and packet lengths follow the protocol's padding rule", async () => {
  await coalescePacketWrites();
  assert.equal(chachaFastPath(), true, "the fast path refused its own self-test");
  for (let n = 0; n <= 40_000; n++) {
    const { pktLen, padLen } = chachaPacketLength(n);
    assert.equal(pktLen, 4 + 1 + n + padLen, `payload ${n}`);
    assert.ok(padLen >= 4 && padLen <= 11, `payload ${n}: padding ${padLen}`);
    assert.equal((pktLen - 4) % 8, 0, `payload ${n}: ${pktLen - 4} is not a multiple of 8`);
  }
});

Deno.test("chacha20-poly1305 fast path: the same bytes as ssh2's own encrypt, every size, across the sequence number's wrap", async () => {
  await coalescePacketWrites();
  const c = await ssh2Crypto();
  for (const start of [0, 1, 0xfffffffd]) {
    const key = randomKey();
    const fast: Uint8Array[] = [];
    const own: Uint8Array[] = [];
    const a = cipher(c, key, start, fast);
    const b = cipher(c, key, start, own);
    for (const size of SIZES) {
      const p = a.allocPacket(size);
      const { pktLen, padLen } = chachaPacketLength(size);
      assert.equal(p.length, pktLen, `allocPacket(${size})`);
      assert.equal(p[4], padLen);
      assert.equal(Buffer.from(p).readUInt32BE(0), pktLen - 4);
      const payload = new Uint8Array(size);
      randomFillSync(payload);
      p.set(payload, 5);
      const q = plainPacket(payload, p.subarray(5 + size));
      const before = { fast: fast.length, own: own.length };
      a.encrypt(p);
      b.encrypt(q);
      assert.equal(fast.length, before.fast + 1, `size ${size}: one write per packet`);
      assert.equal(own.length, before.own + 1, `size ${size}: one write per packet (ssh2's path)`);
      assert.equal(
        Buffer.compare(fast.at(-1)!, own.at(-1)!),
        0,
        `size ${size}, sequence number ${(a.outSeqno - 1) >>> 0}: the bytes differ`,
      );
      assert.equal(fast.at(-1)!.length, 4 + (pktLen - 4) + 16);
    }
    assert.equal(a.outSeqno, (start + SIZES.length) >>> 0);
    assert.equal(a.outSeqno, b.outSeqno);
  }
});

Deno.test("chacha20-poly1305 fast path: ssh2's decipher reads the packets back however the stream is cut, while later packets reuse the memory", async () => {
  await coalescePacketWrites();
  const c = await ssh2Crypto();
  const key = randomKey();
  const wire: Uint8Array[] = [];
  const enc = cipher(c, key, 7, wire);
  const sent: Uint8Array[] = [];
  for (let i = 0; i < 60; i++) {
    const size = [32_768, 5, 32_777, 1000, 0][i % 5]!;
    const payload = new Uint8Array(size);
    randomFillSync(payload);
    sent.push(payload);
    const p = enc.allocPacket(size);
    p.set(payload, 5);
    enc.encrypt(p);
  }
  const stream = Buffer.concat(wire);
  for (const cut of [1, 7, 4096, 65_536, 100_000]) {
    const got: Uint8Array[] = [];
    const dec = c.createDecipher({
      inbound: {
        onPayload: (d: Uint8Array) => {
          got.push(Buffer.from(d));
        },
        decipherInfo: c.CIPHER_INFO[CHACHA],
        decipherKey: key,
        seqno: 7,
        forceNative: true,
      },
    });
    for (let o = 0; o < stream.length; o += cut) {
      const piece = stream.subarray(o, Math.min(o + cut, stream.length));
      dec.decrypt(piece, 0, piece.length);
    }
    assert.equal(got.length, sent.length, `cut ${cut}`);
    for (let i = 0; i < sent.length; i++) {
      assert.equal(Buffer.compare(got[i]!, sent[i]!), 0, `cut ${cut}, packet ${i}`);
    }
  }
  // a flipped bit anywhere in a packet (length, body, tag) is refused by the MAC
  for (const at of [0, 3, 4, 5000, wire[0]!.length - 1]) {
    const bad = Buffer.from(wire[0]!);
    bad[at]! ^= 1;
    const dec = c.createDecipher({
      inbound: {
        onPayload: () => {},
        decipherInfo: c.CIPHER_INFO[CHACHA],
        decipherKey: key,
        seqno: 7,
        forceNative: true,
      },
    });
    assert.throws(() => dec.decrypt(bad, 0, bad.length), /Invalid MAC|Bad packet length/);
  }
});
