/**
 * src/ssh/packet_writes.ts against a real sshd: with ssh2's cipher classes
 * wrapped, every encrypted packet reaches the socket in exactly one write,
 * for each cipher family ssh2 implements in JavaScript, before and after a
 * re-key (new cipher objects), and the host still
 * accepts every packet (the commands run, their output arrives whole).
 */

import assert from "node:assert/strict";
import type net from "node:net";
// @ts-types="npm:@types/ssh2@1.15.5"
import type ssh2 from "ssh2";
import { startFleet } from "../_support/fleet.ts";
import { connectRawSsh2, SEND_AND_RECEIVE_EXPECTED, sendAndReceive } from "../_support/raw_ssh2.ts";
import { chachaFastPath, coalescePacketWrites } from "../../src/ssh/packet_writes.ts";

/** ssh2's private protocol object, as far as this test looks into it. */
interface Proto {
  _cipher: { encrypt(packet: Uint8Array): void };
  rekey(): void;
}

/**
 * Runs one command with 70,000 bytes of input and 100 KiB of output (window
 * adjusts go out while it arrives), counting the packets the connection's
 * current cipher encrypts and the writes its socket gets meanwhile.
 */
async function counted(
  client: ssh2.Client,
  proto: Proto,
  sock: net.Socket,
): Promise<{ out: string; packets: number; writes: number }> {
  const cipher = proto._cipher;
  const encrypt = cipher.encrypt;
  let packets = 0;
  cipher.encrypt = function (this: unknown, packet: Uint8Array) {
    packets++;
    return encrypt.call(this, packet);
  };
  const write = sock.write;
  let writes = 0;
  (sock as { write: unknown }).write = function (this: net.Socket, ...args: unknown[]) {
    writes++;
    return (write as (...a: unknown[]) => boolean).apply(this, args);
  };
  try {
    const out = await sendAndReceive(client);
    return { out, packets, writes };
  } finally {
    cipher.encrypt = encrypt;
    (sock as { write: unknown }).write = write;
  }
}

const CASES: { cipher: string; hmac?: string }[] = [
  { cipher: "chacha20-poly1305@openssh.com" },
  { cipher: "aes128-gcm@openssh.com" },
  { cipher: "aes256-gcm@openssh.com" },
  { cipher: "aes128-ctr", hmac: "hmac-sha2-256" },
  { cipher: "aes256-ctr", hmac: "hmac-sha2-512-etm@openssh.com" },
];

Deno.test("packet writes: ssh2's three cipher classes are wrapped, once", async () => {
  assert.equal(await coalescePacketWrites(), 3);
  // a second call wraps nothing twice (the same promise, the same classes)
  assert.equal(await coalescePacketWrites(), 3);
});

Deno.test("packet writes: one socket write per packet for every JavaScript cipher, before and after a re-key, and the host accepts them", async () => {
  await coalescePacketWrites();
  // ChaCha20-Poly1305 packets go through the fast path (one output buffer per packet)
  assert.equal(await chachaFastPath(), true);
  const fleet = await startFleet(1);
  try {
    for (const c of CASES) {
      const { client, sock } = await connectRawSsh2(fleet, {
        algorithms: {
          cipher: [c.cipher as ssh2.CipherAlgorithm],
          ...(c.hmac ? { hmac: [c.hmac as ssh2.MacAlgorithm] } : {}),
        },
      });
      try {
        const proto = (client as unknown as { _protocol: Proto })._protocol;
        const first = await counted(client, proto, sock);
        assert.equal(first.out, SEND_AND_RECEIVE_EXPECTED, c.cipher);
        assert.ok(first.packets >= 5, `${c.cipher}: only ${first.packets} packets`);
        assert.equal(
          first.writes,
          first.packets,
          `${c.cipher}: ${first.writes} socket writes for ${first.packets} packets`,
        );
        // a re-key makes new cipher objects: they write one piece per packet too
        const before = proto._cipher;
        proto.rekey();
        for (let i = 0; i < 250 && proto._cipher === before; i++) {
          await new Promise((r) => setTimeout(r, 20));
        }
        assert.notEqual(proto._cipher, before, `${c.cipher}: the re-key did not happen`);
        const second = await counted(client, proto, sock);
        assert.equal(second.out, SEND_AND_RECEIVE_EXPECTED, `${c.cipher} after re-key`);
        assert.equal(
          second.writes,
          second.packets,
          `${c.cipher} after re-key: ${second.writes} socket writes for ${second.packets} packets`,
        );
      } finally {
        client.end();
      }
    }
  } finally {
    await fleet.stop();
  }
});
