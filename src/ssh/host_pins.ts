/**
 * The host-key trust store of the server: the user's known_hosts file
 * (`SSH_KNOWN_HOSTS`, read only, never written: KH-7) plus the server's OWN
 * pin file (`SSH_PINNED_KNOWN_HOSTS`), where a key a human explicitly
 * accepted on first contact is appended (issue 13 item 3, `first_contact.ts`).
 *
 * {@link HostPins} is a {@link KnownHosts} (the user's file) so it replaces
 * it transparently everywhere (`App.knownHosts`, the pool, the handshake);
 * every query merges the two files:
 *
 * - `@revoked` in EITHER file wins (the presented key is refused);
 * - plain lines for the lookup name in the USER's file decide alone when
 *   there are any: equal key → trusted, anything else → mismatch; a pin can
 *   never override a mismatch in the user's file;
 * - otherwise plain lines for the lookup name in the PIN file decide the same
 *   way;
 * - otherwise the port-less `host` lines of both files (the OpenSSH fallback
 *   for `[host]:port`): an equal key is trusted, anything else unknown;
 * - `@cert-authority` lines of both files count for `certAuthorityOnly`.
 *
 * The host-key algorithm order (KH-8) follows the key types of the deciding
 * lines. A missing pin file is normal (no WARNING); every other file problem
 * is handled like known_hosts (KH-5, KH-6: the pin file is re-read when it
 * changes).
 *
 * {@link HostPins.pin} appends `<lookupKey> <keytype> <base64>` to the pin
 * file: directory created 0700 and file 0600 when missing; the whole new
 * content is written to a temporary file next to it (same name plus
 * `.tmp-<random>`, so the server-file protection of the pin file covers it)
 * and renamed over it, so no reader ever sees a partial file. Concurrent pins
 * in this process are serialized; a pin file edited by another process between
 * our read and our rename loses that edit (do not share one pin file between
 * servers). A pin is refused when the pin file IS the known_hosts file, when
 * the key is revoked, when the host has a different trusted key in either
 * file (a CHANGED key is never pinned by the server) and when only
 * `@cert-authority` lines cover the name. Pinning a key that is already
 * trusted returns the existing line.
 *
 * @module
 */

import * as nodePath from "../util/local_path.ts";
import { ToolError } from "../errors.ts";
import { fromLatin1, latin1 } from "../util/bytes.ts";
import { type Logger, nullLogger } from "../log.ts";
import { orderHostKeyAlgorithms } from "./host_key_algorithms.ts";
import { canonicalKeyId, fingerprintSha256, parsePublicKeyBlob } from "./key_blob.ts";
import {
  KnownHosts,
  type KnownHostsLookup,
  type KnownHostsLookupOptions,
  type PinnedKey,
} from "./known_hosts.ts";
import { asciiLower } from "./known_hosts_match.ts";
import { canonicalIdOfPinned } from "./known_hosts_parse.ts";

/** Result of {@link HostPins.pin}. */
export interface PinResult {
  /** `SHA256:` fingerprint of the pinned key */
  fingerprint: string;
  /** the line as it is in `file` (for a new pin: `<lookupKey> <keytype> <base64>`) */
  line: string;
  /** the file holding the line: the pin file, or the user's known_hosts when it already trusted the key */
  file: string;
  /** true when nothing was written because the key was already trusted */
  alreadyPinned: boolean;
}

/** Options of {@link HostPins}. */
export interface HostPinsOptions {
  logger?: Logger;
}

/** A lookup key of a pin, taken apart (`host` port 22, `[host]:port`, or a HostKeyAlias). */
interface ParsedLookupKey {
  key: string;
  host: string;
  port: number;
}

/**
 * Checks a lookup key before it becomes the host field of a pin line: no
 * pattern or hash syntax (`*`, `?`, `!`, `,`, `|`), no blanks, no comment or
 * marker start, `[host]:port` only with a port other than 22. A plain key
 * (`host` at port 22, or a HostKeyAlias) is looked up like `host` at port 22,
 * which is exactly how both are looked up. ASCII case is folded like OpenSSH.
 */
function parseLookupKey(raw: string): ParsedLookupKey {
  const bad = (why: string) =>
    new ToolError(
      "ValueError",
      `Cannot pin a host key under ${JSON.stringify(raw.slice(0, 200))}: ${why}. ` +
        `Use the known_hosts name from the handshake (host, or [host]:port for ports other than 22).`,
    );
  const key = asciiLower(raw);
  if (key === "" || key.length > 1000) throw bad("empty or too long");
  // deno-lint-ignore no-control-regex
  if (/[\s\x00-\x1f\x7f,*?!|#]/.test(key) || key.startsWith("@")) {
    throw bad("it contains blanks, control characters or known_hosts pattern syntax");
  }
  const m = /^\[([^[\]]+)\]:([0-9]{1,5})$/.exec(key);
  if (m) {
    const port = Number(m[2]);
    if (port < 1 || port > 65535 || port === 22 || m[2]!.startsWith("0")) {
      throw bad(
        "the port must be 1..65535 without leading zeros and not 22 (port 22 uses the bare host)",
      );
    }
    return { key, host: m[1]!, port };
  }
  if (/[[\]]/.test(key)) throw bad("brackets are only allowed as [host]:port");
  return { key, host: key, port: 22 };
}

/** The file `p` names, canonical: realpath when it exists, else realpath of its directory + name. */
function canonicalPath(p: string): string {
  const abs = nodePath.resolve(p);
  try {
    return Deno.realPathSync(abs);
  } catch {
    try {
      return nodePath.join(Deno.realPathSync(nodePath.dirname(abs)), nodePath.basename(abs));
    } catch {
      return abs;
    }
  }
}

/** True when `a` and `b` are the same file (same canonical path, or same inode). */
function sameFile(a: string, b: string): boolean {
  if (canonicalPath(a) === canonicalPath(b)) return true;
  try {
    const sa = Deno.statSync(a);
    const sb = Deno.statSync(b);
    return sa.ino !== null && sa.dev === sb.dev && sa.ino === sb.ino;
  } catch {
    return false;
  }
}

function isNotFound(e: unknown): boolean {
  return e instanceof Deno.errors.NotFound ||
    (e as { code?: string }).code === "ENOENT";
}

/** Byte-exact text of line `n` (1-based) of a file, or null. */
function lineOf(file: string, n: number): string | null {
  try {
    const text = latin1(Deno.readFileSync(file));
    const l = text.split("\n")[n - 1];
    return l === undefined ? null : new TextDecoder().decode(fromLatin1(l.replace(/\r$/, "")));
  } catch {
    return null;
  }
}

function keyTypes(keys: PinnedKey[]): string[] {
  return keys.map((k) => k.keyType);
}

/**
 * The user's known_hosts file plus the server's pin file (see module docs).
 * `path` and `loaded` describe the user's file, as for {@link KnownHosts}.
 */
export class HostPins extends KnownHosts {
  /** path of the server's pin file (`SSH_PINNED_KNOWN_HOSTS`) */
  readonly pinPath: string;
  #pins: KnownHosts;
  #pinLogger: Logger;
  #lock: Promise<unknown> = Promise.resolve();

  /**
   * Loads both files now. A missing known_hosts file logs one WARNING (KH-6);
   * a missing pin file is normal and logs nothing. Both paths must already be
   * absolute and expanded (`~`).
   */
  constructor(knownHostsPath: string, pinPath: string, opts: HostPinsOptions = {}) {
    super(knownHostsPath, { logger: opts.logger });
    this.pinPath = pinPath;
    this.#pinLogger = opts.logger ?? nullLogger;
    this.#pins = new KnownHosts(pinPath, {
      logger: opts.logger,
      missingOk: true,
      label: "pinned known_hosts file (SSH_PINNED_KNOWN_HOSTS)",
    });
    if (sameFile(knownHostsPath, pinPath)) {
      this.#pinLogger.warn(
        "SSH_PINNED_KNOWN_HOSTS names the SSH_KNOWN_HOSTS file: confirmed first-contact pins " +
          "are refused (the server never writes known_hosts); set SSH_PINNED_KNOWN_HOSTS to a " +
          "separate file",
      );
    }
  }

  /** true while the pin file's state in memory comes from a successful read (false when missing). */
  get pinsLoaded(): boolean {
    return this.#pins.loaded;
  }

  /** Re-reads whichever of the two files changed (one `stat` each). */
  override refresh(): void {
    super.refresh();
    // the base constructor calls refresh() before #pins exists
    if (#pins in this && this.#pins) this.#pins.refresh();
  }

  /**
   * The merged keys for `host:port` (see module docs for which file decides).
   * `revoked` and `certAuthority` come from both files.
   */
  override lookup(
    host: string,
    port: number,
    opts: KnownHostsLookupOptions = {},
  ): KnownHostsLookup {
    const u = super.lookup(host, port, opts);
    const p = this.#pins.lookup(host, port, opts);
    const revoked = [...u.revoked, ...p.revoked];
    const certAuthority = [...u.certAuthority, ...p.certAuthority];
    const base = { lookupKey: u.lookupKey, revoked, certAuthority };
    if (u.trusted.length > 0 && !u.portlessFallback) {
      return { ...base, trusted: [...u.trusted], portlessFallback: false };
    }
    if (p.trusted.length > 0 && !p.portlessFallback) {
      return { ...base, trusted: [...p.trusted], portlessFallback: false };
    }
    const trusted = [...u.trusted, ...p.trusted];
    return { ...base, trusted, portlessFallback: trusted.length > 0 };
  }

  /** KH-8 over the deciding lines: their key types first, then ssh2's default order. */
  override hostKeyAlgorithms(
    host: string,
    port: number,
    opts: KnownHostsLookupOptions = {},
  ): string[] {
    const l = this.lookup(host, port, opts);
    return orderHostKeyAlgorithms(l.portlessFallback ? [] : keyTypes(l.trusted));
  }

  /**
   * Pins `keyBlob` under `lookupKey` (the verdict's `lookupKey`, exactly as the
   * handshake computed it) in the pin file. Only for a key a human explicitly
   * accepted. Idempotent for an already trusted key; refused (ToolError) for
   * an invalid name or key, a pin file that is the known_hosts file, a
   * revoked key, a host with a different trusted key, and a name covered only
   * by `@cert-authority` lines. Serialized within the process.
   */
  pin(lookupKey: string, keyBlob: Uint8Array): Promise<PinResult> {
    const blob = new Uint8Array(keyBlob);
    const run = this.#lock.then(() => this.#pinLocked(lookupKey, blob));
    this.#lock = run.catch(() => {});
    return run;
  }

  async #pinLocked(rawKey: string, blob: Uint8Array): Promise<PinResult> {
    const { key, host, port } = parseLookupKey(rawKey);
    const id = parsePublicKeyBlob(blob);
    if (id === null || id.canon.startsWith("cert:")) {
      throw new ToolError(
        "ValueError",
        `Cannot pin the host key for ${key}: it is not a plain SSH public key the server can verify.`,
      );
    }
    const fingerprint = fingerprintSha256(blob);
    if (sameFile(this.path, this.pinPath)) {
      throw new ToolError(
        "ValueError",
        `Refusing to pin ${fingerprint} for ${key}: SSH_PINNED_KNOWN_HOSTS (${this.pinPath}) is ` +
          `the SSH_KNOWN_HOSTS file, which the server never writes. Set SSH_PINNED_KNOWN_HOSTS ` +
          `to a separate file (default ~/.config/ssh-mcp/pinned_known_hosts).`,
        { lookup_key: key, actual_fingerprint: fingerprint },
      );
    }
    const v = this.verify(host, port, blob);
    switch (v.status) {
      case "revoked":
        throw new ToolError(
          "HostKeyMismatch",
          `Refusing to pin ${fingerprint} for ${key}: that key is marked @revoked (in ` +
            `${this.path} or ${this.pinPath}). A revoked key is never pinned.`,
          { lookup_key: key, actual_fingerprint: fingerprint, revoked: true },
        );
      case "mismatch":
        throw new ToolError(
          "HostKeyMismatch",
          `Refusing to pin ${fingerprint} for ${key}: a different key (${v.expectedFingerprint}) ` +
            `is already trusted for it (in ${this.path} or ${this.pinPath}). A changed host key ` +
            `is never pinned by the server; verify the new key out of band and replace the old ` +
            `line by hand.`,
          {
            lookup_key: key,
            expected_fingerprint: v.expectedFingerprint,
            actual_fingerprint: fingerprint,
          },
        );
      case "trusted":
        return this.#existing(key, host, port, blob, fingerprint);
      case "unknown":
        if (v.certAuthorityOnly) {
          throw new ToolError(
            "ValueError",
            `Refusing to pin ${fingerprint} for ${key}: only @cert-authority lines cover this ` +
              `name in ${this.path}; pin the host's plain key there by hand if that is intended.`,
            { lookup_key: key, actual_fingerprint: fingerprint },
          );
        }
    }
    const keyType = id.keyType;
    const line = `${key} ${keyType} ${blob.toBase64()}`;
    await this.#append(line);
    this.#pins.refresh();
    const after = this.verify(host, port, blob);
    if (after.status !== "trusted") {
      throw new ToolError(
        "RuntimeError",
        `The pin for ${key} was written to ${this.pinPath} but does not verify (${after.status}).`,
      );
    }
    this.#pinLogger.info("host key pinned (first contact confirmed by the user)", {
      lookup_key: key,
      key_type: keyType,
      fingerprint,
      file: this.pinPath,
    });
    return { fingerprint, line, file: this.pinPath, alreadyPinned: false };
  }

  /** The line that already trusts the key: the pin file first, else the user's file. */
  #existing(
    key: string,
    host: string,
    port: number,
    blob: Uint8Array,
    fingerprint: string,
  ): PinResult {
    const id = canonicalKeyId(blob);
    for (const [kh, file] of [[this.#pins, this.pinPath], [null, this.path]] as const) {
      const l = kh ? kh.lookup(host, port) : super.lookup(host, port);
      const k = l.trusted.find((t) => canonicalIdOfPinned(t) === id);
      if (k) {
        const line = lineOf(file, k.line) ??
          `${key} ${k.keyType} ${k.blob.toBase64()}`;
        return { fingerprint, line, file, alreadyPinned: true };
      }
    }
    // unreachable (the merged verdict was trusted); report the pin file form
    return {
      fingerprint,
      line: `${key} ${parsePublicKeyBlob(blob)!.keyType} ${blob.toBase64()}`,
      file: this.pinPath,
      alreadyPinned: true,
    };
  }

  /** Appends one line: temp file (0600) in the same directory, then rename over the pin file. */
  async #append(line: string): Promise<void> {
    let target = this.pinPath;
    try {
      if ((await Deno.lstat(target)).isSymlink) target = await Deno.realPath(target);
    } catch (e) {
      if (!isNotFound(e)) throw this.#writeError(e);
    }
    const dir = nodePath.dirname(target);
    let dirExisted = true;
    try {
      await Deno.stat(dir);
    } catch (e) {
      if (!isNotFound(e)) throw this.#writeError(e);
      dirExisted = false;
    }
    let old = new Uint8Array();
    try {
      if (!dirExisted) {
        await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
        await Deno.chmod(dir, 0o700);
      }
      try {
        const st = await Deno.stat(target);
        if (!st.isFile) throw new Error("not a regular file");
        old = await Deno.readFile(target);
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
    } catch (e) {
      throw this.#writeError(e);
    }
    const sep = old.length > 0 && old[old.length - 1] !== 0x0a ? "\n" : "";
    const add = new TextEncoder().encode(`${sep}${line}\n`);
    const next = new Uint8Array(old.length + add.length);
    next.set(old, 0);
    next.set(add, old.length);
    const rand = crypto.getRandomValues(new Uint8Array(8)).toHex();
    const tmp = `${target}.tmp-${rand}`;
    try {
      const f = await Deno.open(tmp, { write: true, createNew: true, mode: 0o600 });
      try {
        await Deno.chmod(tmp, 0o600);
        let off = 0;
        while (off < next.length) off += await f.write(next.subarray(off));
        await f.syncData();
      } finally {
        f.close();
      }
      await Deno.rename(tmp, target);
    } catch (e) {
      await Deno.remove(tmp).catch(() => {});
      throw this.#writeError(e);
    }
    try {
      const d = await Deno.open(dir, { read: true });
      try {
        await d.sync();
      } finally {
        d.close();
      }
    } catch {
      // best effort: the rename itself is atomic
    }
  }

  #writeError(e: unknown): ToolError {
    return new ToolError(
      "WriteError",
      `Cannot write the pin file ${this.pinPath} (SSH_PINNED_KNOWN_HOSTS): ${
        (e as Error).message ?? String(e)
      }. Nothing was pinned.`,
    );
  }
}
