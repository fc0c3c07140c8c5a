/**
 * Foundation behaviours that need special set-ups: agent auth end to end,
 * connect timeout against a silent peer, SIGHUP reload, pinned-agent startup
 * warning.
 */

import assert from "node:assert/strict";
import { startAgent } from "../_support/agent.ts";
import { startFleet } from "../_support/fleet.ts";
import { auditLines, startInProcess, startStdio } from "../_support/mcp.ts";
import { generateKey, randomLoopback } from "../_support/sshd.ts";
import { Logger } from "../../src/log.ts";

Deno.test("AUTH-5/AUTH-6 end to end: agent auth with a pinned fingerprint; a wrong pin -> AgentFingerprintNotFound", async () => {
  const fleet = await startFleet(2);
  const agent = await startAgent(fleet.dir);
  try {
    await agent.add(fleet.key.privatePath);
    const other = await generateKey(fleet.dir, { type: "ed25519", name: "not_authorized" });
    await agent.add(other.privatePath);
    const [h1, h2] = fleet.hosts;
    await Deno.writeTextFile(
      fleet.hostsTomlPath,
      [
        `[hosts.h1]\nhostname = "${h1!.sshd.address}"\nport = ${h1!.sshd.port}\nuser = "${
          h1!.sshd.user.name
        }"`,
        `[hosts.h1.auth]\nmethod = "agent"\nidentity_agent = "${agent.socket}"\nidentity_fingerprint = "${fleet.key.fingerprint}"`,
        `[hosts.h2]\nhostname = "${h2!.sshd.address}"\nport = ${h2!.sshd.port}\nuser = "${
          h2!.sshd.user.name
        }"`,
        `[hosts.h2.auth]\nmethod = "agent"\nidentity_agent = "${agent.socket}"\nidentity_fingerprint = "${other.fingerprint}x"`,
      ].join("\n") + "\n",
    );
    const s = await startInProcess(fleet.env());
    try {
      const ok = await s.ok("ssh_host_ping", { host: "h1" });
      assert.equal(ok.auth_ok, true);
      const log = await h1!.sshd.log();
      assert.ok(log.includes(fleet.key.fingerprint), "the pinned key was used");
      assert.ok(!log.includes(other.fingerprint), "only the pinned key was offered");
      const bad = await s.ok("ssh_host_ping", { host: "h2" });
      assert.equal(bad.auth_ok, false);
      assert.match(String(bad.error), /^AgentFingerprintNotFound: /);
    } finally {
      await s.close();
    }
  } finally {
    await agent.stop();
    await fleet.stop();
  }
});

Deno.test("NEW CONFIG §4.4: a pinned agent key missing from the agent gives a startup WARNING naming the host", async () => {
  const fleet = await startFleet(1);
  const agent = await startAgent(fleet.dir);
  try {
    const h = fleet.hosts[0]!;
    await Deno.writeTextFile(
      fleet.hostsTomlPath,
      `[hosts.h1]\nhostname = "${h.sshd.address}"\nuser = "${h.sshd.user.name}"\n[hosts.h1.auth]\nmethod = "agent"\nidentity_agent = "${agent.socket}"\nidentity_fingerprint = "${fleet.key.fingerprint}"\n`,
    );
    const lines: string[] = [];
    const s = await startInProcess(fleet.env(), {
      logger: new Logger({ level: "WARNING", sink: (l) => lines.push(l) }),
    });
    try {
      await s.app.checkPinnedAgentKeys();
      assert.ok(
        lines.some((l) => l.includes("host h1") && l.includes("does not hold the pinned key")),
        lines.join("\n"),
      );
    } finally {
      await s.close();
    }
  } finally {
    await agent.stop();
    await fleet.stop();
  }
});

Deno.test("TIMEOUT-6: a peer that accepts TCP but never speaks SSH fails with ConnectError after SSH_CONNECT_TIMEOUT", async () => {
  // a fault sshd cannot produce: an in-process TCP listener that stays silent
  const address = randomLoopback();
  const listener = Deno.listen({ hostname: address, port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const held: Deno.Conn[] = [];
  (async () => {
    for await (const c of listener) held.push(c);
  })().catch(() => {});
  const fleet = await startFleet(0);
  await Deno.writeTextFile(
    fleet.hostsTomlPath,
    `[hosts.silent]\nhostname = "${address}"\nport = ${port}\nuser = "x"\n[hosts.silent.auth]\nmethod = "key"\nkey = "${fleet.key.privatePath}"\n`,
  );
  await Deno.writeTextFile(fleet.knownHostsPath, `[${address}]:${port} ${fleet.key.publicKey}\n`);
  const s = await startInProcess(fleet.env({ SSH_CONNECT_TIMEOUT: "1" }));
  try {
    const r = await s.ok("ssh_host_ping", { host: "silent" });
    assert.equal(r.reachable, false);
    assert.match(String(r.error), /^ConnectError: .*timed out after 1 s \(SSH_CONNECT_TIMEOUT\)/);
    assert.equal(s.app.pool.size, 0);
  } finally {
    await s.close();
    listener.close();
    for (const c of held) c.close();
  }
});

Deno.test("CONFIG §10: SIGHUP reloads hosts.toml (validate-then-swap) in the running stdio server", async () => {
  const fleet = await startFleet(2);
  const [h1, h2] = fleet.hosts;
  const one = (h: typeof h1) =>
    `[hosts.${h!.alias}]\nhostname = "${h!.sshd.address}"\nuser = "${h!.sshd.user.name}"\nport = ${
      h!.sshd.port
    }\n[hosts.${h!.alias}.auth]\nmethod = "key"\nkey = "${fleet.key.privatePath}"\n`;
  await Deno.writeTextFile(fleet.hostsTomlPath, one(h1));
  const s = await startStdio(fleet.env({ SSH_AUDIT_LOG: "stderr", LOG_LEVEL: "INFO" }));
  try {
    const before = await s.ok<{ count: number }>("ssh_host_list");
    assert.equal(before.count, 1);
    await Deno.writeTextFile(fleet.hostsTomlPath, one(h1) + one(h2));
    const pid = (s.client.transport as unknown as { pid: number | null }).pid!;
    Deno.kill(pid, "SIGHUP");
    let after = before;
    for (let i = 0; i < 50 && after.count !== 2; i++) {
      await new Promise((r) => setTimeout(r, 50));
      after = await s.ok<{ count: number }>("ssh_host_list");
    }
    assert.equal(after.count, 2);
    // an invalid file on SIGHUP keeps the running registry
    await Deno.writeTextFile(fleet.hostsTomlPath, "[hosts.broken\n");
    Deno.kill(pid, "SIGHUP");
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await s.ok<{ count: number }>("ssh_host_list")).count, 2);
    assert.match(s.stderr(), /SIGHUP reload failed; the previous configuration stays active/);
    assert.ok(auditLines(s.stderr()).length >= 3);
  } finally {
    await s.close();
    await fleet.stop();
  }
});

Deno.test("CONFIG §7/AC-114: ssh_config ProxyCommand runs only with ALLOW_SSH_CONFIG_PROXYCOMMAND=true (here: ssh -W through a jump host)", async () => {
  const fleet = await startFleet(2, { sshd: { extraConfig: ["LogLevel DEBUG1"] } });
  const [jump, target] = fleet.hosts;
  const cfgPath = `${fleet.dir}/ssh_config`;
  await Deno.writeTextFile(
    cfgPath,
    `Host ${
      target!.sshd.address
    }\n  ProxyCommand ssh -F /dev/null -o BatchMode=yes -o StrictHostKeyChecking=yes ` +
      `-o UserKnownHostsFile=${fleet.knownHostsPath} -i ${fleet.key.privatePath} -p ${
        jump!.sshd.port
      } ` +
      `-W %h:%p ${jump!.sshd.user.name}@${jump!.sshd.address}\n`,
  );
  const lines: string[] = [];
  const off = await startInProcess(fleet.env({ SSH_CONFIG_FILE: cfgPath }), {
    logger: new Logger({ level: "WARNING", sink: (l) => lines.push(l) }),
  });
  try {
    assert.equal((await off.ok("ssh_host_ping", { host: target!.alias })).auth_ok, true);
    assert.ok(
      lines.some((l) => l.includes("ProxyCommand") && l.includes("ALLOW_SSH_CONFIG_PROXYCOMMAND")),
    );
    assert.ok(
      !(await jump!.sshd.log()).includes("server_request_direct_tcpip"),
      "ignored: direct connection",
    );
  } finally {
    await off.close();
  }
  const on = await startInProcess(
    fleet.env({ SSH_CONFIG_FILE: cfgPath, ALLOW_SSH_CONFIG_PROXYCOMMAND: "true" }),
  );
  try {
    const r = await on.ok("ssh_host_ping", { host: target!.alias });
    assert.equal(r.auth_ok, true);
    assert.equal(r.known_host_fingerprint, target!.sshd.hostKeys[0]!.fingerprint);
    assert.match(await jump!.sshd.log(), /server_request_direct_tcpip: .*target/);
  } finally {
    await on.close();
    await fleet.stop();
  }
});

Deno.test("CONFIG §7: ssh_config IdentityAgent + IdentitiesOnly + ConnectTimeout apply when hosts.toml is silent", async () => {
  const fleet = await startFleet(1);
  const agent = await startAgent(fleet.dir);
  const h = fleet.hosts[0]!;
  try {
    const decoy = await generateKey(fleet.dir, { type: "ed25519", name: "decoy" });
    await agent.add(decoy.privatePath);
    await agent.add(fleet.key.privatePath);
    const cfgPath = `${fleet.dir}/ssh_config`;
    await Deno.writeTextFile(
      cfgPath,
      `Host ${h.sshd.address}\n  IdentityAgent ${agent.socket}\n  IdentitiesOnly yes\n  IdentityFile ${fleet.key.privatePath}\n  ConnectTimeout 7\n`,
    );
    await Deno.writeTextFile(
      fleet.hostsTomlPath,
      `[hosts.h1]\nhostname = "${h.sshd.address}"\nport = ${h.sshd.port}\nuser = "${h.sshd.user.name}"\n[hosts.h1.auth]\nmethod = "agent"\n`,
    );
    const s = await startInProcess(
      fleet.env({ SSH_CONFIG_FILE: cfgPath, SSH_AUTH_SOCK: "/nonexistent" }),
    );
    try {
      assert.equal((await s.ok("ssh_host_ping", { host: "h1" })).auth_ok, true);
      const log = await h.sshd.log();
      assert.ok(log.includes(fleet.key.fingerprint));
      assert.ok(
        !log.includes(decoy.fingerprint),
        "IdentitiesOnly: the decoy agent key was never offered",
      );
    } finally {
      await s.close();
    }
  } finally {
    await agent.stop();
    await fleet.stop();
  }
});

Deno.test("stdio server exits when its client goes away (stdin EOF)", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", "-A", new URL("../../main.ts", import.meta.url).pathname, "serve"],
    env: { SSH_MCP_DISABLE_DOTENV: "1", SSH_HOST_NOTES_DIR: "", SSH_AUDIT_LOG: "off" },
    stdin: "piped",
    stdout: "null",
    stderr: "null",
  }).spawn();
  await new Promise((r) => setTimeout(r, 1500));
  await child.stdin.close();
  const killer = setTimeout(() => child.kill("SIGKILL"), 10_000);
  const status = await child.status;
  clearTimeout(killer);
  assert.equal(status.signal, null, "exited on its own, not killed");
  assert.equal(status.code, 0);
});
