/**
 * `ssh-mcp bridge` end to end, real parts only: a real OpenSSH sshd whose
 * subsystems run this project's own server (`main.ts serve`), the reference
 * filesystem MCP server from npm (`@modelcontextprotocol/server-filesystem`
 * on Node 20) and a small crashing server; a real MCP client (the 1.32 SDK's
 * `Client` over `StdioClientTransport`) spawning `deno run main.ts bridge`.
 */

import assert from "node:assert/strict";
import { Client } from "@modelcontextprotocol/sdk/client";
// @ts-types="../../node_modules/@modelcontextprotocol/sdk/dist/esm/client/stdio.d.ts"
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { generateKey, mustRun, type SshdInstance, startSshd, tempDir } from "../_support/sshd.ts";
import { ROOT, START_PERMS } from "../_support/mcp.ts";
import { filesystemServer } from "../_support/mcp_peers.ts";

const DENO = Deno.execPath();

/** A tiny MCP server on stdio that crashes on `crash` and answers `huge` with 17 MiB. */
const CRASHY = `
const rl = require("readline").createInterface({ input: process.stdin });
const reply = (id, result) => process.stdout.write(JSON.stringify({ jsonrpc: "2.0", id, result }) + "\\n");
const tool = (name) => ({ name, inputSchema: { type: "object" } });
rl.on("line", (l) => {
  const m = JSON.parse(l);
  if (m.method === "initialize") {
    reply(m.id, { protocolVersion: m.params.protocolVersion, capabilities: { tools: {} },
      serverInfo: { name: "crashy", version: "1" } });
  } else if (m.method === "tools/list") {
    reply(m.id, { tools: [tool("echo"), tool("crash"), tool("huge")] });
  } else if (m.method === "tools/call" && m.params.name === "crash") {
    process.stderr.write("crashy: crashing on purpose\\n");
    process.exit(3);
  } else if (m.method === "tools/call" && m.params.name === "huge") {
    reply(m.id, { content: [{ type: "text", text: "x".repeat(17 * 1024 * 1024) }] });
  } else if (m.method === "tools/call") {
    reply(m.id, { content: [{ type: "text", text: "pid " + process.pid }] });
  } else if (m.id !== undefined) {
    reply(m.id, {});
  }
});
`;

function bridgeEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
    HOME: Deno.env.get("HOME") ?? "/root",
    SSH_MCP_DISABLE_DOTENV: "1",
    SSH_HOSTS_FILE: "/nonexistent",
    ...(Deno.env.get("DENO_DIR") ? { DENO_DIR: Deno.env.get("DENO_DIR")! } : {}),
    ...extra,
  };
}

function bridgeArgs(args: string[]): string[] {
  return ["run", "--quiet", ...START_PERMS, `${ROOT}main.ts`, "bridge", ...args];
}

interface Bridged {
  client: Client;
  stderr(): string;
  close(): Promise<void>;
}

/** A 1.32 SDK client whose server is `ssh-mcp bridge ARGS`. */
async function connectBridge(args: string[], env: Record<string, string> = {}): Promise<Bridged> {
  const transport = new StdioClientTransport({
    command: DENO,
    args: bridgeArgs(args),
    env: bridgeEnv(env),
    cwd: ROOT,
    stderr: "pipe",
  });
  let err = "";
  const dec = new TextDecoder();
  transport.stderr?.on("data", (d: Uint8Array) => (err += dec.decode(d)));
  const client = new Client({ name: "bridge-test", version: "1" });
  try {
    await client.connect(transport);
  } catch (e) {
    throw new Error(`bridge did not come up: ${(e as Error).message}\nstderr:\n${err}`);
  }
  return { client, stderr: () => err, close: () => client.close() };
}

/** Runs the bridge with stdin closed after `input` and returns its exit code and stderr. */
async function runBridgeProcess(
  args: string[],
  env: Record<string, string> = {},
  input = "",
): Promise<{ code: number; stdout: string; stderr: string }> {
  const p = new Deno.Command(DENO, {
    args: bridgeArgs(args),
    env: bridgeEnv(env),
    clearEnv: true,
    cwd: ROOT,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = p.stdin.getWriter();
  await w.write(new TextEncoder().encode(input));
  await w.close().catch(() => {});
  const out = await p.output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

async function timeCalls(n: number, call: () => Promise<unknown>): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    // sequential round trips by design
    // deno-lint-ignore no-await-in-loop
    await call();
    times.push(performance.now() - t0);
  }
  return median(times);
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

Deno.test("ssh-mcp bridge: real MCP servers behind a real sshd, strict host keys, caps, crash and reconnect, key generation", async (t) => {
  const fsEntry = await filesystemServer(); // fails naming the npm command when it cannot install
  const dir = await tempDir("sshmcp-bridge-");
  const data = await tempDir("sshmcp-bridge-data-");
  await Deno.writeTextFile(`${data}/hello.txt`, "hello through the bridge\n");
  await Deno.chmod(`${data}/hello.txt`, 0o644);

  const serve = `${dir}/serve.sh`;
  await Deno.writeTextFile(
    serve,
    [
      "#!/bin/sh",
      "export SSH_MCP_DISABLE_DOTENV=1 SSH_HOSTS_FILE=/nonexistent SSH_AUDIT_LOG=off SSH_HOST_NOTES_DIR=",
      "cd /tmp || exit 1",
      `exec ${DENO} run --quiet ${START_PERMS.join(" ")} ${ROOT}main.ts serve`,
      "",
    ].join("\n"),
  );
  await Deno.chmod(serve, 0o755);
  const crashy = `${dir}/crashy.cjs`;
  await Deno.writeTextFile(crashy, CRASHY);
  await Deno.chmod(crashy, 0o644);

  const key = await generateKey(dir, { type: "ed25519" });
  const sshd: SshdInstance = await startSshd({
    authorizedKeys: [key.publicLine],
    extraConfig: [
      `Subsystem mcp ${serve}`,
      `Subsystem mcpfs /usr/bin/node ${fsEntry} ${data}`,
      `Subsystem crashy /usr/bin/node ${crashy}`,
    ],
  });
  const kh = `${dir}/known_hosts`;
  await Deno.writeTextFile(kh, sshd.knownHostsLines().join("\n") + "\n");
  const hashed = `${dir}/known_hosts_hashed`;
  await Deno.writeTextFile(hashed, sshd.knownHostsLines().join("\n") + "\n");
  await mustRun("ssh-keygen", ["-q", "-H", "-f", hashed]);
  assert.doesNotMatch(
    await Deno.readTextFile(hashed),
    new RegExp(sshd.address.replaceAll(".", "\\.")),
  );
  const base = [
    `${sshd.user.name}@${sshd.address}`,
    "-p",
    String(sshd.port),
    "-i",
    key.privatePath,
  ];

  try {
    await t.step(
      "ssh-mcp's own server as the remote: tools, 20 MiB refused, stderr prefixed, latency",
      async () => {
        const b = await connectBridge([...base, "--known-hosts", kh, "--subsystem", "mcp"]);
        try {
          const names = (await b.client.listTools()).tools.map((x) => x.name);
          assert.ok(names.includes("ssh_host_list"), names.join(","));
          const r = await b.client.callTool({ name: "ssh_host_list", arguments: {} });
          assert.notEqual(r.isError, true, JSON.stringify(r));
          assert.ok(r.structuredContent, "ssh_host_list returns structuredContent");

          // a 20 MiB message from the client: JSON-RPC error for its id, the bridge keeps working
          const big = "a".repeat(20 * 1024 * 1024);
          await assert.rejects(
            b.client.callTool({ name: "ssh_host_list", arguments: { pad: big } }),
            (e: unknown) => /too large/i.test(errorText(e)) && /16\.0 MiB/.test(errorText(e)),
          );
          assert.ok((await b.client.listTools()).tools.length > 0, "tools/list after the refusal");
          assert.match(b.stderr(), /refused a message from the local MCP client of 20\.0 MiB/);

          const viaPing = await timeCalls(100, () => b.client.ping());
          const viaList = await timeCalls(100, () => b.client.listTools());
          const direct = new StdioClientTransport({
            command: DENO,
            args: ["run", "--quiet", ...START_PERMS, `${ROOT}main.ts`, "serve"],
            env: bridgeEnv({ SSH_AUDIT_LOG: "off", LOG_LEVEL: "ERROR", SSH_HOST_NOTES_DIR: "" }),
            cwd: "/tmp",
            stderr: "pipe",
          });
          const dc = new Client({ name: "direct", version: "1" });
          await dc.connect(direct);
          try {
            const dirPing = await timeCalls(100, () => dc.ping());
            const dirList = await timeCalls(100, () => dc.listTools());
            // deno-lint-ignore no-console
            console.log(
              `bridge latency (median of 100): ping ${viaPing.toFixed(2)} ms via bridge vs ` +
                `${dirPing.toFixed(2)} ms direct stdio; tools/list ${viaList.toFixed(2)} ms via ` +
                `bridge vs ${dirList.toFixed(2)} ms direct stdio`,
            );
          } finally {
            await dc.close();
          }
        } finally {
          await b.close();
        }
      },
    );

    await t.step(
      "third-party server (server-filesystem from npm), hashed known_hosts",
      async () => {
        const b = await connectBridge([...base, "--known-hosts", hashed, "--subsystem", "mcpfs"]);
        try {
          const names = (await b.client.listTools()).tools.map((x) => x.name);
          assert.ok(names.includes("read_text_file"), names.join(","));
          const r = await b.client.callTool({
            name: "read_text_file",
            arguments: { path: `${data}/hello.txt` },
          });
          const text = (r.content as { type: string; text?: string }[])
            .map((c) => c.text ?? "").join("");
          assert.match(text, /hello through the bridge/);
          const l = await b.client.callTool({ name: "list_directory", arguments: { path: data } });
          assert.match(JSON.stringify(l.content), /hello\.txt/);
        } finally {
          await b.close();
        }
      },
    );

    // a key that sshd would accept: if it were ever offered, sshd's VERBOSE log would name it
    const probeKey = await generateKey(dir, { type: "ed25519" });
    await sshd.authorize(probeKey.publicLine);
    const probe = [
      `${sshd.user.name}@${sshd.address}`,
      "-p",
      String(sshd.port),
      "-i",
      probeKey.privatePath,
    ];

    await t.step(
      "unknown host key (empty known_hosts): refused before authentication",
      async () => {
        const empty = `${dir}/known_hosts_empty`;
        await Deno.writeTextFile(empty, "");
        const r = await runBridgeProcess([...probe, "--known-hosts", empty, "--subsystem", "mcp"]);
        assert.equal(r.code, 1, r.stderr);
        assert.match(r.stderr, /UnknownHost: Host key for .* is not in known_hosts/);
        assert.match(r.stderr, /closed before authentication/);
        assert.equal(r.stdout, "");
        assert.ok(!(await sshd.log()).includes(probeKey.fingerprint), "the key was never offered");
      },
    );

    await t.step("changed host key (wrong line): refused before authentication", async () => {
      const other = await generateKey(dir, { type: "ed25519" });
      const wrong = `${dir}/known_hosts_wrong`;
      await Deno.writeTextFile(
        wrong,
        `[${sshd.address}]:${sshd.port} ${other.publicKey}\n${sshd.address} ${other.publicKey}\n`,
      );
      const r = await runBridgeProcess([...probe, "--known-hosts", wrong, "--subsystem", "mcp"]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /HostKeyMismatch: HOST KEY MISMATCH for /);
      assert.ok(!(await sshd.log()).includes(probeKey.fingerprint), "the key was never offered");
    });

    await t.step(
      "a remote server that crashes mid-call: error for that call, next call reconnects",
      async () => {
        // exec, not a subsystem: OpenSSH's sshd discards a subsystem's stderr, an exec's reaches us
        const b = await connectBridge([
          ...base,
          "--known-hosts",
          kh,
          "--command",
          `/usr/bin/node ${crashy}`,
        ]);
        try {
          const pid = async () => {
            const r = await b.client.callTool({ name: "echo", arguments: {} });
            return JSON.stringify(r.content);
          };
          const first = await pid();
          await assert.rejects(
            b.client.callTool({ name: "crash", arguments: {} }),
            (e: unknown) => /the remote MCP server's connection was lost; retry/.test(errorText(e)),
          );
          const second = await pid();
          assert.notEqual(second, first, "a new remote process answers");
          // remote stderr reaches our stderr, prefixed (never stdout: the protocol kept working)
          assert.match(
            b.stderr(),
            /\[remote sshmcp@[^\]]+\(command [^\]]+\)\] crashy: crashing on purpose/,
          );
          assert.match(b.stderr(), /session re-initialized/);
          // an answer over 16 MiB from the remote: an error for that call, the bridge goes on
          await assert.rejects(
            b.client.callTool({ name: "huge", arguments: {} }),
            (e: unknown) => /over the ssh-mcp bridge's limit/.test(errorText(e)),
          );
          assert.equal(await pid(), second, "same remote session after the oversized answer");
        } finally {
          await b.close();
        }
      },
    );

    await t.step("alias mode: hosts.toml host with [hosts.X.remote_mcp]", async () => {
      const toml = `${dir}/hosts.toml`;
      await Deno.writeTextFile(
        toml,
        [
          "[hosts.peer]",
          `hostname = "${sshd.address}"`,
          `port = ${sshd.port}`,
          `user = "${sshd.user.name}"`,
          "[hosts.peer.auth]",
          'method = "key"',
          `key = "${key.privatePath}"`,
          "[hosts.peer.remote_mcp]",
          'subsystem = "crashy"',
          "",
        ].join("\n"),
      );
      const b = await connectBridge(["peer"], {
        SSH_HOSTS_FILE: toml,
        SSH_KNOWN_HOSTS: kh,
        SSH_PINNED_KNOWN_HOSTS: `${dir}/pins`,
      });
      try {
        const names = (await b.client.listTools()).tools.map((x) => x.name);
        assert.deepEqual(names, ["echo", "crash", "huge"]);
      } finally {
        await b.close();
      }
    });

    await t.step(
      "client key generated on first use (0600 / 0644), public key printed",
      async () => {
        const home = await tempDir("sshmcp-bridge-home-");
        const args = [
          `${sshd.user.name}@${sshd.address}`,
          "-p",
          String(sshd.port),
          "--known-hosts",
          kh,
          "--subsystem",
          "crashy",
        ];
        const r = await runBridgeProcess(args, { HOME: home });
        assert.equal(r.code, 1, "not authorized yet: authentication fails");
        assert.match(r.stderr, /AuthenticationFailed/);
        const priv = `${home}/.ssh/ssh_mcp_bridge`;
        assert.equal((await Deno.stat(priv)).mode! & 0o777, 0o600);
        assert.equal((await Deno.stat(`${priv}.pub`)).mode! & 0o777, 0o644);
        assert.equal((await Deno.stat(`${home}/.ssh`)).mode! & 0o777, 0o700);
        const pub = (await Deno.readTextFile(`${priv}.pub`)).trim();
        assert.match(pub, /^ssh-ed25519 AAAA[A-Za-z0-9+/=]+ ssh-mcp-bridge@/);
        assert.ok(r.stderr.includes(pub), r.stderr);
        // OpenSSH reads the generated file, and once authorized the bridge logs in with it
        const fromFile = (await mustRun("ssh-keygen", ["-y", "-f", priv])).trim();
        assert.equal(
          fromFile.split(" ").slice(0, 2).join(" "),
          pub.split(" ").slice(0, 2).join(" "),
        );
        await sshd.authorize(pub);
        const before = await Deno.readTextFile(priv);
        const b = await connectBridge(args, { HOME: home });
        try {
          assert.equal((await b.client.listTools()).tools.length, 3);
          assert.doesNotMatch(b.stderr(), /generated a new client key/);
        } finally {
          await b.close();
        }
        assert.equal(await Deno.readTextFile(priv), before, "the key is not regenerated");
      },
    );

    await t.step("remote gone for good: the waiting request gets an error, exit 1", async () => {
      const p = new Deno.Command(DENO, {
        args: bridgeArgs([...base, "--known-hosts", kh, "--subsystem", "crashy"]),
        env: bridgeEnv(),
        clearEnv: true,
        cwd: ROOT,
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const w = p.stdin.getWriter();
      const enc = new TextEncoder();
      const lines: string[] = [];
      const reader = p.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let buf = "";
      const nextLine = async () => {
        while (!buf.includes("\n")) {
          // deno-lint-ignore no-await-in-loop
          const { value, done } = await reader.read();
          if (done) throw new Error("bridge stdout ended");
          buf += value;
        }
        const i = buf.indexOf("\n");
        const l = buf.slice(0, i);
        buf = buf.slice(i + 1);
        lines.push(l);
        return JSON.parse(l);
      };
      await w.write(enc.encode(
        JSON.stringify({
          jsonrpc: "2.0",
          id: 1,
          method: "initialize",
          params: {
            protocolVersion: "2025-06-18",
            capabilities: {},
            clientInfo: { name: "raw", version: "1" },
          },
        }) + "\n",
      ));
      assert.equal((await nextLine()).id, 1);
      await w.write(
        enc.encode(JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }) + "\n"),
      );
      await sshd.killConnections();
      await sshd.stop();
      await new Promise((r) => setTimeout(r, 300));
      await w.write(
        enc.encode(JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/list" }) + "\n"),
      );
      const answer = await nextLine();
      assert.equal(answer.id, 2);
      assert.match(answer.error.message, /cannot reach the remote MCP server/);
      const status = await p.status;
      assert.equal(status.code, 1);
      const err = await new Response(p.stderr).text();
      assert.match(err, /5 tries in a row failed/);
      await w.close().catch(() => {});
      reader.releaseLock();
    });
  } finally {
    await sshd.stop();
  }
});
