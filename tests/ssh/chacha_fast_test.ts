/**
 * src/ssh/chacha_fast.ts, ChaCha20-Poly1305 without per-packet buffers:
 *
 * - sending: packets laid out by the fast `allocPacket` leave as the same
 *   bytes ssh2's own `encrypt` writes for the same plaintext, key and
 *   sequence number (a packet the class did not lay out takes ssh2's own
 *   code, which is the reference here), and stay intact while later packets
 *   reuse the memory block;
 * - receiving: the fast `decrypt` returns every payload of a stream ssh2's
 *   own `encrypt` wrote, however the stream is cut into reads, refuses a
 *   forged tag or length before handing anything on, and pauses where ssh2
 *   pauses;
 * - on a live connection: installed between two reads (a packet ssh2 began is
 *   finished by ssh2), a real sshd accepts what follows and sends what the
 *   fast path reads, before and after a re-key.
 *
 * One write per packet against a real sshd, for every cipher, is in
 * packet_writes_test.ts.
 */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { randomFillSync } from "node:crypto";
import { startFleet } from "../_support/fleet.ts";
import { connectRawSsh2, SEND_AND_RECEIVE_EXPECTED, sendAndReceive } from "../_support/raw_ssh2.ts";
import { chachaFastPath, coalescePacketWrites } from "../../src/ssh/packet_writes.ts";
import { chachaPacketLength } from "../../src/ssh/chacha_fast.ts";

/** The part of ssh2's `lib/protocol/crypto.js` these tests drive. */
interface Ssh2Crypto {
  CIPHER_INFO: Record<string, { keyLen: number }>;
  init: Promise<void>;
  createCipher(config: unknown): Cipher;
  createDecipher(config: unknown): Decipher;
}

interface Cipher {
  allocPacket(payloadLen: number): Uint8Array;
  encrypt(packet: Uint8Array): void;
  outSeqno: number;
}

interface Decipher {
  decrypt(data: Uint8Array, p: number, len: number): unknown;
  inSeqno: number;
}

const CHACHA = "chacha20-poly1305@openssh.com";
const FAST = Symbol.for("ssh-mcp.chacha-fast");

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

function decipher(
  c: Ssh2Crypto,
  key: Uint8Array,
  seqno: number,
  onPayload: (d: Uint8Array) => unknown,
): Decipher {
  return c.createDecipher({
    inbound: {
      onPayload,
      decipherInfo: c.CIPHER_INFO[CHACHA],
      decipherKey: key,
      seqno,
      forceNative: true,
    },
  });
}

function randomBytes(n: number): Uint8Array {
  const b = Buffer.alloc(n);
  randomFillSync(b);
  return b;
}

/** A packet as ssh2's class builds it, in a plain buffer: `encrypt` gives it to ssh2's own code. */
function plainPacket(payload: Uint8Array, padding?: Uint8Array): Uint8Array {
  const { pktLen, padLen } = chachaPacketLength(payload.length);
  const p = Buffer.alloc(pktLen);
  p.writeUInt32BE(pktLen - 4, 0);
  p[4] = padLen;
  p.set(payload, 5);
  p.set(padding ?? randomBytes(padLen), 5 + payload.length);
  return p;
}

/** The wire bytes of `payloads`, sealed by ssh2's own `encrypt`. */
function sealedByOwn(c: Ssh2Crypto, key: Uint8Array, seqno: number, payloads: Uint8Array[]) {
  const wire: Uint8Array[] = [];
  const enc = cipher(c, key, seqno, wire);
  for (const p of payloads) enc.encrypt(plainPacket(p));
  return { wire, stream: Buffer.concat(wire) };
}

/** Feeds `stream` in reads of the given sizes (the last size repeats); returns the payloads. */
function readBack(d: Decipher, stream: Uint8Array, sizes: number[], got: Uint8Array[]) {
  for (let o = 0, i = 0; o < stream.length; i++) {
    const n = sizes[Math.min(i, sizes.length - 1)]!;
    const piece = stream.subarray(o, Math.min(o + n, stream.length));
    d.decrypt(piece, 0, piece.length);
    o += piece.length;
  }
  return got;
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

// first in this file (its own isolate): the classes are still ssh2's own when it starts
Deno.test("chacha20-poly1305 fast path: installed between two reads of a live stream (ssh2 finishes the packet it began) and of a live connection (the host accepts what follows and sends what it reads), re-key included", async () => {
  assert.equal(await chachaFastPath(), false, "installed before coalescePacketWrites()");
  const c = await ssh2Crypto();
  const key = randomBytes(64);
  const payloads = [randomBytes(32_768), randomBytes(32_768), randomBytes(100)];
  const { stream } = sealedByOwn(c, key, 41, payloads);
  const got: Uint8Array[] = [];
  const d = decipher(c, key, 41, (p) => void got.push(Buffer.from(p)));
  // ssh2's own decrypt: the first packet and part of the second
  const half = chachaPacketLength(32_768).pktLen + 16 + 20_000;
  d.decrypt(stream.subarray(0, half), 0, half);
  assert.equal(got.length, 1);

  const fleet = await startFleet(1);
  try {
    const { client } = await connectRawSsh2(fleet, { algorithms: { cipher: [CHACHA] } });
    try {
      const expected = SEND_AND_RECEIVE_EXPECTED;
      assert.equal(await sendAndReceive(client), expected, "before the fast path");

      await coalescePacketWrites();
      assert.equal(await chachaFastPath(), true, "the fast path refused its own self-test");
      const proto = (client as unknown as {
        _protocol: { _cipher: object; _decipher: object; rekey(): void };
      })._protocol;
      for (const [what, m] of [["encrypt", "encrypt"], ["decrypt", "decrypt"]] as const) {
        const obj = what === "encrypt" ? proto._cipher : proto._decipher;
        assert.equal(
          (obj as Record<string, Record<symbol, unknown>>)[m]![FAST],
          true,
          `the live connection's ${what} does not take the fast path`,
        );
      }

      // the stream: the rest of the packet ssh2 began, then one through the fast decrypt
      const rest = stream.subarray(half);
      d.decrypt(rest, 0, rest.length);
      assert.equal(got.length, 3);
      payloads.forEach((p, i) => assert.equal(Buffer.compare(got[i]!, p), 0, `payload ${i}`));
      assert.equal(d.inSeqno, 44);

      assert.equal(await sendAndReceive(client), expected, "after the fast path was installed");
      const before = proto._cipher;
      proto.rekey();
      for (let i = 0; i < 250 && proto._cipher === before; i++) {
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.notEqual(proto._cipher, before, "the re-key did not happen");
      assert.equal(await sendAndReceive(client), expected, "after a re-key");
    } finally {
      client.end();
    }
  } finally {
    await fleet.stop();
  }
});

Deno.test("chacha20-poly1305 fast path: packet lengths follow the protocol's padding rule", async () => {
  await coalescePacketWrites();
  assert.equal(await chachaFastPath(), true);
  for (let n = 0; n <= 40_000; n++) {
    const { pktLen, padLen } = chachaPacketLength(n);
    assert.equal(pktLen, 4 + 1 + n + padLen, `payload ${n}`);
    assert.ok(padLen >= 4 && padLen <= 11, `payload ${n}: padding ${padLen}`);
    assert.equal((pktLen - 4) % 8, 0, `payload ${n}: ${pktLen - 4} is not a multiple of 8`);
  }
});

Deno.test("chacha20-poly1305 fast path: sending gives the same bytes as ssh2's own encrypt, every size, across the sequence number's wrap, with earlier packets intact", async () => {
  await coalescePacketWrites();
  assert.equal(await chachaFastPath(), true);
  const c = await ssh2Crypto();
  for (const start of [0, 1, 0xfffffffd]) {
    const key = randomBytes(64);
    const fast: Uint8Array[] = [];
    const own: Uint8Array[] = [];
    const a = cipher(c, key, start, fast);
    const b = cipher(c, key, start, own);
    const kept: Uint8Array[] = [];
    for (const size of SIZES) {
      const p = a.allocPacket(size);
      const { pktLen, padLen } = chachaPacketLength(size);
      assert.equal(p.length, pktLen, `allocPacket(${size})`);
      assert.equal(p[4], padLen);
      assert.equal(Buffer.from(p).readUInt32BE(0), pktLen - 4);
      const payload = randomBytes(size);
      p.set(payload, 5);
      const q = plainPacket(payload, p.subarray(5 + size));
      a.encrypt(p);
      b.encrypt(q);
      assert.equal(fast.length, own.length, `size ${size}: one write per packet`);
      assert.equal(
        Buffer.compare(fast.at(-1)!, own.at(-1)!),
        0,
        `size ${size}, sequence number ${(a.outSeqno - 1) >>> 0}: the bytes differ`,
      );
      assert.equal(fast.at(-1)!.length, pktLen + 16);
      kept.push(Buffer.from(fast.at(-1)!));
    }
    assert.equal(a.outSeqno, (start + SIZES.length) >>> 0);
    assert.equal(a.outSeqno, b.outSeqno);
    // what went to the socket is the cipher's output, never the reused block
    kept.forEach((k, i) => assert.equal(Buffer.compare(k, fast[i]!), 0, `packet ${i} changed`));
  }
});

Deno.test("chacha20-poly1305 fast path: receiving returns every payload however the stream is cut into reads", async () => {
  await coalescePacketWrites();
  assert.equal(await chachaFastPath(), true);
  const c = await ssh2Crypto();
  const key = randomBytes(64);
  const payloads = SIZES.filter((n) => n <= 34_980).map((n) => randomBytes(n));
  const { stream } = sealedByOwn(c, key, 0xfffffff0, payloads);
  for (const sizes of [[stream.length], [1], [3], [7], [4096], [65_536], [16, 33_000, 5]]) {
    const got: Uint8Array[] = [];
    const d = decipher(c, key, 0xfffffff0, (p) => void got.push(Buffer.from(p)));
    readBack(d, stream, sizes, got);
    assert.equal(got.length, payloads.length, `reads of ${sizes}`);
    payloads.forEach((p, i) =>
      assert.equal(Buffer.compare(got[i]!, p), 0, `reads of ${sizes}: payload ${i}`)
    );
    assert.equal(d.inSeqno, (0xfffffff0 + payloads.length) >>> 0);
  }
  // every split point of a short stream (lengths and tags across two reads)
  const short = sealedByOwn(c, key, 5, [randomBytes(3), randomBytes(20)]).stream;
  for (let cut = 1; cut < short.length; cut++) {
    const got: Uint8Array[] = [];
    const d = decipher(c, key, 5, (p) => void got.push(Buffer.from(p)));
    readBack(d, short, [cut, short.length], got);
    assert.deepEqual(got.map((g) => g.length), [3, 20], `split at ${cut}`);
  }
});

Deno.test("chacha20-poly1305 fast path: receiving refuses a forged tag, body or length before handing anything on, and pauses where ssh2 pauses", async () => {
  await coalescePacketWrites();
  assert.equal(await chachaFastPath(), true);
  const c = await ssh2Crypto();
  const key = randomBytes(64);
  const { wire, stream } = sealedByOwn(c, key, 9, [randomBytes(5000), randomBytes(10)]);
  const first = wire[0]!.length;
  for (const at of [4, 5, 2500, first - 17, first - 16, first - 1]) {
    const bad = Buffer.from(stream);
    bad[at]! ^= 0x40;
    const got: Uint8Array[] = [];
    const d = decipher(c, key, 9, (p) => void got.push(p));
    assert.throws(() => d.decrypt(bad, 0, bad.length), /^Error: Invalid MAC$/, `byte ${at}`);
    assert.equal(got.length, 0, `byte ${at}: a payload was handed on`);
  }
  // a forged length: refused, or waited on (more bytes than there are), never handed on
  for (const at of [0, 1, 2, 3]) {
    const bad = Buffer.from(stream);
    bad[at]! ^= 0x01;
    const got: Uint8Array[] = [];
    const d = decipher(c, key, 9, (p) => void got.push(p));
    try {
      d.decrypt(bad, 0, bad.length);
    } catch (err) {
      assert.match(String(err), /Bad packet length|Invalid MAC/);
    }
    assert.equal(got.length, 0, `length byte ${at}: a payload was handed on`);
  }
  // a length over ssh2's limit is refused as soon as it is read
  {
    const big = Buffer.alloc(36_000);
    const sealed = sealedByOwn(c, key, 3, [big]).stream;
    const d = decipher(c, key, 3, () => {});
    assert.throws(() => d.decrypt(sealed, 0, 4), /^Error: Bad packet length$/);
  }
  // onPayload returning false pauses: decrypt returns where the next packet starts
  {
    const d = decipher(c, key, 9, () => false);
    assert.equal(d.decrypt(stream, 0, stream.length), first);
  }
});
