/**
 * Strict known_hosts matcher (SECURITY.md §KH, CONFIG.md §8).
 *
 * Hand-written because no npm package parses known_hosts. The accept/reject
 * verdict mirrors OpenSSH 9.2's client (`hostfile.c`, `sshconnect.c`), and
 * every rule below was checked against the real `ssh` binary
 * (tests/ssh/known_hosts_test.ts runs both side by side):
 *
 * - Line syntax as `hostkeys_foreach`: leading spaces/tabs, `#` comments and
 *   blank lines skipped; optional marker `@revoked` / `@cert-authority`
 *   (OpenSSH cuts the marker at the first SPACE of the line, a tab only when
 *   the line has no space at all, so `@revoked<TAB>host key` is invalid);
 *   host field; key type; base64 key blob (BIND `b64_pton` rules: padding
 *   required, zero slop bits, `\r` and other non-blank whitespace ignored);
 *   comment. Invalid lines are skipped (DEBUG log).
 * - The key type must be the blob's type (`rsa-sha2-256` / `rsa-sha2-512`
 *   are accepted for `ssh-rsa` blobs; short names like `ED25519` are not).
 *   The blob must parse completely: Ed25519 keys 32 bytes, RSA moduli at
 *   least 1024 bits, ECDSA points uncompressed, on the curve and passing
 *   OpenSSH's `sshkey_ec_validate_public`; trailing bytes make a line invalid.
 * - Host patterns: comma list, `*`/`?` wildcards, `!` negation (a negated
 *   match makes the line not match), case-insensitive (ASCII) like
 *   `match_hostname`; hashed fields `|1|salt|HMAC-SHA1(salt, name)` are
 *   compared over the lowercased name (OpenSSH lowercases host names and
 *   HostKeyAlias values).
 * - Lookup name: `host` for port 22, `[host]:port` otherwise; a HostKeyAlias
 *   is used as-is (never with a port, never with the port-less fallback).
 * - Verdict: a presented key equal to an `@revoked` key for the name is
 *   refused even when another line trusts it. Plain (unmarked) lines for the
 *   name decide: equal key → trusted, otherwise → mismatch, whatever the key
 *   type (OpenSSH: "REMOTE HOST IDENTIFICATION HAS CHANGED"). When there is no
 *   plain line for `[host]:port` (port ≠ 22, no alias), the port-less `host`
 *   lines are consulted: an equal key is trusted, anything else is unknown
 *   ("No … host key is known for [host]:port").
 * - `@cert-authority` lines never make a key trusted: ssh2 cannot negotiate
 *   host certificates. They are ignored with a WARNING at load; when they are
 *   all there is for a host, the verdict is unknown with `certAuthorityOnly`.
 *
 * Nothing in this module writes to the file.
 *
 * The parts: line syntax in `known_hosts_parse.ts`, host names, patterns and
 * hashed fields in `known_hosts_match.ts`, key blobs and OpenSSH base64 in
 * `key_blob.ts`, host-key algorithm order in `host_key_algorithms.ts`. This
 * module holds the file (`KnownHosts`), the verdicts and their errors, and
 * re-exports the public names of the others.
 *
 * @module
 */

import { type Logger, nullLogger } from "../log.ts";
import { ToolError } from "../errors.ts";
import { latin1 } from "../util/bytes.ts";
import { orderHostKeyAlgorithms } from "./host_key_algorithms.ts";
import { canonicalKeyId, fingerprintSha256, keyTypeOfBlob } from "./key_blob.ts";
import {
  asciiLower,
  byteString,
  hostFieldMatches,
  type KnownHostsLookupOptions,
  lookupKeyFor,
} from "./known_hosts_match.ts";
import {
  canonicalIdOfPinned,
  type KnownHostsEntry,
  parseKnownHosts,
  type PinnedKey,
} from "./known_hosts_parse.ts";

export { SSH2_DEFAULT_HOST_KEY_ALGORITHMS } from "./host_key_algorithms.ts";
export { fingerprintSha256, keyTypeOfBlob } from "./key_blob.ts";
export {
  hashHostName,
  type KnownHostsLookupOptions,
  lookupKeyFor,
  matchHostPatterns,
} from "./known_hosts_match.ts";
export {
  type KnownHostsEntry,
  parseKnownHosts,
  type PinnedKey,
  type SkippedLine,
} from "./known_hosts_parse.ts";

/** Result of {@link KnownHosts.verify}. */
export type HostKeyVerdict =
  | { status: "trusted"; fingerprint: string; lookupKey: string }
  | {
    status: "unknown";
    actualFingerprint: string;
    lookupKey: string;
    certAuthorityOnly: boolean;
  }
  | {
    status: "mismatch";
    expectedFingerprint: string;
    actualFingerprint: string;
    lookupKey: string;
  }
  | { status: "revoked"; actualFingerprint: string; lookupKey: string };

/** Result of {@link KnownHosts.lookup}. */
export interface KnownHostsLookup {
  /** name the file was searched for: `host`, `[host]:port` or the alias */
  lookupKey: string;
  /** plain (unmarked) keys that decide the verdict, in file order */
  trusted: PinnedKey[];
  /** `@revoked` keys that apply (lookup name, plus the port-less name when it was consulted) */
  revoked: PinnedKey[];
  /** `@cert-authority` keys that matched (never honoured, see module doc) */
  certAuthority: PinnedKey[];
  /** true when `trusted` comes from port-less `host` lines (no plain line for `[host]:port`) */
  portlessFallback: boolean;
}

// ---------------------------------------------------------------------------
// the file

interface MatchSet {
  trusted: PinnedKey[];
  revoked: PinnedKey[];
  certAuthority: PinnedKey[];
}

/** A window (ms) after a file's mtime during which a same-size rewrite could go unnoticed. */
const RACY_WINDOW_MS = 3000;

/**
 * The known_hosts file (`SSH_KNOWN_HOSTS`), re-read when it changes. Every
 * query method calls {@link KnownHosts.refresh} first (one `stat`), so an
 * out-of-band pin takes effect on the next connect.
 */
export class KnownHosts {
  /** path of the file (read only, never written) */
  readonly path: string;
  #logger: Logger;
  #entries: KnownHostsEntry[] = [];
  #loaded = false;
  #signature: string | null = null;
  #racy = false;
  #lastText: string | null = null;
  #missingWarned = false;
  #missingOk: boolean;
  #label: string;
  #cache = new Map<string, MatchSet>();

  /**
   * Loads the file now (a missing file logs one WARNING unless `missingOk`).
   * `label` names the file in log lines (default `known_hosts file
   * (SSH_KNOWN_HOSTS)`); `missingOk` is for files whose absence is normal
   * (the server's own pin file, `host_pins.ts`).
   */
  constructor(
    path: string,
    opts: { logger?: Logger; missingOk?: boolean; label?: string } = {},
  ) {
    this.path = path;
    this.#logger = opts.logger ?? nullLogger;
    this.#missingOk = opts.missingOk ?? false;
    this.#label = opts.label ?? "known_hosts file (SSH_KNOWN_HOSTS)";
    this.refresh();
  }

  /** true while the state in memory comes from a successful read of the file. */
  get loaded(): boolean {
    return this.#loaded;
  }

  /**
   * Re-reads the file when its inode, size, mtime or ctime changed (and,
   * within a few seconds of a modification, when its bytes changed: Deno
   * reports mtimes in milliseconds only). Missing file: one WARNING (not
   * repeated), every host unknown until it appears. A read failure, a file
   * with NUL bytes (binary) or a file whose entry lines are all invalid
   * keeps the previous state and logs a WARNING. Invalid lines are skipped
   * with a DEBUG log.
   */
  refresh(): void {
    let sig: string;
    try {
      // Deno's own calls (the same values as node:fs; its layer costs ~10-20 ms of a start)
      const st = Deno.statSync(this.path);
      const mtimeMs = st.mtime?.getTime() ?? 0;
      sig = `${st.ino}:${st.size}:${mtimeMs}:${st.ctime?.getTime() ?? 0}`;
      if (sig === this.#signature && !this.#racy) return;
      this.#racy = Date.now() - mtimeMs < RACY_WINDOW_MS;
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code === "ENOENT" || code === "ENOTDIR") {
        if (!this.#missingWarned && !this.#missingOk) {
          this.#logger.warn(
            `${this.#label} does not exist: every host is UnknownHost until it is created`,
          );
          this.#missingWarned = true;
        }
        this.#replace([], false);
        this.#signature = "missing";
        this.#lastText = null;
        this.#racy = false;
        return;
      }
      this.#failed(`stat:${code}`, `cannot stat the ${this.#label} (${code ?? "error"})`);
      return;
    }
    this.#missingWarned = false;
    let text: string;
    try {
      text = latin1(Deno.readFileSync(this.path));
    } catch (e) {
      const code = (e as { code?: string }).code;
      this.#failed(sig, `cannot read the ${this.#label} (${code ?? "error"})`);
      return;
    }
    if (sig === this.#signature && text === this.#lastText) return; // racy re-check, unchanged
    this.#signature = sig;
    this.#lastText = text;
    if (text.includes("\0")) {
      this.#logger.warn(
        `${this.#label} contains NUL bytes (not a text file): keeping the previously loaded entries`,
      );
      return;
    }
    let skipped = 0;
    const { entries, entryLines } = parseKnownHosts(text, (s) => {
      skipped++;
      this.#logger.debug("known_hosts: skipped invalid line", { line: s.line, reason: s.reason });
    });
    if (entryLines > 0 && entries.length === 0) {
      this.#logger.warn(
        `${this.#label} has no valid entry (all lines invalid): keeping the previously loaded entries`,
        { invalid_lines: skipped },
      );
      return;
    }
    this.#replace(entries, true);
    const ca = entries.filter((e) => e.key.marker === "cert-authority").length;
    if (ca > 0) {
      this.#logger.warn(
        "known_hosts has @cert-authority lines: they are ignored (the SSH library cannot verify " +
          "host certificates); hosts covered only by them are UnknownHost until a plain key is pinned",
        { cert_authority_lines: ca },
      );
    }
  }

  #failed(sig: string, msg: string): void {
    if (sig === this.#signature) return; // already reported for this state of the file
    this.#signature = sig;
    this.#lastText = null;
    this.#racy = false;
    this.#logger.warn(`${msg}: keeping the previously loaded entries`);
  }

  #replace(entries: KnownHostsEntry[], loaded: boolean): void {
    this.#entries = entries;
    this.#loaded = loaded;
    this.#cache.clear();
  }

  /** Entries matching one lookup name, split by marker (cached until the file changes). */
  #match(name: string): MatchSet {
    let m = this.#cache.get(name);
    if (m) return m;
    m = { trusted: [], revoked: [], certAuthority: [] };
    const bytes = byteString(name);
    for (const e of this.#entries) {
      if (!hostFieldMatches(e.hosts, e.hashSalt, bytes)) continue;
      if (e.key.marker === "revoked") m.revoked.push(e.key);
      else if (e.key.marker === "cert-authority") m.certAuthority.push(e.key);
      else m.trusted.push(e.key);
    }
    if (this.#cache.size > 4096) this.#cache.clear();
    this.#cache.set(name, m);
    return m;
  }

  /**
   * The keys that apply to `host:port`. lookupKey is `host` for port 22, else
   * `[host]:port` (an alias is used as-is). When there is no plain line for
   * `[host]:port`, the port-less `host` lines are consulted like OpenSSH does.
   */
  lookup(host: string, port: number, opts: KnownHostsLookupOptions = {}): KnownHostsLookup {
    this.refresh();
    const lookupKey = lookupKeyFor(host, port, opts);
    const l = this.#match(lookupKey);
    const res: KnownHostsLookup = {
      lookupKey,
      trusted: [...l.trusted],
      revoked: [...l.revoked],
      certAuthority: [...l.certAuthority],
      portlessFallback: false,
    };
    if (l.trusted.length === 0 && !opts.hostKeyAlias && port !== 22) {
      const p = this.#match(asciiLower(host));
      res.revoked.push(...p.revoked);
      res.certAuthority.push(...p.certAuthority);
      if (p.trusted.length > 0) {
        res.trusted = [...p.trusted];
        res.portlessFallback = true;
      }
    }
    return res;
  }

  /** Verdict for the key a server presented (raw wire blob, as ssh2's hostVerifier passes it). */
  verify(
    host: string,
    port: number,
    presented: Uint8Array,
    opts: KnownHostsLookupOptions = {},
  ): HostKeyVerdict {
    const r = this.lookup(host, port, opts);
    const actual = fingerprintSha256(presented);
    const id = canonicalKeyId(presented);
    const lookupKey = r.lookupKey;
    if (r.revoked.some((k) => canonicalIdOfPinned(k) === id)) {
      return { status: "revoked", actualFingerprint: actual, lookupKey };
    }
    if (r.trusted.some((k) => canonicalIdOfPinned(k) === id)) {
      return { status: "trusted", fingerprint: actual, lookupKey };
    }
    if (r.trusted.length > 0 && !r.portlessFallback) {
      const type = keyTypeOfBlob(presented);
      const expected = r.trusted.find((k) => k.keyType === type) ?? r.trusted[0]!;
      return {
        status: "mismatch",
        expectedFingerprint: expected.fingerprint,
        actualFingerprint: actual,
        lookupKey,
      };
    }
    return {
      status: "unknown",
      actualFingerprint: actual,
      lookupKey,
      certAuthorityOnly: r.trusted.length === 0 && r.certAuthority.length > 0,
    };
  }

  /** Fingerprint of the first trusted key for host:port (port-less fallback included), or null. */
  pinnedFingerprint(host: string, port: number, opts: KnownHostsLookupOptions = {}): string | null {
    return this.lookup(host, port, opts).trusted[0]?.fingerprint ?? null;
  }

  /**
   * ssh2 `algorithms.serverHostKey` order: the algorithms of the key types
   * pinned for the lookup name first (ssh-rsa pins expand to rsa-sha2-512,
   * rsa-sha2-256, ssh-rsa), then the rest of ssh2's default host-key
   * algorithms, all in ssh2's preference order. Like OpenSSH's
   * `order_hostkeyalgs`, only lines for the lookup name itself count (not the
   * port-less fallback).
   */
  hostKeyAlgorithms(host: string, port: number, opts: KnownHostsLookupOptions = {}): string[] {
    this.refresh();
    const trusted = this.#match(lookupKeyFor(host, port, opts)).trusted;
    return orderHostKeyAlgorithms(trusted.map((k) => k.keyType));
  }
}

// ---------------------------------------------------------------------------
// errors

/** Host part of a lookup key (`[h]:p` → h). */
function hostOfLookupKey(lookupKey: string): string {
  const m = /^\[(.*)\]:\d+$/.exec(lookupKey);
  return m ? m[1]! : lookupKey;
}

function pinAdvice(lookupKey: string, port: number, knownHostsPath: string): string {
  const h = hostOfLookupKey(lookupKey);
  return `To pin the key out of band: run \`ssh-keyscan -p ${port} ${h} > scratch\`, ` +
    `compare \`ssh-keygen -lf scratch\` with the fingerprint obtained from the host's console ` +
    `(never from this connection), then append the matching line (host field "${lookupKey}") ` +
    `to ${knownHostsPath}. The server never writes that file.`;
}

/**
 * Maps a non-trusted verdict to the contract error: `UnknownHost` (no entry,
 * or only @cert-authority lines, which cannot be honoured) or
 * `HostKeyMismatch` (different key, or a key marked @revoked), with
 * out-of-band pinning advice. There is no way to accept a key anyway.
 */
export function verdictError(
  v: Exclude<HostKeyVerdict, { status: "trusted" }>,
  displayHost: string,
  port: number,
  knownHostsPath: string,
): ToolError {
  const where = `${displayHost} (port ${port}, known_hosts name "${v.lookupKey}")`;
  const advice = pinAdvice(v.lookupKey, port, knownHostsPath);
  switch (v.status) {
    case "unknown": {
      const head = v.certAuthorityOnly
        ? `Host key for ${where} is not trusted: only @cert-authority lines match this host, and ` +
          `they cannot be honoured because the SSH library (ssh2) cannot verify host ` +
          `certificates. Pin the host's plain public key instead.`
        : `Host key for ${where} is not in known_hosts.`;
      return new ToolError(
        "UnknownHost",
        `${head} The server presented a key with fingerprint ${v.actualFingerprint}; ` +
          `the connection was closed before authentication. ${advice}`,
        {
          actual_fingerprint: v.actualFingerprint,
          lookup_key: v.lookupKey,
          cert_authority_only: v.certAuthorityOnly,
        },
      );
    }
    case "mismatch":
      return new ToolError(
        "HostKeyMismatch",
        `HOST KEY MISMATCH for ${where}: known_hosts expects ${v.expectedFingerprint} but the ` +
          `server presented ${v.actualFingerprint}. The host may have been reinstalled, or ` +
          `someone may be intercepting the connection; it was closed before authentication. ` +
          `Verify the new key out of band before replacing the old line. ${advice}`,
        {
          expected_fingerprint: v.expectedFingerprint,
          actual_fingerprint: v.actualFingerprint,
          lookup_key: v.lookupKey,
        },
      );
    case "revoked":
      return new ToolError(
        "HostKeyMismatch",
        `REVOKED HOST KEY for ${where}: the presented key ${v.actualFingerprint} is marked ` +
          `@revoked in ${knownHostsPath}, so it is refused even if another line trusts it. ` +
          `A stolen key may be in use; the connection was closed before authentication. ` +
          `Find out why the host presents a revoked key before pinning a new one. ${advice}`,
        {
          expected_fingerprint: null,
          actual_fingerprint: v.actualFingerprint,
          lookup_key: v.lookupKey,
          revoked: true,
        },
      );
  }
}
