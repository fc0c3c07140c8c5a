/**
 * Worker side of the off-thread private key decryption (see kdf.ts).
 *
 * Answers `{id, data, passphrase, label}` requests one at a time: decrypts the
 * key with {@link parsePrivateKey} (bcrypt-pbkdf / PBKDF2 / EVP KDF plus the
 * cipher: ~0.25 s of CPU for a default OpenSSH key) and answers with the key
 * re-encoded as an unencrypted OpenSSH key, whose parse on the main thread is
 * cheap. The passphrase is used as bytes (never turned into a string here);
 * the request bytes are zeroed before the answer is posted and the plain key
 * bytes are transferred (moved) to the main thread.
 *
 * This module is a worker entry point: never import it from other modules.
 * `deno compile` must embed it: `--include src/ssh/kdf_worker.ts`.
 *
 * @module
 */

import { type ErrorAttributes, isToolError } from "../errors.ts";
import { parsePrivateKey, plainOpensshKey } from "./keys.ts";
import { loadSsh2 } from "../util/ssh2_lib.ts";

/** What kdf.ts posts to the worker. */
export interface KdfRequest {
  id: number;
  /** the encrypted key file (transferred; zeroed here) */
  data: Uint8Array;
  /** the passphrase as UTF-8 (transferred; zeroed here) */
  passphrase: Uint8Array;
  /** names the key in errors (the path) */
  label: string;
}

/** What the worker answers. */
export type KdfResponse =
  | { id: number; ok: true; plain: Uint8Array }
  | { id: number; ok: false; message: string; attributes: ErrorAttributes };

// The worker global, typed without the deno.worker lib (this file is also
// type-checked together with main-thread modules).
const scope = globalThis as unknown as {
  onmessage: ((ev: MessageEvent<KdfRequest>) => void | Promise<void>) | null;
  postMessage(message: KdfResponse, transfer?: Transferable[]): void;
};

scope.onmessage = async (ev: MessageEvent<KdfRequest>) => {
  const { id, data, passphrase, label } = ev.data;
  let answer: KdfResponse;
  let transfer: Transferable[] = [];
  try {
    await loadSsh2(); // the key parser (requests run one at a time: kdf.ts queues them)
    const key = parsePrivateKey(data, passphrase, label);
    const plain = plainOpensshKey(key, label);
    answer = { id, ok: true, plain };
    transfer = [plain.buffer as ArrayBuffer];
  } catch (e) {
    answer = isToolError(e) ? { id, ok: false, message: e.message, attributes: e.attributes } : {
      id,
      ok: false,
      message: `cannot decrypt private key ${label}: ${e instanceof Error ? e.name : "error"}`,
      attributes: { key: label },
    };
  } finally {
    data.fill(0);
    passphrase.fill(0);
  }
  scope.postMessage(answer, transfer);
};
