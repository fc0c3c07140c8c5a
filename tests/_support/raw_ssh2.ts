/**
 * A plain ssh2 client on a fleet host, outside the server: its own socket
 * (TCP_NODELAY, as the pool's), the host's first key pinned, the fleet's
 * key for authentication. For measurements (the bench's raw ssh2 floor) and
 * for tests that look at ssh2 itself.
 *
 * @module
 */

import net from "node:net";
// @ts-types="npm:@types/ssh2@1.15.5"
import ssh2 from "ssh2";
import type { Fleet } from "./fleet.ts";

/** A connected raw client and the socket under it. */
export interface RawSsh2 {
  client: ssh2.Client;
  sock: net.Socket;
}

/** Where {@link connectSsh2} connects: an address, a user and key, the host key to pin. */
export interface Ssh2Target {
  host: string;
  port: number;
  username: string;
  /** the private key's text */
  privateKey: string;
  /** the host key's base64 blob (the second field of its OpenSSH public line) */
  pinnedHostKey: string;
}

/** Connects a plain ssh2 client to `target`; `algorithms` narrows what ssh2 offers. */
export async function connectSsh2(
  target: Ssh2Target,
  algorithms?: ssh2.Algorithms,
): Promise<RawSsh2> {
  const sock = await new Promise<net.Socket>((resolve, reject) => {
    const s = net.connect({ host: target.host, port: target.port }, () => resolve(s));
    s.once("error", reject);
  });
  sock.setNoDelay(true);
  const client = new ssh2.Client();
  await new Promise<void>((resolve, reject) => {
    client.once("ready", () => resolve());
    client.once("error", reject);
    client.connect({
      sock,
      username: target.username,
      privateKey: target.privateKey,
      hostVerifier: (key: Uint8Array) => btoa(String.fromCharCode(...key)) === target.pinnedHostKey,
      ...(algorithms ? { algorithms } : {}),
    });
  });
  return { client, sock };
}

/** Connects to the fleet's `index`-th host; `algorithms` narrows what ssh2 offers. */
export async function connectRawSsh2(
  fleet: Fleet,
  opts: { index?: number; algorithms?: ssh2.Algorithms } = {},
): Promise<RawSsh2> {
  const h = fleet.hosts[opts.index ?? 0]!.sshd;
  return await connectSsh2({
    host: h.address,
    port: h.port,
    username: h.user.name,
    privateKey: Deno.readTextFileSync(fleet.key.privatePath),
    pinnedHostKey: h.hostKeys[0]!.publicKey.split(" ")[1]!,
  }, opts.algorithms);
}

/** What {@link sendAndReceive} gets back when every byte went both ways. */
export const SEND_AND_RECEIVE_EXPECTED = "y".repeat(102400) + "70000\n";

/**
 * Runs a command on `client` that gets 70,000 bytes of input and sends 100
 * KiB back (window adjusts go out while it arrives); resolves to its stdout.
 */
export function sendAndReceive(client: ssh2.Client): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    client.exec("head -c 102400 /dev/zero | tr '\\0' y; wc -c", (err, ch) => {
      if (err) return reject(err);
      let text = "";
      ch.on("data", (d: Uint8Array) => (text += new TextDecoder().decode(d)));
      ch.stderr.on("data", () => {});
      ch.once("close", () => resolve(text));
      ch.end("x".repeat(70_000));
    });
  });
}
