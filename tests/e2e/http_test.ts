/**
 * Issue 14: the Streamable HTTP gateway as `deno task start` runs it with
 * `MCP_TRANSPORT=http`, driven by real clients of both protocol generations
 * against real sshd hosts: both revisions, static named tokens, OAuth 2.1
 * JWTs from a local issuer (scopes -> tiers, audience = this server),
 * DNS-rebinding protection, body limit, rate limit, session binding, TLS,
 * and the principal in every audit line.
 *
 * @module
 */

import assert from "node:assert/strict";
import { startFleet } from "../_support/fleet.ts";
import { auditLines, baseEnv, ROOT, START_PERMS } from "../_support/mcp.ts";
import {
  initializeBody,
  legacyHttpClient,
  modernHttpClient,
  rawPost,
  startHttpServer,
} from "../_support/http.ts";
import { freePort } from "../_support/port.ts";
import { startIssuer } from "../_support/oidc.ts";
import { tempDir } from "../_support/sshd.ts";

const TOKEN_A = "a".repeat(24) + "-alice-token-0123456789";
const TOKEN_B = "b".repeat(24) + "-bob-token-0123456789xx";

async function tokenFile(dir: string): Promise<string> {
  const p = `${dir}/tokens`;
  await Deno.writeTextFile(p, `# named tokens\nalice ${TOKEN_A}\nbob ${TOKEN_B}\n`);
  await Deno.chmod(p, 0o600);
  return p;
}

async function curlStatus(args: string[]): Promise<string> {
  const out = await new Deno.Command("curl", {
    args: ["-s", "-o", "/dev/null", "-w", "%{http_code}", ...args],
  }).output();
  return new TextDecoder().decode(out.stdout);
}

Deno.test("HTTP: both protocol revisions over Streamable HTTP with named tokens; the principal is in every audit line", async () => {
  const fleet = await startFleet(1);
  const dir = await tempDir("sshmcp-http-");
  const audit = `${dir}/audit.log`;
  const srv = await startHttpServer(fleet.env({
    MCP_HTTP_TOKEN_FILE: await tokenFile(dir),
    SSH_AUDIT_LOG: audit,
  }));
  try {
    const legacy = await legacyHttpClient(srv.url, TOKEN_A);
    const modern = await modernHttpClient(srv.url, TOKEN_B);
    try {
      assert.equal(modern.getNegotiatedProtocolVersion(), "2026-07-28");
      const a = (await legacy.listTools()).tools.map((t) => t.name);
      const b = (await modern.listTools()).tools.map((t) => t.name);
      assert.deepEqual(a, b);
      const r1 = await legacy.callTool({ name: "ssh_user_info", arguments: { host: "h1" } });
      const r2 = await modern.callTool({ name: "ssh_user_info", arguments: { host: "h1" } });
      assert.ok(!r1.isError && !r2.isError, JSON.stringify([r1, r2]));
      assert.equal(
        (r2.structuredContent as { username: string }).username,
        fleet.hosts[0]!.sshd.user.name,
      );
    } finally {
      await legacy.close();
      await modern.close();
    }
    const lines = auditLines(await Deno.readTextFile(audit)).filter((l) =>
      l.tool === "ssh_user_info"
    );
    assert.deepEqual(lines.map((l) => l.principal).sort(), ["token:alice", "token:bob"]);
    assert.ok(!(await Deno.readTextFile(audit)).includes(TOKEN_A), "a token reached the audit log");
    assert.ok(!srv.stderr().includes(TOKEN_A), "a token reached the server log");
  } finally {
    await srv.stop();
    await fleet.stop();
  }
});

Deno.test("HTTP: missing or wrong tokens are 401 with WWW-Authenticate; a 2025 session is bound to its principal", async () => {
  const dir = await tempDir("sshmcp-http-");
  const srv = await startHttpServer(baseEnv({
    SSH_HOSTS_FILE: "/nonexistent/hosts.toml",
    MCP_HTTP_TOKEN_FILE: await tokenFile(dir),
  }));
  try {
    const none = await rawPost(srv.url, initializeBody());
    assert.equal(none.status, 401);
    // static tokens only: a bare Bearer challenge (no metadata document to point at)
    assert.equal(none.headers.get("www-authenticate"), "Bearer");
    await none.body?.cancel();
    const wrong = await rawPost(srv.url, initializeBody(), {
      authorization: `Bearer ${"x".repeat(40)}`,
    });
    assert.equal(wrong.status, 401);
    assert.ok(!(await wrong.text()).includes("x".repeat(40)));
    // alice opens a 2025 session; bob cannot use its id
    const init = await rawPost(srv.url, initializeBody(), { authorization: `Bearer ${TOKEN_A}` });
    assert.equal(init.status, 200);
    const sid = init.headers.get("mcp-session-id");
    assert.ok(sid && /^[0-9a-f]{32}$/.test(sid), `session id ${sid}`);
    await init.body?.cancel();
    const list = { jsonrpc: "2.0", id: 2, method: "tools/list" };
    const hdr = (t: string) => ({
      authorization: `Bearer ${t}`,
      "mcp-session-id": sid!,
      "mcp-protocol-version": "2025-11-25",
    });
    const stolen = await rawPost(srv.url, list, hdr(TOKEN_B));
    assert.equal(stolen.status, 404);
    await stolen.body?.cancel();
    const own = await rawPost(srv.url, list, hdr(TOKEN_A));
    assert.equal(own.status, 200);
    assert.match(await own.text(), /ssh_host_list/);
  } finally {
    await srv.stop();
  }
});

Deno.test("HTTP: OAuth 2.1 JWTs: audience = this server, scopes decide the visible tiers, bad tokens refused", async () => {
  const issuer = await startIssuer();
  const port = freePort();
  const resource = `http://127.0.0.1:${port}/mcp`;
  const srv = await startHttpServer(
    baseEnv({
      SSH_HOSTS_FILE: "/nonexistent/hosts.toml",
      MCP_OAUTH_ISSUER: issuer.url,
      ALLOW_LOW_ACCESS_TOOLS: "true",
      ALLOW_DANGEROUS_TOOLS: "true",
    }),
    { port },
  );
  try {
    // RFC 9728 metadata
    const meta = await (await fetch(
      `http://127.0.0.1:${port}/.well-known/oauth-protected-resource/mcp`,
    )).json();
    assert.equal(meta.resource, resource);
    assert.deepEqual(meta.authorization_servers, [issuer.url]);
    assert.ok(meta.scopes_supported.includes("ssh:dangerous"));

    const bare = await rawPost(srv.url, initializeBody());
    assert.equal(bare.status, 401);
    assert.equal(
      bare.headers.get("www-authenticate"),
      `Bearer resource_metadata="http://127.0.0.1:${port}/.well-known/oauth-protected-resource/mcp"`,
    );
    await bare.body?.cancel();
    const readOnly = await issuer.sign({ aud: resource, scope: "ssh:read" });
    const full = await issuer.sign({
      aud: resource,
      scope: "ssh:read ssh:low-access ssh:dangerous",
      sub: "ops-bot",
    });
    const r = await modernHttpClient(srv.url, readOnly);
    const f = await legacyHttpClient(srv.url, full);
    try {
      const rTools = (await r.listTools()).tools.map((t) => t.name);
      const fTools = (await f.listTools()).tools.map((t) => t.name);
      assert.ok(fTools.includes("ssh_exec_run"), "dangerous tool missing with ssh:dangerous");
      assert.ok(!rTools.includes("ssh_exec_run"), "a read-scoped token sees a dangerous tool");
      assert.ok(rTools.includes("ssh_host_list"));
      assert.ok(rTools.length < fTools.length);
      // calling it anyway: the same answer as for a tool that never existed
      const e1 = await r.callTool({ name: "ssh_exec_run", arguments: { host: "x", command: "id" } })
        .then(() => "answered", (e: Error) => e.message);
      const e2 = await r.callTool({ name: "ssh_no_such_tool", arguments: {} })
        .then(() => "answered", (e: Error) => e.message);
      assert.equal(e1.replace("ssh_exec_run", "X"), e2.replace("ssh_no_such_tool", "X"));
      // TIER-12 for the principal: the dangerous tool's skill is absent too, server-info agrees
      const rRes = (await r.listResources()).resources.map((x) => x.uri);
      const fRes = (await f.listResources()).resources.map((x) => x.uri);
      assert.ok(fRes.includes("skill://ssh-exec-run/SKILL.md"));
      assert.ok(!rRes.includes("skill://ssh-exec-run/SKILL.md"), "skill of a hidden tool listed");
      const hiddenSkill = await r.readResource({ uri: "skill://ssh-exec-run/SKILL.md" })
        .then(() => "answered", (e: Error) => e.message.replaceAll("ssh-exec-run", "X"));
      const noSkill = await r.readResource({ uri: "skill://ssh-no-such-tool/SKILL.md" })
        .then(() => "answered", (e: Error) => e.message.replaceAll("ssh-no-such-tool", "X"));
      assert.equal(hiddenSkill, noSkill);
      const info = JSON.parse(
        ((await r.readResource({ uri: "mcp://ssh-mcp/server-info" })).contents[0] as {
          text: string;
        }).text,
      );
      assert.deepEqual(info.enabled_tiers, ["read"]);
      assert.equal(info.total_tools, rTools.length);
    } finally {
      await r.close();
      await f.close();
    }
    const now = Math.floor(Date.now() / 1000);
    const cases: [string, string, number][] = [
      ["expired", await issuer.sign({ aud: resource, exp: now - 120 }), 401],
      ["wrong audience", await issuer.sign({ aud: "http://other.example/mcp" }), 401],
      ["no audience", await issuer.sign({}), 401],
      ["wrong issuer", await issuer.sign({ aud: resource, iss: "http://127.0.0.1:1" }), 401],
      ["forged", await issuer.sign({ aud: resource }, { key: await issuer.otherKey() }), 401],
      ["missing scope", await issuer.sign({ aud: resource, scope: "openid profile" }), 403],
    ];
    for (const [what, token, status] of cases) {
      const res = await rawPost(srv.url, initializeBody(), { authorization: `Bearer ${token}` });
      assert.equal(res.status, status, what);
      const wa = res.headers.get("www-authenticate") ?? "";
      assert.match(wa, /resource_metadata=/, what);
      if (status === 403) assert.match(wa, /scope="ssh:read"/, what);
      assert.ok(!wa.includes(token), `${what}: token echoed`);
      await res.body?.cancel();
    }
  } finally {
    await srv.stop();
    await issuer.close();
  }
});

Deno.test("HTTP: foreign Origin and Host are 403, a body over the limit 413, the rate limit 429 with Retry-After", async () => {
  const srv = await startHttpServer(baseEnv({
    SSH_HOSTS_FILE: "/nonexistent/hosts.toml",
    MCP_HTTP_MAX_BODY_BYTES: "65536",
    MCP_HTTP_RATE_LIMIT: "5",
  }));
  try {
    const base = [
      "-H",
      "content-type: application/json",
      "-H",
      "accept: application/json, text/event-stream",
    ];
    const body = JSON.stringify(initializeBody());
    assert.equal(
      await curlStatus([...base, "-H", "Origin: https://evil.example", "-d", body, srv.url]),
      "403",
    );
    assert.equal(
      await curlStatus([...base, "-H", "Host: evil.example", "-d", body, srv.url]),
      "403",
    );
    const big = `${await tempDir("sshmcp-http-")}/big.json`;
    await Deno.writeTextFile(
      big,
      JSON.stringify({ ...initializeBody(), pad: "p".repeat(100_000) }),
    );
    assert.equal(await curlStatus([...base, "--data-binary", `@${big}`, srv.url]), "413");
    // 5 per minute: the sixth is refused (the requests above were refused before the limiter)
    const statuses: number[] = [];
    let retryAfter = "";
    for (let i = 0; i < 6; i++) {
      const r = await rawPost(srv.url, initializeBody(i + 1));
      statuses.push(r.status);
      if (r.status === 429) retryAfter = r.headers.get("retry-after") ?? "";
      await r.body?.cancel();
    }
    assert.deepEqual(statuses, [200, 200, 200, 200, 200, 429]);
    assert.ok(Number(retryAfter) > 0, `Retry-After ${retryAfter}`);
  } finally {
    await srv.stop();
  }
});

Deno.test("HTTP: failed authentications are limited per client address (429 instead of 401)", async () => {
  const srv = await startHttpServer(baseEnv({
    SSH_HOSTS_FILE: "/nonexistent/hosts.toml",
    MCP_HTTP_TOKEN: TOKEN_A,
    MCP_HTTP_RATE_LIMIT: "3",
  }));
  try {
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await rawPost(srv.url, initializeBody(), {
        authorization: `Bearer guess-${i}-${"g".repeat(40)}`,
      });
      statuses.push(r.status);
      await r.body?.cancel();
    }
    assert.deepEqual(statuses, [401, 401, 401, 429, 429]);
    // the right token still works (its own bucket)
    const ok = await rawPost(srv.url, initializeBody(), { authorization: `Bearer ${TOKEN_A}` });
    assert.equal(ok.status, 200);
    await ok.body?.cancel();
  } finally {
    await srv.stop();
  }
});

Deno.test("HTTP: refuses to start on a non-loopback address without authentication", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", ...START_PERMS, `${ROOT}main.ts`, "serve"],
    env: baseEnv({
      MCP_TRANSPORT: "http",
      MCP_HTTP_HOST: "0.0.0.0",
      MCP_HTTP_PORT: String(freePort()),
    }),
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.notEqual(out.code, 0);
  assert.match(
    new TextDecoder().decode(out.stderr),
    /not a loopback address and no authentication/,
  );
});

Deno.test("HTTP: TLS with MCP_HTTP_TLS_CERT/_KEY", async () => {
  const dir = await tempDir("sshmcp-tls-");
  // a test CA and a server certificate it signed (rustls refuses a CA as end entity)
  const ossl = async (args: string[]) => {
    const o = await new Deno.Command("openssl", { args, cwd: dir, stdout: "null", stderr: "piped" })
      .output();
    assert.equal(o.code, 0, new TextDecoder().decode(o.stderr));
  };
  await ossl([
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-days",
    "1",
    "-subj",
    "/CN=ssh-mcp test CA",
    "-keyout",
    "ca.key",
    "-out",
    "ca.pem",
  ]);
  await ossl([
    "req",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-subj",
    "/CN=localhost",
    "-keyout",
    "key.pem",
    "-out",
    "server.csr",
  ]);
  await Deno.writeTextFile(
    `${dir}/ext.cnf`,
    "basicConstraints=critical,CA:FALSE\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n",
  );
  await ossl([
    "x509",
    "-req",
    "-in",
    "server.csr",
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
  const srv = await startHttpServer(
    baseEnv({
      SSH_HOSTS_FILE: "/nonexistent/hosts.toml",
      MCP_HTTP_TLS_CERT: `${dir}/cert.pem`,
      MCP_HTTP_TLS_KEY: `${dir}/key.pem`,
    }),
    { scheme: "https" },
  );
  const client = Deno.createHttpClient({ caCerts: [await Deno.readTextFile(`${dir}/ca.pem`)] });
  try {
    assert.match(srv.url, /^https:/);
    const r = await fetch(srv.url, {
      method: "POST",
      client,
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
      },
      body: JSON.stringify(initializeBody()),
    });
    assert.equal(r.status, 200);
    assert.match(await r.text(), /"protocolVersion"/);
    // plain HTTP to the TLS port does not get an MCP answer
    const plain = await fetch(srv.url.replace("https:", "http:"), { method: "POST" }).then(
      (x) => x.status,
      () => "refused",
    );
    assert.notEqual(plain, 200);
  } finally {
    client.close();
    await srv.stop();
  }
});

/** Parses an SSE body into events (`id`, `data`). */
function sseEvents(text: string): { id?: string; data?: string }[] {
  return text.split(/\n\n/).map((block) => {
    const ev: { id?: string; data?: string } = {};
    for (const line of block.split("\n")) {
      if (line.startsWith("id:")) ev.id = line.slice(3).trim();
      else if (line.startsWith("data:")) ev.data = (ev.data ?? "") + line.slice(5).trim();
    }
    return ev;
  }).filter((e) => e.id !== undefined || e.data !== undefined);
}

Deno.test("HTTP: a 2025 session's SSE stream is resumable: GET with Last-Event-ID replays what followed", async () => {
  const fleet = await startFleet(1);
  const srv = await startHttpServer(fleet.env({
    ALLOW_DANGEROUS_TOOLS: "true",
    ALLOW_ANY_COMMAND: "true",
  }));
  try {
    const init = await rawPost(srv.url, initializeBody());
    const sid = init.headers.get("mcp-session-id")!;
    await init.body?.cancel();
    const h = { "mcp-session-id": sid, "mcp-protocol-version": "2025-11-25" };
    (await rawPost(srv.url, { jsonrpc: "2.0", method: "notifications/initialized" }, h)).body
      ?.cancel();
    // a streaming call with a progress token: progress events, then the result, on one SSE stream
    const call = await rawPost(srv.url, {
      jsonrpc: "2.0",
      id: 7,
      method: "tools/call",
      params: {
        name: "ssh_exec_run_streaming",
        arguments: { host: "h1", command: "for i in 1 2 3; do echo line$i; sleep 0.3; done" },
        _meta: { progressToken: "p1" },
      },
    }, h);
    assert.equal(call.status, 200);
    assert.match(call.headers.get("content-type") ?? "", /text\/event-stream/);
    const events = sseEvents(await call.text());
    const withIds = events.filter((e) => e.id && e.data);
    assert.ok(withIds.length >= 2, `events: ${JSON.stringify(events)}`);
    assert.ok(withIds.every((e) => /^[0-9a-f]{32}$/.test(e.id!)), "event ids are not opaque");
    const last = JSON.parse(withIds.at(-1)!.data!);
    assert.equal(last.id, 7, "the last event is the result");
    // the client "lost" everything after the first event: resume
    const resumed = await fetch(srv.url, {
      method: "GET",
      headers: { ...h, accept: "text/event-stream", "last-event-id": withIds[0]!.id! },
    });
    assert.equal(resumed.status, 200);
    const reader = resumed.body!.getReader();
    let text = "";
    const dec = new TextDecoder();
    const until = Date.now() + 5000;
    while (!text.includes('"id":7') && Date.now() < until) {
      const { value, done } = await Promise.race([
        reader.read(),
        new Promise<{ value: undefined; done: true }>((r) =>
          setTimeout(() => r({ value: undefined, done: true }), 500)
        ),
      ]);
      if (value) text += dec.decode(value);
      if (done && !value) continue;
    }
    await reader.cancel();
    const replayed = sseEvents(text).filter((e) => e.id && e.data).map((e) => e.id);
    assert.deepEqual(replayed, withIds.slice(1).map((e) => e.id), "replay after Last-Event-ID");
    // another principal cannot resume it (no session): 404 for an unknown session id
    const foreign = await fetch(srv.url, {
      method: "GET",
      headers: {
        "mcp-session-id": "0".repeat(32),
        "mcp-protocol-version": "2025-11-25",
        accept: "text/event-stream",
        "last-event-id": withIds[0]!.id!,
      },
    });
    assert.equal(foreign.status, 404);
    await foreign.body?.cancel();
  } finally {
    await srv.stop();
    await fleet.stop();
  }
});
