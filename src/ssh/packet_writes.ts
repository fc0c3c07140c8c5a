/**
 * One socket write per SSH packet (issue 17, per-call and per-byte cost).
 *
 * ssh2's JavaScript ciphers hand every encrypted packet to the socket in
 * pieces: AES-GCM and ChaCha20-Poly1305 write the length, the body and the
 * tag separately, the MAC ciphers (`aes*-ctr` with HMAC) two or three pieces.
 * Under Deno each piece is one `sendto(2)`, and on a loopback or LAN
 * connection each of those wakes the host's `sshd`. A call of
 * `ssh_exec_run` sends about five packets (channel open, exec request, EOF,
 * close, window adjust): fifteen system calls where five carry the same
 * bytes; an upload sends three per 32 KiB packet.
 *
 * {@link coalescePacketWrites} wraps the `encrypt` method of each of ssh2's
 * own (non-binding) cipher classes once: the pieces one packet produces are
 * collected and written as one buffer, in the same order. Nothing else
 * changes: the bytes on the wire, the sequence numbers, the MACs, the
 * re-keying (the wrapper sits on the classes, so ciphers created by a
 * re-key are covered). ssh2 offers no option for it; the classes are
 * reached through `createCipher` with `forceNative`, the same entry point
 * ssh2's key exchange uses. Should ssh2's internals change (no `encrypt`, no
 * `_onWrite`), nothing is wrapped and packets go out as before
 * (tests/ssh/packet_writes_test.ts notices).
 *
 * ChaCha20-Poly1305, the first cipher in the server's order, goes one step
 * further ({@link fastChaChaPackets}): ssh2's class encrypts each packet with
 * three fresh `chacha20` cipher objects and four fresh buffers (the packet,
 * the poly key, the ciphertext, the tag), and the pieces were then copied
 * into a fifth. Under Deno every fresh buffer is a `malloc` that V8 counts as
 * external memory, and the garbage collector runs for it: at 32 KiB a packet
 * an upload spent more time allocating and freeing than encrypting. The fast
 * path lays each packet out in a reused buffer with room around it, so that
 * one `chacha20` pass from counter 0 yields the poly key (block 0, as
 * PROTOCOL.chacha20poly1305 derives it) and the payload's ciphertext (from
 * counter 1) in one output buffer, which then takes the encrypted length in
 * front and the tag behind and goes to the socket whole. The bytes on the
 * wire are the same as ssh2's (checked against ssh2's own class before it is
 * installed, and by the tests).
 *
 * @module
 */

/** The part of ssh2's `lib/protocol/crypto.js` this module uses. */
interface Ssh2Crypto {
  CIPHER_INFO: Record<string, { keyLen: number; ivLen: number }>;
  MAC_INFO: Record<string, { len: number }>;
  createCipher(config: unknown): object;
}

/** An ssh2 cipher instance: `encrypt` writes through `_onWrite`. */
interface Ssh2Cipher {
  _onWrite: (data: Uint8Array) => void;
}

/** Marks a wrapped `encrypt` (a registered symbol: another copy of this module sees it too). */
const WRAPPED = Symbol.for("ssh-mcp.coalesced");

/** The cipher of each class ssh2 builds in JavaScript: AES-GCM, ChaCha20-Poly1305, CTR + HMAC. */
const SAMPLES: readonly { cipher: string; mac?: string }[] = [
  { cipher: "aes128-gcm@openssh.com" },
  { cipher: "chacha20-poly1305@openssh.com" },
  { cipher: "aes128-ctr", mac: "hmac-sha2-256" },
];

let applied: Promise<number> | null = null;
let fastChaCha = false;

/** What the wrapping needs of Node's `Buffer` (ssh2's own buffer type). */
interface BufferLib {
  alloc(n: number): Uint8Array;
  concat(pieces: readonly Uint8Array[], length: number): Uint8Array;
}

/**
 * Wraps ssh2's cipher classes once (concurrent and later calls share the
 * first); resolves to the number of classes wrapped (0 when ssh2's
 * internals are not what this module expects). Never rejects: the
 * connection path awaits it.
 */
export function coalescePacketWrites(): Promise<number> {
  applied ??= Promise.all([
    import("ssh2/lib/protocol/crypto.js"),
    import("node:buffer"),
    import("node:crypto"),
  ]).then(
    async ([m, { Buffer }, nodeCrypto]) => {
      const crypto = ((m as { default?: unknown }).default ?? m) as Ssh2Crypto;
      const wrapped = wrapClasses(crypto, Buffer);
      // after the wrapping: packets the fast path did not lay out go to the coalesced `encrypt`
      fastChaCha = await fastChaChaPackets(crypto, Buffer, nodeCrypto as unknown as NodeCrypto);
      return wrapped;
    },
    // a module that cannot be loaded wraps nothing: connections go on as ssh2 makes them
    () => 0,
  );
  return applied;
}

/** Whether the ChaCha20-Poly1305 fast path is installed (known after {@link coalescePacketWrites}). */
export function chachaFastPath(): boolean {
  return fastChaCha;
}

function wrapClasses(crypto: Ssh2Crypto, buffers: BufferLib): number {
  let wrapped = 0;
  for (const sample of SAMPLES) {
    const proto = classOf(crypto, buffers, sample.cipher, sample.mac);
    if (!proto) continue;
    const encrypt = proto.encrypt as unknown;
    if (typeof encrypt !== "function") continue;
    // a class another copy of this module already wrapped counts, but is not wrapped again
    if (!(encrypt as { [WRAPPED]?: boolean })[WRAPPED]) {
      proto.encrypt = coalesced(encrypt as (this: Ssh2Cipher, packet: Uint8Array) => void, buffers);
    }
    wrapped++;
  }
  return wrapped;
}

/** The prototype of the JavaScript class ssh2 uses for `cipher` (with `mac`), or null. */
function classOf(
  crypto: Ssh2Crypto,
  buffers: BufferLib,
  cipher: string,
  mac?: string,
): Record<string, unknown> | null {
  try {
    const info = crypto.CIPHER_INFO?.[cipher];
    const macInfo = mac ? crypto.MAC_INFO?.[mac] : undefined;
    if (!info || (mac && !macInfo)) return null;
    const instance = crypto.createCipher({
      outbound: {
        onWrite: () => {},
        cipherInfo: info,
        cipherKey: buffers.alloc(info.keyLen),
        ...(info.ivLen ? { cipherIV: buffers.alloc(info.ivLen) } : {}),
        ...(macInfo ? { macInfo, macKey: buffers.alloc(macInfo.len) } : {}),
        seqno: 0,
        forceNative: true,
      },
    }) as Ssh2Cipher;
    if (typeof instance._onWrite !== "function") return null;
    return Object.getPrototypeOf(instance) as Record<string, unknown>;
  } catch {
    // ssh2 refused the sample (its checks changed): leave that class alone
    return null;
  }
}

/** `encrypt` whose pieces reach the socket as one write. */
function coalesced(
  encrypt: (this: Ssh2Cipher, packet: Uint8Array) => void,
  buffers: BufferLib,
): (this: Ssh2Cipher, packet: Uint8Array) => void {
  const wrapper = function (this: Ssh2Cipher, packet: Uint8Array): void {
    const write = this._onWrite;
    const pieces: Uint8Array[] = [];
    let length = 0;
    // the pieces are collected synchronously: `encrypt` calls nothing else back
    this._onWrite = (piece: Uint8Array) => {
      pieces.push(piece);
      length += piece.length;
    };
    try {
      encrypt.call(this, packet);
    } finally {
      this._onWrite = write;
    }
    if (pieces.length === 1) write(pieces[0]!);
    else if (pieces.length > 1) write(buffers.concat(pieces, length));
  };
  Object.defineProperty(wrapper, WRAPPED, { value: true });
  return wrapper;
}

// ---- ChaCha20-Poly1305 (PROTOCOL.chacha20poly1305) without per-packet buffers

/** What the fast path needs of `node:crypto`. */
interface NodeCrypto {
  createCipheriv(
    algorithm: "chacha20",
    key: Uint8Array,
    iv: Uint8Array,
  ): { update(data: Uint8Array): Uint8Array };
  randomFillSync(buffer: Uint8Array, offset: number, size: number): unknown;
}

/** What the fast path needs of `Buffer`: views on a reused memory block (ssh2 writes packets with Buffer methods). */
interface ViewLib extends BufferLib {
  from(memory: ArrayBuffer, byteOffset: number, length: number): Uint8Array;
  compare(a: Uint8Array, b: Uint8Array): number;
}

/** ssh2's ChaCha20-Poly1305 cipher instance, as far as the fast path reads it. */
interface ChaChaCipher extends Ssh2Cipher {
  _dead: boolean;
  outSeqno: number;
  _encKeyMain: Uint8Array;
  _encKeyPktLen: Uint8Array;
}

/** ssh2's Poly1305 (emscripten-built WebAssembly): `poly1305_auth(out, m1, m1len, m2, m2len, key)`. */
interface Poly1305Module {
  _malloc(n: number): number;
  HEAPU8: Uint8Array;
  cwrap(name: string, ret: null, args: string[]): (...args: unknown[]) => void;
}

/** Marks the fast path's `encrypt` (registered: another copy of this module sees it too). */
const FAST = Symbol.for("ssh-mcp.chacha-fast");

/**
 * Room in front of a packet: keystream block 0 is 64 bytes, and the packet's
 * 4-byte length field takes its last 4, so the payload starts at block 1.
 */
const HEAD = 60;
/** Room behind a packet, where the output takes the Poly1305 tag. */
const TAIL = 16;
/** ssh2's largest packet (`MAX_PACKET_SIZE`); larger ones get a block of their own. */
const POOLED_PACKET = 35_000;
/** Reused blocks kept (encrypt follows allocation synchronously: one or two are in use). */
const POOL_KEEP = 8;

/** `allocPacket` as ssh2's ChaCha20-Poly1305 class computes it (8-byte blocks, the length field excluded). */
export function chachaPacketLength(payloadLen: number): { pktLen: number; padLen: number } {
  const bare = 4 + 1 + payloadLen;
  let padLen = 8 - ((bare - 4) & 7);
  if (padLen < 4) padLen += 8;
  return { pktLen: bare + padLen, padLen };
}

/**
 * Installs the fast `allocPacket` and `encrypt` on ssh2's JavaScript
 * ChaCha20-Poly1305 class, after checking on sample packets that it writes
 * the same bytes as the class's own `encrypt`. Returns whether it is
 * installed; never throws (anything unexpected leaves ssh2's class as it is).
 */
async function fastChaChaPackets(
  crypto: Ssh2Crypto,
  buffers: ViewLib,
  nodeCrypto: NodeCrypto,
): Promise<boolean> {
  try {
    const info = crypto.CIPHER_INFO?.["chacha20-poly1305@openssh.com"];
    if (!info) return false;
    const make = (onWrite: (d: Uint8Array) => void, key: Uint8Array, seqno: number) =>
      crypto.createCipher({
        outbound: {
          onWrite,
          cipherInfo: info,
          cipherKey: key,
          seqno,
          forceNative: true,
        },
      }) as ChaChaCipher;
    const probe = make(() => {}, buffers.alloc(info.keyLen), 0);
    const proto = Object.getPrototypeOf(probe) as Record<string, unknown>;
    if ((proto.encrypt as { [FAST]?: boolean } | undefined)?.[FAST]) return true;
    if (
      typeof proto.encrypt !== "function" || typeof proto.allocPacket !== "function" ||
      typeof probe.outSeqno !== "number" || probe._encKeyMain?.length !== 32 ||
      probe._encKeyPktLen?.length !== 32 || typeof probe._onWrite !== "function"
    ) return false;
    const factory = (await import("ssh2/lib/protocol/crypto/poly1305.js")) as {
      default?: () => Promise<Poly1305Module>;
    };
    const poly = await (factory.default as () => Promise<Poly1305Module>)();
    const tagAt = poly._malloc(16);
    const auth = poly.cwrap("poly1305_auth", null, [
      "number",
      "array",
      "number",
      "array",
      "number",
      "array",
    ]);

    const pool: ArrayBuffer[] = [];
    const laidOut = new WeakSet<Uint8Array>();
    const iv = new Uint8Array(16);
    const ivView = new DataView(iv.buffer);
    const allocPacket = function (payloadLen: number): Uint8Array {
      const { pktLen, padLen } = chachaPacketLength(payloadLen);
      const memory = pktLen <= POOLED_PACKET
        ? pool.pop() ?? new ArrayBuffer(HEAD + POOLED_PACKET + TAIL)
        : new ArrayBuffer(HEAD + pktLen + TAIL);
      const packet = buffers.from(memory, HEAD, pktLen);
      const n = pktLen - 4;
      packet[0] = n >>> 24;
      packet[1] = (n >>> 16) & 0xff;
      packet[2] = (n >>> 8) & 0xff;
      packet[3] = n & 0xff;
      packet[4] = padLen;
      nodeCrypto.randomFillSync(packet, 5 + payloadLen, padLen);
      laidOut.add(packet);
      return packet;
    };
    const fallback = proto.encrypt as (this: ChaChaCipher, packet: Uint8Array) => void;
    const encrypt = function (this: ChaChaCipher, packet: Uint8Array): void {
      if (!laidOut.has(packet)) return fallback.call(this, packet);
      laidOut.delete(packet);
      const memory = packet.buffer as ArrayBuffer;
      if (!this._dead) {
        const len = packet.length;
        // keystream block 0 must meet zeros where the poly key is taken
        const input = new Uint8Array(memory, 0, HEAD + len + TAIL);
        input.fill(0, 0, 32);
        iv[0] = 0;
        ivView.setUint32(12, this.outSeqno);
        const out = nodeCrypto.createCipheriv("chacha20", this._encKeyMain, iv).update(input);
        const lengthEnc = nodeCrypto.createCipheriv("chacha20", this._encKeyPktLen, iv).update(
          packet.subarray(0, 4),
        );
        out.set(lengthEnc, HEAD);
        auth(
          tagAt,
          out.subarray(HEAD, HEAD + 4),
          4,
          out.subarray(HEAD + 4, HEAD + len),
          len - 4,
          out.subarray(0, 32),
        );
        out.set(poly.HEAPU8.subarray(tagAt, tagAt + 16), HEAD + len);
        this._onWrite(out.subarray(HEAD));
        this.outSeqno = (this.outSeqno + 1) >>> 0;
      }
      if (memory.byteLength === HEAD + POOLED_PACKET + TAIL && pool.length < POOL_KEEP) {
        pool.push(memory);
      }
    };

    // the same bytes as ssh2's own class, or not installed: sizes around the padding and
    // pooling edges, three packets in a row across the sequence number's wrap
    const key = buffers.alloc(info.keyLen);
    nodeCrypto.randomFillSync(key, 0, key.length);
    for (const seqno of [0xfffffffe]) {
      for (const size of [9, 32_777]) {
        const theirs: Uint8Array[] = [];
        const mine: Uint8Array[] = [];
        const a = make((d) => theirs.push(d.slice()), key, seqno);
        const b = make((d) => mine.push(d.slice()), key, seqno);
        for (let i = 0; i < 3; i++) {
          const pa = (proto.allocPacket as (n: number) => Uint8Array).call(a, size);
          nodeCrypto.randomFillSync(pa, 5, size);
          const pb = allocPacket.call(b, size);
          if (pb.length !== pa.length || pb[4] !== pa[4]) return false;
          pb.set(pa);
          fallback.call(a, pa);
          encrypt.call(b, pb);
        }
        const x = buffers.concat(theirs, theirs.reduce((n, d) => n + d.length, 0));
        const y = buffers.concat(mine, mine.reduce((n, d) => n + d.length, 0));
        if (mine.length !== 3 || buffers.compare(x, y) !== 0) {
          return false;
        }
      }
    }
    Object.defineProperty(encrypt, WRAPPED, { value: true });
    Object.defineProperty(encrypt, FAST, { value: true });
    proto.allocPacket = allocPacket;
    proto.encrypt = encrypt;
    return true;
  } catch {
    return false;
  }
}
