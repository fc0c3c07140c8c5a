/**
 * Private key loading under Deno (SECURITY.md §AUTH, TESTBED "ssh2 under Deno"):
 * every key type and format ssh-keygen produces must authenticate against a
 * real sshd through ssh2's `authHandler`.
 */

import assert from "node:assert/strict";
import { isToolError } from "../../src/errors.ts";
import {
  isEncryptedKey,
  keyFingerprint,
  type ParsedKey,
  parsePrivateKey,
} from "../../src/ssh/keys.ts";
import { generateKey, type KeyPair, mustRun, startSshd, tempDir } from "../_support/sshd.ts";
import { tryLogin } from "../_support/agent.ts";
import { loadSsh2 } from "../../src/util/ssh2_lib.ts";

// parsePrivateKey and the agent helpers use ssh2, which the server loads on first use
await loadSsh2();

const PASS = "correct horse battery";

interface KeySpec {
  type: "ed25519" | "rsa" | "ecdsa";
  bits?: number;
  format: "openssh" | "pem";
  encrypted: boolean;
}

/** Runs `fn` over `items` with at most `limit` in flight. */
async function pool<T, R>(items: T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      // deno-lint-ignore no-await-in-loop
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

function specName(s: KeySpec): string {
  return `${s.type}${s.bits ?? ""}-${s.format}${s.encrypted ? "-enc" : ""}`;
}

function allSpecs(): KeySpec[] {
  const specs: KeySpec[] = [
    { type: "ed25519", format: "openssh", encrypted: false },
    { type: "ed25519", format: "openssh", encrypted: true },
    { type: "rsa", bits: 2048, format: "openssh", encrypted: false },
    { type: "rsa", bits: 2048, format: "pem", encrypted: false },
    { type: "rsa", bits: 2048, format: "openssh", encrypted: true },
    { type: "rsa", bits: 2048, format: "pem", encrypted: true },
    { type: "rsa", bits: 4096, format: "openssh", encrypted: false },
    { type: "rsa", bits: 4096, format: "pem", encrypted: true },
  ];
  for (const bits of [256, 384, 521]) {
    for (const format of ["openssh", "pem"] as const) {
      for (let i = 0; i < 20; i++) specs.push({ type: "ecdsa", bits, format, encrypted: false });
      for (let i = 0; i < 2; i++) specs.push({ type: "ecdsa", bits, format, encrypted: true });
    }
  }
  return specs;
}

Deno.test("AUTH-1: every supported key type and format authenticates through authHandler (ed25519, RSA 2048/4096, 20 fresh ECDSA keys per curve and format, encrypted variants)", async () => {
  const dir = await tempDir("sshmcp-keys-");
  const specs = allSpecs();
  const t0 = performance.now();
  const keys: { spec: KeySpec; pair: KeyPair }[] = await pool(specs, 8, async (spec) => ({
    spec,
    pair: await generateKey(dir, {
      type: spec.type,
      bits: spec.bits,
      format: spec.format,
      passphrase: spec.encrypted ? PASS : undefined,
    }),
  }));
  const genMs = performance.now() - t0;

  // sanity: the files really are in the format we asked for
  for (const { spec, pair } of keys) {
    const head = Deno.readTextFileSync(pair.privatePath).split("\n")[0]!;
    if (spec.format === "openssh" || spec.type === "ed25519") {
      assert.equal(head, "-----BEGIN OPENSSH PRIVATE KEY-----", specName(spec));
    } else {
      assert.match(head, /^-----BEGIN (RSA|EC) PRIVATE KEY-----$/, specName(spec));
    }
    assert.equal(isEncryptedKey(Deno.readFileSync(pair.privatePath)), spec.encrypted);
  }

  const sshd = await startSshd({ authorizedKeys: keys.map((k) => k.pair.publicLine) });
  try {
    const parsed: ParsedKey[] = [];
    for (const { spec, pair } of keys) {
      // deno-lint-ignore no-await-in-loop
      const data = await Deno.readFile(pair.privatePath);
      const key = parsePrivateKey(data, spec.encrypted ? PASS : undefined, pair.privatePath);
      assert.equal(keyFingerprint(key), pair.fingerprint, `fingerprint of ${specName(spec)}`);
      parsed.push(key);
    }
    const t1 = performance.now();
    const withKeys = keys.map((k, i) => ({ ...k, key: parsed[i]! }));
    const results = await pool(withKeys, 6, async ({ spec, pair, key }) => {
      const r = await tryLogin(sshd, sshd.user.name, [
        { type: "publickey", username: sshd.user.name, key },
      ]);
      return { name: `${specName(spec)} ${pair.privatePath}`, ...r };
    });
    const loginMs = performance.now() - t1;
    const failed = results.filter((r) => !r.ok);
    assert.deepEqual(failed, [], `keys that did not authenticate: ${failed.length}`);

    // the server saw exactly these keys
    const log = await sshd.log();
    for (const { spec, pair } of keys) {
      assert.ok(
        log.includes(`Accepted publickey for ${sshd.user.name}`) && log.includes(pair.fingerprint),
        `sshd log has no accepted login for ${specName(spec)} ${pair.fingerprint}`,
      );
    }
    // deno-lint-ignore no-console
    console.log(
      `  ${keys.length} keys: generated in ${genMs.toFixed(0)} ms, ${results.length} logins in ${
        loginMs.toFixed(0)
      } ms`,
    );
  } finally {
    await sshd.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("AUTH-1: PKCS#8 keys (openssl ed25519 / EC / RSA, plain and encrypted) authenticate", async () => {
  const dir = await tempDir("sshmcp-keys-");
  try {
    const files: { path: string; pass?: string }[] = [];
    const gen = async (name: string, args: string[], pass?: string) => {
      const path = `${dir}/${name}`;
      const extra = pass ? ["-aes256", "-pass", `pass:${pass}`] : [];
      await mustRun("openssl", ["genpkey", ...args, ...extra, "-out", path]);
      files.push({ path, pass });
    };
    await Promise.all([
      gen("ed", ["-algorithm", "ed25519"]),
      gen("ed-enc", ["-algorithm", "ed25519"], PASS),
      gen("p521", ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-521"]),
      gen("p256-enc", ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"], PASS),
      gen("rsa-enc", ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"], PASS),
    ]);
    const keys = await Promise.all(files.map(async (f) => {
      const data = await Deno.readTextFile(f.path);
      assert.equal(isEncryptedKey(data), f.pass !== undefined, f.path);
      return { ...f, key: parsePrivateKey(data, f.pass, f.path) };
    }));
    const lines = keys.map((k) =>
      `${k.key.type} ${k.key.getPublicSSH().toString("base64")} ${k.path}`
    );
    const sshd = await startSshd({ authorizedKeys: lines });
    try {
      for (const k of keys) {
        // deno-lint-ignore no-await-in-loop
        const r = await tryLogin(sshd, sshd.user.name, [
          { type: "publickey", username: sshd.user.name, key: k.key },
        ]);
        assert.ok(r.ok, `${k.path}: ${r.error}`);
      }
    } finally {
      await sshd.stop();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("AUTH-8: wrong passphrase -> AuthenticationFailed naming the key, never the passphrase", async () => {
  const dir = await tempDir("sshmcp-keys-");
  try {
    const pairs = await Promise.all([
      generateKey(dir, { type: "ed25519", passphrase: PASS }),
      generateKey(dir, { type: "ecdsa", bits: 384, passphrase: PASS, format: "pem" }),
      generateKey(dir, { type: "rsa", bits: 2048, passphrase: PASS, format: "pem" }),
    ]);
    const wrong = "Tr0ub4dor&3-wrong";
    for (const p of pairs) {
      // deno-lint-ignore no-await-in-loop
      const data = await Deno.readTextFile(p.privatePath);
      assert.throws(
        () => parsePrivateKey(data, wrong, p.privatePath),
        (e: unknown) => {
          assert.ok(isToolError(e, "AuthenticationFailed"), String(e));
          assert.match(e.message, new RegExp(`wrong passphrase for ${p.privatePath}`));
          assert.ok(!e.message.includes(wrong), "passphrase leaked into the message");
          assert.ok(!JSON.stringify(e.attributes).includes(wrong));
          return true;
        },
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("AUTH-2: encrypted key without a passphrase source -> message names passphrase_cmd / passphrase_secret", async () => {
  const dir = await tempDir("sshmcp-keys-");
  try {
    const pairs = await Promise.all([
      generateKey(dir, { type: "ed25519", passphrase: PASS }),
      generateKey(dir, { type: "ecdsa", bits: 256, passphrase: PASS, format: "pem" }),
    ]);
    for (const p of pairs) {
      // deno-lint-ignore no-await-in-loop
      const data = await Deno.readFile(p.privatePath);
      for (const pass of [undefined, ""]) {
        assert.throws(() => parsePrivateKey(data, pass, p.privatePath), (e: unknown) => {
          assert.ok(isToolError(e, "AuthenticationFailed"), String(e));
          assert.match(e.message, /passphrase_cmd/);
          assert.match(e.message, /passphrase_secret/);
          assert.ok(e.message.includes(p.privatePath));
          return true;
        });
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("AUTH-1: public keys, DSA and garbage are refused with AuthenticationFailed", async () => {
  const dir = await tempDir("sshmcp-keys-");
  try {
    const p = await generateKey(dir, { type: "ed25519" });
    const pub = await Deno.readTextFile(p.publicPath);
    assert.throws(() => parsePrivateKey(pub, undefined, p.publicPath), (e: unknown) => {
      assert.ok(isToolError(e, "AuthenticationFailed"));
      assert.match(e.message, /public key/);
      return true;
    });
    assert.throws(() => parsePrivateKey("hello world", undefined, "junk"), (e: unknown) => {
      assert.ok(isToolError(e, "AuthenticationFailed"));
      assert.match(e.message, /unsupported or corrupt private key junk/);
      return true;
    });
    const priv = await Deno.readTextFile(p.privatePath);
    const corrupt = priv.replace(/\n[A-Za-z0-9+/]{20}/, "\nAAAAAAAAAAAAAAAAAAAA");
    assert.throws(() => parsePrivateKey(corrupt, undefined, "corrupt"), (e: unknown) => {
      assert.ok(isToolError(e, "AuthenticationFailed"));
      return true;
    });
    const dsa =
      "-----BEGIN DSA PRIVATE KEY-----\nMIIBuwIBAAKBgQ==\n-----END DSA PRIVATE KEY-----\n";
    assert.throws(() => parsePrivateKey(dsa, undefined, "dsa"), (e: unknown) => {
      assert.ok(isToolError(e, "AuthenticationFailed"));
      assert.match(e.message, /DSA/);
      return true;
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("AUTH-1: CRLF line endings and Uint8Array input are accepted; keyFingerprint equals ssh-keygen -l", async () => {
  const dir = await tempDir("sshmcp-keys-");
  try {
    const [ed, ec] = await Promise.all([
      generateKey(dir, { type: "ed25519" }),
      generateKey(dir, { type: "ecdsa", bits: 521, format: "pem" }),
    ]);
    for (const p of [ed!, ec!]) {
      // deno-lint-ignore no-await-in-loop
      const text = await Deno.readTextFile(p.privatePath);
      const crlf = text.replace(/\n/g, "\r\n");
      assert.equal(keyFingerprint(parsePrivateKey(crlf, undefined, "crlf")), p.fingerprint);
      const bytes = new TextEncoder().encode(text);
      assert.equal(keyFingerprint(parsePrivateKey(bytes, undefined, "bytes")), p.fingerprint);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
