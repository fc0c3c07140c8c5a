/**
 * Client authentication (SECURITY.md §AUTH; CONFIG.md §4.4, §4.7): agent with
 * and without a pinned fingerprint, key files with passphrase sources, and
 * password auth, each against a real sshd and a real ssh-agent.
 */

import assert from "node:assert/strict";
import { isToolError } from "../../src/errors.ts";
import { Logger } from "../../src/log.ts";
import type { AuthConfig, HostPolicy, Settings } from "../../src/config/types.ts";
import { defaultSettings } from "../../src/config/settings.ts";
import { envHostPolicy } from "../../src/config/hosts.ts";
import { prepareAuth, type PreparedAuth } from "../../src/ssh/auth.ts";
import {
  listAgentIdentities,
  pinnedAgent,
  resolveAgentSocket,
  WINDOWS_AGENT_PIPE,
} from "../../src/ssh/agent.ts";
import {
  generateKey,
  type KeyPair,
  type SshdInstance,
  startSshd,
  tempDir,
  testUserPassword,
} from "../_support/sshd.ts";
import { startAgent, type TestAgent, tryLogin } from "../_support/agent.ts";
import { parsePrivateKey } from "../../src/ssh/keys.ts";
import { Buffer } from "node:buffer";
import { loadSsh2 } from "../../src/util/ssh2_lib.ts";

// parsePrivateKey and the agent helpers use ssh2, which the server loads on first use
await loadSsh2();

const PASS = "agent-test passphrase 42";

function settings(over: Partial<Settings> = {}): Settings {
  return { ...defaultSettings(), ...over };
}

function policy(user: string, auth: Partial<AuthConfig>): HostPolicy {
  const p = envHostPolicy("web01", settings());
  return {
    ...p,
    user,
    auth: {
      method: "agent",
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

function capture(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  return { logger: new Logger({ level: "DEBUG", sink: (l) => lines.push(l) }), lines };
}

async function login(sshd: SshdInstance, prepared: PreparedAuth) {
  return await tryLogin(sshd, prepared.username, prepared.methods, { exec: true });
}

/** One sshd + temp dir (+ optional agent) per test, always cleaned up. */
async function withEnv(
  opts: { keys?: KeyPair[]; agent?: boolean; extraConfig?: string[] },
  fn: (ctx: { sshd: SshdInstance; dir: string; agent: TestAgent | null }) => Promise<void>,
): Promise<void> {
  const dir = await tempDir("sshmcp-auth-");
  let sshd: SshdInstance | null = null;
  let agent: TestAgent | null = null;
  try {
    sshd = await startSshd({
      authorizedKeys: (opts.keys ?? []).map((k) => k.publicLine),
      extraConfig: opts.extraConfig,
    });
    if (opts.agent) agent = await startAgent(dir);
    await fn({ sshd, dir, agent });
  } finally {
    await agent?.stop();
    await sshd?.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

function isCode(code: "AuthenticationFailed" | "AgentFingerprintNotFound", re?: RegExp) {
  return (e: unknown) => {
    assert.ok(isToolError(e, code), `expected ${code}, got ${String(e)}`);
    if (re) assert.match(e.message, re);
    return true;
  };
}

// ---------------------------------------------------------------------------
// key method

Deno.test("AUTH-1: method=key with a plain key file logs in; description names the file", async () => {
  const kdir = await tempDir("sshmcp-keyfile-");
  try {
    const key = await generateKey(kdir, { type: "ed25519" });
    await withEnv({ keys: [key] }, async ({ sshd }) => {
      const prepared = await prepareAuth({
        policy: policy(sshd.user.name, { method: "key", key: key.privatePath }),
        settings: settings(),
        env: {},
      });
      assert.equal(prepared.username, sshd.user.name);
      assert.equal(prepared.methods.length, 1);
      assert.equal(prepared.methods[0]!.type, "publickey");
      assert.match(prepared.description, new RegExp(`key file ${key.privatePath}`));
      const r = await login(sshd, prepared);
      assert.ok(r.ok, r.error);
      assert.equal(r.output, sshd.user.name);
    });
  } finally {
    await Deno.remove(kdir, { recursive: true });
  }
});

Deno.test("AUTH-1: method=key expands ~ in the key path", async () => {
  const home = await tempDir("sshmcp-home-");
  try {
    await Deno.mkdir(`${home}/.ssh`);
    const key = await generateKey(`${home}/.ssh`, { type: "ecdsa", bits: 256, name: "id_test" });
    await withEnv({ keys: [key] }, async ({ sshd }) => {
      const prepared = await prepareAuth({
        policy: policy(sshd.user.name, { method: "key", key: "~/.ssh/id_test" }),
        settings: settings(),
        env: { HOME: home },
      });
      const r = await login(sshd, prepared);
      assert.ok(r.ok, r.error);
    });
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("AUTH-2: encrypted key with passphrase_cmd (`cat <file>`) logs in, OpenSSH and PEM", async () => {
  const kdir = await tempDir("sshmcp-keyfile-");
  try {
    const keys = await Promise.all([
      generateKey(kdir, { type: "ed25519", passphrase: PASS }),
      generateKey(kdir, { type: "ecdsa", bits: 384, passphrase: PASS, format: "pem" }),
      generateKey(kdir, { type: "rsa", bits: 2048, passphrase: PASS, format: "pem" }),
    ]);
    const passFile = `${kdir}/pass.txt`;
    await Deno.writeTextFile(passFile, PASS + "\n");
    await withEnv({ keys }, async ({ sshd }) => {
      const { logger, lines } = capture();
      for (const key of keys) {
        // deno-lint-ignore no-await-in-loop
        const prepared = await prepareAuth({
          policy: policy(sshd.user.name, {
            method: "key",
            key: key.privatePath,
            passphrase_cmd: `cat ${passFile}`,
          }),
          settings: settings(),
          env: {},
          logger,
        });
        assert.ok(!prepared.description.includes(PASS));
        // deno-lint-ignore no-await-in-loop
        const r = await login(sshd, prepared);
        assert.ok(r.ok, `${key.privatePath}: ${r.error}`);
      }
      assert.ok(!lines.join("\n").includes(PASS), "passphrase in the log");
    });
  } finally {
    await Deno.remove(kdir, { recursive: true });
  }
});

Deno.test("AUTH-4: encrypted key with passphrase_secret (secret file, and env when allowed) logs in", async () => {
  const kdir = await tempDir("sshmcp-keyfile-");
  try {
    const key = await generateKey(kdir, { type: "ecdsa", bits: 521, passphrase: PASS });
    const secrets = `${kdir}/secrets`;
    await Deno.mkdir(secrets, { mode: 0o700 });
    await Deno.writeTextFile(`${secrets}/web01_key`, PASS + "\n", { mode: 0o600 });
    await withEnv({ keys: [key] }, async ({ sshd }) => {
      const pol = policy(sshd.user.name, {
        method: "key",
        key: key.privatePath,
        passphrase_secret: "web01_key",
      });
      const fromFile = await prepareAuth({
        policy: pol,
        settings: settings({ SSH_SECRETS_DIR: secrets }),
        env: {},
      });
      assert.ok((await login(sshd, fromFile)).ok);
      const fromEnv = await prepareAuth({
        policy: pol,
        settings: settings({ SSH_SECRETS_DIR: null, ALLOW_ENV_SECRETS: true }),
        env: { SSH_MCP_SECRET_WEB01_KEY: PASS },
      });
      assert.ok((await login(sshd, fromEnv)).ok);
      // AC-132: the variable is ignored unless ALLOW_ENV_SECRETS=true
      await assert.rejects(
        prepareAuth({
          policy: pol,
          settings: settings({ SSH_SECRETS_DIR: null, ALLOW_ENV_SECRETS: false }),
          env: { SSH_MCP_SECRET_WEB01_KEY: PASS },
        }),
        isCode("AuthenticationFailed", /SSH_SECRETS_DIR/),
      );
    });
  } finally {
    await Deno.remove(kdir, { recursive: true });
  }
});

Deno.test("AUTH-3: passphrase_cmd runs only for encrypted keys", async () => {
  const kdir = await tempDir("sshmcp-keyfile-");
  try {
    const key = await generateKey(kdir, { type: "ed25519" });
    const marker = `${kdir}/ran`;
    const prepared = await prepareAuth({
      policy: policy("u", {
        method: "key",
        key: key.privatePath,
        passphrase_cmd: `touch ${marker}; echo x`,
      }),
      settings: settings(),
      env: {},
    });
    assert.equal(prepared.methods.length, 1);
    await assert.rejects(Deno.stat(marker), Deno.errors.NotFound);
  } finally {
    await Deno.remove(kdir, { recursive: true });
  }
});

Deno.test("AUTH-8: wrong passphrase from passphrase_cmd -> AuthenticationFailed naming the key, not the passphrase", async () => {
  const kdir = await tempDir("sshmcp-keyfile-");
  try {
    const key = await generateKey(kdir, { type: "ecdsa", bits: 256, passphrase: PASS });
    await assert.rejects(
      prepareAuth({
        policy: policy("u", {
          method: "key",
          key: key.privatePath,
          passphrase_cmd: "echo WrongPass-9731",
        }),
        settings: settings(),
        env: {},
      }),
      (e: unknown) => {
        isCode("AuthenticationFailed", new RegExp(`wrong passphrase for ${key.privatePath}`))(e);
        assert.ok(!(e as Error).message.includes("WrongPass-9731"));
        return true;
      },
    );
  } finally {
    await Deno.remove(kdir, { recursive: true });
  }
});

Deno.test("AUTH-2: encrypted key without passphrase_cmd / passphrase_secret -> AuthenticationFailed saying so", async () => {
  const kdir = await tempDir("sshmcp-keyfile-");
  try {
    const key = await generateKey(kdir, { type: "rsa", bits: 2048, passphrase: PASS });
    await assert.rejects(
      prepareAuth({
        policy: policy("u", { method: "key", key: key.privatePath }),
        settings: settings(),
        env: {},
      }),
      isCode("AuthenticationFailed", /passphrase_cmd or passphrase_secret/),
    );
  } finally {
    await Deno.remove(kdir, { recursive: true });
  }
});

Deno.test("AUTH-3: failing passphrase_cmd (exit 1, stderr) -> AuthenticationFailed without its output", async () => {
  const kdir = await tempDir("sshmcp-keyfile-");
  try {
    const key = await generateKey(kdir, { type: "ed25519", passphrase: PASS });
    await assert.rejects(
      prepareAuth({
        policy: policy("u", {
          method: "key",
          key: key.privatePath,
          passphrase_cmd: "echo STDOUT-X; echo STDERR-Y >&2; exit 1",
        }),
        settings: settings(),
        env: {},
      }),
      (e: unknown) => {
        isCode("AuthenticationFailed", /passphrase_cmd for host web01: command failed \(exit 1\)/)(
          e,
        );
        const m = (e as Error).message;
        assert.ok(!m.includes("STDOUT-X") && !m.includes("STDERR-Y"));
        return true;
      },
    );
  } finally {
    await Deno.remove(kdir, { recursive: true });
  }
});

Deno.test("AUTH-1: method=key without a key, or with a missing file -> AuthenticationFailed", async () => {
  await assert.rejects(
    prepareAuth({ policy: policy("u", { method: "key" }), settings: settings(), env: {} }),
    isCode("AuthenticationFailed", /no key file is configured/),
  );
  await assert.rejects(
    prepareAuth({
      policy: policy("u", { method: "key", key: "/nonexistent/id_ed25519" }),
      settings: settings(),
      env: {},
    }),
    isCode(
      "AuthenticationFailed",
      /cannot read private key \/nonexistent\/id_ed25519 \(not found\)/,
    ),
  );
});

// ---------------------------------------------------------------------------
// agent method

Deno.test("AUTH-6: listAgentIdentities equals `ssh-add -l -E sha256`; unreachable agent -> AgentFingerprintNotFound", async () => {
  const kdir = await tempDir("sshmcp-keyfile-");
  try {
    const keys = await Promise.all([
      generateKey(kdir, { type: "ed25519" }),
      generateKey(kdir, { type: "rsa", bits: 2048 }),
      generateKey(kdir, { type: "ecdsa", bits: 384 }),
    ]);
    const agent = await startAgent(kdir);
    try {
      for (const k of keys) {
        // deno-lint-ignore no-await-in-loop
        await agent.add(k.privatePath);
      }
      const ids = await listAgentIdentities(agent.socket);
      assert.deepEqual(ids.map((i) => i.fingerprint), await agent.fingerprints());
      assert.deepEqual(ids.map((i) => i.fingerprint), keys.map((k) => k.fingerprint));
      assert.deepEqual(ids.map((i) => i.type), ["ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp384"]);
      assert.ok(ids.every((i, n) => i.comment === keys[n]!.privatePath.split("/").pop()));
    } finally {
      await agent.stop();
    }
    await assert.rejects(
      listAgentIdentities(agent.socket, 1000),
      isCode("AgentFingerprintNotFound", /not reachable/),
    );
  } finally {
    await Deno.remove(kdir, { recursive: true });
  }
});

Deno.test("AUTH-5: pinned agent fingerprint present -> logs in offering only that key (agent holds another key first)", async () => {
  const kdir = await tempDir("sshmcp-keyfile-");
  try {
    const [other, pinned] = await Promise.all([
      generateKey(kdir, { type: "ed25519", name: "other" }),
      generateKey(kdir, { type: "ecdsa", bits: 256, name: "pinned" }),
    ]);
    // both are authorized: if the other key were offered first it would be accepted
    await withEnv({ keys: [other!, pinned!], agent: true }, async ({ sshd, agent }) => {
      await agent!.add(other!.privatePath);
      await agent!.add(pinned!.privatePath);
      const prepared = await prepareAuth({
        policy: policy(sshd.user.name, { identity_fingerprint: pinned!.fingerprint }),
        settings: settings(),
        env: { SSH_AUTH_SOCK: agent!.socket },
      });
      assert.equal(prepared.description, `agent (pinned ${pinned!.fingerprint})`);
      assert.equal(prepared.methods.length, 1);
      const r = await login(sshd, prepared);
      assert.ok(r.ok, r.error);
      const log = await sshd.log();
      assert.match(log, new RegExp(`Accepted publickey .*${escapeRe(pinned!.fingerprint)}`));
      assert.ok(!log.includes(other!.fingerprint), "the unpinned agent key was offered");
    });
  } finally {
    await Deno.remove(kdir, { recursive: true });
  }
});

Deno.test("AUTH-5: pinning a key the server does not accept fails instead of falling back to other agent keys (AC-126)", async () => {
  const kdir = await tempDir("sshmcp-keyfile-");
  try {
    const [authorized, pinned] = await Promise.all([
      generateKey(kdir, { type: "ed25519", name: "authorized" }),
      generateKey(kdir, { type: "ed25519", name: "pinned" }),
    ]);
    await withEnv({ keys: [authorized!], agent: true }, async ({ sshd, agent }) => {
      await agent!.add(authorized!.privatePath);
      await agent!.add(pinned!.privatePath);
      const prepared = await prepareAuth({
        policy: policy(sshd.user.name, { identity_fingerprint: pinned!.fingerprint }),
        settings: settings(),
        env: { SSH_AUTH_SOCK: agent!.socket },
      });
      const r = await login(sshd, prepared);
      assert.ok(!r.ok, "logged in with a key that was not pinned");
      const log = await sshd.log();
      // sshd logs every offered key; only the pinned one appears
      assert.ok(log.includes(pinned!.fingerprint), "sshd log does not show offered keys");
      assert.ok(!log.includes(authorized!.fingerprint), "an unpinned agent key was offered");
    });
  } finally {
    await Deno.remove(kdir, { recursive: true });
  }
});

Deno.test("AUTH-5: pinned agent fingerprint absent from the agent -> AgentFingerprintNotFound (AC-126)", async () => {
  const kdir = await tempDir("sshmcp-keyfile-");
  try {
    const [held, absent] = await Promise.all([
      generateKey(kdir, { type: "ed25519" }),
      generateKey(kdir, { type: "ed25519" }),
    ]);
    const agent = await startAgent(kdir);
    try {
      await agent.add(held!.privatePath);
      await assert.rejects(
        prepareAuth({
          policy: policy("u", {
            identity_fingerprint: absent!.fingerprint,
            identities_only: true,
          }),
          settings: settings(),
          env: { SSH_AUTH_SOCK: agent.socket },
          extraIdentityFiles: [absent!.privatePath],
        }),
        (e: unknown) => {
          isCode("AgentFingerprintNotFound", /not in the ssh-agent/)(e);
          assert.equal(
            (e as { attributes: Record<string, unknown> }).attributes.fingerprint,
            absent!.fingerprint,
          );
          return true;
        },
      );
    } finally {
      await agent.stop();
    }
  } finally {
    await Deno.remove(kdir, { recursive: true });
  }
});

Deno.test("AUTH-5: pinned fingerprint with no agent at all (unset, or socket gone) -> AgentFingerprintNotFound (AC-126)", async () => {
  const kdir = await tempDir("sshmcp-keyfile-");
  try {
    const key = await generateKey(kdir, { type: "ed25519" });
    const pol = policy("u", { identity_fingerprint: key.fingerprint });
    await assert.rejects(
      prepareAuth({ policy: pol, settings: settings(), env: {} }),
      isCode("AgentFingerprintNotFound", /no ssh-agent is configured/),
    );
    await assert.rejects(
      prepareAuth({
        policy: pol,
        settings: settings(),
        env: { SSH_AUTH_SOCK: `${kdir}/gone.sock` },
      }),
      isCode("AgentFingerprintNotFound", /not reachable/),
    );
    await assert.rejects(
      prepareAuth({
        policy: policy("u", {
          identity_fingerprint: key.fingerprint,
          identity_agent: `${kdir}/gone.sock`,
        }),
        settings: settings(),
        env: {},
        extraIdentityFiles: [key.privatePath],
      }),
      isCode("AgentFingerprintNotFound"),
    );
  } finally {
    await Deno.remove(kdir, { recursive: true });
  }
});

Deno.test("AUTH-5: identities_only = true without identity_fingerprint -> AuthenticationFailed (AC-127)", async () => {
  const kdir = await tempDir("sshmcp-keyfile-");
  try {
    const key = await generateKey(kdir, { type: "ed25519" });
    const agent = await startAgent(kdir);
    try {
      await agent.add(key.privatePath);
      await assert.rejects(
        prepareAuth({
          policy: policy("u", { identities_only: true }),
          settings: settings(),
          env: { SSH_AUTH_SOCK: agent.socket },
        }),
        isCode("AuthenticationFailed", /identities_only = true without identity_fingerprint/),
      );
    } finally {
      await agent.stop();
    }
  } finally {
    await Deno.remove(kdir, { recursive: true });
  }
});

Deno.test("AUTH-6: unpinned agent offers all agent keys; identity_agent wins over SSH_AUTH_SOCK", async () => {
  const kdir = await tempDir("sshmcp-keyfile-");
  try {
    const [first, second] = await Promise.all([
      generateKey(kdir, { type: "ed25519" }),
      generateKey(kdir, { type: "rsa", bits: 2048 }),
    ]);
    await withEnv({ keys: [second!], agent: true }, async ({ sshd, agent }) => {
      await agent!.add(first!.privatePath);
      await agent!.add(second!.privatePath);
      const prepared = await prepareAuth({
        policy: policy(sshd.user.name, { identity_agent: agent!.socket }),
        settings: settings(),
        env: { SSH_AUTH_SOCK: `${kdir}/bogus.sock` },
      });
      assert.match(prepared.description, /agent .* \(2 keys\)/);
      const r = await login(sshd, prepared);
      assert.ok(r.ok, r.error);
    });
  } finally {
    await Deno.remove(kdir, { recursive: true });
  }
});

Deno.test("AUTH-6: no agent and no IdentityFile -> AuthenticationFailed naming SSH_AUTH_SOCK / identity_agent; ~/.ssh/id_* is never probed", async () => {
  const home = await tempDir("sshmcp-home-");
  try {
    await Deno.mkdir(`${home}/.ssh`);
    const key = await generateKey(`${home}/.ssh`, { type: "ed25519", name: "id_ed25519" });
    await withEnv({ keys: [key] }, async ({ sshd }) => {
      const pol = policy(sshd.user.name, {});
      await assert.rejects(
        prepareAuth({ policy: pol, settings: settings(), env: { HOME: home } }),
        isCode(
          "AuthenticationFailed",
          /no ssh-agent socket \(set SSH_AUTH_SOCK or auth\.identity_agent\)/,
        ),
      );
      // the same file is used when ssh_config names it as IdentityFile
      const prepared = await prepareAuth({
        policy: pol,
        settings: settings(),
        env: { HOME: home },
        extraIdentityFiles: ["~/.ssh/id_ed25519"],
      });
      assert.match(prepared.description, /identity file .*id_ed25519/);
      const r = await login(sshd, prepared);
      assert.ok(r.ok, r.error);
    });
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("AUTH-6: agent plus IdentityFile: agent keys first, then the files; unusable files are skipped with a WARNING", async () => {
  const kdir = await tempDir("sshmcp-keyfile-");
  try {
    const [inAgent, file, encrypted] = await Promise.all([
      generateKey(kdir, { type: "ed25519" }),
      generateKey(kdir, { type: "ecdsa", bits: 521 }),
      generateKey(kdir, { type: "ed25519", passphrase: PASS }),
    ]);
    await withEnv({ keys: [file!], agent: true }, async ({ sshd, agent }) => {
      await agent!.add(inAgent!.privatePath);
      const { logger, lines } = capture();
      const prepared = await prepareAuth({
        policy: policy(sshd.user.name, {}),
        settings: settings(),
        env: { SSH_AUTH_SOCK: agent!.socket },
        extraIdentityFiles: [`${kdir}/missing`, encrypted!.privatePath, file!.privatePath],
        logger,
      });
      assert.deepEqual(prepared.methods.map((m) => m.type), ["agent", "publickey"]);
      assert.ok(
        lines.some((l) => /WARNING IdentityFile skipped/.test(l) && l.includes("passphrase")),
      );
      const r = await login(sshd, prepared);
      assert.ok(r.ok, r.error);
    });
  } finally {
    await Deno.remove(kdir, { recursive: true });
  }
});

Deno.test("AUTH-6: agent with no keys and no files -> AuthenticationFailed", async () => {
  const kdir = await tempDir("sshmcp-keyfile-");
  try {
    const agent = await startAgent(kdir);
    try {
      await assert.rejects(
        prepareAuth({
          policy: policy("u", {}),
          settings: settings(),
          env: { SSH_AUTH_SOCK: agent.socket },
        }),
        isCode("AuthenticationFailed", /holds no keys/),
      );
    } finally {
      await agent.stop();
    }
  } finally {
    await Deno.remove(kdir, { recursive: true });
  }
});

Deno.test("AUTH-6: resolveAgentSocket order identity_agent -> SSH_AUTH_SOCK -> Windows pipe -> none", () => {
  const env = { SSH_AUTH_SOCK: "/run/agent.sock", HOME: "/home/u", XDG: "/run/user/1" };
  assert.equal(resolveAgentSocket("/x.sock", env), "/x.sock");
  assert.equal(resolveAgentSocket("~/.ssh/agent.sock", env), "/home/u/.ssh/agent.sock");
  assert.equal(resolveAgentSocket("${XDG}/ssh-agent", env), "/run/user/1/ssh-agent");
  assert.equal(resolveAgentSocket("SSH_AUTH_SOCK", env), "/run/agent.sock");
  assert.equal(resolveAgentSocket("none", env), null);
  assert.equal(resolveAgentSocket(null, env), "/run/agent.sock");
  assert.equal(resolveAgentSocket("", env), "/run/agent.sock");
  assert.equal(resolveAgentSocket(null, {}, "linux"), null);
  assert.equal(resolveAgentSocket(null, { SSH_AUTH_SOCK: "" }, "darwin"), null);
  assert.equal(resolveAgentSocket(null, {}, "windows"), WINDOWS_AGENT_PIPE);
  assert.equal(WINDOWS_AGENT_PIPE, "\\\\.\\pipe\\openssh-ssh-agent");
  assert.equal(resolveAgentSocket(null, { SSH_AUTH_SOCK: "/s" }, "windows"), "/s");
});

Deno.test("AUTH-5: the pinned agent object cannot be forwarded (no getStream) and refuses to sign with other keys", async () => {
  const a = pinnedAgent("/nonexistent.sock", "SHA256:abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG");
  assert.equal((a as { getStream?: unknown }).getStream, undefined);
  const kdir = await tempDir("sshmcp-keyfile-");
  try {
    const k = await generateKey(kdir, { type: "ed25519" });
    const other = parsePrivateKey(await Deno.readTextFile(k.privatePath), undefined, "other");
    const err = await new Promise<Error | null | undefined>((resolve) =>
      a.sign(other, Buffer.from("data"), {}, (e) => resolve(e))
    );
    assert.match(String(err), /not offered/);
  } finally {
    await Deno.remove(kdir, { recursive: true });
  }
});

// ---------------------------------------------------------------------------
// password method

Deno.test("AUTH-1: password auth via password_cmd and via password_secret logs in", async () => {
  const password = await testUserPassword();
  // sshd keeps the FIRST value of a keyword and the harness already wrote
  // "PasswordAuthentication no", so re-enable it in a trailing Match block
  const extraConfig = ["Match all", "PasswordAuthentication yes"];
  await withEnv({ extraConfig }, async ({ sshd, dir }) => {
    const secrets = `${dir}/secrets`;
    await Deno.mkdir(secrets, { mode: 0o700 });
    await Deno.writeTextFile(`${secrets}/web01_pw`, password + "\n", { mode: 0o600 });
    await Deno.writeTextFile(`${dir}/pw.txt`, password + "\n", { mode: 0o600 });
    const { logger, lines } = capture();
    const viaCmd = await prepareAuth({
      policy: policy(sshd.user.name, { method: "password", password_cmd: `cat ${dir}/pw.txt` }),
      settings: settings({ ALLOW_PASSWORD_AUTH: true }),
      env: {},
      logger,
    });
    assert.equal(viaCmd.description, "password (password_cmd)");
    assert.deepEqual(viaCmd.methods.map((m) => m.type), ["password"]);
    const r1 = await login(sshd, viaCmd);
    assert.ok(r1.ok, r1.error);
    assert.equal(r1.output, sshd.user.name);

    const viaSecret = await prepareAuth({
      policy: policy(sshd.user.name, { method: "password", password_secret: "web01_pw" }),
      settings: settings({ ALLOW_PASSWORD_AUTH: true, SSH_SECRETS_DIR: secrets }),
      env: {},
      logger,
    });
    assert.equal(viaSecret.description, "password (password_secret web01_pw)");
    const r2 = await login(sshd, viaSecret);
    assert.ok(r2.ok, r2.error);

    const wrong = await prepareAuth({
      policy: policy(sshd.user.name, { method: "password", password_cmd: "echo not-it" }),
      settings: settings({ ALLOW_PASSWORD_AUTH: true }),
      env: {},
      logger,
    });
    const r3 = await login(sshd, wrong);
    assert.ok(!r3.ok);
    assert.ok(!lines.join("\n").includes(password), "password in the log");
    assert.ok(!(await sshd.log()).includes(password));
  });
});

Deno.test("AUTH-1: password method needs ALLOW_PASSWORD_AUTH and password_cmd / password_secret", async () => {
  await assert.rejects(
    prepareAuth({
      policy: policy("u", { method: "password", password_cmd: "echo x" }),
      settings: settings({ ALLOW_PASSWORD_AUTH: false }),
      env: {},
    }),
    isCode("AuthenticationFailed", /ALLOW_PASSWORD_AUTH/),
  );
  await assert.rejects(
    prepareAuth({
      policy: policy("u", { method: "password" }),
      settings: settings({ ALLOW_PASSWORD_AUTH: true }),
      env: {},
    }),
    isCode("AuthenticationFailed", /password_cmd nor password_secret/),
  );
  await assert.rejects(
    prepareAuth({
      policy: policy("u", { method: "password", password_cmd: "printf ''" }),
      settings: settings({ ALLOW_PASSWORD_AUTH: true }),
      env: {},
    }),
    isCode("AuthenticationFailed", /empty password/),
  );
  await assert.rejects(
    prepareAuth({
      policy: policy("u", { method: "password", password_secret: "../../etc/shadow" }),
      settings: settings({ ALLOW_PASSWORD_AUTH: true, SSH_SECRETS_DIR: "/tmp" }),
      env: {},
    }),
    isCode("AuthenticationFailed", /invalid secret name/),
  );
});

Deno.test("AUTH-3: secrets are fetched per call (a changed password_cmd output is picked up)", async () => {
  const dir = await tempDir("sshmcp-auth-");
  try {
    const file = `${dir}/pw`;
    const pol = policy("u", { method: "password", password_cmd: `cat ${file}` });
    const s = settings({ ALLOW_PASSWORD_AUTH: true });
    await Deno.writeTextFile(file, "one\n");
    const a = await prepareAuth({ policy: pol, settings: s, env: {} });
    await Deno.writeTextFile(file, "two\n");
    const b = await prepareAuth({ policy: pol, settings: s, env: {} });
    assert.deepEqual(
      [a.methods[0], b.methods[0]].map((m) => (m as { password: string }).password),
      ["one", "two"],
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}
