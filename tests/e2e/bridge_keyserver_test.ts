/**
 * `ssh-mcp bridge --key-server` end to end (SECURITY.md BRIDGE-1 / BRIDGE-3,
 * AC-941 / AC-942), real parts only: a real HTTPS key server (Deno.serve with
 * a certificate signed by a test CA made with `openssl` here) implementing the
 * m2m endpoints `GET /server_pub_key` and `POST /register` (which really
 * appends the registered key to the sshd's authorized_keys), a real OpenSSH
 * sshd whose subsystem runs the reference filesystem MCP server from npm, and
 * a real MCP client (the SDK's `Client` over `StdioClientTransport`) spawning
 * `deno run main.ts bridge`.
 *
 * Each behaviour of the key server is a path prefix (`/ok`, `/wrong`,
 * `/big`, ...), so one server covers every case.
 */

import assert from "node:assert/strict";
import { Client } from "@modelcontextprotocol/sdk/client";
// @ts-types="../../node_modules/@modelcontextprotocol/sdk/dist/esm/client/stdio.d.ts"
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { generateKey, type SshdInstance, startSshd, tempDir } from "../_support/sshd.ts";
import { ROOT, START_PERMS } from "../_support/mcp.ts";
import { filesystemServer } from "../_support/mcp_peers.ts";
import { parseBridgeArgs, UsageError } from "../../src/bridge/args.ts";

const DENO = Deno.execPath();

function bridgeEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
    HOME: Deno.env.get("HOME") ?? "/root",
    SSH_MCP_DISABLE_DOTENV: "1",
    SSH_HOSTS_FILE: "/nonexistent",
    LOG_LEVEL: "INFO",
    ...(Deno.env.get("DENO_DIR") ? { DENO_DIR: Deno.env.get("DENO_DIR")! } : {}),
    ...extra,
  };
}

function bridgeArgs(args: string[]): string[] {
  return ["run", "--quiet", ...START_PERMS, `${ROOT}main.ts`, "bridge", ...args];
}

/** Runs the bridge with stdin closed at once; returns exit code, output and duration. */
async function runBridgeProcess(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string; ms: number }> {
  const t0 = performance.now();
  const out = await new Deno.Command(DENO, {
    args: bridgeArgs(args),
    env: bridgeEnv(env),
    clearEnv: true,
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return {
    code: out.code,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
    ms: performance.now() - t0,
  };
}

interface Bridged {
  client: Client;
  stderr(): string;
  close(): Promise<void>;
}

/** A real MCP client whose server is `ssh-mcp bridge ARGS`. */
async function connectBridge(args: string[], env: Record<string, string>): Promise<Bridged> {
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
  const client = new Client({ name: "bridge-keyserver-test", version: "1" });
  try {
    await client.connect(transport);
  } catch (e) {
    throw new Error(`bridge did not come up: ${(e as Error).message}\nstderr:\n${err}`);
  }
  return { client, stderr: () => err, close: () => client.close() };
}

async function ossl(dir: string, args: string[]): Promise<void> {
  const o = await new Deno.Command("openssl", { args, cwd: dir, stdout: "null", stderr: "piped" })
    .output();
  assert.equal(o.code, 0, `openssl ${args[0]}: ${new TextDecoder().decode(o.stderr)}`);
}

/** A test CA and a server certificate for 127.0.0.1 it signed. */
async function makeTls(dir: string): Promise<{ ca: string; cert: string; key: string }> {
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  await ossl(dir, [
    "req",
    "-x509",
    ...ec,
    "-days",
    "1",
    "-subj",
    "/CN=ssh-mcp key-server test CA",
    "-keyout",
    "ca.key",
    "-out",
    "ca.pem",
  ]);
  await ossl(dir, ["req", ...ec, "-subj", "/CN=127.0.0.1", "-keyout", "key.pem", "-out", "s.csr"]);
  await Deno.writeTextFile(
    `${dir}/ext.cnf`,
    "basicConstraints=critical,CA:FALSE\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n",
  );
  await ossl(dir, [
    "x509",
    "-req",
    "-in",
    "s.csr",
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-days",
    "1",
    "-extfile",
    "ext.cnf",
    "-out",
    "cert.pem",
  ]);
  return { ca: `${dir}/ca.pem`, cert: `${dir}/cert.pem`, key: `${dir}/key.pem` };
}

async function sha256File(p: string): Promise<string> {
  const d = await crypto.subtle.digest("SHA-256", await Deno.readFile(p));
  return Array.from(new Uint8Array(d), (b) => b.toString(16).padStart(2, "0")).join("");
}

async function exists(p: string): Promise<boolean> {
  try {
    await Deno.lstat(p);
    return true;
  } catch {
    return false;
  }
}

const PUBKEY_RE =
  /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/]+=*( [^\n]*)?$/;

Deno.test("parse: key-server options (BRIDGE-3, AC-941)", () => {
  const fp = "SHA256:" + "A".repeat(43);
  const ok = parseBridgeArgs([
    "h",
    "--key-server",
    "https://Keys.Example.com:8443/m2m/",
    "--server-fingerprint",
    fp,
  ]);
  assert.equal(ok.keyServer, "https://keys.example.com:8443/m2m");
  assert.equal(ok.serverFingerprint, fp);
  assert.equal(parseBridgeArgs(["h", "--key-server=https://k", "--tofu"]).tofu, true);
  const refused: [string[], RegExp][] = [
    [["h", "--key-server", "http://k", "--tofu"], /uses http:\/\/; .*HTTPS only/],
    [["h", "--key-server", "ftp://k", "--tofu"], /not an https:\/\/ URL/],
    [["h", "--key-server", "k.example.com", "--tofu"], /not a URL/],
    [["h", "--key-server", "https://u:p@k", "--tofu"], /user name or password/],
    [["h", "--key-server", "https://k/?x=1", "--tofu"], /without query or fragment/],
    [["h", "--key-server", "https://k"], /needs --server-fingerprint SHA256:\.\.\. .* --tofu/],
    [["h", "--key-server", "https://k", "--tofu", "--server-fingerprint", fp], /exclusive/],
    [["h", "--key-server", "https://k", "--server-fingerprint", "MD5:aa"], /not a SHA256/],
    [["h", "--tofu"], /--tofu belongs to the key-server exchange/],
    [["h", "--server-fingerprint", fp], /belongs to the key-server exchange/],
    [["h", "--key-server-ca", "/x"], /belongs to the key-server exchange/],
    [["h", "--tofu=yes", "--key-server", "https://k"], /takes no value/],
  ];
  for (const [argv, re] of refused) {
    assert.throws(
      () => parseBridgeArgs(argv),
      (e: unknown) => e instanceof UsageError && re.test(e.message),
      argv.join(" "),
    );
  }
});

Deno.test("BRIDGE-3: key-server exchange against a real HTTPS key server and a real sshd", async (t) => {
  const fsEntry = await filesystemServer(); // fails naming the npm command when it cannot install
  const dir = await tempDir("sshmcp-keyserver-");
  const data = await tempDir("sshmcp-keyserver-data-");
  await Deno.writeTextFile(`${data}/hello.txt`, "hello via the key server\n");
  await Deno.chmod(`${data}/hello.txt`, 0o644);
  const tls = await makeTls(dir);

  const sshd: SshdInstance = await startSshd({
    extraConfig: [`Subsystem mcpfs /usr/bin/node ${fsEntry} ${data}`],
  });
  const hostKey = sshd.hostKeys[0]!;
  const other = await generateKey(dir, { type: "ed25519", name: "other_host" });

  // ---- the key server ----
  const calls: string[] = [];
  const registered: string[] = [];
  let hangArrived = 0;
  let releaseHang!: () => void;
  const hang = new Promise<void>((r) => (releaseHang = r));
  const handler = async (req: Request): Promise<Response> => {
    const u = new URL(req.url);
    calls.push(`${req.method} ${u.pathname}`);
    const [, mode, ep] = u.pathname.split("/");
    if (ep === "register" && req.method === "POST") {
      const body = await req.json() as { client_pub_key?: unknown };
      const line = typeof body.client_pub_key === "string" ? body.client_pub_key.trim() : "";
      if (!PUBKEY_RE.test(line)) return Response.json({ error: "bad key" }, { status: 400 });
      registered.push(line);
      if (mode === "ok") await sshd.authorize(line.split(" ").slice(0, 2).join(" "));
      return Response.json({ status: "registered" });
    }
    if (ep !== "server_pub_key" || req.method !== "GET") return new Response("no", { status: 404 });
    switch (mode) {
      case "ok":
        return Response.json({ server_pub_key: hostKey.publicLine });
      case "wrong":
        return Response.json({ server_pub_key: other.publicLine });
      case "big": // Content-Length over the cap
        return Response.json({ server_pub_key: hostKey.publicLine, pad: "x".repeat(70_000) });
      case "bigchunked": { // no Content-Length: the cap must cut the stream
        const chunk = new TextEncoder().encode(" ".repeat(8192));
        let n = 0;
        return new Response(
          new ReadableStream({
            pull(c) {
              if (n++ < 20) c.enqueue(chunk);
              else c.close();
            },
          }),
          { headers: { "content-type": "application/json" } },
        );
      }
      case "redir":
        return new Response(null, {
          status: 302,
          headers: { location: "http://127.0.0.1:1/ok/server_pub_key" },
        });
      case "hang":
        hangArrived = performance.now();
        await hang;
        return Response.json({ server_pub_key: hostKey.publicLine });
      default:
        return new Response("no", { status: 404 });
    }
  };
  const ac = new AbortController();
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    cert: await Deno.readTextFile(tls.cert),
    key: await Deno.readTextFile(tls.key),
    signal: ac.signal,
    onListen: () => {},
  }, handler);
  const ks = `https://127.0.0.1:${server.addr.port}`;

  // a plain-HTTP listener: the bridge must never connect to it
  const plain = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let plainConnections = 0;
  const plainLoop = (async () => {
    for await (const c of plain) {
      plainConnections++;
      c.close();
    }
  })();

  // a key sshd accepts: if it were ever offered, sshd's VERBOSE log would name it
  const probe = await generateKey(dir, { type: "ed25519", name: "probe" });
  await sshd.authorize(probe.publicLine);
  const target = [`${sshd.user.name}@${sshd.address}`, "-p", String(sshd.port)];
  const home = async () => {
    const h = await tempDir("sshmcp-keyserver-home-");
    await Deno.mkdir(`${h}/.ssh`, { mode: 0o700 });
    // the user's known_hosts: unrelated content whose bytes must never change
    await Deno.writeTextFile(
      `${h}/.ssh/known_hosts`,
      `# user's file\nexample.org ${other.publicKey}\n`,
    );
    return h;
  };
  const lookupKey = sshd.port === 22 ? sshd.address : `[${sshd.address}]:${sshd.port}`;

  try {
    await t.step(
      "BRIDGE-3: fingerprint match -> client key registered, bridge connects, MCP client lists tools",
      async () => {
        const h = await home();
        const khBefore = await sha256File(`${h}/.ssh/known_hosts`);
        const n = registered.length;
        const b = await connectBridge([
          ...target,
          "--subsystem",
          "mcpfs",
          "--key-server",
          `${ks}/ok/`,
          "--server-fingerprint",
          hostKey.fingerprint,
          "--key-server-ca",
          tls.ca,
        ], { HOME: h });
        try {
          const names = (await b.client.listTools()).tools.map((x) => x.name);
          assert.ok(names.includes("read_text_file"), names.join(","));
          const r = await b.client.callTool({
            name: "read_text_file",
            arguments: { path: `${data}/hello.txt` },
          });
          assert.match(JSON.stringify(r.content), /hello via the key server/);
        } finally {
          await b.close();
        }
        // the generated default key is what was registered (and what logged in)
        const pub = (await Deno.readTextFile(`${h}/.ssh/ssh_mcp_bridge.pub`)).trim();
        assert.equal(registered.length, n + 1);
        assert.equal(registered.at(-1), pub);
        assert.match(b.stderr(), /registered with the key server/);
        assert.match(b.stderr(), /key server: host key accepted/);
        // nothing written: known_hosts byte for byte, no pin file
        assert.equal(await sha256File(`${h}/.ssh/known_hosts`), khBefore);
        assert.equal(await exists(`${h}/.config/ssh-mcp/pinned_known_hosts`), false);
      },
    );

    await t.step(
      "AC-942: key server returns a key whose fingerprint != --server-fingerprint -> refused before any SSH",
      async () => {
        const h = await home();
        const before = calls.length;
        const logBefore = (await sshd.log()).length;
        const r = await runBridgeProcess([
          ...target,
          "-i",
          probe.privatePath,
          "--subsystem",
          "mcpfs",
          "--key-server",
          `${ks}/wrong`,
          "--server-fingerprint",
          hostKey.fingerprint,
          "--key-server-ca",
          tls.ca,
        ], { HOME: h });
        assert.equal(r.code, 1, r.stderr);
        assert.match(r.stderr, /HostKeyMismatch: the key server .* returned the host key/);
        assert.ok(r.stderr.includes(other.fingerprint), r.stderr);
        assert.ok(r.stderr.includes(`--server-fingerprint is ${hostKey.fingerprint}`), r.stderr);
        assert.equal(r.stdout, "");
        assert.deepEqual(calls.slice(before), ["GET /wrong/server_pub_key"], "no /register");
        const log = (await sshd.log()).slice(logBefore);
        assert.doesNotMatch(log, /Connection from/, "no SSH connection at all");
        assert.ok(!log.includes(probe.fingerprint), "the key was never offered");
      },
    );

    await t.step(
      "AC-941: an http:// key server URL is a usage error, nothing contacted",
      async () => {
        const h = await home();
        const before = calls.length;
        const r = await runBridgeProcess([
          ...target,
          "--subsystem",
          "mcpfs",
          "--key-server",
          `http://127.0.0.1:${(plain.addr as Deno.NetAddr).port}`,
          "--tofu",
        ], { HOME: h });
        assert.equal(r.code, 2, r.stderr);
        assert.match(
          r.stderr,
          /--key-server: .* uses http:\/\/; the key exchange runs over HTTPS only/,
        );
        assert.match(r.stderr, /Usage: ssh-mcp bridge/);
        await new Promise((res) => setTimeout(res, 100));
        assert.equal(
          plainConnections,
          0,
          "no HTTP fallback: the plain listener was never contacted",
        );
        assert.equal(calls.length, before);
        assert.equal(
          await exists(`${h}/.ssh/ssh_mcp_bridge`),
          false,
          "exits before key generation",
        );
      },
    );

    await t.step(
      "BRIDGE-1/BRIDGE-3 --tofu: pins into our own pin file only, known_hosts unchanged, second run uses the pin, changed key refused",
      async () => {
        const h = await home();
        const kh = `${h}/.ssh/known_hosts`;
        const khBytes = await Deno.readFile(kh);
        const pinFile = `${h}/.config/ssh-mcp/pinned_known_hosts`;
        const args = (mode: string) => [
          ...target,
          "--subsystem",
          "mcpfs",
          "--key-server",
          `${ks}/${mode}`,
          "--tofu",
          "--key-server-ca",
          tls.ca,
        ];
        // first run: pinned, connected
        const b1 = await connectBridge(args("ok"), { HOME: h });
        try {
          assert.ok((await b1.client.listTools()).tools.length > 0);
        } finally {
          await b1.close();
        }
        assert.match(b1.stderr(), /--tofu: trusted the key server's host key .* on first use/);
        const pins = await Deno.readTextFile(pinFile);
        assert.equal(pins, `${lookupKey} ${hostKey.publicKey}\n`);
        assert.equal((await Deno.stat(pinFile)).mode! & 0o777, 0o600);
        assert.deepEqual(await Deno.readFile(kh), khBytes, "known_hosts unchanged byte for byte");

        // second run: the pin decides, nothing written
        const b2 = await connectBridge(args("ok"), { HOME: h });
        try {
          assert.ok((await b2.client.listTools()).tools.length > 0);
        } finally {
          await b2.close();
        }
        assert.doesNotMatch(b2.stderr(), /on first use/);
        assert.match(b2.stderr(), /trusted_by.{0,4}pin/);
        assert.equal(await Deno.readTextFile(pinFile), pins);

        // the key server now hands out another key: refused, before any SSH
        const logBefore = (await sshd.log()).length;
        const r = await runBridgeProcess(args("wrong"), { HOME: h });
        assert.equal(r.code, 1, r.stderr);
        assert.match(r.stderr, /HostKeyMismatch: .* but SHA256:\S+ is already trusted for it/);
        assert.ok(r.stderr.includes(hostKey.fingerprint));
        assert.equal(await Deno.readTextFile(pinFile), pins, "the pin is not replaced");
        assert.deepEqual(await Deno.readFile(kh), khBytes);
        assert.doesNotMatch((await sshd.log()).slice(logBefore), /Connection from/);
      },
    );

    await t.step(
      "BRIDGE-1: after the exchange the SSH host-key check is strict against that key (sshd presents another: refused before auth)",
      async () => {
        const h = await home();
        const logBefore = (await sshd.log()).length;
        // the key server hands out a wrong key, --tofu pins it: the real sshd's key must then fail
        const r = await runBridgeProcess([
          ...target,
          "-i",
          probe.privatePath,
          "--subsystem",
          "mcpfs",
          "--key-server",
          `${ks}/wrong`,
          "--tofu",
          "--key-server-ca",
          tls.ca,
        ], { HOME: h });
        assert.equal(r.code, 1, r.stderr);
        assert.match(r.stderr, /--tofu: trusted the key server's host key/);
        assert.match(
          r.stderr,
          /HostKeyMismatch: HOST KEY MISMATCH for [^\n]*closed before authentication/,
        );
        assert.ok(r.stderr.includes(hostKey.fingerprint), "names the key the server presented");
        const log = (await sshd.log()).slice(logBefore);
        assert.ok(!log.includes(probe.fingerprint), "the key was never offered");
      },
    );

    await t.step(
      "BRIDGE-3 alias mode: hosts.toml host, --tofu pins into SSH_PINNED_KNOWN_HOSTS, -i key's .pub registered",
      async () => {
        const h = await home();
        const toml = `${h}/hosts.toml`;
        await Deno.writeTextFile(
          toml,
          [
            "[hosts.peer]",
            `hostname = "${sshd.address}"`,
            `port = ${sshd.port}`,
            `user = "${sshd.user.name}"`,
            "[hosts.peer.auth]",
            'method = "key"',
            `key = "${probe.privatePath}"`,
            "[hosts.peer.remote_mcp]",
            'subsystem = "mcpfs"',
            "",
          ].join("\n"),
        );
        const kh = `${h}/.ssh/known_hosts`;
        const khBytes = await Deno.readFile(kh);
        const pinFile = `${h}/pins/bridge_pins`;
        const n = registered.length;
        const b = await connectBridge(
          ["peer", "--key-server", `${ks}/ok`, "--tofu", "--key-server-ca", tls.ca],
          { HOME: h, SSH_HOSTS_FILE: toml, SSH_KNOWN_HOSTS: kh, SSH_PINNED_KNOWN_HOSTS: pinFile },
        );
        try {
          assert.ok((await b.client.listTools()).tools.length > 0);
        } finally {
          await b.close();
        }
        assert.equal(registered.length, n + 1);
        assert.equal(registered.at(-1), (await Deno.readTextFile(probe.publicPath)).trim());
        assert.equal(await Deno.readTextFile(pinFile), `${lookupKey} ${hostKey.publicKey}\n`);
        assert.deepEqual(await Deno.readFile(kh), khBytes, "known_hosts unchanged byte for byte");
      },
    );

    for (const mode of ["big", "bigchunked"]) {
      await t.step(`BRIDGE-3: response body over 64 KiB refused (${mode})`, async () => {
        const h = await home();
        const r = await runBridgeProcess([
          ...target,
          "--subsystem",
          "mcpfs",
          "--key-server",
          `${ks}/${mode}`,
          "--tofu",
          "--key-server-ca",
          tls.ca,
        ], { HOME: h });
        assert.equal(r.code, 1, r.stderr);
        assert.match(r.stderr, /KeyServerResponseTooLarge: .*64 KiB limit; refused/);
        assert.equal(await exists(`${h}/.config/ssh-mcp/pinned_known_hosts`), false);
      });
    }

    await t.step("BRIDGE-3: redirects are not followed (302 to http://)", async () => {
      const h = await home();
      const r = await runBridgeProcess([
        ...target,
        "--subsystem",
        "mcpfs",
        "--key-server",
        `${ks}/redir`,
        "--tofu",
        "--key-server-ca",
        tls.ca,
      ], { HOME: h });
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /KeyServerRedirect: .*HTTP 302 to "http:\/\/127\.0\.0\.1:1\//);
    });

    await t.step("BRIDGE-3: TLS is verified (test CA not given -> refused)", async () => {
      const h = await home();
      const before = calls.length;
      const r = await runBridgeProcess([
        ...target,
        "--subsystem",
        "mcpfs",
        "--key-server",
        `${ks}/ok`,
        "--tofu",
      ], { HOME: h });
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /KeyServerUnreachable: cannot reach the key server/);
      assert.match(r.stderr, /certificate|UnknownIssuer|invalid peer/i);
      assert.equal(calls.length, before, "no request got through");
    });

    await t.step("BRIDGE-3: a key server that never answers times out after 10 s", async () => {
      const h = await home();
      const r = await runBridgeProcess([
        ...target,
        "--subsystem",
        "mcpfs",
        "--key-server",
        `${ks}/hang`,
        "--tofu",
        "--key-server-ca",
        tls.ca,
      ], { HOME: h });
      const exited = performance.now();
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /KeyServerTimeout: the key server did not answer .* within 10 s/);
      assert.ok(hangArrived > 0, "the request reached the key server");
      const waited = exited - hangArrived;
      // 10 s from the start of the request (connect + TLS come before the request arrives)
      assert.ok(
        waited >= 8_000 && waited < 20_000,
        `exit ${waited.toFixed(0)} ms after the request`,
      );
      // deno-lint-ignore no-console
      console.log(
        `key-server timeout: bridge exited ${(waited / 1000).toFixed(1)} s after its request ` +
          `arrived (${(r.ms / 1000).toFixed(1)} s in all, deno start-up included)`,
      );
    });
  } finally {
    releaseHang();
    ac.abort();
    await server.finished.catch(() => {});
    plain.close();
    await plainLoop.catch(() => {});
    await sshd.stop();
  }
});
