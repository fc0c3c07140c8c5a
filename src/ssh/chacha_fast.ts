/**
 * ChaCha20-Poly1305 (OpenSSH's PROTOCOL.chacha20poly1305) without
 * per-packet buffers, for ssh2's JavaScript cipher and decipher classes
 * (issue 17, bytes per CPU second).
 *
 * Under Deno every fresh buffer is a `malloc` that V8 counts as external
 * memory, and the garbage collector runs for it. ssh2's classes make three
 * `chacha20` cipher objects and, to send a packet, four fresh buffers (the
 * packet, the poly key, the ciphertext, the tag; `packet_writes.ts` then
 * copied the pieces into a fifth), to receive one, three (a packet that
 * spans two socket reads is first collected in a fresh buffer too). At 32 KiB
 * a packet an upload spent more time allocating and collecting than
 * encrypting.
 *
 * Both directions here lay each packet out in a reused block with room in
 * front: keystream block 0 of a packet's `chacha20` stream (key K_1, nonce =
 * the sequence number) gives the Poly1305 key in its first 32 bytes, and the
 * payload is encrypted from counter 1, which is byte 64 of the same stream.
 * So one `chacha20` pass from counter 0 over [32 zero bytes, 28 unused, the
 * packet (length field last in block 0)] gives the poly key and the payload's
 * ciphertext in one output buffer.
 *
 * - Sending (`allocPacket`, `encrypt`): the packet is laid out at byte 60 of a
 *   reused 35 KB block with 16 bytes behind it; the one output buffer takes
 *   the length encrypted with K_2 in front and the tag behind and goes to the
 *   socket whole. A packet the class did not lay out (ssh2's re-key queue
 *   copies payloads into new packets, but not all paths need to) takes the
 *   class's own `encrypt`.
 * - Receiving (`decrypt`): ssh2's state machine, with the packet's ciphertext
 *   collected at byte 64 of a reused block; the tag is checked (over the
 *   encrypted length and the ciphertext, constant time) before the payload
 *   is handed on. A packet ssh2's own `decrypt` began (the fast path arrives
 *   between two reads of a live connection) is finished by ssh2's code, and
 *   so is each read until one ends between two packets; a re-key's new
 *   decipher starts on the fast path.
 *
 * The bytes on the wire, the sequence numbers, the length checks and the
 * errors (`Bad packet length`, `Invalid MAC`) are ssh2's. Poly1305 is ssh2's
 * own WebAssembly module (a second instance). Before anything is installed,
 * sample packets go both ways through ssh2's classes and the fast ones
 * (across the sequence number's wrap, cut at every kind of read boundary, a
 * forged tag refused); unless every byte agrees, ssh2's classes stay as they
 * are. The receiving loop follows ssh2's `ChaChaPolyDecipherNative.decrypt`
 * (ssh2 1.17.0, MIT licence, Brian White).
 *
 * @module
 */

/** What the fast path needs of `node:crypto`. */
export interface NodeCrypto {
  createCipheriv(
    algorithm: "chacha20",
    key: Uint8Array,
    iv: Uint8Array,
  ): { update(data: Uint8Array): Uint8Array };
  createDecipheriv(
    algorithm: "chacha20",
    key: Uint8Array,
    iv: Uint8Array,
  ): { update(data: Uint8Array): Uint8Array };
  randomFillSync(buffer: Uint8Array, offset: number, size: number): unknown;
  timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean;
}

/** What this module and `packet_writes.ts` need of Node's `Buffer` (ssh2's own buffer type). */
export interface BufferLib {
  alloc(n: number): Uint8Array;
  from(memory: ArrayBuffer, byteOffset: number, length: number): Uint8Array;
  concat(pieces: readonly Uint8Array[], length: number): Uint8Array;
  compare(a: Uint8Array, b: Uint8Array): number;
}

/** The part of ssh2's `lib/protocol/crypto.js` this module and `packet_writes.ts` use. */
export interface Ssh2Crypto {
  CIPHER_INFO: Record<string, { keyLen: number; ivLen: number }>;
  MAC_INFO: Record<string, { len: number }>;
  createCipher(config: unknown): object;
  createDecipher(config: unknown): object;
}

/** ssh2's ChaCha20-Poly1305 cipher instance, as far as the fast path reads it. */
interface ChaChaCipher {
  _onWrite: (data: Uint8Array) => void;
  _dead: boolean;
  outSeqno: number;
  _encKeyMain: Uint8Array;
  _encKeyPktLen: Uint8Array;
}

/** ssh2's ChaCha20-Poly1305 decipher instance (its fields; `_fastBlock` is ours). */
interface ChaChaDecipher {
  inSeqno: number;
  _onPayload: (payload: Uint8Array) => unknown;
  _decKeyMain: Uint8Array;
  _decKeyPktLen: Uint8Array;
  _len: number;
  _lenBuf: Uint8Array;
  _lenPos: number;
  _packet: Uint8Array | null;
  _pktLen: number;
  _mac: Uint8Array;
  _calcMac: Uint8Array;
  _macPos: number;
  _fastBlock?: Uint8Array | null;
}

type Decrypt = (this: ChaChaDecipher, data: Uint8Array, p: number, dataLen: number) => unknown;

/** ssh2's Poly1305 (emscripten-built WebAssembly): `poly1305_auth(out, m1, m1len, m2, m2len, key)`. */
interface Poly1305Module {
  _malloc(n: number): number;
  HEAPU8: Uint8Array;
  cwrap(name: string, ret: null, args: string[]): (...args: unknown[]) => void;
}

const CHACHA = "chacha20-poly1305@openssh.com";
/** Marks the fast methods (registered: another copy of this module sees it too). */
const FAST = Symbol.for("ssh-mcp.chacha-fast");
/** `packet_writes.ts`'s mark: the fast `encrypt` writes one piece per packet as well. */
const COALESCED = Symbol.for("ssh-mcp.coalesced");

/** Room in front of a sent packet: block 0 is 64 bytes, the 4-byte length field its last 4. */
const HEAD_OUT = 60;
/** Room in front of a received packet's ciphertext (which starts after the length field). */
const HEAD_IN = 64;
/** Room behind a sent packet, where the output takes the tag. */
const TAIL = 16;
/** ssh2's largest packet (`MAX_PACKET_SIZE`); it refuses larger ones when receiving. */
const MAX_PACKET = 35_000;
/** Reused blocks kept per direction (a block is in use from allocation to encryption, or for one packet). */
const POOL_KEEP = 8;

/** Writes `n` as 4 big-endian bytes at `at` (packet lengths, the nonce's sequence number). */
function putUint32BE(bytes: Uint8Array, at: number, n: number): void {
  bytes[at] = n >>> 24;
  bytes[at + 1] = (n >>> 16) & 0xff;
  bytes[at + 2] = (n >>> 8) & 0xff;
  bytes[at + 3] = n & 0xff;
}

/** `allocPacket` as ssh2's ChaCha20-Poly1305 class computes it (8-byte blocks, the length field excluded). */
export function chachaPacketLength(payloadLen: number): { pktLen: number; padLen: number } {
  const bare = 4 + 1 + payloadLen;
  let padLen = 8 - ((bare - 4) & 7);
  if (padLen < 4) padLen += 8;
  return { pktLen: bare + padLen, padLen };
}

/**
 * Installs the fast `allocPacket`, `encrypt` and `decrypt` on ssh2's
 * JavaScript ChaCha20-Poly1305 classes once they have passed the self-test.
 * Resolves to whether they are installed; never rejects (anything
 * unexpected leaves ssh2's classes as they are).
 */
export async function installChaChaFastPath(
  crypto: Ssh2Crypto,
  buffers: BufferLib,
  nodeCrypto: NodeCrypto,
): Promise<boolean> {
  try {
    const info = crypto.CIPHER_INFO?.[CHACHA];
    if (!info) return false;
    const cipherOf = (onWrite: (d: Uint8Array) => void, key: Uint8Array, seqno: number) =>
      crypto.createCipher({
        outbound: { onWrite, cipherInfo: info, cipherKey: key, seqno, forceNative: true },
      }) as ChaChaCipher;
    const decipherOf = (onPayload: (d: Uint8Array) => unknown, key: Uint8Array, seqno: number) =>
      crypto.createDecipher({
        inbound: { onPayload, decipherInfo: info, decipherKey: key, seqno, forceNative: true },
      }) as ChaChaDecipher;
    const zeroKey = buffers.alloc(info.keyLen);
    const cipherProbe = cipherOf(() => {}, zeroKey, 0);
    const decipherProbe = decipherOf(() => {}, zeroKey, 0);
    const out = Object.getPrototypeOf(cipherProbe) as Record<string, unknown>;
    const inn = Object.getPrototypeOf(decipherProbe) as Record<string, unknown>;
    if ((out.encrypt as { [FAST]?: boolean } | undefined)?.[FAST]) return true;
    if (
      typeof out.encrypt !== "function" || typeof out.allocPacket !== "function" ||
      typeof inn.decrypt !== "function" || typeof cipherProbe.outSeqno !== "number" ||
      cipherProbe._encKeyMain?.length !== 32 || cipherProbe._encKeyPktLen?.length !== 32 ||
      typeof cipherProbe._onWrite !== "function" || typeof decipherProbe.inSeqno !== "number" ||
      decipherProbe._decKeyMain?.length !== 32 || decipherProbe._decKeyPktLen?.length !== 32 ||
      decipherProbe._lenBuf?.length !== 4 ||
      decipherProbe._mac?.length !== 16 || decipherProbe._calcMac?.length !== 16 ||
      decipherProbe._packet !== null
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
    const tag = () => poly.HEAPU8.subarray(tagAt, tagAt + 16);
    /** block counter 0 (bytes 0-3, never changed: both passes start at block 0) and the sequence number (bytes 12-15) */
    const iv = new Uint8Array(16);

    // ---- sending
    const outBlock = HEAD_OUT + MAX_PACKET + TAIL;
    const outPool: ArrayBuffer[] = [];
    const laidOut = new WeakSet<Uint8Array>();
    const allocPacket = function (payloadLen: number): Uint8Array {
      const { pktLen, padLen } = chachaPacketLength(payloadLen);
      const memory = pktLen <= MAX_PACKET
        ? outPool.pop() ?? new ArrayBuffer(outBlock)
        : new ArrayBuffer(HEAD_OUT + pktLen + TAIL);
      const packet = buffers.from(memory, HEAD_OUT, pktLen);
      putUint32BE(packet, 0, pktLen - 4);
      packet[4] = padLen;
      nodeCrypto.randomFillSync(packet, 5 + payloadLen, padLen);
      laidOut.add(packet);
      return packet;
    };
    const ownEncrypt = out.encrypt as (this: ChaChaCipher, packet: Uint8Array) => void;
    const encrypt = function (this: ChaChaCipher, packet: Uint8Array): void {
      if (!laidOut.has(packet)) return ownEncrypt.call(this, packet);
      laidOut.delete(packet);
      const memory = packet.buffer as ArrayBuffer;
      if (!this._dead) {
        const len = packet.length;
        const input = new Uint8Array(memory, 0, HEAD_OUT + len + TAIL);
        // keystream block 0 must meet zeros where the poly key is taken
        input.fill(0, 0, 32);
        putUint32BE(iv, 12, this.outSeqno);
        const sealed = nodeCrypto.createCipheriv("chacha20", this._encKeyMain, iv).update(input);
        sealed.set(
          nodeCrypto.createCipheriv("chacha20", this._encKeyPktLen, iv).update(
            packet.subarray(0, 4),
          ),
          HEAD_OUT,
        );
        auth(
          tagAt,
          sealed.subarray(HEAD_OUT, HEAD_OUT + 4),
          4,
          sealed.subarray(HEAD_OUT + 4, HEAD_OUT + len),
          len - 4,
          sealed.subarray(0, 32),
        );
        sealed.set(tag(), HEAD_OUT + len);
        this._onWrite(sealed.subarray(HEAD_OUT));
        this.outSeqno = (this.outSeqno + 1) >>> 0;
      }
      if (memory.byteLength === outBlock && outPool.length < POOL_KEEP) outPool.push(memory);
    };

    // ---- receiving
    const inBlock = HEAD_IN + MAX_PACKET;
    const inPool: Uint8Array[] = [];
    const ownDecrypt = inn.decrypt as Decrypt;
    const decrypt: Decrypt = function (data, p, dataLen) {
      // a packet ssh2's own code began before the fast path arrived: ssh2 finishes it
      if (this._packet !== null) return ownDecrypt.call(this, data, p, dataLen);
      while (p < dataLen) {
        // the packet length (encrypted with K_2)
        if (this._lenPos < 4) {
          let nb = Math.min(4 - this._lenPos, dataLen - p);
          while (nb--) this._lenBuf[this._lenPos++] = data[p++]!;
          if (this._lenPos < 4) return;
          putUint32BE(iv, 12, this.inSeqno);
          const clear = nodeCrypto.createDecipheriv("chacha20", this._decKeyPktLen, iv).update(
            this._lenBuf,
          );
          this._len = ((clear[0]! << 24) | (clear[1]! << 16) | (clear[2]! << 8) | clear[3]!) >>> 0;
          if (this._len > MAX_PACKET || this._len < 8 || (this._len & 7) !== 0) {
            throw new Error("Bad packet length");
          }
        }
        // the ciphertext, collected after block 0's room
        const block = this._fastBlock ??= inPool.pop() ?? new Uint8Array(inBlock);
        if (this._pktLen < this._len) {
          if (p >= dataLen) return;
          const nb = Math.min(this._len - this._pktLen, dataLen - p);
          block.set(data.subarray(p, p + nb), HEAD_IN + this._pktLen);
          p += nb;
          this._pktLen += nb;
          if (this._pktLen < this._len || p >= dataLen) return;
        }
        // the tag
        {
          const nb = Math.min(16 - this._macPos, dataLen - p);
          this._mac.set(data.subarray(p, p + nb), this._macPos);
          p += nb;
          this._macPos += nb;
          if (this._macPos < 16) return;
        }
        const len = this._len;
        block.fill(0, 0, 32);
        putUint32BE(iv, 12, this.inSeqno);
        const clear = nodeCrypto.createDecipheriv("chacha20", this._decKeyMain, iv).update(
          block.subarray(0, HEAD_IN + len),
        );
        auth(
          tagAt,
          this._lenBuf,
          4,
          block.subarray(HEAD_IN, HEAD_IN + len),
          len,
          clear.subarray(0, 32),
        );
        this._calcMac.set(tag(), 0);
        if (!nodeCrypto.timingSafeEqual(this._calcMac, this._mac)) {
          throw new Error("Invalid MAC");
        }
        const payload = buffers.from(
          clear.buffer as ArrayBuffer,
          clear.byteOffset + HEAD_IN + 1,
          len - clear[HEAD_IN]! - 1,
        );
        // ready for the next packet
        this.inSeqno = (this.inSeqno + 1) >>> 0;
        this._len = 0;
        this._lenPos = 0;
        this._pktLen = 0;
        this._macPos = 0;
        this._fastBlock = null;
        if (inPool.length < POOL_KEEP) inPool.push(block);
        const ret = this._onPayload(payload);
        if (ret !== undefined) return ret === false ? p : ret;
      }
      return undefined;
    };

    /**
     * The fast methods against ssh2's own on sample packets: the same bytes
     * out (three packets across the sequence number's wrap, small and large),
     * the same payloads back in whichever way the stream is cut, a forged
     * tag refused.
     */
    const selfTest = (): boolean => {
      const key = buffers.alloc(info!.keyLen);
      nodeCrypto.randomFillSync(key, 0, key.length);
      const seqno = 0xfffffffe;
      const theirs: Uint8Array[] = [];
      const mine: Uint8Array[] = [];
      const a = cipherOf((d) => theirs.push(d.slice()), key, seqno);
      const b = cipherOf((d) => mine.push(d.slice()), key, seqno);
      const sent: Uint8Array[] = [];
      for (const size of [9, 32_777, 0, 1000, 9, 32_777]) {
        const pa = (out.allocPacket as (n: number) => Uint8Array).call(a, size);
        nodeCrypto.randomFillSync(pa, 5, size);
        sent.push(pa.slice(5, 5 + size));
        const pb = allocPacket.call(b, size);
        if (pb.length !== pa.length || pb[4] !== pa[4]) return false;
        pb.set(pa);
        ownEncrypt.call(a, pa);
        encrypt.call(b, pb);
      }
      const count = (xs: Uint8Array[]) => xs.reduce((n, d) => n + d.length, 0);
      const x = buffers.concat(theirs, count(theirs));
      const y = buffers.concat(mine, count(mine));
      if (mine.length !== sent.length || buffers.compare(x, y) !== 0) return false;
      // whole; in 4 KiB reads (packets and tags across reads); the first 64 bytes one at a time
      // (a length and a tag across reads), then the rest at once
      const cuts = [[x.length], [4096], [...new Array<number>(64).fill(1), x.length]];
      for (const cut of cuts) {
        const got: Uint8Array[] = [];
        const d = decipherOf((p) => void got.push(p.slice()), key, seqno);
        for (let o = 0, i = 0; o < x.length; i++) {
          const n = cut[Math.min(i, cut.length - 1)]!;
          const piece = x.subarray(o, Math.min(o + n, x.length));
          decrypt.call(d, piece, 0, piece.length);
          o += piece.length;
        }
        if (got.length !== sent.length) return false;
        for (let i = 0; i < sent.length; i++) {
          if (buffers.compare(got[i]!, sent[i]!) !== 0) return false;
        }
      }
      const forged = x.slice(0, theirs[0]!.length);
      forged[forged.length - 1]! ^= 1;
      try {
        decrypt.call(decipherOf(() => {}, key, seqno), forged, 0, forged.length);
        return false;
      } catch (err) {
        if ((err as Error).message !== "Invalid MAC") return false;
      }
      return true;
    };

    if (!selfTest()) return false;
    Object.defineProperty(encrypt, COALESCED, { value: true });
    for (const f of [encrypt, allocPacket, decrypt]) {
      Object.defineProperty(f, FAST, { value: true });
    }
    out.allocPacket = allocPacket;
    out.encrypt = encrypt;
    inn.decrypt = decrypt;
    return true;
  } catch {
    return false;
  }
}
