/**
 * Private key decryption off the event loop (SECURITY.md AUTH-4; issue 17).
 *
 * Decrypting an OpenSSH key runs bcrypt-pbkdf (16 rounds by default: ~0.25 s
 * of pure CPU, linear in `ssh-keygen -a`); done on the main thread it stalls
 * every other tool call, keep-alive and MCP message for that long. Here it
 * runs in a module worker (kdf_worker.ts) that answers with the key
 * re-encoded as an unencrypted OpenSSH key, which the main thread parses in
 * about a millisecond (plus one test signature).
 *
 * Worker lifetime, chosen deliberately: ONE worker, created on the first
 * decryption, reused by the decryptions that follow (one at a time, in
 * order), and terminated {@link KDF_WORKER_IDLE_MS} after the last answer, or
 * at once after a failure or a timeout. Not one worker per call: Deno
 * creates the worker's V8 isolate synchronously on the calling thread
 * (`new Worker` blocks the event loop 10-20 ms idle, 150-300 ms on a loaded
 * machine), which would give back much of what moving the KDF bought. Not a
 * permanent worker: an idle isolate with ssh2 loaded costs several MiB of
 * RSS, and terminating it disposes its heap.
 *
 * Lifetime of secrets (AUTH-4: nothing kept after the call): the key file
 * bytes and the UTF-8 passphrase are transferred (moved, not copied) to the
 * worker, which uses the passphrase as bytes (never a string), zeroes both
 * before answering, and moves the plain key bytes back; those are zeroed
 * right after parsing. Nothing is cached here or in the worker. What cannot
 * be scrubbed: the passphrase arrives as a JS string from passphrase_cmd /
 * passphrase_secret, and the key text is decoded to strings on both sides
 * (ssh2 parses and signs from PEM strings held by the parsed key object for
 * as long as the connection attempt holds it); those are left to the GC (the
 * worker's with its isolate, at the latest when it is terminated).
 *
 * The compiled binary must embed the worker: `deno compile --include
 * src/ssh/kdf_worker.ts`.
 *
 * @module
 */

import { ToolError } from "../errors.ts";
import type { KdfRequest, KdfResponse } from "./kdf_worker.ts";
import { type ParsedKey, parsePrivateKey } from "./keys.ts";
import { loadSsh2 } from "../util/ssh2_lib.ts";

/** Default bound on one decryption (worker start + KDF). */
export const KDF_TIMEOUT_MS = 60_000;

/** The worker is terminated after this long without a decryption. */
export const KDF_WORKER_IDLE_MS = 3_000;

const WORKER_URL = new URL("./kdf_worker.ts", import.meta.url).href;

interface Pending {
  resolve(r: KdfResponse): void;
  reject(e: Error): void;
}

let worker: Worker | null = null;
let idleTimer: ReturnType<typeof setTimeout> | undefined;
const pending = new Map<number, Pending>();
let nextId = 1;
/** the tail of the queue: decryptions run one at a time */
let queue: Promise<unknown> = Promise.resolve();

/** Whether the KDF worker is alive (tests: false once it was stopped or went idle). */
export function kdfWorkerAlive(): boolean {
  return worker !== null;
}

/** Terminates the KDF worker now (if any); decryptions in flight fail. */
export function stopKdfWorker(reason = "the key worker was stopped"): void {
  clearTimeout(idleTimer);
  idleTimer = undefined;
  const w = worker;
  worker = null;
  w?.terminate();
  for (const p of pending.values()) p.reject(new Error(reason));
  pending.clear();
}

function theWorker(): Worker {
  clearTimeout(idleTimer);
  idleTimer = undefined;
  if (worker) return worker;
  const w = new Worker(WORKER_URL, { type: "module", name: "ssh-mcp-kdf" });
  w.onmessage = (ev: MessageEvent<KdfResponse>) => {
    const p = pending.get(ev.data.id);
    pending.delete(ev.data.id);
    p?.resolve(ev.data);
  };
  w.onmessageerror = () => stopKdfWorker("bad answer from the key worker");
  w.onerror = (ev: ErrorEvent) => {
    ev.preventDefault();
    const msg = String(ev.message).replace(/[\r\n]+/g, " ").slice(0, 300);
    stopKdfWorker(
      /Requires read access/.test(msg)
        ? `the key worker cannot start: the server's permissions do not allow reading its ` +
          `module ${WORKER_URL} (${msg}); load the key into ssh-agent or grant that read`
        : `the key worker failed (${msg})`,
    );
  };
  worker = w;
  return w;
}

function armIdle(): void {
  if (!worker || pending.size > 0) return;
  clearTimeout(idleTimer);
  idleTimer = setTimeout(() => stopKdfWorker(), KDF_WORKER_IDLE_MS);
  // an idle worker must not keep the process alive
  Deno.unrefTimer(idleTimer as unknown as number);
}

/** Zeroes `b` unless its buffer was transferred away (fill throws on a detached buffer). */
export function scrub(b: Uint8Array): void {
  if (b.byteLength > 0) b.fill(0);
}

/** A fresh, exactly-sized copy of `b` (so its whole buffer can be transferred); `b` is zeroed. */
function detachable(b: Uint8Array): Uint8Array {
  if (
    b.byteOffset === 0 && b.byteLength === b.buffer.byteLength && b.buffer instanceof ArrayBuffer
  ) {
    return b;
  }
  const copy = new Uint8Array(b);
  b.fill(0);
  return copy;
}

function failed(label: string, message: string): ToolError {
  return new ToolError("AuthenticationFailed", message, { key: label });
}

async function runInWorker(
  file: Uint8Array,
  pass: Uint8Array,
  label: string,
  timeoutMs: number,
): Promise<KdfResponse> {
  const w = theWorker();
  const id = nextId++;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await new Promise<KdfResponse>((resolve, reject) => {
      pending.set(id, { resolve, reject });
      timer = setTimeout(() => {
        // a hung or far too slow KDF: the worker is discarded with it
        stopKdfWorker(
          `decrypting private key ${label} took longer than ${Math.round(timeoutMs / 1000)} s: ` +
            `its KDF rounds are too high (re-encrypt it with ssh-keygen -p -a 16 -f <key>) or ` +
            `load it into ssh-agent and use method = "agent"`,
        );
      }, timeoutMs);
      const req: KdfRequest = { id, data: file, passphrase: pass, label };
      w.postMessage(req, [file.buffer as ArrayBuffer, pass.buffer as ArrayBuffer]);
    });
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw failed(
      label,
      why.startsWith("decrypting") ? why : `cannot decrypt private key ${label}: ${why}`,
    );
  } finally {
    clearTimeout(timer);
    pending.delete(id);
    armIdle();
  }
}

/**
 * Decrypts an encrypted private key (any format {@link parsePrivateKey}
 * reads) in the KDF worker and returns the parsed key for ssh2's
 * `authHandler`. `data` is moved to the worker (it is empty afterwards).
 *
 * @throws ToolError("AuthenticationFailed") for a wrong passphrase, an
 *   unusable key, a worker failure or a decryption slower than `timeoutMs`.
 */
export async function decryptKeyOffThread(
  data: Uint8Array,
  passphrase: string,
  label: string,
  opts: { timeoutMs?: number } = {},
): Promise<ParsedKey> {
  const timeoutMs = opts.timeoutMs ?? KDF_TIMEOUT_MS;
  const file = detachable(data);
  const pass = new TextEncoder().encode(passphrase);
  const turn = queue.then(() => runInWorker(file, pass, label, timeoutMs));
  queue = turn.catch(() => {});
  try {
    const answer = await turn;
    if (!answer.ok) throw new ToolError("AuthenticationFailed", answer.message, answer.attributes);
    try {
      await loadSsh2(); // parsePrivateKey uses ssh2's key parser
      return parsePrivateKey(answer.plain, undefined, label);
    } finally {
      scrub(answer.plain);
    }
  } finally {
    scrub(file); // moved to the worker: already empty; else zeroed here
    scrub(pass);
  }
}
