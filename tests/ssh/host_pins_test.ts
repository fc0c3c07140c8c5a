/**
 * First contact, confirmed by a human (issue 13 item 3): the server's own pin
 * file next to the read-only known_hosts (`src/ssh/host_pins.ts`), the
 * first-contact offers of the handshake (`src/ssh/first_contact.ts`), and the
 * settings behind them. SECURITY.md has no rule id for this yet: tests are
 * named `HK-PIN:`. Real OpenSSH servers, no mocks.
 *
 * @module
 */

import assert from "node:assert/strict";
import { ConfigError, isToolError } from "../../src/errors.ts";
import { Logger } from "../../src/log.ts";
import { parseSettings } from "../../src/config/settings.ts";
import { basePolicy } from "../../src/config/hosts_defaults.ts";
import { serverFilesFor } from "../../src/policy/server_files.ts";
import {
  type ConnectDeps,
  type ConnectTarget,
  verifyHostKeyOnly,
} from "../../src/ssh/handshake.ts";
import { HostPins } from "../../src/ssh/host_pins.ts";
import { firstContact, OfferCollector } from "../../src/ssh/first_contact.ts";
import { fingerprintSha256 } from "../../src/ssh/known_hosts.ts";
import {
  generateKey,
  type KeyPair,
  type SshdInstance,
  startSshd,
  tempDir,
} from "../_support/sshd.ts";
import { splitPublicKey } from "../_support/known_hosts_fixtures.ts";

// ---------------------------------------------------------------------------
// helpers

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

/** A temp dir with a user known_hosts file (given lines) and a not-yet-existing pin path. */
async function files(userLines: string[]): Promise<{ dir: string; kh: string; pin: string }> {
  const dir = await tempDir("sshmcp-pins-");
  const kh = `${dir}/known_hosts`;
  await Deno.writeTextFile(kh, userLines.map((l) => l + "\n").join(""));
  return { dir, kh, pin: `${dir}/config/ssh-mcp/pinned_known_hosts` };
}

let keysPromise: Promise<{ a: KeyPair; b: KeyPair; rsa: KeyPair }> | undefined;
function keys() {
  keysPromise ??= (async () => {
    const dir = await tempDir("sshmcp-pins-keys-");
    const [a, b, rsa] = await Promise.all([
      generateKey(dir, { type: "ed25519" }),
      generateKey(dir, { type: "ed25519" }),
      generateKey(dir, { type: "rsa", bits: 2048 }),
    ]);
    return { a, b, rsa };
  })();
  return keysPromise;
}

/** The known_hosts name of a test sshd (`addr` on port 22, `[addr]:port` otherwise). */
function nameOf(s: SshdInstance): string {
  return s.port === 22 ? s.address : `[${s.address}]:${s.port}`;
}

function targetFor(s: SshdInstance, alias = "web"): ConnectTarget {
  const policy = basePolicy(alias, "hosts.toml", parseSettings({}).settings, {});
  return {
    policy: { ...policy, hostname: s.address, port: s.port },
    user: s.user.name,
    port: s.port,
    connectName: s.address,
    lookupName: s.address,
    hostKeyAlias: false,
    connectAddress: s.address,
  };
}

function depsFor(store: HostPins): ConnectDeps {
  return {
    knownHosts: store,
    logger: new Logger({ level: "ERROR", sink: () => {} }),
    connectTimeoutMs: 10_000,
    keepaliveMs: 30_000,
    maxChannels: 4,
  };
}

async function leftovers(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) if (e.name.includes(".tmp-")) out.push(e.name);
  return out;
}

// ---------------------------------------------------------------------------
// the store

Deno.test("HK-PIN: a missing pin file is normal (no WARNING); a missing known_hosts still warns once", async () => {
  const { dir, pin } = await files([]);
  const cap = captureLogger();
  const store = new HostPins(`${dir}/known_hosts`, pin, { logger: cap.logger });
  store.refresh();
  store.refresh();
  assert.equal(cap.count("WARNING"), 0, cap.lines.join("\n"));
  assert.equal(store.pinsLoaded, false);
  assert.equal(store.loaded, true);
  await Deno.remove(`${dir}/known_hosts`);
  store.refresh();
  store.refresh();
  assert.equal(cap.count("WARNING"), 1, cap.lines.join("\n"));
  assert.match(cap.lines.join("\n"), /SSH_KNOWN_HOSTS/);
  assert.doesNotMatch(cap.lines.join("\n"), /SSH_PINNED_KNOWN_HOSTS/);
});

Deno.test("HK-PIN: pin() writes the exact line, dir 0700 / file 0600 by temp+rename; known_hosts bytes unchanged", async () => {
  const k = await keys();
  const { dir, kh, pin } = await files([`# user file`, `other.example ${k.rsa.publicKey}`]);
  const before = await Deno.readFile(kh);
  const cap = captureLogger();
  const store = new HostPins(kh, pin, { logger: cap.logger });
  assert.equal(store.verify("web01.example", 22, blobOf(k.a)).status, "unknown");
  const blob = blobOf(k.a);
  const r = await store.pin("web01.example", blob);
  const line = `web01.example ${k.a.publicKey}`;
  assert.deepEqual(r, {
    fingerprint: k.a.fingerprint,
    line,
    file: pin,
    alreadyPinned: false,
  });
  assert.equal(await Deno.readTextFile(pin), line + "\n");
  assert.equal((await Deno.stat(pin)).mode! & 0o777, 0o600);
  assert.equal((await Deno.stat(`${dir}/config/ssh-mcp`)).mode! & 0o777, 0o700);
  assert.deepEqual(await leftovers(`${dir}/config/ssh-mcp`), []);
  // trusted at once, and through a fresh store (the file alone)
  const v = store.verify("web01.example", 22, blob);
  assert.deepEqual(v, {
    status: "trusted",
    fingerprint: k.a.fingerprint,
    lookupKey: "web01.example",
  });
  assert.equal(new HostPins(kh, pin).verify("WEB01.example", 22, blob).status, "trusted");
  assert.equal(store.pinnedFingerprint("web01.example", 22), k.a.fingerprint);
  assert.equal(store.hostKeyAlgorithms("web01.example", 22)[0], "ssh-ed25519");
  // a second pin appends; [host]:port form; the first line stays byte-exact
  const r2 = await store.pin("[web01.example]:2222", blobOf(k.rsa));
  assert.equal(r2.line, `[web01.example]:2222 ${k.rsa.publicKey}`);
  assert.equal(await Deno.readTextFile(pin), `${line}\n${r2.line}\n`);
  assert.equal(store.verify("web01.example", 2222, blobOf(k.rsa)).status, "trusted");
  assert.equal(store.hostKeyAlgorithms("web01.example", 2222)[0], "rsa-sha2-512");
  assert.deepEqual(await leftovers(`${dir}/config/ssh-mcp`), []);
  // idempotent: nothing written, the existing line returned
  const again = await store.pin("web01.example", blob);
  assert.deepEqual(again, { fingerprint: k.a.fingerprint, line, file: pin, alreadyPinned: true });
  assert.equal(await Deno.readTextFile(pin), `${line}\n${r2.line}\n`);
  // the user's file was never touched
  assert.deepEqual(await Deno.readFile(kh), before);
  assert.equal(cap.count("WARNING"), 0, cap.lines.join("\n"));
});

Deno.test("HK-PIN: a pin file without a final newline gets one before the new line", async () => {
  const k = await keys();
  const { dir, kh } = await files([]);
  const pin = `${dir}/pins`;
  await Deno.writeTextFile(pin, `# hand-written\nold.example ${k.b.publicKey}`);
  const store = new HostPins(kh, pin);
  await store.pin("new.example", blobOf(k.a));
  assert.equal(
    await Deno.readTextFile(pin),
    `# hand-written\nold.example ${k.b.publicKey}\nnew.example ${k.a.publicKey}\n`,
  );
  assert.equal(store.verify("old.example", 22, blobOf(k.b)).status, "trusted");
  assert.equal(store.verify("new.example", 22, blobOf(k.a)).status, "trusted");
});

Deno.test("HK-PIN: a key trusted by the user's known_hosts is not pinned again (returns that line)", async () => {
  const k = await keys();
  const { kh, pin } = await files([`web01,web02 ${k.a.publicKey} comment`]);
  const store = new HostPins(kh, pin);
  const r = await store.pin("web02", blobOf(k.a));
  assert.deepEqual(r, {
    fingerprint: k.a.fingerprint,
    line: `web01,web02 ${k.a.publicKey} comment`,
    file: kh,
    alreadyPinned: true,
  });
  await assert.rejects(Deno.stat(pin), Deno.errors.NotFound);
});

Deno.test("HK-PIN: pin refused when it would shadow a mismatch in either file; a pin never overrides the user's file", async () => {
  const k = await keys();
  const { kh, pin } = await files([`web01 ${k.a.publicKey}`, `[web01]:2222 ${k.a.publicKey}`]);
  const before = await Deno.readFile(kh);
  const store = new HostPins(kh, pin);
  for (const name of ["web01", "[web01]:2222", "WEB01"]) {
    await assert.rejects(store.pin(name, blobOf(k.b)), (e) => {
      assert.ok(isToolError(e, "HostKeyMismatch"), String(e));
      assert.match(e.message, /never pinned/);
      assert.equal(e.attributes.expected_fingerprint, k.a.fingerprint);
      assert.equal(e.attributes.actual_fingerprint, k.b.fingerprint);
      return true;
    });
  }
  await assert.rejects(Deno.stat(pin), Deno.errors.NotFound, "nothing written");
  // a pin file edited by hand (or an older pin) cannot override the user's line
  await Deno.mkdir(pin.replace(/\/[^/]+$/, ""), { recursive: true });
  await Deno.writeTextFile(pin, `web01 ${k.b.publicKey}\n`);
  const v = store.verify("web01", 22, blobOf(k.b));
  assert.equal(v.status, "mismatch");
  assert.equal(v.status === "mismatch" && v.expectedFingerprint, k.a.fingerprint);
  assert.equal(store.verify("web01", 22, blobOf(k.a)).status, "trusted");
  assert.equal(store.pinnedFingerprint("web01", 22), k.a.fingerprint);
  // and a different key pinned in the pin file blocks a second, different pin
  await assert.rejects(
    store.pin("web03", blobOf(k.rsa)).then(() => store.pin("web03", blobOf(k.b))),
    (e) => {
      assert.ok(isToolError(e, "HostKeyMismatch"), String(e));
      return true;
    },
  );
  assert.deepEqual(await Deno.readFile(kh), before);
});

Deno.test("HK-PIN: @revoked in the user's file wins over a pin (and a revoked key is never pinned)", async () => {
  const k = await keys();
  const { kh, pin } = await files([]);
  const store = new HostPins(kh, pin);
  await store.pin("web01", blobOf(k.a));
  assert.equal(store.verify("web01", 22, blobOf(k.a)).status, "trusted");
  await Deno.writeTextFile(kh, `@revoked * ${k.a.publicKey}\n`);
  assert.equal(store.verify("web01", 22, blobOf(k.a)).status, "revoked");
  await assert.rejects(store.pin("web02", blobOf(k.a)), (e) => {
    assert.ok(isToolError(e, "HostKeyMismatch"), String(e));
    assert.equal(e.attributes.revoked, true);
    return true;
  });
  assert.equal(await Deno.readTextFile(pin), `web01 ${k.a.publicKey}\n`);
});

Deno.test("HK-PIN: pin refused when the pin file is the known_hosts file (same path, symlink, hard link)", async () => {
  const k = await keys();
  const { dir, kh } = await files([`other ${k.b.publicKey}`]);
  const before = await Deno.readFile(kh);
  await Deno.symlink(kh, `${dir}/link`);
  await Deno.link(kh, `${dir}/hard`);
  for (const pin of [kh, `${dir}/./known_hosts`, `${dir}/link`, `${dir}/hard`]) {
    const cap = captureLogger();
    const store = new HostPins(kh, pin, { logger: cap.logger });
    assert.match(cap.lines.join("\n"), /SSH_PINNED_KNOWN_HOSTS names the SSH_KNOWN_HOSTS file/);
    await assert.rejects(store.pin("web01", blobOf(k.a)), (e) => {
      assert.ok(isToolError(e, "ValueError"), String(e));
      assert.match(e.message, /never writes/);
      return true;
    });
  }
  assert.deepEqual(await Deno.readFile(kh), before);
});

Deno.test("HK-PIN: names that are not a plain known_hosts name are refused (no patterns, no injection)", async () => {
  const k = await keys();
  const { kh, pin } = await files([]);
  const store = new HostPins(kh, pin);
  for (
    const bad of [
      "",
      "*",
      "web*",
      "a,b",
      "!web",
      "web 01",
      "web\nevil ssh-ed25519 AAAA",
      "|1|abc|def",
      "@revoked",
      "#web",
      "[web]:22",
      "[web]:0",
      "[web]:70000",
      "web]",
    ]
  ) {
    await assert.rejects(store.pin(bad, blobOf(k.a)), (e) => isToolError(e, "ValueError"), bad);
  }
  await assert.rejects(
    store.pin("web", new Uint8Array([0, 0, 0, 3, 1, 2, 3])),
    (e) => isToolError(e, "ValueError"),
  );
  await assert.rejects(Deno.stat(pin), Deno.errors.NotFound);
});

Deno.test("HK-PIN: 10 parallel pins of different hosts all land (one line each, no temp files)", async () => {
  const k = await keys();
  const { dir, kh, pin } = await files([]);
  const store = new HostPins(kh, pin);
  const ks = [k.a, k.b, k.rsa];
  const names = Array.from(
    { length: 10 },
    (_, i) => i % 2 ? `host${i}.example` : `[host${i}]:${2200 + i}`,
  );
  const results = await Promise.all(names.map((n, i) => store.pin(n, blobOf(ks[i % 3]!))));
  assert.ok(results.every((r) => !r.alreadyPinned && r.file === pin));
  const lines = (await Deno.readTextFile(pin)).split("\n").filter((l) => l !== "");
  assert.equal(lines.length, 10);
  assert.deepEqual(new Set(lines), new Set(results.map((r) => r.line)));
  const fresh = new HostPins(kh, pin);
  names.forEach((n, i) => {
    const m = /^\[(.*)\]:(\d+)$/.exec(n);
    const [h, p] = m ? [m[1]!, Number(m[2])] : [n, 22];
    assert.equal(fresh.verify(h, p, blobOf(ks[i % 3]!)).status, "trusted", n);
  });
  assert.deepEqual(await leftovers(`${dir}/config/ssh-mcp`), []);
  assert.equal((await Deno.stat(pin)).mode! & 0o777, 0o600);
});

// ---------------------------------------------------------------------------
// first contact on a real handshake

Deno.test({
  name:
    "HK-PIN: the first-contact scope gets an offer for an unknown key on a real handshake, nothing for a changed key",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const k = await keys();
    const sshd = await startSshd({ hostKeyTypes: ["ed25519"] });
    try {
      const hostKey = sshd.hostKeys[0]!;
      const { kh, pin } = await files([]);
      const khBefore = await Deno.readFile(kh);
      const store = new HostPins(kh, pin);
      const target = targetFor(sshd, "web");

      // unknown: refused all the same, the offer is recorded
      const offers = new OfferCollector();
      await assert.rejects(
        firstContact.run(offers, () => verifyHostKeyOnly(target, null, depsFor(store))),
        (e) => isToolError(e, "UnknownHost"),
      );
      assert.equal(offers.offers.length, 1);
      const o = offers.offers[0]!;
      assert.equal(o.alias, "web");
      assert.equal(o.lookupKey, nameOf(sshd));
      assert.equal(o.port, sshd.port);
      assert.equal(o.address, sshd.address);
      assert.equal(o.keyType, "ssh-ed25519");
      assert.equal(o.fingerprint, hostKey.fingerprint);
      assert.equal(fingerprintSha256(o.keyBlob), hostKey.fingerprint);
      assert.deepEqual(o.keyBlob, blobOf(hostKey));

      // without a scope: same refusal, nothing to record into
      await assert.rejects(
        verifyHostKeyOnly(target, null, depsFor(store)),
        (e) => isToolError(e, "UnknownHost"),
      );

      // the human said yes: pin exactly what was offered, then the real handshake verifies
      const r = await store.pin(o.lookupKey, o.keyBlob);
      assert.equal(r.line, `${nameOf(sshd)} ${hostKey.publicKey}`);
      const after = new OfferCollector();
      const fp = await firstContact.run(
        after,
        () => verifyHostKeyOnly(target, null, depsFor(store)),
      );
      assert.equal(fp, hostKey.fingerprint);
      assert.equal(after.offers.length, 0, "a trusted key is not offered");

      // a CHANGED key (the user's file says otherwise): refused, never offered
      const { kh: kh2, pin: pin2 } = await files([`${nameOf(sshd)} ${k.a.publicKey}`]);
      const store2 = new HostPins(kh2, pin2);
      const changed = new OfferCollector();
      await assert.rejects(
        firstContact.run(changed, () => verifyHostKeyOnly(target, null, depsFor(store2))),
        (e) => isToolError(e, "HostKeyMismatch"),
      );
      assert.equal(changed.offers.length, 0, "a mismatched key is never offered");

      // a changed key in the PIN file: refused, never offered either
      const { kh: kh3, pin: pin3 } = await files([]);
      const store3 = new HostPins(kh3, pin3);
      await store3.pin(nameOf(sshd), blobOf(k.a));
      const changed3 = new OfferCollector();
      await assert.rejects(
        firstContact.run(changed3, () => verifyHostKeyOnly(target, null, depsFor(store3))),
        (e) => isToolError(e, "HostKeyMismatch"),
      );
      assert.equal(changed3.offers.length, 0);

      // a revoked key: refused, never offered
      const { kh: kh4, pin: pin4 } = await files([`@revoked * ${hostKey.publicKey}`]);
      const revoked = new OfferCollector();
      await assert.rejects(
        firstContact.run(
          revoked,
          () => verifyHostKeyOnly(target, null, depsFor(new HostPins(kh4, pin4))),
        ),
        (e) => isToolError(e, "HostKeyMismatch"),
      );
      assert.equal(revoked.offers.length, 0);

      // only @cert-authority lines: UnknownHost, but not offered
      const { kh: kh5, pin: pin5 } = await files([`@cert-authority * ${k.b.publicKey}`]);
      const ca = new OfferCollector();
      await assert.rejects(
        firstContact.run(
          ca,
          () => verifyHostKeyOnly(target, null, depsFor(new HostPins(kh5, pin5))),
        ),
        (e) => isToolError(e, "UnknownHost"),
      );
      assert.equal(ca.offers.length, 0);

      assert.deepEqual(await Deno.readFile(kh), khBefore);
    } finally {
      await sshd.stop();
    }
  },
});

// ---------------------------------------------------------------------------
// settings and the server-file protection

Deno.test("HK-PIN: settings — defaults, XDG_CONFIG_HOME default, tier list validation, grant range", () => {
  const d = parseSettings({}).settings;
  assert.equal(d.SSH_PINNED_KNOWN_HOSTS, "~/.config/ssh-mcp/pinned_known_hosts");
  assert.equal(d.SSH_CONFIRM_NEW_HOST_KEYS, false);
  assert.deepEqual(d.SSH_APPROVAL_TIERS, []);
  assert.equal(d.SSH_APPROVAL_GRANT_S, 0);
  assert.equal(
    parseSettings({ XDG_CONFIG_HOME: "/xdg" }).settings.SSH_PINNED_KNOWN_HOSTS,
    "/xdg/ssh-mcp/pinned_known_hosts",
  );
  assert.equal(
    parseSettings({ XDG_CONFIG_HOME: "relative" }).settings.SSH_PINNED_KNOWN_HOSTS,
    "~/.config/ssh-mcp/pinned_known_hosts",
    "a relative XDG_CONFIG_HOME is ignored (XDG rule)",
  );
  assert.equal(
    parseSettings({ XDG_CONFIG_HOME: "/xdg", SSH_PINNED_KNOWN_HOSTS: "/srv/pins" }).settings
      .SSH_PINNED_KNOWN_HOSTS,
    "/srv/pins",
  );
  assert.equal(
    parseSettings({ XDG_CONFIG_HOME: "/xdg", SSH_PINNED_KNOWN_HOSTS: " " }).settings
      .SSH_PINNED_KNOWN_HOSTS,
    "/xdg/ssh-mcp/pinned_known_hosts",
    "blank means the default",
  );
  assert.equal(
    parseSettings({ SSH_CONFIRM_NEW_HOST_KEYS: "true" }).settings.SSH_CONFIRM_NEW_HOST_KEYS,
    true,
  );
  assert.deepEqual(
    parseSettings({ SSH_APPROVAL_TIERS: "dangerous, sudo" }).settings.SSH_APPROVAL_TIERS,
    ["dangerous", "sudo"],
  );
  assert.deepEqual(
    parseSettings({ SSH_APPROVAL_TIERS: '["read","low-access"]' }).settings.SSH_APPROVAL_TIERS,
    ["read", "low-access"],
  );
  assert.throws(
    () => parseSettings({ SSH_APPROVAL_TIERS: "dangerous,sudoo" }),
    (e) =>
      e instanceof ConfigError && /SSH_APPROVAL_TIERS/.test(e.message) &&
      /"sudoo"/.test(e.message) && /read, low-access, dangerous, sudo/.test(e.message),
  );
  assert.throws(() => parseSettings({ SSH_APPROVAL_TIERS: "Dangerous" }), ConfigError);
  assert.equal(parseSettings({ SSH_APPROVAL_GRANT_S: "3600" }).settings.SSH_APPROVAL_GRANT_S, 3600);
  assert.throws(() => parseSettings({ SSH_APPROVAL_GRANT_S: "3601" }), ConfigError);
  assert.throws(() => parseSettings({ SSH_APPROVAL_GRANT_S: "-1" }), ConfigError);
});

Deno.test("HK-PIN: the pin file (and its temp siblings) is one of the server's own files", async () => {
  const settings = parseSettings({ SSH_PINNED_KNOWN_HOSTS: "~/pins/pinned_known_hosts" }).settings;
  const list = await serverFilesFor({
    settings,
    env: { HOME: "/home/op" },
    cwd: "/srv",
    hosts: null,
  });
  const f = list.find((x) => x.path === "/home/op/pins/pinned_known_hosts");
  assert.ok(f, JSON.stringify(list.map((x) => x.path)));
  assert.equal(f.kind, "prefix");
  assert.match(f.what, /SSH_PINNED_KNOWN_HOSTS/);
});
