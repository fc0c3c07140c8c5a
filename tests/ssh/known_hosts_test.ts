/**
 * known_hosts matcher: unit tests of every entry form, file behaviour
 * (AC-116..AC-120, KH-6, KH-7) and verdict equivalence with OpenSSH's own
 * client on live sshd instances (the real ssh2 client verified by our
 * verdict next to `ssh -o StrictHostKeyChecking=yes`).
 *
 * Needs ssh, ssh-keygen and /usr/sbin/sshd; fails (never skips) without them.
 */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { Logger } from "../../src/log.ts";
import { decodeOpenSshBase64 as decodeBase64Strict } from "../../src/ssh/key_blob.ts";
import {
  fingerprintSha256,
  hashHostName,
  type HostKeyVerdict,
  keyTypeOfBlob,
  KnownHosts,
  lookupKeyFor,
  matchHostPatterns,
  parseKnownHosts,
  SSH2_DEFAULT_HOST_KEY_ALGORITHMS,
  verdictError,
} from "../../src/ssh/known_hosts.ts";
import {
  generateKey,
  type KeyPair,
  mustRun,
  type SshdInstance,
  startSshd,
  tempDir,
} from "../_support/sshd.ts";
import {
  b64,
  hmacHostField,
  keyVariants,
  opensshRun,
  splitPublicKey,
  ssh2Connect,
  type VerdictStatus,
} from "../_support/known_hosts_fixtures.ts";
import ssh2Constants from "npm:ssh2@1.17.0/lib/protocol/constants.js";

// ---------------------------------------------------------------------------
// shared material

interface Keys {
  dir: string;
  ed1: KeyPair;
  ed2: KeyPair;
  rsa: KeyPair;
  ec256: KeyPair;
  ec384: KeyPair;
  ec521: KeyPair;
}

let keysPromise: Promise<Keys> | undefined;
function keys(): Promise<Keys> {
  keysPromise ??= (async () => {
    const dir = await tempDir("sshmcp-kh-keys-");
    const [ed1, ed2, rsa, ec256, ec384, ec521] = await Promise.all([
      generateKey(dir, { type: "ed25519" }),
      generateKey(dir, { type: "ed25519" }),
      generateKey(dir, { type: "rsa", bits: 2048 }),
      generateKey(dir, { type: "ecdsa", bits: 256 }),
      generateKey(dir, { type: "ecdsa", bits: 384 }),
      generateKey(dir, { type: "ecdsa", bits: 521 }),
    ]);
    return { dir, ed1, ed2, rsa, ec256, ec384, ec521 };
  })();
  return keysPromise;
}

function blobOf(k: KeyPair | string): Uint8Array {
  return splitPublicKey(typeof k === "string" ? k : k.publicKey).blob;
}

function captureLogger(): { logger: Logger; lines: string[]; count(level: string): number } {
  const lines: string[] = [];
  const logger = new Logger({ level: "DEBUG", sink: (l) => lines.push(l) });
  return {
    logger,
    lines,
    count: (level) => lines.filter((l) => l.split(" ")[1] === level).length,
  };
}

async function khFile(lines: string[]): Promise<string> {
  const dir = await tempDir("sshmcp-kh-");
  const p = `${dir}/known_hosts`;
  await Deno.writeTextFile(p, lines.map((l) => l + "\n").join(""));
  return p;
}

// ---------------------------------------------------------------------------
// pure unit tests

Deno.test("KH-5: fingerprintSha256 equals ssh-keygen -l for every key type", async () => {
  const k = await keys();
  for (const key of [k.ed1, k.rsa, k.ec256, k.ec384, k.ec521]) {
    assert.equal(fingerprintSha256(blobOf(key)), key.fingerprint, key.type);
  }
});

Deno.test("KH-5: keyTypeOfBlob reads the leading ssh string", async () => {
  const k = await keys();
  assert.equal(keyTypeOfBlob(blobOf(k.ed1)), "ssh-ed25519");
  assert.equal(keyTypeOfBlob(blobOf(k.rsa)), "ssh-rsa");
  assert.equal(keyTypeOfBlob(blobOf(k.ec384)), "ecdsa-sha2-nistp384");
  assert.equal(keyTypeOfBlob(new Uint8Array([0, 0, 0, 9, 65])), "");
  assert.equal(keyTypeOfBlob(new Uint8Array([])), "");
});

Deno.test("KH-5: base64 decoding follows OpenSSH's b64_pton", () => {
  const dec = (s: string) => {
    const r = decodeBase64Strict(s);
    return r === null ? null : Buffer.from(r).toString("latin1");
  };
  assert.equal(dec("YWJj"), "abc");
  assert.equal(dec("YWI="), "ab");
  assert.equal(dec("YQ=="), "a");
  assert.equal(dec("YW\rJj\r"), "abc", "non-blank whitespace is skipped");
  assert.equal(dec("YQ= ="), "a", "whitespace between the two pads");
  assert.equal(dec("YWI"), null, "padding is required");
  assert.equal(dec("YQ="), null, "one pad where two are needed");
  assert.equal(dec("YWJ="), null, "non-zero slop bits");
  assert.equal(dec("YR=="), null, "non-zero slop bits");
  assert.equal(dec("YWJj="), null, "pad after a full group");
  assert.equal(dec("YQ==YQ=="), null, "data after the padding");
  assert.equal(dec("YW#j"), null, "invalid character");
  assert.equal(dec(""), "");
});

Deno.test("KH-5: host patterns — comma lists, * and ? wildcards, negation, case", () => {
  assert.equal(matchHostPatterns("web01", "web01"), 1);
  assert.equal(matchHostPatterns("web01", "a,web01,b"), 1);
  assert.equal(matchHostPatterns("web01", "a,b"), 0);
  assert.equal(matchHostPatterns("web01.example", "web*.example"), 1);
  assert.equal(matchHostPatterns("db01.example", "web*.example"), 0);
  assert.equal(matchHostPatterns("web01", "web0?"), 1);
  assert.equal(matchHostPatterns("web011", "web0?"), 0);
  assert.equal(matchHostPatterns("web0", "web0?"), 0);
  assert.equal(matchHostPatterns("anything", "*"), 1);
  assert.equal(matchHostPatterns("a.b.c", "*.*.c"), 1);
  assert.equal(matchHostPatterns("abc", "a*b*c*"), 1);
  assert.equal(matchHostPatterns("[10.0.0.5]:2222", "[10.0.0.*]:2222"), 1);
  assert.equal(matchHostPatterns("[10.0.0.5]:2222", "10.0.0.5"), 0);
  assert.equal(matchHostPatterns("web02", "web*,!web02"), -1, "negation wins over *");
  assert.equal(matchHostPatterns("web02", "!web02,web*"), -1, "order does not matter");
  assert.equal(matchHostPatterns("web01", "web*,!web02"), 1);
  assert.equal(matchHostPatterns("web01", "!web02"), 0, "only negated patterns never match");
  assert.equal(matchHostPatterns("Web01", "WEB01"), 1, "case-insensitive");
  assert.equal(matchHostPatterns("web01", "WEB0?"), 1);
  assert.equal(matchHostPatterns("web01", "x".repeat(1023) + ",web01"), 0, "OpenSSH gives up");
  assert.equal(matchHostPatterns("web01", "x".repeat(1022) + ",web01"), 1);
  assert.equal(matchHostPatterns("web01", "web01,"), 1, "trailing comma");
});

Deno.test("KH-4: lookup key is host for port 22, [host]:port otherwise, alias as-is", () => {
  assert.equal(lookupKeyFor("Web01.Example", 22), "web01.example");
  assert.equal(lookupKeyFor("web01", 2222), "[web01]:2222");
  assert.equal(lookupKeyFor("::1", 2222), "[::1]:2222");
  assert.equal(lookupKeyFor("MyAlias", 2222, { hostKeyAlias: true }), "myalias");
});

Deno.test("KH-5/AC-119: line parsing — markers, comments, CRLF and every malformed form", async () => {
  const k = await keys();
  const ed = k.ed1.publicKey;
  const [edType, edB64] = ed.split(" ");
  const rsaB64 = k.rsa.publicKey.split(" ")[1]!;
  const lines = [
    "# a comment", //                                        1 comment
    "", //                                                   2 blank
    "   \t", //                                              3 blank
    `host1 ${ed} comment words`, //                          4 ok
    `  host2,host3\t${edType}\t${edB64}\r`, //               5 ok (tabs, CR)
    `@revoked host4 ${ed}`, //                               6 ok revoked
    `@cert-authority *.example ${ed}`, //                    7 ok CA
    `@revoked\thost5 ${ed}`, //                              8 marker cut at the first space
    `@revoked\thost5\t${edType}\t${edB64}`, //               9 ok: no space at all
    `@revoked @revoked host6 ${ed}`, //                      10 two markers
    `@bogus host6 ${ed}`, //                                 11 bad marker
    `host7`, //                                              12 no key
    `host7 # comment`, //                                    13 no key
    `host7 ${edType}`, //                                    14 no blob
    `host7 ${edType} !!!!`, //                               15 bad base64
    `host7 ssh-rsa ${edB64}`, //                             16 type mismatch
    `host7 ED25519 ${edB64}`, //                             17 short names are not accepted
    `host7 rsa-sha2-512 ${rsaB64}`, //                       18 ok: rsa-sha2-* names an RSA key
    `host7 ${keyVariants.trailingByte(ed)}`, //              19 trailing bytes
    `host7 ${keyVariants.noPadding(k.ec256.publicKey)}`, //  20 missing padding
    `host7 ${keyVariants.flipLastByte(k.ec256.publicKey)}`, // 21 point not on the curve
    `host7 ${keyVariants.rsaTruncated(k.rsa.publicKey, 127)}`, // 22 RSA < 1024 bits
    `host7 ${keyVariants.rsaTruncated(k.rsa.publicKey, 128)}`, // 23 ok: 1024 bits
    `|1|AAAA|AAAA ${ed}`, //                                 24 salt is not 20 bytes
    `|2|x|y ${ed}`, //                                       25 unknown hash magic
    `${hmacHostField("host8")} ${ed}`, //                    26 ok hashed
    `host9 ssh-foo ${edB64}`, //                             27 unknown type
    `host10 ${k.ec384.publicKey}`, //                        28 ok
    `host11 ${k.ec521.publicKey}`, //                        29 ok
  ];
  const skipped: { line: number; reason: string }[] = [];
  const { entries, entryLines } = parseKnownHosts(lines.join("\n") + "\n", (s) => skipped.push(s));
  assert.deepEqual(entries.map((e) => e.key.line), [4, 5, 6, 7, 9, 18, 23, 26, 28, 29]);
  assert.deepEqual(
    skipped.map((s) => s.line),
    [8, 10, 11, 12, 13, 14, 15, 16, 17, 19, 20, 21, 22, 24, 25, 27],
  );
  assert.equal(entryLines, entries.length + skipped.length);
  const byLine = new Map(entries.map((e) => [e.key.line, e]));
  assert.equal(byLine.get(5)!.hosts, "host2,host3");
  assert.equal(byLine.get(6)!.key.marker, "revoked");
  assert.equal(byLine.get(7)!.key.marker, "cert-authority");
  assert.equal(byLine.get(9)!.key.marker, "revoked");
  assert.equal(byLine.get(4)!.key.marker, null);
  assert.equal(byLine.get(18)!.key.keyType, "ssh-rsa");
  assert.equal(byLine.get(4)!.key.fingerprint, k.ed1.fingerprint);
  assert.deepEqual(byLine.get(4)!.key.blob, blobOf(k.ed1));
  assert.ok(byLine.get(26)!.hashSalt instanceof Uint8Array);
  assert.equal(byLine.get(28)!.key.keyType, "ecdsa-sha2-nistp384");
});

Deno.test("KH-5: @cert-authority lines are ignored with one WARNING per load", async () => {
  const k = await keys();
  const p = await khFile([
    `@cert-authority *.example ${k.ed1.publicKey}`,
    `a.example ${k.ed2.publicKey}`,
  ]);
  const cap = captureLogger();
  const kh = new KnownHosts(p, { logger: cap.logger });
  for (let i = 0; i < 3; i++) kh.verify("b.example", 22, blobOf(k.ed1));
  assert.equal(cap.count("WARNING"), 1);
  assert.match(cap.lines.find((l) => l.includes("WARNING"))!, /cert-authority/);
  assert.equal(kh.verify("a.example", 22, blobOf(k.ed2)).status, "trusted");
});

Deno.test("KH-5: non-ASCII names compare byte for byte (UTF-8), ASCII case folded only", async () => {
  const k = await keys();
  const p = await khFile([
    `bücher.example ${k.ed1.publicKey}`,
    `${hmacHostField("straße.example")} ${k.ed2.publicKey}`,
  ]);
  const kh = new KnownHosts(p);
  assert.equal(kh.verify("bücher.example", 22, blobOf(k.ed1)).status, "trusted");
  assert.equal(kh.verify("BÜCHER.example", 22, blobOf(k.ed1)).status, "unknown", "Ü is not ASCII");
  assert.equal(kh.verify("straße.example", 22, blobOf(k.ed2)).status, "trusted");
});

Deno.test("AC-120: hashed entries — own HMAC-SHA1 and ssh-keygen -H output are matched", async () => {
  const k = await keys();
  // the module's hash equals an independent HMAC-SHA1 computation
  const salt = crypto.getRandomValues(new Uint8Array(20));
  assert.equal(hashHostName("web01", salt), hmacHostField("web01", salt));
  assert.equal(hashHostName("[web01]:2222", salt), hmacHostField("[web01]:2222", salt));
  assert.equal(hashHostName("Web01", salt), hmacHostField("web01", salt), "lowercased first");

  const dir = await tempDir("sshmcp-kh-");
  const p = `${dir}/known_hosts`;
  await Deno.writeTextFile(
    p,
    `web01 ${k.ed1.publicKey}\n[web02]:2222 ${k.ed2.publicKey}\n10.1.2.3 ${k.rsa.publicKey}\n`,
  );
  await mustRun("ssh-keygen", ["-H", "-f", p]);
  const text = await Deno.readTextFile(p);
  assert.ok(!text.includes("web01") && !text.includes("web02"), "ssh-keygen -H hashed the names");
  assert.equal(text.split("\n").filter((l) => l.startsWith("|1|")).length, 3);
  const kh = new KnownHosts(p);
  assert.equal(kh.verify("web01", 22, blobOf(k.ed1)).status, "trusted");
  assert.equal(kh.verify("WEB01", 22, blobOf(k.ed1)).status, "trusted");
  assert.equal(kh.verify("web02", 2222, blobOf(k.ed2)).status, "trusted");
  assert.equal(kh.lookup("web02", 2222).portlessFallback, false);
  assert.equal(kh.verify("web02", 22, blobOf(k.ed2)).status, "unknown");
  assert.equal(kh.verify("10.1.2.3", 22, blobOf(k.rsa)).status, "trusted");
  assert.equal(kh.verify("web01", 22, blobOf(k.ed2)).status, "mismatch");
  assert.equal(kh.verify("web03", 22, blobOf(k.ed1)).status, "unknown");

  // own hashes, plain and [host]:port
  const p2 = await khFile([
    `${hmacHostField("db01")} ${k.ed1.publicKey}`,
    `${hmacHostField("[db02]:2200")} ${k.ed2.publicKey}`,
  ]);
  const kh2 = new KnownHosts(p2);
  assert.equal(kh2.verify("db01", 22, blobOf(k.ed1)).status, "trusted");
  assert.equal(kh2.verify("db02", 2200, blobOf(k.ed2)).status, "trusted");
  assert.equal(kh2.verify("db01", 2200, blobOf(k.ed1)).status, "trusted", "port-less fallback");
  assert.equal(kh2.verify("db02", 22, blobOf(k.ed2)).status, "unknown");
});

Deno.test("KH-3/KH-5: verdict rules — revoked, cert-authority, fallback, expected fingerprint", async () => {
  const k = await keys();
  const p = await khFile([
    `a.example ${k.rsa.publicKey}`,
    `a.example ${k.ed1.publicKey}`,
    `@revoked * ${k.ec521.publicKey}`,
    `@revoked b.example ${k.ed2.publicKey}`,
    `b.example ${k.ed2.publicKey}`,
    `@cert-authority *.ca.example ${k.ed1.publicKey}`,
    `@cert-authority d.ca.example ${k.ed1.publicKey}`,
    `d.ca.example ${k.ed2.publicKey}`,
    `e.example ${k.ec256.publicKey}`,
    `[f.example]:2222 ${k.ec384.publicKey}`,
  ]);
  const kh = new KnownHosts(p);
  const v = (h: string, port: number, key: KeyPair) => kh.verify(h, port, blobOf(key));

  assert.deepEqual(v("a.example", 22, k.ed1), {
    status: "trusted",
    fingerprint: k.ed1.fingerprint,
    lookupKey: "a.example",
  });
  // KH-3: the expected fingerprint is the pinned key of the presented type when there is one
  assert.deepEqual(v("a.example", 22, k.ed2), {
    status: "mismatch",
    expectedFingerprint: k.ed1.fingerprint,
    actualFingerprint: k.ed2.fingerprint,
    lookupKey: "a.example",
  });
  // a type that is not pinned at all is still a mismatch (OpenSSH: HOST IDENTIFICATION HAS CHANGED)
  const m = v("a.example", 22, k.ec256);
  assert.equal(m.status, "mismatch");
  assert.equal(m.status === "mismatch" && m.expectedFingerprint, k.rsa.fingerprint);
  // @revoked * applies to every name, before anything else
  assert.equal(v("a.example", 22, k.ec521).status, "revoked");
  assert.equal(v("nowhere.example", 22, k.ec521).status, "revoked");
  // AC-122: revoked although another line trusts it
  assert.equal(v("b.example", 22, k.ed2).status, "revoked");
  // cert-authority only → unknown + certAuthorityOnly
  assert.deepEqual(v("c.ca.example", 22, k.ed1), {
    status: "unknown",
    actualFingerprint: k.ed1.fingerprint,
    lookupKey: "c.ca.example",
    certAuthorityOnly: true,
  });
  assert.equal(v("d.ca.example", 22, k.ed2).status, "trusted");
  const d = v("d.ca.example", 22, k.ed1);
  assert.equal(d.status, "mismatch", "a CA key never makes a plain key trusted");
  // port-less fallback
  const l = kh.lookup("e.example", 2222);
  assert.equal(l.lookupKey, "[e.example]:2222");
  assert.equal(l.portlessFallback, true);
  assert.equal(l.trusted[0]!.fingerprint, k.ec256.fingerprint);
  assert.equal(v("e.example", 2222, k.ec256).status, "trusted");
  assert.deepEqual(v("e.example", 2222, k.ed1), {
    status: "unknown",
    actualFingerprint: k.ed1.fingerprint,
    lookupKey: "[e.example]:2222",
    certAuthorityOnly: false,
  });
  assert.equal(kh.pinnedFingerprint("e.example", 2222), k.ec256.fingerprint);
  assert.equal(kh.pinnedFingerprint("e.example", 22), k.ec256.fingerprint);
  assert.equal(kh.pinnedFingerprint("nowhere.example", 22), null);
  // [host]:port entries never serve port 22 or another port
  assert.equal(v("f.example", 2222, k.ec384).status, "trusted");
  assert.equal(v("f.example", 22, k.ec384).status, "unknown");
  assert.equal(v("f.example", 2223, k.ec384).status, "unknown");
  // alias: looked up as-is, no port, no fallback
  assert.equal(
    kh.verify("E.example", 2222, blobOf(k.ec256), { hostKeyAlias: true }).status,
    "trusted",
  );
  assert.equal(kh.lookup("e.example", 2222, { hostKeyAlias: true }).lookupKey, "e.example");
  assert.equal(
    kh.verify("f.example", 2222, blobOf(k.ec384), { hostKeyAlias: true }).status,
    "unknown",
  );
  // lookup lists
  const b = kh.lookup("b.example", 22);
  assert.deepEqual(b.revoked.map((x) => x.line), [3, 4]);
  assert.deepEqual(b.trusted.map((x) => x.line), [5]);
  assert.deepEqual(kh.lookup("d.ca.example", 22).certAuthority.map((x) => x.line), [6, 7]);
});

Deno.test("KH-5: an RSA key with redundant leading zeros equals the canonical key (sshkey_equal)", async () => {
  const k = await keys();
  const p = await khFile([`h ${keyVariants.rsaLeadingZeros(k.rsa.publicKey)}`]);
  assert.equal(new KnownHosts(p).verify("h", 22, blobOf(k.rsa)).status, "trusted");
});

Deno.test("KH-8: hostKeyAlgorithms puts the pinned key types first", async () => {
  const k = await keys();
  const p = await khFile([
    `rsa.example ${k.rsa.publicKey}`,
    `ec.example ${k.ec384.publicKey}`,
    `both.example ${k.rsa.publicKey}`,
    `both.example ${k.ed1.publicKey}`,
    `@revoked rev.example ${k.rsa.publicKey}`,
    `@cert-authority ca.example ${k.rsa.publicKey}`,
    `port.example ${k.rsa.publicKey}`,
  ]);
  const kh = new KnownHosts(p);
  const def = [...SSH2_DEFAULT_HOST_KEY_ALGORITHMS];
  assert.deepEqual(kh.hostKeyAlgorithms("rsa.example", 22), [
    "rsa-sha2-512",
    "rsa-sha2-256",
    "ssh-rsa",
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
  ]);
  assert.deepEqual(kh.hostKeyAlgorithms("ec.example", 22), [
    "ecdsa-sha2-nistp384",
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp521",
    "rsa-sha2-512",
    "rsa-sha2-256",
    "ssh-rsa",
  ]);
  assert.deepEqual(kh.hostKeyAlgorithms("both.example", 22), [
    "ssh-ed25519",
    "rsa-sha2-512",
    "rsa-sha2-256",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
  ]);
  assert.deepEqual(kh.hostKeyAlgorithms("unknown.example", 22), def);
  assert.deepEqual(kh.hostKeyAlgorithms("rev.example", 22), def, "@revoked keys are not pins");
  assert.deepEqual(kh.hostKeyAlgorithms("ca.example", 22), def, "CA keys are not pins");
  // like OpenSSH's order_hostkeyalgs, the port-less fallback does not reorder (measured live below)
  assert.deepEqual(kh.hostKeyAlgorithms("port.example", 2222), def);
  // every name is one ssh2 1.17 supports (ssh2 throws on unknown algorithms)
  const supported = (ssh2Constants as { SUPPORTED_SERVER_HOST_KEY: string[] })
    .SUPPORTED_SERVER_HOST_KEY;
  const defaults = (ssh2Constants as { DEFAULT_SERVER_HOST_KEY: string[] }).DEFAULT_SERVER_HOST_KEY;
  assert.deepEqual(def, defaults, "our default list is ssh2's default list");
  for (const a of kh.hostKeyAlgorithms("both.example", 22)) assert.ok(supported.includes(a), a);
});

Deno.test("KH-2/KH-3: verdictError gives the contract errors and out-of-band advice", () => {
  const path = "/etc/ssh-mcp/known_hosts";
  const unknown = verdictError(
    {
      status: "unknown",
      actualFingerprint: "SHA256:new",
      lookupKey: "[web01]:2222",
      certAuthorityOnly: false,
    },
    "web",
    2222,
    path,
  );
  assert.equal(unknown.code, "UnknownHost");
  assert.match(unknown.message, /ssh-keyscan -p 2222 web01 > scratch/);
  assert.match(unknown.message, /ssh-keygen -lf scratch/);
  assert.match(unknown.message, /console/);
  assert.ok(unknown.message.includes(path));
  assert.ok(unknown.message.includes("SHA256:new"));
  assert.doesNotMatch(unknown.message, /certificate/);

  const ca = verdictError(
    {
      status: "unknown",
      actualFingerprint: "SHA256:new",
      lookupKey: "web01",
      certAuthorityOnly: true,
    },
    "web",
    22,
    path,
  );
  assert.equal(ca.code, "UnknownHost");
  assert.match(ca.message, /@cert-authority/);
  assert.match(ca.message, /cannot verify host certificates/);
  assert.match(ca.message, /plain public key/);
  assert.match(ca.message, /ssh-keyscan -p 22 web01 > scratch/);

  const mm = verdictError(
    {
      status: "mismatch",
      expectedFingerprint: "SHA256:old",
      actualFingerprint: "SHA256:new",
      lookupKey: "web01",
    },
    "web",
    22,
    path,
  );
  assert.equal(mm.code, "HostKeyMismatch");
  assert.ok(mm.message.includes("SHA256:old") && mm.message.includes("SHA256:new"));
  assert.match(mm.message, /ssh-keyscan -p 22 web01 > scratch/);
  assert.equal(mm.attributes.expected_fingerprint, "SHA256:old");
  assert.equal(mm.attributes.actual_fingerprint, "SHA256:new");

  const rev = verdictError(
    { status: "revoked", actualFingerprint: "SHA256:bad", lookupKey: "web01" },
    "web",
    22,
    path,
  );
  assert.equal(rev.code, "HostKeyMismatch");
  assert.match(rev.message, /@revoked/);
  assert.ok(rev.message.includes("SHA256:bad"));
  assert.equal(rev.attributes.actual_fingerprint, "SHA256:bad");
  for (const e of [unknown, ca, mm, rev]) {
    assert.doesNotMatch(e.message, /accept anyway|StrictHostKeyChecking=no|disable/i);
  }
});

// ---------------------------------------------------------------------------
// file behaviour

Deno.test("AC-116: missing known_hosts → every host unknown, exactly one WARNING, then it appears", async () => {
  const k = await keys();
  const dir = await tempDir("sshmcp-kh-");
  const p = `${dir}/known_hosts`;
  const cap = captureLogger();
  const kh = new KnownHosts(p, { logger: cap.logger });
  assert.equal(kh.loaded, false);
  for (let i = 0; i < 5; i++) {
    assert.equal(kh.verify("web01", 22, blobOf(k.ed1)).status, "unknown");
    kh.refresh();
  }
  assert.equal(kh.pinnedFingerprint("web01", 22), null);
  assert.equal(cap.count("WARNING"), 1);
  await Deno.writeTextFile(p, `web01 ${k.ed1.publicKey}\n`);
  assert.equal(kh.verify("web01", 22, blobOf(k.ed1)).status, "trusted");
  assert.equal(kh.loaded, true);
  assert.equal(cap.count("WARNING"), 1);
  await Deno.remove(p);
  assert.equal(kh.verify("web01", 22, blobOf(k.ed1)).status, "unknown");
  kh.refresh();
  assert.equal(kh.loaded, false);
  assert.equal(cap.count("WARNING"), 2, "one more WARNING after it disappeared again");
});

Deno.test("AC-117/KH-6: an edit is seen by the next lookup (also a same-size rewrite)", async () => {
  const k = await keys();
  const p = await khFile([`web01 ${k.ed1.publicKey}`]);
  const kh = new KnownHosts(p);
  assert.equal(kh.verify("web01", 22, blobOf(k.ed1)).status, "trusted");
  // same length, written immediately (same millisecond mtime is possible)
  await Deno.writeTextFile(p, `web01 ${k.ed2.publicKey}\n`);
  assert.equal(kh.verify("web01", 22, blobOf(k.ed2)).status, "trusted");
  assert.equal(kh.verify("web01", 22, blobOf(k.ed1)).status, "mismatch");
  // an old mtime: a later edit still changes mtime/ctime
  const old = new Date(Date.now() - 3_600_000);
  await Deno.utime(p, old, old);
  assert.equal(kh.verify("web01", 22, blobOf(k.ed2)).status, "trusted");
  await Deno.writeTextFile(p, `web02 ${k.ed2.publicKey}\n`);
  assert.equal(kh.verify("web01", 22, blobOf(k.ed2)).status, "unknown");
  assert.equal(kh.verify("web02", 22, blobOf(k.ed2)).status, "trusted");
});

Deno.test("AC-117/KH-6: rapid same-size rewrites within one millisecond are never missed", async () => {
  // Deno reports mtimes in whole milliseconds: a rewrite in the same millisecond with the same
  // size leaves the stat signature unchanged, so the module re-checks the bytes while the file
  // is freshly modified.
  const k = await keys();
  const p = await khFile([`web01 ${k.ed1.publicKey}`]);
  const kh = new KnownHosts(p);
  const lineA = `web01 ${k.ed1.publicKey}\n`;
  const lineB = `web01 ${k.ed2.publicKey}\n`;
  assert.equal(lineA.length, lineB.length);
  for (let i = 0; i < 500; i++) {
    const [line, key] = i % 2 === 0 ? [lineB, k.ed2] : [lineA, k.ed1];
    Deno.writeTextFileSync(p, line);
    assert.equal(kh.verify("web01", 22, blobOf(key)).status, "trusted", `iteration ${i}`);
  }
});

Deno.test("KH-6: an unchanged file is not parsed again (stat only)", async () => {
  const k = await keys();
  const p = await khFile([`web01 ${k.ed1.publicKey}`, `broken-line`]);
  const old = new Date(Date.now() - 3_600_000);
  await Deno.utime(p, old, old);
  const cap = captureLogger();
  const kh = new KnownHosts(p, { logger: cap.logger });
  assert.equal(cap.count("DEBUG"), 1, "the broken line is reported once");
  for (let i = 0; i < 10; i++) {
    kh.refresh();
    kh.verify("web01", 22, blobOf(k.ed1));
  }
  assert.equal(cap.count("DEBUG"), 1, "not parsed again");
});

Deno.test("AC-118: a garbage or unreadable file keeps the previous state + WARNING", async () => {
  const k = await keys();
  const p = await khFile([`web01 ${k.ed1.publicKey}`]);
  const cap = captureLogger();
  const kh = new KnownHosts(p, { logger: cap.logger });
  assert.equal(kh.verify("web01", 22, blobOf(k.ed1)).status, "trusted");

  // binary garbage (NUL bytes)
  const garbage = crypto.getRandomValues(new Uint8Array(4096));
  garbage[10] = 0;
  await Deno.writeFile(p, garbage);
  assert.equal(kh.verify("web01", 22, blobOf(k.ed1)).status, "trusted");
  assert.equal(kh.loaded, true);
  assert.equal(cap.count("WARNING"), 1);
  kh.refresh();
  assert.equal(cap.count("WARNING"), 1, "not repeated while the file stays the same");

  // text garbage: lines, none of them a valid entry
  await Deno.writeTextFile(p, "<html>\n<body>502 Bad Gateway</body>\n</html>\n");
  assert.equal(kh.verify("web01", 22, blobOf(k.ed1)).status, "trusted");
  assert.equal(cap.count("WARNING"), 2);

  // a valid file again is taken
  await Deno.writeTextFile(p, `web02 ${k.ed2.publicKey}\n`);
  assert.equal(kh.verify("web01", 22, blobOf(k.ed1)).status, "unknown");
  assert.equal(kh.verify("web02", 22, blobOf(k.ed2)).status, "trusted");

  // an empty file (or only comments) is a valid state: nothing is known
  await Deno.writeTextFile(p, "# emptied by the operator\n");
  assert.equal(kh.verify("web02", 22, blobOf(k.ed2)).status, "unknown");
  assert.equal(cap.count("WARNING"), 2);

  // unreadable (a directory): WARNING, nothing trusted
  const dir = await tempDir("sshmcp-kh-");
  const cap2 = captureLogger();
  const kh2 = new KnownHosts(dir, { logger: cap2.logger });
  assert.equal(kh2.verify("web01", 22, blobOf(k.ed1)).status, "unknown");
  assert.equal(kh2.loaded, false);
  assert.equal(cap2.count("WARNING"), 1);
});

Deno.test("AC-119: a malformed line for the host is skipped (DEBUG); other lines still count", async () => {
  const k = await keys();
  const p = await khFile([
    `web01 ssh-ed25519 AAAAnot-base64!!`,
    `web02 ${k.ed2.publicKey}`,
    `web03 ${keyVariants.trailingByte(k.ed1.publicKey)}`,
    `web03 ${k.ed1.publicKey}`,
  ]);
  const cap = captureLogger();
  const kh = new KnownHosts(p, { logger: cap.logger });
  assert.equal(kh.verify("web01", 22, blobOf(k.ed1)).status, "unknown");
  assert.equal(kh.verify("web02", 22, blobOf(k.ed2)).status, "trusted");
  assert.equal(kh.verify("web03", 22, blobOf(k.ed1)).status, "trusted");
  assert.equal(cap.count("DEBUG"), 2);
  assert.equal(cap.count("WARNING"), 0);
  assert.ok(cap.lines.every((l) => !l.includes("AAAA")), "no file content in the log");
});

Deno.test("KH-7: the module never writes the file (runs without write permission)", async () => {
  const k = await keys();
  const p = await khFile([`web01 ${k.ed1.publicKey}`, `garbage line`]);
  const before = await Deno.readFile(p);
  const mtimeBefore = (await Deno.stat(p)).mtime?.getTime();
  const dir = await tempDir("sshmcp-kh-");
  const script = `${dir}/probe.ts`;
  const mod = new URL("../../src/ssh/known_hosts.ts", import.meta.url).href;
  await Deno.writeTextFile(
    script,
    `import { KnownHosts, verdictError } from ${JSON.stringify(mod)};
const [path, b64ok, b64other] = Deno.args;
const dec = (s: string) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
const kh = new KnownHosts(path);
const out: string[] = [];
for (let i = 0; i < 3; i++) {
  kh.refresh();
  out.push(kh.verify("web01", 22, dec(b64ok)).status);
  const v = kh.verify("web01", 22, dec(b64other));
  out.push(v.status);
  if (v.status !== "trusted") verdictError(v, "web01", 22, path);
  out.push(kh.verify("web09", 2222, dec(b64ok)).status);
  kh.hostKeyAlgorithms("web01", 22);
  kh.pinnedFingerprint("web01", 22);
}
let writeDenied = false;
try { Deno.writeTextFileSync(path + ".probe", "x"); } catch { writeDenied = true; }
console.log(JSON.stringify({ out, writeDenied }));
`,
  );
  const r = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--no-prompt",
      "--allow-read",
      // the script lives outside the repo: name the config whose import map the module needs
      `--config=${new URL("../../deno.json", import.meta.url).pathname}`,
      script,
      p,
      b64(blobOf(k.ed1)),
      b64(blobOf(k.ed2)),
    ],
    cwd: new URL("../../", import.meta.url).pathname,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(r.stderr);
  assert.equal(r.code, 0, stderr);
  const res = JSON.parse(new TextDecoder().decode(r.stdout)) as {
    out: string[];
    writeDenied: boolean;
  };
  assert.equal(res.writeDenied, true, "the probe really had no write permission");
  assert.deepEqual(res.out, Array(3).fill(["trusted", "mismatch", "unknown"]).flat());
  assert.deepEqual(await Deno.readFile(p), before);
  assert.equal((await Deno.stat(p)).mtime?.getTime(), mtimeBefore);
});

// ---------------------------------------------------------------------------
// verdict equivalence with OpenSSH on live hosts

interface Servers {
  a: SshdInstance; // port 22: ed25519, rsa, ecdsa
  b: SshdInstance; // port 2222: ed25519, rsa
  client: KeyPair;
  clientKeyText: string;
}

interface LiveCase {
  name: string;
  server: "a" | "b";
  lines: (
    s: Servers,
    o: { aEd: string; aRsa: string; aEc: string; bEd: string; bRsa: string },
  ) => string[];
  /** HostKeyAlias given to OpenSSH; our verify gets the same name with { hostKeyAlias: true } */
  alias?: string;
  expect: VerdictStatus;
  /** extra checks on our verdict / lookup */
  check?: (v: HostKeyVerdict, kh: KnownHosts, s: Servers, algorithms: string[]) => void;
  /** force the host-key algorithms on both clients */
  forceAlgorithm?: string;
  /** turn the file into ssh-keygen -H output first */
  hashWithKeygen?: boolean;
}

const LIVE_CASES: LiveCase[] = [
  // ---- port 22
  {
    name: "KH-5: plain host name",
    server: "a",
    lines: (s, o) => [`${s.a.address} ${o.aEd}`],
    expect: "trusted",
  },
  {
    name: "KH-5: comma list",
    server: "a",
    lines: (s, o) => [`foo.example,${s.a.address},bar.example ${o.aEd}`],
    expect: "trusted",
  },
  {
    name: "KH-5: a space after a comma splits the field (line invalid)",
    server: "a",
    lines: (s, o) => [`foo.example, ${s.a.address} ${o.aEd}`],
    expect: "unknown",
  },
  {
    name: "KH-5: wildcard * matches",
    server: "a",
    alias: "web01.example",
    lines: (_s, o) => [`web*.example ${o.aEd}`],
    expect: "trusted",
  },
  {
    name: "KH-5: wildcard * does not match another name",
    server: "a",
    alias: "db01.example",
    lines: (_s, o) => [`web*.example ${o.aEd}`],
    expect: "unknown",
  },
  {
    name: "KH-5: wildcard ? matches one character",
    server: "a",
    alias: "web01.example",
    lines: (_s, o) => [`web0?.example ${o.aEd}`],
    expect: "trusted",
  },
  {
    name: "KH-5: wildcard ? does not match two characters",
    server: "a",
    alias: "web011.example",
    lines: (_s, o) => [`web0?.example ${o.aEd}`],
    expect: "unknown",
  },
  {
    name: "KH-5: wildcard in an IP address",
    server: "a",
    lines: (_s, o) => [`127.*.*.* ${o.aEd}`],
    expect: "trusted",
  },
  {
    name: "KH-5: negation excludes a host (matches OpenSSH)",
    server: "a",
    alias: "web02",
    lines: (_s, o) => [`web*,!web02 ${o.aEd}`],
    expect: "unknown",
  },
  {
    name: "KH-5: negation leaves the other names matching",
    server: "a",
    alias: "web01",
    lines: (_s, o) => [`web*,!web02 ${o.aEd}`],
    expect: "trusted",
  },
  {
    name: "KH-5: a line with only a negated pattern matches nothing",
    server: "a",
    alias: "web01",
    lines: (_s, o) => [`!web02 ${o.aEd}`],
    expect: "unknown",
  },
  {
    name: "KH-5: negation only excludes its own line",
    server: "a",
    alias: "web02",
    lines: (_s, o) => [`web*,!web02 ${o.aEd}`, `web02 ${o.aEd}`],
    expect: "trusted",
  },
  {
    name: "KH-5: names match case-insensitively (alias and pattern)",
    server: "a",
    alias: "Web01",
    lines: (_s, o) => [`WEB01 ${o.aEd}`],
    expect: "trusted",
  },
  {
    name: "AC-120: hashed entry (own HMAC-SHA1)",
    server: "a",
    lines: (s, o) => [`${hmacHostField(s.a.address)} ${o.aEd}`],
    expect: "trusted",
  },
  {
    name: "AC-120: ssh-keygen -H output",
    server: "a",
    hashWithKeygen: true,
    lines: (s, o) => [`other.example ${o.bEd}`, `${s.a.address} ${o.aEd}`],
    expect: "trusted",
  },
  {
    name: "KH-5: hashed alias is the HMAC of the lowercased alias",
    server: "a",
    alias: "MyAlias",
    lines: (_s, o) => [`${hmacHostField("myalias")} ${o.aEd}`],
    expect: "trusted",
  },
  {
    name: "KH-5: a hash of the mixed-case alias never matches",
    server: "a",
    alias: "MyAlias",
    lines: (_s, o) => [`${hmacHostField("MyAlias")} ${o.aEd}`],
    expect: "unknown",
  },
  {
    name: "KH-2: missing entry",
    server: "a",
    lines: (_s, o) => [`other.example ${o.aEd}`],
    expect: "unknown",
  },
  {
    name: "KH-3: wrong key",
    server: "a",
    lines: (s, o) => [`${s.a.address} ${o.bEd}`],
    expect: "mismatch",
    check: (v, _kh, s) => {
      assert.equal(v.status === "mismatch" && v.expectedFingerprint, s.b.hostKeys[0]!.fingerprint);
      assert.equal(v.status === "mismatch" && v.actualFingerprint, s.a.hostKeys[0]!.fingerprint);
    },
  },
  {
    name:
      "KH-3: only RSA pinned and ed25519 forced → mismatch (OpenSSH: HOST IDENTIFICATION HAS CHANGED)",
    server: "a",
    forceAlgorithm: "ssh-ed25519",
    lines: (s, o) => [`${s.a.address} ${o.aRsa}`],
    expect: "mismatch",
  },
  {
    name: "AC-123/KH-8: only RSA pinned, server also offers ed25519 → RSA negotiated and verified",
    server: "a",
    lines: (s, o) => [`${s.a.address} ${o.aRsa}`],
    expect: "trusted",
    check: (v, _kh, s, algs) => {
      assert.equal(algs[0], "rsa-sha2-512");
      assert.equal(v.status === "trusted" && v.fingerprint, s.a.hostKeys[1]!.fingerprint);
    },
  },
  {
    name: "KH-8: only ECDSA pinned → ECDSA negotiated and verified",
    server: "a",
    lines: (s, o) => [`${s.a.address} ${o.aEc}`],
    expect: "trusted",
  },
  {
    name: "AC-122: @revoked refuses even when another line trusts",
    server: "a",
    lines: (s, o) => [`@revoked ${s.a.address} ${o.aEd}`, `${s.a.address} ${o.aEd}`],
    expect: "revoked",
  },
  {
    name: "AC-122: @revoked alone",
    server: "a",
    lines: (s, o) => [`@revoked ${s.a.address} ${o.aEd}`],
    expect: "revoked",
  },
  {
    name: "AC-122: @revoked * applies to every host",
    server: "a",
    lines: (s, o) => [`${s.a.address} ${o.aEd}`, `@revoked * ${o.aEd}`],
    expect: "revoked",
  },
  {
    name: "KH-5: @revoked for another key does not block the trusted one",
    server: "a",
    lines: (s, o) => [`@revoked ${s.a.address} ${o.bEd}`, `${s.a.address} ${o.aEd}`],
    expect: "trusted",
  },
  {
    name:
      "KH-5: '@revoked<TAB>host key' is an invalid line (OpenSSH cuts the marker at the first space)",
    server: "a",
    lines: (s, o) => [`@revoked\t${s.a.address} ${o.aEd}`, `${s.a.address} ${o.aEd}`],
    expect: "trusted",
  },
  {
    name: "KH-5: @cert-authority only → unknown (certificates cannot be honoured)",
    server: "a",
    lines: (s, o) => [`@cert-authority ${s.a.address} ${o.aEd}`],
    expect: "unknown",
    check: (v) => assert.equal(v.status === "unknown" && v.certAuthorityOnly, true),
  },
  {
    name: "KH-5: @cert-authority next to a plain line",
    server: "a",
    lines: (s, o) => [`@cert-authority ${s.a.address} ${o.bEd}`, `${s.a.address} ${o.aEd}`],
    expect: "trusted",
  },
  {
    name: "AC-119: malformed line only",
    server: "a",
    lines: (s) => [`${s.a.address} ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA!!!`],
    expect: "unknown",
  },
  {
    name: "KH-4: '[host]:22' is not the port-22 lookup name",
    server: "a",
    lines: (s, o) => [`[${s.a.address}]:22 ${o.aEd}`],
    expect: "unknown",
  },
  {
    name: "KH-5: comments, blank lines, leading blanks, CRLF and trailing comments",
    server: "a",
    lines: (s, o) => ["# comment", "", "  \t", `  ${s.a.address} ${o.aEd} a comment\r`],
    expect: "trusted",
  },
  // ---- port 2222
  {
    name: "KH-4: [host]:port entry",
    server: "b",
    lines: (s, o) => [`[${s.b.address}]:2222 ${o.bEd}`],
    expect: "trusted",
    check: (_v, kh, s) => assert.equal(kh.lookup(s.b.address, 2222).portlessFallback, false),
  },
  {
    name: "KH-4: port-less line with the matching key is accepted on port 2222 (OpenSSH fallback)",
    server: "b",
    lines: (s, o) => [`${s.b.address} ${o.bEd}`],
    expect: "trusted",
    check: (_v, kh, s) => assert.equal(kh.lookup(s.b.address, 2222).portlessFallback, true),
  },
  {
    name: "AC-121: port-less line with a different key → unknown, not mismatch",
    server: "b",
    lines: (s, o) => [`${s.b.address} ${o.aEd}`],
    expect: "unknown",
  },
  {
    name: "AC-121: a wrong [host]:port line blocks the fallback → mismatch",
    server: "b",
    lines: (s, o) => [`[${s.b.address}]:2222 ${o.aEd}`, `${s.b.address} ${o.bEd}`],
    expect: "mismatch",
  },
  {
    name: "KH-4: a [host]:port line of another type blocks the fallback; ordering picks its type",
    server: "b",
    lines: (s, o) => [`[${s.b.address}]:2222 ${o.bRsa}`, `${s.b.address} ${o.bEd}`],
    expect: "trusted",
  },
  {
    name: "KH-4: ed25519 forced while [host]:port pins RSA and port-less pins ed25519 → mismatch",
    server: "b",
    forceAlgorithm: "ssh-ed25519",
    lines: (s, o) => [`[${s.b.address}]:2222 ${o.bRsa}`, `${s.b.address} ${o.bEd}`],
    expect: "mismatch",
  },
  {
    name: "KH-4: @cert-authority for [host]:port does not block the fallback",
    server: "b",
    lines: (s, o) => [`@cert-authority [${s.b.address}]:2222 ${o.aEd}`, `${s.b.address} ${o.bEd}`],
    expect: "trusted",
  },
  {
    name: "AC-122: @revoked [host]:port beats a trusting port-less line",
    server: "b",
    lines: (s, o) => [`@revoked [${s.b.address}]:2222 ${o.bEd}`, `${s.b.address} ${o.bEd}`],
    expect: "revoked",
  },
  {
    name: "AC-122: a port-less @revoked line applies through the fallback",
    server: "b",
    lines: (s, o) => [`@revoked ${s.b.address} ${o.bEd}`, `${s.b.address} ${o.bEd}`],
    expect: "revoked",
  },
  {
    name: "KH-5: @revoked [host]:port for another key does not block the fallback",
    server: "b",
    lines: (s, o) => [`@revoked [${s.b.address}]:2222 ${o.aEd}`, `${s.b.address} ${o.bEd}`],
    expect: "trusted",
  },
  {
    name: "AC-120: hashed [host]:port",
    server: "b",
    lines: (s, o) => [`${hmacHostField(`[${s.b.address}]:2222`)} ${o.bEd}`],
    expect: "trusted",
  },
  {
    name: "AC-120: hashed port-less line through the fallback",
    server: "b",
    lines: (s, o) => [`${hmacHostField(s.b.address)} ${o.bEd}`],
    expect: "trusted",
  },
  {
    name: "AC-120: ssh-keygen -H output for [host]:port",
    server: "b",
    hashWithKeygen: true,
    lines: (s, o) => [`[${s.b.address}]:2222 ${o.bEd}`],
    expect: "trusted",
  },
  {
    name: "KH-5: wildcard inside [host]:port",
    server: "b",
    lines: (_s, o) => [`[127.*]:2222 ${o.bEd}`],
    expect: "trusted",
  },
  {
    name: "KH-8: a port-less RSA pin does not reorder algorithms (neither does OpenSSH) → unknown",
    server: "b",
    lines: (s, o) => [`${s.b.address} ${o.bRsa}`],
    expect: "unknown",
  },
  {
    name: "KH-4: HostKeyAlias is looked up without the port",
    server: "b",
    alias: "myalias",
    lines: (_s, o) => [`myalias ${o.bEd}`],
    expect: "trusted",
  },
  {
    name: "KH-4: HostKeyAlias never uses [alias]:port",
    server: "b",
    alias: "myalias",
    lines: (_s, o) => [`[myalias]:2222 ${o.bEd}`],
    expect: "unknown",
  },
  {
    name: "KH-4: HostKeyAlias ignores the address entries (no fallback)",
    server: "b",
    alias: "myalias",
    lines: (s, o) => [`[${s.b.address}]:2222 ${o.bEd}`, `${s.b.address} ${o.bEd}`],
    expect: "unknown",
  },
  // ---- line validity, measured through the fallback: an invalid [host]:port line is ignored
  // (→ the port-less line trusts), a valid one with another key blocks it (→ mismatch)
  {
    name: "KH-5: key blob with trailing bytes is invalid",
    server: "b",
    lines: (
      s,
      o,
    ) => [`[${s.b.address}]:2222 ${keyVariants.trailingByte(o.aEd)}`, `${s.b.address} ${o.bEd}`],
    expect: "trusted",
  },
  {
    name: "KH-5: base64 without padding is invalid",
    server: "b",
    lines: (
      s,
      o,
    ) => [`[${s.b.address}]:2222 ${keyVariants.noPadding(o.aEc)}`, `${s.b.address} ${o.bEd}`],
    expect: "trusted",
  },
  {
    name: "KH-5: ECDSA point off the curve is invalid",
    server: "b",
    lines: (
      s,
      o,
    ) => [`[${s.b.address}]:2222 ${keyVariants.flipLastByte(o.aEc)}`, `${s.b.address} ${o.bEd}`],
    expect: "trusted",
  },
  {
    name: "KH-5: RSA modulus below 1024 bits is invalid",
    server: "b",
    lines: (s, o) => [
      `[${s.b.address}]:2222 ${keyVariants.rsaTruncated(o.aRsa, 127)}`,
      `${s.b.address} ${o.bEd}`,
    ],
    expect: "trusted",
  },
  {
    name: "KH-5: RSA modulus of 1024 bits is valid (another key → mismatch)",
    server: "b",
    lines: (s, o) => [
      `[${s.b.address}]:2222 ${keyVariants.rsaTruncated(o.aRsa, 128)}`,
      `${s.b.address} ${o.bEd}`,
    ],
    expect: "mismatch",
  },
  {
    name: "KH-5: key type name must match the blob",
    server: "b",
    lines: (
      s,
      o,
    ) => [`[${s.b.address}]:2222 ssh-rsa ${o.aEd.split(" ")[1]}`, `${s.b.address} ${o.bEd}`],
    expect: "trusted",
  },
  {
    name: "KH-5: short key type names are invalid",
    server: "b",
    lines: (
      s,
      o,
    ) => [`[${s.b.address}]:2222 ED25519 ${o.aEd.split(" ")[1]}`, `${s.b.address} ${o.bEd}`],
    expect: "trusted",
  },
  {
    name: "KH-5: rsa-sha2-512 names an RSA key",
    server: "b",
    lines: (s, o) => [`[${s.b.address}]:2222 rsa-sha2-512 ${o.bRsa.split(" ")[1]}`],
    expect: "trusted",
  },
  {
    name: "KH-5: RSA key with redundant leading zeros equals the server's key",
    server: "b",
    lines: (s, o) => [`[${s.b.address}]:2222 ${keyVariants.rsaLeadingZeros(o.bRsa)}`],
    expect: "trusted",
  },
];

Deno.test({
  name:
    "known_hosts verdicts on live hosts equal OpenSSH's (ssh2 client vs ssh -o StrictHostKeyChecking=yes)",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const dir = await tempDir("sshmcp-kh-live-");
    const client = await generateKey(dir, { type: "ed25519" });
    const a = await startSshd({
      hostKeyTypes: ["ed25519", "rsa", "ecdsa"],
      authorizedKeys: [client.publicLine],
    });
    let b: SshdInstance | undefined;
    try {
      b = await startSshd({
        port: 2222,
        hostKeyTypes: ["ed25519", "rsa"],
        authorizedKeys: [client.publicLine],
      });
      assert.equal(
        a.port,
        22,
        "these tests need root: sshd must listen on port 22 of a loopback address",
      );
      const s: Servers = {
        a,
        b,
        client,
        clientKeyText: await Deno.readTextFile(client.privatePath),
      };
      const o = {
        aEd: a.hostKeys[0]!.publicKey,
        aRsa: a.hostKeys[1]!.publicKey,
        aEc: a.hostKeys[2]!.publicKey,
        bEd: b.hostKeys[0]!.publicKey,
        bRsa: b.hostKeys[1]!.publicKey,
      };

      for (const c of LIVE_CASES) {
        // steps run one at a time (Deno requires it), each against the shared servers
        // deno-lint-ignore no-await-in-loop
        await t.step(c.name, async () => {
          const sshd = c.server === "a" ? s.a : s.b;
          const kdir = await tempDir("sshmcp-kh-case-");
          const path = `${kdir}/known_hosts`;
          await Deno.writeTextFile(path, c.lines(s, o).map((l) => l + "\n").join(""));
          if (c.hashWithKeygen) await mustRun("ssh-keygen", ["-H", "-f", path]);
          const kh = new KnownHosts(path);
          const name = c.alias ?? sshd.address;
          // both clients at once, against the same server and file
          const [ours, theirs] = await Promise.all([
            ssh2Connect({
              sshd,
              kh,
              name,
              hostKeyAlias: c.alias !== undefined,
              privateKey: s.clientKeyText,
              algorithms: c.forceAlgorithm ? [c.forceAlgorithm] : undefined,
            }),
            opensshRun({
              sshd,
              knownHostsPath: path,
              identity: client.privatePath,
              hostKeyAlias: c.alias,
              extraOptions: c.forceAlgorithm ? [`HostKeyAlgorithms=${c.forceAlgorithm}`] : [],
            }),
          ]);
          const ctx = `\nknown_hosts:\n${await Deno.readTextFile(path)}\nours: ${
            JSON.stringify({ ...ours, verdict: ours.verdict })
          }\nOpenSSH stderr:\n${theirs.stderr}`;
          assert.ok(ours.verdict, "ssh2 never called the host verifier" + ctx);
          assert.equal(ours.verdict.status, c.expect, "our verdict" + ctx);
          assert.equal(theirs.status, c.expect, "OpenSSH's verdict" + ctx);
          assert.equal(ours.accepted, c.expect === "trusted", "ssh2 connection outcome" + ctx);
          assert.equal(theirs.accepted, ours.accepted, "same accept/reject" + ctx);
          c.check?.(ours.verdict, kh, s, ours.algorithms);
        });
      }

      await t.step(
        "AC-123 control: without the pinned-type ordering ssh2 would get ed25519 → mismatch",
        async () => {
          const kdir = await tempDir("sshmcp-kh-case-");
          const path = `${kdir}/known_hosts`;
          await Deno.writeTextFile(path, `${a.address} ${o.aRsa}\n`);
          const kh = new KnownHosts(path);
          const ours = await ssh2Connect({
            sshd: a,
            kh,
            name: a.address,
            privateKey: s.clientKeyText,
            algorithms: [...SSH2_DEFAULT_HOST_KEY_ALGORITHMS],
          });
          assert.equal(ours.verdict?.status, "mismatch");
          assert.equal(ours.accepted, false);
          const theirs = await opensshRun({
            sshd: a,
            knownHostsPath: path,
            identity: client.privatePath,
          });
          assert.equal(theirs.accepted, true, "OpenSSH orders by the pin itself");
        },
      );

      await t.step("KH-7: no client run changed a known_hosts file", async () => {
        const kdir = await tempDir("sshmcp-kh-case-");
        const path = `${kdir}/known_hosts`;
        await Deno.writeTextFile(path, `other.example ${o.aEd}\n`);
        const before = await Deno.readFile(path);
        const kh = new KnownHosts(path);
        const ours = await ssh2Connect({
          sshd: a,
          kh,
          name: a.address,
          privateKey: s.clientKeyText,
        });
        assert.equal(ours.verdict?.status, "unknown");
        assert.deepEqual(await Deno.readFile(path), before);
        assert.deepEqual([...Deno.readDirSync(kdir)].map((e) => e.name), ["known_hosts"]);
      });
    } finally {
      await a.stop();
      await b?.stop();
    }
  },
});
