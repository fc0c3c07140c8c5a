/**
 * Encrypted private keys are decrypted off the event loop (issue 17 item 5;
 * SECURITY.md AUTH-4): the bcrypt KDF runs in the KDF worker (src/ssh/kdf.ts),
 * other work proceeds meanwhile, nothing is cached after the call, and a
 * failed or hung decryption leaves no worker behind. Real keys from
 * ssh-keygen, real sshd, real passphrase_cmd.
 */

import assert from "node:assert/strict";
import { isToolError } from "../../src/errors.ts";
import type { AuthConfig, HostPolicy, Settings } from "../../src/config/types.ts";
import { defaultSettings } from "../../src/config/settings.ts";
import { envHostPolicy } from "../../src/config/hosts.ts";
import { prepareAuth } from "../../src/ssh/auth.ts";
import { parsePrivateKey } from "../../src/ssh/keys.ts";
import {
  decryptKeyOffThread,
  KDF_WORKER_IDLE_MS,
  kdfWorkerAlive,
  stopKdfWorker,
} from "../../src/ssh/kdf.ts";
import { type LoginShell, mustRun, startSshd, tempDir } from "../_support/sshd.ts";
import { tryLogin } from "../_support/agent.ts";
import { loadSsh2 } from "../../src/util/ssh2_lib.ts";

// parsePrivateKey and the agent helpers use ssh2, which the server loads on first use
await loadSsh2();

const PASS = "kdf worker passphrase \u00e9 7";

function settings(): Settings {
  return { ...defaultSettings() };
}

function policy(user: string, auth: Partial<AuthConfig>): HostPolicy {
  const p = envHostPolicy("web01", settings());
  return {
    ...p,
    user,
    auth: {
      method: "key",
      identity_agent: null,
      identity_fingerprint: null,
      identities_only: false,
      key: null,
      passphrase_cmd: null,
      password_cmd: null,
      password_secret: null,
      passphrase_secret: null,
      ...auth,
    },
  };
}

function report(line: string): void {
  Deno.stderr.writeSync(new TextEncoder().encode(`  [kdf] ${line}\n`));
}

/** An encrypted ed25519 OpenSSH key with `rounds` bcrypt rounds (ssh-keygen -a). */
async function encryptedKey(
  dir: string,
  rounds: number,
  name: string,
): Promise<{ path: string; publicLine: string }> {
  const path = `${dir}/${name}`;
  await mustRun("ssh-keygen", [
    "-q",
    "-t",
    "ed25519",
    "-a",
    String(rounds),
    "-N",
    PASS,
    "-C",
    name,
    "-f",
    path,
  ]);
  return { path, publicLine: (await Deno.readTextFile(`${path}.pub`)).trim() };
}

/**
 * A passphrase_cmd that appends a line to `<dir>/<tag>.runs` (so the test sees
 * when and how often it ran) and prints the passphrase file.
 */
async function passCmd(
  dir: string,
  tag: string,
  pass = PASS,
): Promise<{ cmd: string; runs: string; passFile: string }> {
  const passFile = `${dir}/${tag}.pass`;
  const runs = `${dir}/${tag}.runs`;
  await Deno.writeTextFile(passFile, pass + "\n", { mode: 0o600 });
  const script = `${dir}/${tag}.sh`;
  await Deno.writeTextFile(script, `#!/bin/sh\necho run >> '${runs}'\ncat '${passFile}'\n`, {
    mode: 0o700,
  });
  return { cmd: script, runs, passFile };
}

async function runsOf(file: string): Promise<number> {
  try {
    return (await Deno.readTextFile(file)).split("\n").filter((l) => l === "run").length;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return 0;
    throw e;
  }
}

/** Samples the event loop every 2 ms; `stop()` returns the longest gap seen (ms). */
function lagMonitor(): { stop(): number } {
  let last = performance.now();
  let max = 0;
  const id = setInterval(() => {
    const now = performance.now();
    max = Math.max(max, now - last);
    last = now;
  }, 2);
  return {
    stop() {
      clearInterval(id);
      return Math.max(max, performance.now() - last);
    },
  };
}

const tick = () => new Promise<void>((r) => setTimeout(r, 0));

Deno.test("AUTH-4: the bcrypt KDF of an encrypted key runs off the event loop; other work completes while it runs", async () => {
  const dir = await tempDir("sshmcp-kdf-");
  try {
    // enough rounds that the KDF takes well over 200 ms even on a fast machine
    const key = await encryptedKey(dir, 48, "slow");
    const data = await Deno.readFile(key.path);

    // before: the same decryption on the event loop (what auth.ts did until now)
    const before = lagMonitor();
    await tick();
    const t0 = performance.now();
    parsePrivateKey(data, PASS, key.path);
    const syncMs = performance.now() - t0;
    await tick();
    const blockedBefore = before.stop();
    assert.ok(syncMs > 200, `KDF took only ${syncMs.toFixed(0)} ms: raise the rounds`);
    assert.ok(blockedBefore >= syncMs, "the lag monitor missed the synchronous KDF");

    // after: prepareAuth decrypts in the worker; a concurrent task that needs the
    // event loop several times (5 timer turns) after the passphrase was fetched
    const pc = await passCmd(dir, "slow");
    const sshd = await startSshd({ authorizedKeys: [key.publicLine] });
    try {
      const order: string[] = [];
      const after = lagMonitor();
      const t1 = performance.now();
      const auth = prepareAuth({
        policy: policy(sshd.user.name, { key: key.path, passphrase_cmd: pc.cmd }),
        settings: settings(),
        env: {},
      }).then((p) => {
        order.push("kdf");
        return p;
      });
      const other = (async () => {
        // start once the passphrase is fetched, i.e. when the KDF is about to run
        while ((await runsOf(pc.runs)) === 0) {
          // deno-lint-ignore no-await-in-loop
          await new Promise((r) => setTimeout(r, 1));
        }
        for (let i = 0; i < 5; i++) {
          // deno-lint-ignore no-await-in-loop
          await tick();
        }
        order.push("other");
      })();
      const [prepared] = await Promise.all([auth, other]);
      const totalMs = performance.now() - t1;
      const blockedAfter = after.stop();
      report(
        `rounds=48: event-loop block on the loop ${syncMs.toFixed(0)} ms (max gap ` +
          `${blockedBefore.toFixed(0)} ms); via the worker: max gap ${
            blockedAfter.toFixed(0)
          } ms, ` +
          `prepareAuth ${totalMs.toFixed(0)} ms`,
      );
      assert.deepEqual(order, ["other", "kdf"], "the concurrent task waited for the KDF");
      // steady state: the worker is warm (no isolate to create)
      const warm = lagMonitor();
      const t2 = performance.now();
      await decryptKeyOffThread(await Deno.readFile(key.path), PASS, key.path);
      const warmMs = performance.now() - t2;
      report(
        `warm worker: max gap ${warm.stop().toFixed(0)} ms over a ${
          warmMs.toFixed(0)
        } ms decryption`,
      );
      assert.equal(await runsOf(pc.runs), 1);
      const r = await tryLogin(sshd, prepared.username, prepared.methods, { exec: true });
      assert.ok(r.ok, r.error);
      assert.equal(r.output, sshd.user.name);
    } finally {
      await sshd.stop();
    }
  } finally {
    stopKdfWorker();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("AUTH-4: a burst of connects with one encrypted key runs passphrase_cmd and the KDF once", async () => {
  const dir = await tempDir("sshmcp-kdf-");
  try {
    const key = await encryptedKey(dir, 16, "burst");
    const pc = await passCmd(dir, "burst");
    const sshd = await startSshd({ authorizedKeys: [key.publicLine] });
    try {
      // one server process = one env object: loads are shared per env
      const env = {};
      const all = await Promise.all(Array.from({ length: 6 }, () =>
        prepareAuth({
          policy: policy(sshd.user.name, { key: key.path, passphrase_cmd: pc.cmd }),
          settings: settings(),
          env,
        })));
      assert.equal(await runsOf(pc.runs), 1, "passphrase_cmd ran more than once for one burst");
      const r = await tryLogin(sshd, all[5]!.username, all[5]!.methods, { exec: true });
      assert.ok(r.ok, r.error);
      // the burst is over: the next connect fetches the passphrase again (nothing cached)
      await prepareAuth({
        policy: policy(sshd.user.name, { key: key.path, passphrase_cmd: pc.cmd }),
        settings: settings(),
        env,
      });
      assert.equal(await runsOf(pc.runs), 2, "the decrypted key or passphrase was cached");
    } finally {
      await sshd.stop();
    }
  } finally {
    stopKdfWorker();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("AUTH-8: wrong passphrase -> AuthenticationFailed naming the key; nothing cached; the worker goes away", async () => {
  const dir = await tempDir("sshmcp-kdf-");
  try {
    const key = await encryptedKey(dir, 16, "wrong");
    const pc = await passCmd(dir, "wrong", "not the passphrase");
    const sshd = await startSshd({ authorizedKeys: [key.publicLine] });
    try {
      const pol = policy(sshd.user.name, { key: key.path, passphrase_cmd: pc.cmd });
      await assert.rejects(
        prepareAuth({ policy: pol, settings: settings(), env: {} }),
        (e: unknown) => {
          assert.ok(isToolError(e, "AuthenticationFailed"), String(e));
          assert.match(e.message, new RegExp(`wrong passphrase for ${key.path}`));
          assert.match(e.message, /passphrase_cmd/);
          assert.ok(!e.message.includes("not the passphrase"));
          return true;
        },
      );
      // nothing cached: the corrected passphrase works at once, the wrong one fails again after
      await Deno.writeTextFile(pc.passFile, PASS + "\n");
      const ok = await prepareAuth({ policy: pol, settings: settings(), env: {} });
      const r = await tryLogin(sshd, ok.username, ok.methods, { exec: true });
      assert.ok(r.ok, r.error);
      await Deno.writeTextFile(pc.passFile, "wrong again\n");
      await assert.rejects(
        prepareAuth({ policy: pol, settings: settings(), env: {} }),
        /wrong passphrase/,
      );
      assert.equal(await runsOf(pc.runs), 3);
      // the worker is not kept: it is terminated once idle
      assert.ok(kdfWorkerAlive());
      await new Promise((r) => setTimeout(r, KDF_WORKER_IDLE_MS + 500));
      assert.ok(!kdfWorkerAlive(), "the KDF worker outlived its idle time");
    } finally {
      await sshd.stop();
    }
  } finally {
    stopKdfWorker();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("AUTH-4: the key bytes are moved to the worker; a decryption over its time bound kills the worker", async () => {
  const dir = await tempDir("sshmcp-kdf-");
  try {
    const key = await encryptedKey(dir, 400, "hung");
    const data = await Deno.readFile(key.path);
    await assert.rejects(
      decryptKeyOffThread(data, PASS, key.path, { timeoutMs: 50 }),
      (e: unknown) => {
        assert.ok(isToolError(e, "AuthenticationFailed"), String(e));
        assert.match(e.message, /took longer than .*ssh-keygen -p -a 16/);
        return true;
      },
    );
    assert.equal(data.byteLength, 0, "the key file bytes stayed on the main thread");
    assert.ok(!kdfWorkerAlive(), "a timed-out worker was kept");
    // and the next decryption gets a fresh worker
    const small = await encryptedKey(dir, 8, "after");
    const k = await decryptKeyOffThread(await Deno.readFile(small.path), PASS, small.path);
    assert.equal(k.type, "ssh-ed25519");
  } finally {
    stopKdfWorker();
    await Deno.remove(dir, { recursive: true });
  }
});

for (const shell of ["sh", "bash"] as LoginShell[]) {
  Deno.test(`AUTH-2: an encrypted key decrypted in the worker logs in (${shell === "sh" ? "dash" : "bash"} login user): ed25519, ECDSA and RSA, OpenSSH and PEM`, async () => {
    const dir = await tempDir("sshmcp-kdf-");
    try {
      const specs = [
        ["ed25519", []],
        ["ecdsa", ["-b", "521"]],
        ["rsa", ["-b", "2048", "-m", "PEM"]],
        ["ecdsa", ["-b", "256", "-m", "PKCS8"]],
      ] as const;
      const keys: { path: string; publicLine: string }[] = [];
      for (const [type, extra] of specs) {
        const path = `${dir}/${type}-${keys.length}`;
        // deno-lint-ignore no-await-in-loop
        await mustRun("ssh-keygen", ["-q", "-t", type, ...extra, "-N", PASS, "-f", path]);
        // deno-lint-ignore no-await-in-loop
        keys.push({ path, publicLine: (await Deno.readTextFile(`${path}.pub`)).trim() });
      }
      const pc = await passCmd(dir, "all");
      const sshd = await startSshd({
        authorizedKeys: keys.map((k) => k.publicLine),
        loginShell: shell,
      });
      try {
        for (const key of keys) {
          // deno-lint-ignore no-await-in-loop
          const prepared = await prepareAuth({
            policy: policy(sshd.user.name, { key: key.path, passphrase_cmd: pc.cmd }),
            settings: settings(),
            env: {},
          });
          // deno-lint-ignore no-await-in-loop
          const r = await tryLogin(sshd, prepared.username, prepared.methods, { exec: true });
          assert.ok(r.ok, `${key.path}: ${r.error}`);
          assert.equal(r.output, sshd.user.name);
        }
      } finally {
        await sshd.stop();
      }
    } finally {
      stopKdfWorker();
      await Deno.remove(dir, { recursive: true });
    }
  });
}
