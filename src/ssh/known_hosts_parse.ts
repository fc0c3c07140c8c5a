/**
 * known_hosts line syntax (`hostkeys_foreach` in OpenSSH; see `known_hosts.ts`
 * for the rules): markers, host field, key type and key blob of each line,
 * the parsed entries ({@link KnownHostsEntry}) and the canonical identity of
 * their keys.
 *
 * @module
 */

import {
  blobTypeForKeyTypeName,
  canonicalKeyId,
  decodeOpenSshBase64,
  fingerprintSha256,
  parsePublicKeyBlob,
} from "./key_blob.ts";
import { extractSalt } from "./known_hosts_match.ts";

/** One key line of the known_hosts file. */
export interface PinnedKey {
  /** key type of the blob, e.g. "ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256" */
  keyType: string;
  /** raw wire blob (base64-decoded key field) */
  blob: Uint8Array;
  /** "SHA256:" + unpadded base64 of sha256(blob) */
  fingerprint: string;
  /** 1-based line number in the file */
  line: number;
  /** marker of the line */
  marker: null | "revoked" | "cert-authority";
}

/** One parsed, valid line of a known_hosts file. */
export interface KnownHostsEntry {
  /** the host field as written (patterns or a `|1|salt|hash` field) */
  hosts: string;
  /** salt of a hashed host field; null for patterns */
  hashSalt: Uint8Array | null;
  key: PinnedKey;
}

/** Why a line was skipped by {@link parseKnownHosts}. */
export interface SkippedLine {
  line: number;
  reason: string;
}

/** Canonical identities computed while parsing (or on first use). */
const CANON = new WeakMap<PinnedKey, string>();

/** Canonical identity of a pinned key (see `canonicalKeyId`), computed once per key. */
export function canonicalIdOfPinned(k: PinnedKey): string {
  let c = CANON.get(k);
  if (c === undefined) {
    c = canonicalKeyId(k.blob);
    CANON.set(k, c);
  }
  return c;
}

function isBlank(c: string | undefined): boolean {
  return c === " " || c === "\t";
}

/**
 * Parses one line. Returns null for comments and blank lines, a string reason
 * for an invalid line, or the entry.
 */
function parseLine(text: string, lineNo: number): KnownHostsEntry | string | null {
  let i = 0;
  while (isBlank(text[i])) i++;
  if (i >= text.length || text[i] === "#") return null;

  // markers (check_markers): cut at the first space of the rest of the line, else the first tab
  let marker: PinnedKey["marker"] = null;
  while (text[i] === "@") {
    if (marker !== null) return "more than one marker";
    let sp = text.indexOf(" ", i);
    if (sp < 0) sp = text.indexOf("\t", i);
    if (sp < 0) return "marker without a host field";
    const m = text.slice(i, sp);
    if (m === "@cert-authority") marker = "cert-authority";
    else if (m === "@revoked") marker = "revoked";
    else return "invalid marker";
    i = sp;
    while (isBlank(text[i])) i++;
  }

  // host field
  let j = i;
  while (j < text.length && !isBlank(text[j])) j++;
  const hosts = text.slice(i, j);
  let hashSalt: Uint8Array | null = null;
  if (hosts.startsWith("|")) {
    hashSalt = extractSalt(hosts);
    if (hashSalt === null) return "invalid hashed host field";
  }
  i = j;
  while (isBlank(text[i])) i++;
  if (i >= text.length || text[i] === "#") return "no key after the host field";

  // key type
  j = i;
  while (j < text.length && !isBlank(text[j])) j++;
  if (j >= text.length) return "no key blob after the key type";
  const declared = text.slice(i, j);
  const wantBlobType = blobTypeForKeyTypeName(declared);
  if (wantBlobType === null) return "unsupported key type";
  i = j;
  while (isBlank(text[i])) i++;
  if (i >= text.length) return "no key blob after the key type";

  // key blob
  j = i;
  while (j < text.length && !isBlank(text[j])) j++;
  const blob = decodeOpenSshBase64(text.slice(i, j));
  if (blob === null || blob.length === 0) return "key blob is not valid base64";
  const parsed = parsePublicKeyBlob(blob);
  if (parsed === null) return "key blob does not parse";
  if (parsed.keyType !== wantBlobType) return "key type does not match the key blob";

  const key: PinnedKey = {
    keyType: parsed.keyType,
    blob,
    fingerprint: fingerprintSha256(blob),
    line: lineNo,
    marker,
  };
  CANON.set(key, parsed.canon);
  return { hosts, hashSalt, key };
}

/**
 * Parses known_hosts text (lines split on "\n", bytes as latin1 like C).
 * Comments and blank lines are ignored; invalid lines are reported through
 * `onSkip` and left out.
 */
export function parseKnownHosts(
  text: string,
  onSkip?: (s: SkippedLine) => void,
): { entries: KnownHostsEntry[]; entryLines: number } {
  const entries: KnownHostsEntry[] = [];
  let entryLines = 0;
  const lines = text.split("\n");
  // a final newline does not start another line
  if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  lines.forEach((l, idx) => {
    const r = parseLine(l, idx + 1);
    if (r === null) return;
    entryLines++;
    if (typeof r === "string") onSkip?.({ line: idx + 1, reason: r });
    else entries.push(r);
  });
  return { entries, entryLines };
}
