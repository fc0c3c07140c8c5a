/**
 * `ssh-mcp serve-ssh` with the real OpenSSH client as the peer: an MCP
 * session over `ssh -s mcp` and over `exec`, the same tools as on stdio, the
 * connecting key as the audit principal, refused keys and passwords,
 * revocation by editing authorized_keys, the loopback rule, the idle timeout
 * and the refused channel kinds.
 */

import assert from "node:assert/strict";
// @ts-types="../../node_modules/@modelcontextprotocol/sdk/dist/esm/client/stdio.d.ts"
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
// @ts-types="npm:@types/ssh2@1.15.5"
import ssh2 from "ssh2";
import { runServeSsh } from "../../src/serve_ssh.ts";
import { startFleet } from "../_support/fleet.ts";
import { generateKey, type KeyPair, tempDir } from "../_support/sshd.ts";
import {
  auditLines,
  baseEnv,
  type CallToolResult,
  Client,
  ROOT,
  START_PERMS,
  startStdio,
} from "../_support/mcp.ts";

const dec = new TextDecoder();

/** Keys and files of one test. */
interface Setup {
  dir: string;
  hostKey: KeyPair;
  client: KeyPair;
  stranger: KeyPair;
  authorizedKeys: string;
}

async function setup(): Promise<Setup> {
  const dir = await tempDir("sshmcp-serve-ssh-");
  const [hostKey, client, stranger] = await Promise.all([
    generateKey(dir, { type: "ed25519", name: "host_ed25519" }),
    generateKey(dir, { type: "ed25519", name: "client_ed25519" }),
    generateKey(dir, { type: "ed25519", name: "stranger_ed25519" }),
  ]);
  const authorizedKeys = `${dir}/authorized_keys`;
  await Deno.writeTextFile(authorizedKeys, client.publicLine + "\n");
  await Deno.chmod(authorizedKeys, 0o644);
  return { dir, hostKey, client, stranger, authorizedKeys };
}

/** known_hosts pinning the server's host key on 127.0.0.1:port. */
async function knownHosts(s: Setup, port: number): Promise<string> {
  const path = `${s.dir}/known_hosts_${port}`;
  await Deno.writeTextFile(path, `[127.0.0.1]:${port} ${s.hostKey.publicKey}\n`);
  return path;
}

/** OpenSSH client arguments: strict host key checking, only `key`, no config, no agent. */
function sshArgs(
  port: number,
  key: string,
  kh: string,
  tail: string[] = [],
  opts: string[] = [],
): string[] {
  return [
    "-F",
    "/dev/null",
    "-T",
    "-o",
    "StrictHostKeyChecking=yes",
    "-o",
    `UserKnownHostsFile=${kh}`,
    "-o",
    "GlobalKnownHostsFile=/dev/null",
    "-o",
    "IdentitiesOnly=yes",
    "-o",
    "IdentityAgent=none",
    "-o",
    "BatchMode=yes",
    "-o",
    "ConnectTimeout=10",
    "-i",
    key,
    "-p",
    String(port),
    ...opts,
    "agent@127.0.0.1",
    ...tail,
  ];
}

/** Runs `ssh` to completion with `stdin` text; returns code, stdout, stderr. */
async function sshRun(args: string[], stdin = "", timeoutMs = 20_000) {
  const p = new Deno.Command("ssh", {
    args,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = p.stdin.getWriter();
  await w.write(new TextEncoder().encode(stdin)).catch(() => {});
  await w.close().catch(() => {});
  const timer = setTimeout(() => p.kill("SIGKILL"), timeoutMs);
  const out = await p.output();
  clearTimeout(timer);
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

const INITIALIZE = JSON.stringify({
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: {
    protocolVersion: "2025-06-18",
    capabilities: {},
    clientInfo: { name: "serve-ssh-test", version: "1" },
  },
}) + "\n";

/** A 1.32 SDK client whose stdio transport is `ssh ...`. */
async function mcpOverSsh(args: string[]) {
  const transport = new StdioClientTransport({ command: "ssh", args, stderr: "pipe" });
  let stderr = "";
  transport.stderr?.on("data", (d: Uint8Array) => (stderr += dec.decode(d)));
  const client = new Client({ name: "serve-ssh-test", version: "1.0.0" });
  try {
    await client.connect(transport);
  } catch (e) {
    throw new Error(`MCP over ssh failed: ${(e as Error).message}; ssh stderr: ${stderr}`);
  }
  return { client, stderr: () => stderr };
}

function okResult(r: CallToolResult): Record<string, unknown> {
  if (r.isError) {
    throw new Error(r.content.map((c) => (c.type === "text" ? c.text : "")).join(""));
  }
  assert.ok(r.structuredContent, "structuredContent");
  return r.structuredContent as Record<string, unknown>;
}

/** `deno run main.ts serve-ssh ...` as users run it; resolves once it listens. */
async function spawnServeSsh(args: string[], env: Record<string, string>) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", ...START_PERMS, `${ROOT}main.ts`, "serve-ssh", ...args],
    env,
    clearEnv: true,
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let stdout = "";
  let stderr = "";
  const pump = async (s: ReadableStream<Uint8Array>, add: (t: string) => void) => {
    for await (const c of s) add(dec.decode(c, { stream: true }));
  };
  const pumps = Promise.all([
    pump(child.stdout, (t) => (stdout += t)),
    pump(child.stderr, (t) => (stderr += t)),
  ]);
  const deadline = Date.now() + 60_000;
  let port = 0;
  while (!port) {
    const m = /listening on 127\.0\.0\.1:(\d+)/.exec(stdout);
    if (m) port = Number(m[1]);
    else if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`serve-ssh did not start; stderr: ${stderr}`);
    } else await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port,
    stdout: () => stdout,
    stderr: () => stderr,
    /** SIGTERM; resolves to the exit code */
    async stop(): Promise<number> {
      child.kill("SIGTERM");
      const st = await child.status;
      await pumps;
      return st.code;
    },
  };
}

/** `runServeSsh` in this process with an AbortController. */
async function inProcess(args: string[], env: Record<string, string>) {
  const out: string[] = [];
  const err: string[] = [];
  const ac = new AbortController();
  const listening = Promise.withResolvers<number>();
  const done = runServeSsh(args, { out: (t) => out.push(t), err: (t) => err.push(t) }, {
    env,
    signal: ac.signal,
    onListen: ({ port }) => listening.resolve(port),
  });
  const port = await Promise.race([listening.promise, done.then((code) => -code)]);
  if (port <= 0) throw new Error(`serve-ssh exited ${-port}: ${err.join("\n")}`);
  return {
    port,
    out,
    err,
    async stop(): Promise<number> {
      ac.abort();
      return await done;
    },
  };
}

Deno.test("serve-ssh: an MCP session over `ssh -s mcp` and over exec, same tools as stdio, key fingerprint as audit principal; refused keys, passwords and revoked keys", async () => {
  const s = await setup();
  const fleet = await startFleet(1);
  const auditPath = `${s.dir}/audit.log`;
  const env = fleet.env({ SSH_AUDIT_LOG: auditPath, LOG_LEVEL: "INFO" });
  const server = await spawnServeSsh([
    "--host-key",
    s.hostKey.privatePath,
    "--authorized-keys",
    s.authorizedKeys,
    "--listen",
    "127.0.0.1:0",
  ], env);
  try {
    const kh = await knownHosts(s, server.port);

    // (1) subsystem mcp, driven by the 1.32 SDK client
    const viaSsh = await mcpOverSsh(sshArgs(server.port, s.client.privatePath, kh, ["-s", "mcp"]));
    const sshTools = (await viaSsh.client.listTools()).tools;
    const stdio = await startStdio({ ...env, SSH_AUDIT_LOG: "off", LOG_LEVEL: "ERROR" });
    try {
      const stdioTools = (await stdio.client.listTools()).tools;
      assert.ok(sshTools.length > 10, `only ${sshTools.length} tools over SSH`);
      assert.deepEqual(sshTools, stdioTools, "serve-ssh lists exactly what stdio lists");
    } finally {
      await stdio.close();
    }
    const info = okResult(
      await viaSsh.client.callTool({
        name: "ssh_user_info",
        arguments: { host: "h1" },
      }) as CallToolResult,
    );
    assert.equal(info.username, fleet.hosts[0]!.sshd.user.name, JSON.stringify(info));
    // a tier that is off stays off over SSH: the hidden tool does not exist (TIER-5)
    await assert.rejects(
      viaSsh.client.callTool({ name: "ssh_exec_run", arguments: { host: "h1", command: "id" } }),
      /ssh_exec_run not found/,
    );
    await viaSsh.client.close();

    // (4) exec of any command is an MCP session too
    const viaExec = await mcpOverSsh(
      sshArgs(server.port, s.client.privatePath, kh, ["please", "serve", "mcp"]),
    );
    assert.deepEqual((await viaExec.client.listTools()).tools, sshTools);
    okResult(
      await viaExec.client.callTool({
        name: "ssh_user_info",
        arguments: { host: "h1" },
      }) as CallToolResult,
    );
    await viaExec.client.close();

    // audit lines of the calls name the connecting key
    const principal = `ssh-key:${s.client.fingerprint}`;
    const calls = auditLines(await Deno.readTextFile(auditPath)).filter((l) =>
      l.tool === "ssh_user_info"
    );
    assert.ok(calls.length >= 2, `audit lines: ${JSON.stringify(calls)}`);
    for (const l of calls) assert.equal(l.principal, principal, JSON.stringify(l));
    // one INFO line per connection with the client address and the fingerprint
    const connected = server.stderr().split("\n").filter((l) =>
      l.includes("INFO SSH client connected")
    );
    assert.equal(connected.length, 2, server.stderr());
    for (const l of connected) {
      assert.match(l, /client=127\.0\.0\.1:\d+/);
      assert.ok(l.includes(`fingerprint=${s.client.fingerprint}`), l);
    }
    // the exec command text is never logged, only its hash
    assert.ok(!server.stderr().includes("please serve"), "exec command text in the log");
    assert.match(
      server.stderr(),
      /MCP session over SSH .*kind=exec command_hash=sha256:[0-9a-f]{16}/,
    );

    // (2) a key that is not in authorized_keys: refused, no MCP answer
    const stranger = await sshRun(
      sshArgs(server.port, s.stranger.privatePath, kh, ["-s", "mcp"]),
      INITIALIZE,
    );
    assert.notEqual(stranger.code, 0);
    assert.equal(stranger.stdout, "");
    assert.match(stranger.stderr, /Permission denied \(publickey\)/);

    // (3) password authentication is not offered, let alone accepted
    const password = await sshRun(
      sshArgs(server.port, s.client.privatePath, kh, ["-s", "mcp"], [
        "-o",
        "PreferredAuthentications=password",
        "-o",
        "PubkeyAuthentication=no",
      ]),
      INITIALIZE,
    );
    assert.notEqual(password.code, 0);
    assert.equal(password.stdout, "");
    assert.match(password.stderr, /Permission denied \(publickey\)/);

    // (6) removing the key from authorized_keys refuses the next connection, no restart
    await Deno.writeTextFile(s.authorizedKeys, `# revoked\n${s.stranger.publicLine}\n`);
    const revoked = await sshRun(
      sshArgs(server.port, s.client.privatePath, kh, ["-s", "mcp"]),
      INITIALIZE,
    );
    assert.notEqual(revoked.code, 0, "the revoked key still logs in");
    assert.equal(revoked.stdout, "");
    assert.match(revoked.stderr, /Permission denied \(publickey\)/);
    // ... and the newly added key works at once; requests written before the client's
    // EOF are all answered before the session ends (`printf ... | ssh host -s mcp`)
    const added = await sshRun(
      sshArgs(server.port, s.stranger.privatePath, kh, ["-s", "mcp"]),
      INITIALIZE + JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }) +
        "\n" + JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/list" }) + "\n" +
        JSON.stringify({
          jsonrpc: "2.0",
          id: 3,
          method: "tools/call",
          params: { name: "ssh_user_info", arguments: { host: "h1" } },
        }) + "\n",
    );
    assert.equal(added.code, 0, added.stderr);
    const answers = added.stdout.trim().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(answers.map((a) => a.id).sort(), [1, 2, 3], added.stdout);
    answers.sort((x, y) => x.id - y.id);
    assert.equal(answers[2].result.isError, undefined, added.stdout);
    assert.equal(answers[2].result.structuredContent.username, fleet.hosts[0]!.sshd.user.name);
    const strangerCall = auditLines(await Deno.readTextFile(auditPath)).filter((l) =>
      l.tool === "ssh_user_info" && l.principal === `ssh-key:${s.stranger.fingerprint}`
    );
    assert.equal(strangerCall.length, 1, "the second key is its own principal");

    assert.equal(await server.stop(), 0, server.stderr());
    assert.match(server.stderr(), /authorized_keys reloaded/);
  } finally {
    await server.stop().catch(() => {});
    await fleet.stop();
  }
});

Deno.test("serve-ssh: a non-loopback listen address needs --allow-remote; bad host keys and arguments are refused", async () => {
  const s = await setup();
  const env = baseEnv({ SSH_HOSTS_FILE: `${s.dir}/none.toml` });
  const run = async (args: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runServeSsh(args, { out: (t) => out.push(t), err: (t) => err.push(t) }, {
      env,
    });
    return { code, out: out.join("\n"), err: err.join("\n") };
  };
  const keys = ["--host-key", s.hostKey.privatePath, "--authorized-keys", s.authorizedKeys];

  // (5)
  const remote = await run([...keys, "--listen", "0.0.0.0:0"]);
  assert.equal(remote.code, 3, remote.err);
  assert.match(remote.err, /0\.0\.0\.0:0 is not a loopback address/);
  assert.match(remote.err, /--allow-remote/);

  const missing = await run([
    "--host-key",
    `${s.dir}/nope`,
    "--authorized-keys",
    s.authorizedKeys,
  ]);
  assert.equal(missing.code, 3);
  assert.match(missing.err, /does not exist\. Create one with: ssh-keygen -t ed25519/);

  await Deno.chmod(s.hostKey.privatePath, 0o644);
  const open = await run(keys);
  assert.equal(open.code, 3);
  assert.match(open.err, /accessible by group or others \(mode 0644\).*chmod 600/);
  await Deno.chmod(s.hostKey.privatePath, 0o600);

  const noAuthKeys = await run([
    "--host-key",
    s.hostKey.privatePath,
    "--authorized-keys",
    "/nonexistent/ak",
  ]);
  assert.equal(noAuthKeys.code, 3);
  assert.match(noAuthKeys.err, /authorized_keys file \/nonexistent\/ak does not exist/);

  assert.equal((await run(["--authorized-keys", s.authorizedKeys])).code, 2);
  assert.equal((await run([...keys, "--listen", "nowhere"])).code, 2);
  assert.equal((await run([...keys, "--idle-timeout", "soon"])).code, 2);
  assert.equal((await run([...keys, "--bogus"])).code, 2);
});

Deno.test("serve-ssh: idle connections are closed; options lines are skipped with a warning; pty, other subsystems, forwarding and passwords are refused", async () => {
  const s = await setup();
  // an options line first: skipped with a warning naming it, the plain line still works
  await Deno.writeTextFile(
    s.authorizedKeys,
    `no-pty,command="/bin/false" ${s.stranger.publicLine}\n${s.client.publicLine}\n`,
  );
  const env = baseEnv({ SSH_HOSTS_FILE: `${s.dir}/none.toml`, LOG_LEVEL: "WARNING" });
  const server = await inProcess([
    "--host-key",
    s.hostKey.privatePath,
    "--authorized-keys",
    s.authorizedKeys,
    "--listen",
    "127.0.0.1:0",
    "--idle-timeout",
    "2",
  ], env);
  try {
    const kh = await knownHosts(s, server.port);

    // the key of the options line is not accepted
    const optioned = await sshRun(
      sshArgs(server.port, s.stranger.privatePath, kh, ["-s", "mcp"]),
      INITIALIZE,
    );
    assert.notEqual(optioned.code, 0);
    assert.match(optioned.stderr, /Permission denied \(publickey\)/);

    // (7) idle: a session that sends nothing is disconnected after ~2 s
    const t0 = Date.now();
    const idle = new Deno.Command("ssh", {
      args: sshArgs(server.port, s.client.privatePath, kh, ["-s", "mcp"]),
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const w = idle.stdin.getWriter(); // held open: the client is silent, not gone
    const killer = setTimeout(() => idle.kill("SIGKILL"), 15_000);
    const res = await idle.output().catch(() => null);
    clearTimeout(killer);
    await w.close().catch(() => {});
    const took = Date.now() - t0;
    assert.ok(res, "ssh output");
    assert.ok(took >= 1500, `disconnected after ${took} ms, before the idle timeout`);
    assert.ok(took < 12_000, `still connected after ${took} ms`);
    assert.equal(dec.decode(res.stdout), "");

    // an active session answers (and is not cut while it talks)
    const active = await sshRun(
      sshArgs(server.port, s.client.privatePath, kh, ["-s", "mcp"]),
      INITIALIZE,
    );
    assert.equal(active.code, 0, active.stderr);
    assert.equal(JSON.parse(active.stdout.split("\n")[0]!).id, 1);

    // a pty is refused (the MCP session still runs: ssh continues without one)
    const pty = await sshRun(
      sshArgs(server.port, s.client.privatePath, kh, ["-s", "mcp"], ["-tt"]).filter((a) =>
        a !== "-T"
      ),
      INITIALIZE,
    );
    assert.match(pty.stderr, /PTY allocation request failed/);

    // any other subsystem is refused
    const sftp = await sshRun(
      sshArgs(server.port, s.client.privatePath, kh, ["-s", "sftp"]),
      "",
    );
    assert.notEqual(sftp.code, 0);
    assert.match(sftp.stderr, /subsystem request failed/);

    // stdio forwarding (direct-tcpip) is refused
    const fwd = await sshRun(
      sshArgs(server.port, s.client.privatePath, kh, [], ["-W", "127.0.0.1:9"]),
      "",
    );
    assert.notEqual(fwd.code, 0);
    assert.match(fwd.stderr, /open failed|administratively prohibited/i);

    // password and keyboard-interactive, tried directly with ssh2's client
    const pwErr = await new Promise<Error | null>((resolve) => {
      const c = new ssh2.Client();
      c.on("ready", () => {
        c.end();
        resolve(null);
      });
      c.on("error", (e: Error) => resolve(e));
      c.connect({
        host: "127.0.0.1",
        port: server.port,
        username: "agent",
        password: "hunter2",
        tryKeyboard: true,
        hostVerifier: () => true,
        readyTimeout: 10_000,
      });
    });
    assert.ok(pwErr, "password authentication succeeded");
    assert.match(pwErr.message, /authentication methods failed/);
  } finally {
    assert.equal(await server.stop(), 0);
  }
});
