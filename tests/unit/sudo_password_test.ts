/**
 * Sudo password sources (SECURITY.md SUDO-2, AC-603..605): order, skipping of
 * failing sources with a WARNING (never the secret), keyring via a CLI found on
 * PATH, SSH_SUDO_PASSWORD never read.
 */

import assert from "node:assert/strict";
import type { HostPolicy, Settings } from "../../src/config/types.ts";
import { ToolError } from "../../src/errors.ts";
import { Logger } from "../../src/log.ts";
import {
  keyringCommand,
  type PasswordDeps,
  realPasswordDeps,
  resolveSudoPassword,
} from "../../src/sudo/password.ts";
import { parseSettings } from "../../src/config/settings.ts";

function policy(extra: Partial<HostPolicy> = {}): HostPolicy {
  return {
    alias: "web1",
    sudo_password_cmd: null,
    sudo_password_secret: null,
    ...extra,
  } as HostPolicy;
}

function settings(extra: Record<string, string> = {}): Settings {
  return parseSettings(extra, { cwd: "/" }).settings;
}

function capture(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  return { logger: new Logger({ level: "DEBUG", sink: (l) => lines.push(l) }), lines };
}

function deps(over: Partial<PasswordDeps> & { calls?: string[] } = {}): PasswordDeps {
  const calls = over.calls ?? [];
  return {
    runCommand: over.runCommand ?? ((cmd) => {
      calls.push(`cmd:${cmd}`);
      return Promise.resolve(`pw-from-${cmd}`);
    }),
    readSecret: over.readSecret ?? ((name) => {
      calls.push(`secret:${name}`);
      return Promise.resolve(`pw-from-secret-${name}`);
    }),
    keyring: over.keyring ?? ((acct) => {
      calls.push(`keyring:${acct}`);
      return Promise.resolve(null);
    }),
  };
}

Deno.test("SUDO-2/AC-603: per-host cmd -> per-host secret -> keyring alias -> SSH_SUDO_PASSWORD_CMD -> keyring default", async () => {
  const { logger } = capture();
  const s = settings({ SSH_SUDO_PASSWORD_CMD: "global-cmd" });
  const calls: string[] = [];
  const all = policy({ sudo_password_cmd: "host-cmd", sudo_password_secret: "hostsecret" });
  assert.deepEqual(
    await resolveSudoPassword(all, s, deps({ calls }), logger),
    { value: "pw-from-host-cmd", source: "sudo_password_cmd" },
  );
  assert.deepEqual(calls, ["cmd:host-cmd"], "fetched once, later sources untouched");
  const r2 = await resolveSudoPassword(
    policy({ sudo_password_secret: "hostsecret" }),
    s,
    deps(),
    logger,
  );
  assert.equal(r2.source, "sudo_password_secret");
  // AC-603: a per-host keyring entry wins over SSH_SUDO_PASSWORD_CMD
  const r3 = await resolveSudoPassword(
    policy(),
    s,
    deps({
      keyring: (a) => Promise.resolve(a === "web1" ? "kr-web1" : "kr-default"),
    }),
    logger,
  );
  assert.deepEqual(r3, { value: "kr-web1", source: "keyring:alias" });
  const r4 = await resolveSudoPassword(policy(), s, deps(), logger);
  assert.deepEqual(r4, { value: "pw-from-global-cmd", source: "SSH_SUDO_PASSWORD_CMD" });
  const r5 = await resolveSudoPassword(
    policy(),
    settings(),
    deps({
      keyring: (a) => Promise.resolve(a === "default" ? "kr-default" : null),
    }),
    logger,
  );
  assert.deepEqual(r5, { value: "kr-default", source: "keyring:default" });
  const none = await resolveSudoPassword(policy(), settings(), deps(), logger);
  assert.deepEqual(none, { value: null, source: null });
});

Deno.test("AC-604: a failing / timed-out / empty source is skipped with a WARNING naming the source, never the secret", async () => {
  const { logger, lines } = capture();
  const s = settings({ SSH_SUDO_PASSWORD_CMD: "global-cmd" });
  const r = await resolveSudoPassword(
    policy({ sudo_password_cmd: "host-cmd", sudo_password_secret: "missing" }),
    s,
    deps({
      runCommand: (cmd) =>
        cmd === "host-cmd"
          ? Promise.reject(
            new ToolError(
              "AuthenticationFailed",
              "sudo_password_cmd: command timed out after 10 s",
            ),
          )
          : Promise.resolve("right-one"),
      readSecret: () => Promise.resolve(""),
    }),
    logger,
  );
  assert.deepEqual(r, { value: "right-one", source: "SSH_SUDO_PASSWORD_CMD" });
  const warnings = lines.filter((l) => l.includes("WARNING"));
  assert.equal(warnings.length, 2);
  assert.match(warnings[0]!, /source=sudo_password_cmd/);
  assert.match(warnings[1]!, /source=sudo_password_secret/);
  assert.ok(!lines.join("\n").includes("right-one"));
});

Deno.test("AC-604: real command source: a non-zero exit is skipped; stdout loses exactly one newline", async () => {
  const { logger } = capture();
  const s = settings({ SSH_SUDO_PASSWORD_CMD: "printf 'pw\\n'" });
  const d = realPasswordDeps({ settings: s, env: { PATH: "" }, logger });
  const r = await resolveSudoPassword(policy({ sudo_password_cmd: "exit 3" }), s, d, logger);
  assert.deepEqual(r, { value: "pw", source: "SSH_SUDO_PASSWORD_CMD" });
  // a value with a line break would turn its tail into command input: skipped
  const two = settings({ SSH_SUDO_PASSWORD_CMD: "printf 'pw\\nrm -rf /\\n'" });
  const d2 = realPasswordDeps({ settings: two, env: { PATH: "" }, logger });
  assert.deepEqual(await resolveSudoPassword(policy(), two, d2, logger), {
    value: null,
    source: null,
  });
});

Deno.test("AC-605: SSH_SUDO_PASSWORD in the process environment is never read by the fetch path", async () => {
  const { logger } = capture();
  Deno.env.set("SSH_SUDO_PASSWORD", "must-not-be-used");
  try {
    const s = settings();
    const d = realPasswordDeps({ settings: s, env: { PATH: "" }, logger });
    assert.deepEqual(await resolveSudoPassword(policy(), s, d, logger), {
      value: null,
      source: null,
    });
  } finally {
    Deno.env.delete("SSH_SUDO_PASSWORD");
  }
  // and it is fatal at startup (AUTH-7), whatever ALLOW_SUDO says
  assert.throws(() => parseSettings({ SSH_SUDO_PASSWORD: "x" }, { cwd: "/" }));
});

Deno.test("keyring: the platform CLI found on PATH, account quoted; missing CLI = source skipped", async () => {
  const dir = await Deno.makeTempDir();
  try {
    assert.equal(await keyringCommand("web1", dir, "linux"), null);
    const tool = `${dir}/secret-tool`;
    await Deno.writeTextFile(
      tool,
      `#!/bin/sh\n[ "$1 $2 $3 $4 $5" = "lookup service ssh-mcp-sudo user web1" ] && printf 'kr-pw\\n' && exit 0\nexit 1\n`,
    );
    await Deno.chmod(tool, 0o755);
    assert.equal(
      await keyringCommand("it's", dir, "linux"),
      `${tool} lookup service ssh-mcp-sudo user 'it'"'"'s'`,
    );
    const { logger } = capture();
    const s = settings();
    const d = realPasswordDeps({ settings: s, env: { PATH: dir }, logger });
    assert.equal(await d.keyring("web1"), "kr-pw");
    assert.equal(await d.keyring("other"), null, "no entry -> skipped");
    assert.deepEqual(await resolveSudoPassword(policy(), s, d, logger), {
      value: "kr-pw",
      source: "keyring:alias",
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
