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
 * ChaCha20-Poly1305, the first cipher in the server's order, goes further:
 * `chacha_fast.ts` builds its packets in reused blocks (and reads them the
 * same way); it is installed here, after the wrapping, off the first
 * connection's path.
 *
 * @module
 */

import { afterMs } from "../util/timer.ts";
import { loadSsh2Crypto } from "../util/ssh2_lib.ts";
import {
  type BufferLib,
  installChaChaFastPath,
  type NodeCrypto,
  type Ssh2Crypto,
} from "./chacha_fast.ts";

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
let fastChaCha: Promise<boolean> | null = null;

/**
 * Wraps ssh2's cipher classes once (concurrent and later calls share the
 * first); resolves to the number of classes wrapped (0 when ssh2's
 * internals are not what this module expects). Never rejects: the
 * connection path awaits it.
 */
export function coalescePacketWrites(): Promise<number> {
  applied ??= Promise.all([
    loadSsh2Crypto(),
    import("node:buffer"),
    import("node:crypto"),
  ]).then(
    ([m, { Buffer }, nodeCrypto]) => {
      const crypto = m as Ssh2Crypto;
      const wrapped = wrapClasses(crypto, Buffer);
      // after the wrapping (packets the fast path did not lay out go to the coalesced `encrypt`),
      // and off the first connection's path: its self-test runs while the handshake waits on the
      // network; the classes switch between two packets, never within one
      fastChaCha = new Promise((resolve) =>
        afterMs(0, () => {
          installChaChaFastPath(crypto, Buffer, nodeCrypto as unknown as NodeCrypto).then(resolve);
        })
      );
      return wrapped;
    },
    // a module that cannot be loaded wraps nothing: connections go on as ssh2 makes them
    () => 0,
  );
  return applied;
}

/**
 * Resolves to whether the ChaCha20-Poly1305 fast path is installed (false
 * until {@link coalescePacketWrites} has been called).
 */
export function chachaFastPath(): Promise<boolean> {
  return applied ? applied.then(() => fastChaCha ?? false) : Promise.resolve(false);
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
