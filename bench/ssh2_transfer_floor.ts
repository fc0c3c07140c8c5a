/**
 * The floor for the `files` section's transfers: plain ssh2, as a program
 * using the library would move a file, in its own process (so none of the
 * server's changes to ssh2's cipher classes, which the bench process loads
 * with the server's modules, apply). `fastGet` / `fastPut` with ssh2's
 * defaults (64 requests in flight, 32 KiB each), no read proof, no hash, no
 * flush to disk.
 *
 *     deno run --allow-net --allow-read --allow-write --allow-env \
 *       bench/ssh2_transfer_floor.ts get|put REMOTE LOCAL [CIPHER]
 *
 * The host comes from the same environment as bench/floor_exec_server.ts.
 * Prints the transfer's seconds (the connection's set-up not included) as
 * the last line of stdout.
 *
 * @module
 */

// @ts-types="npm:@types/ssh2@1.15.5"
import type ssh2 from "ssh2";
import { connect } from "./floor_exec_server.ts";

function sftpOf(client: ssh2.Client): Promise<ssh2.SFTPWrapper> {
  return new Promise((resolve, reject) =>
    client.sftp((err, sftp) => (err ? reject(err) : resolve(sftp)))
  );
}

if (import.meta.main) {
  const [dir, remote, local, cipher] = Deno.args;
  if ((dir !== "get" && dir !== "put") || !remote || !local) {
    Deno.stderr.writeSync(
      new TextEncoder().encode("usage: ssh2_transfer_floor.ts get|put REMOTE LOCAL [CIPHER]\n"),
    );
    Deno.exit(2);
  }
  const client = await connect(cipher);
  const sftp = await sftpOf(client);
  const t0 = performance.now();
  await new Promise<void>((resolve, reject) => {
    const done = (err?: Error | null) => (err ? reject(err) : resolve());
    if (dir === "get") sftp.fastGet(remote, local, {}, done);
    else sftp.fastPut(local, remote, {}, done);
  });
  const seconds = (performance.now() - t0) / 1000;
  sftp.end();
  client.end();
  Deno.stdout.writeSync(new TextEncoder().encode(`${seconds}\n`));
}
