/**
 * HTTP gateway authentication and rate limiting (src/http/auth.ts, src/http/rate_limit.ts).
 *
 * Rule ids:
 * - HTTP-AUTH-1  no auth settings -> loadAuth returns null; inconsistent OAuth settings are refused.
 * - HTTP-AUTH-2  static tokens: the right token authenticates as `token:<name>` with all tiers
 *                (null); a wrong, truncated or extended token is 401.
 * - HTTP-AUTH-3  token file: comments/blank lines/CRLF/BOM accepted; every bad line is a
 *                ConfigError naming the line number and never the token text.
 * - HTTP-AUTH-4  token file readable by group/others is refused; short MCP_HTTP_TOKEN refused.
 * - HTTP-AUTH-5  constant time: every configured token is compared on every request (no early
 *                exit), always on equal-length digests.
 * - HTTP-AUTH-6  challenges: 401/403 carry `WWW-Authenticate: Bearer` with the right error=
 *                (none when no credentials) and never echo the token; resource_metadata= is
 *                present with OAuth (tests 8, 9), absent with static tokens only.
 * - HTTP-AUTH-7  OAuth: a valid JWT from the issuer authenticates as `sub:<sub>`, tiers from
 *                `scope` or `scp`; AuthInfo.token is an opaque marker.
 * - HTTP-AUTH-8  OAuth refusals (401 invalid_token): expired, not yet valid, wrong or missing
 *                audience (RFC 8707), wrong issuer, forged signature with the same kid,
 *                alg none, HS256 keyed with the public key, missing sub / exp.
 * - HTTP-AUTH-9  OAuth: a token without any ssh:* scope is 403 insufficient_scope, scope="ssh:read".
 * - HTTP-AUTH-10 issuer discovery: RFC 8414 then OIDC metadata, issuer must match exactly,
 *                https required unless loopback, MCP_OAUTH_JWKS_URL skips discovery, an
 *                unreachable issuer gives 503 (not 401, not a crash).
 * - HTTP-AUTH-11 RFC 9728 metadata document and path-aware metadata URL.
 * - HTTP-AUTH-12 rate limit: `limit` requests pass, the next gets retryAfterS > 0, refill
 *                with time, per principal, memory bounded.
 * - HTTP-AUTH-13 static tokens and OAuth together: static first, then JWT.
 *
 * Real crypto throughout: a local issuer (Deno.serve on 127.0.0.1:0) signs tokens with jose.
 */
import assert from "node:assert/strict";
import * as jose from "jose";
import {
  type AuthResult,
  type AuthSettings,
  loadAuth,
  parseTokenFile,
  protectedResourceMetadata,
  protectedResourceMetadataUrl,
  resourceUrlFromPublicUrl,
} from "../../src/http/auth.ts";
import {
  RateLimiter,
  rateLimiterFromSettings,
  rateLimitResponse,
} from "../../src/http/rate_limit.ts";
import { ConfigError } from "../../src/errors.ts";

const RESOURCE = "https://gw.example.com/mcp";
const PRM_URL = "https://gw.example.com/.well-known/oauth-protected-resource/mcp";
const TOKEN_A = "a".repeat(8) + "0123456789abcdef0123456789abcdef";
const TOKEN_B = "b".repeat(8) + "0123456789abcdef0123456789abcdef";
const TOKEN_C = "c".repeat(8) + "0123456789abcdef0123456789abcdef";
const ENV_TOKEN = "e".repeat(8) + "0123456789abcdef0123456789abcdef";

function settings(over: Partial<AuthSettings> = {}): AuthSettings {
  return {
    MCP_HTTP_TOKEN: null,
    MCP_HTTP_TOKEN_FILE: null,
    MCP_HTTP_PUBLIC_URL: null,
    MCP_OAUTH_ISSUER: null,
    MCP_OAUTH_JWKS_URL: null,
    MCP_OAUTH_AUDIENCE: null,
    ...over,
  };
}

function req(authorization?: string): Request {
  const headers = new Headers();
  if (authorization !== undefined) headers.set("authorization", authorization);
  return new Request(RESOURCE, { method: "POST", headers });
}

async function tokenFile(text: string, mode = 0o600): Promise<string> {
  const p = await Deno.makeTempFile({ suffix: ".tokens" });
  await Deno.writeTextFile(p, text);
  await Deno.chmod(p, mode);
  return p;
}

function assertOk(r: AuthResult): asserts r is Extract<AuthResult, { ok: true }> {
  assert.equal(r.ok, true, r.ok ? "" : `refused with ${r.response.status}`);
}

async function refused(r: AuthResult, status: number): Promise<{ www: string; body: string }> {
  assert.equal(r.ok, false, "expected a refusal");
  if (r.ok) throw new Error("unreachable");
  assert.equal(r.response.status, status);
  return { www: r.response.headers.get("www-authenticate") ?? "", body: await r.response.text() };
}

async function assertConfigError(p: Promise<unknown>, re: RegExp, forbidden: string[] = []) {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof ConfigError, `not a ConfigError: ${e}`);
    assert.match(e.message, re);
    for (const f of forbidden) assert.ok(!e.message.includes(f), `message leaks ${f}`);
    return;
  }
  assert.fail(`expected ConfigError ${re}`);
}

// ---------------------------------------------------------------------------
// a local OIDC-style issuer

interface Issuer extends AsyncDisposable {
  issuer: string;
  privateKey: CryptoKey;
  publicJwk: jose.JWK;
  hits: Record<string, number>;
  sign(claims: jose.JWTPayload, opts?: { header?: Partial<jose.JWTHeaderParameters> }): Promise<
    string
  >;
}

async function startIssuer(
  opts: { oauthMetadata?: boolean; oidcMetadata?: boolean; metadataIssuer?: string } = {},
): Promise<Issuer> {
  const { publicKey, privateKey } = await jose.generateKeyPair("ES256", { extractable: true });
  const publicJwk = { ...(await jose.exportJWK(publicKey)), kid: "k1", alg: "ES256", use: "sig" };
  const hits: Record<string, number> = {};
  let issuer = "";
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (r) => {
      const path = new URL(r.url).pathname;
      hits[path] = (hits[path] ?? 0) + 1;
      const meta = { issuer: opts.metadataIssuer ?? issuer, jwks_uri: `${issuer}/jwks` };
      if (path === "/.well-known/oauth-authorization-server" && opts.oauthMetadata !== false) {
        return Response.json(meta);
      }
      if (path === "/.well-known/openid-configuration" && opts.oidcMetadata !== false) {
        return Response.json(meta);
      }
      if (path === "/jwks") return Response.json({ keys: [publicJwk] });
      return new Response("not found", { status: 404 });
    },
  );
  issuer = `http://127.0.0.1:${server.addr.port}`;
  return {
    issuer,
    privateKey,
    publicJwk,
    hits,
    sign(claims, o = {}) {
      return new jose.SignJWT(claims)
        .setProtectedHeader({ alg: "ES256", kid: "k1", typ: "at+jwt", ...o.header })
        .sign(privateKey);
    },
    async [Symbol.asyncDispose]() {
      await server.shutdown();
    },
  };
}

const now = () => Math.floor(Date.now() / 1000);

function claims(iss: Issuer, over: jose.JWTPayload = {}): jose.JWTPayload {
  return {
    iss: iss.issuer,
    sub: "alice",
    aud: RESOURCE,
    iat: now(),
    exp: now() + 300,
    scope: "ssh:read ssh:dangerous",
    ...over,
  };
}

function b64url(o: unknown): string {
  return jose.base64url.encode(JSON.stringify(o));
}

async function oauthAuth(iss: Issuer, over: Partial<AuthSettings> = {}) {
  const a = await loadAuth(
    settings({
      MCP_OAUTH_ISSUER: iss.issuer,
      MCP_HTTP_PUBLIC_URL: "https://gw.example.com",
      ...over,
    }),
    {},
  );
  assert.ok(a !== null);
  return a;
}

// ---------------------------------------------------------------------------

Deno.test("HTTP-AUTH-1: nothing configured -> null; half-configured OAuth refused", async () => {
  assert.equal(await loadAuth(settings(), {}), null);
  assert.equal(await loadAuth(settings({ MCP_HTTP_TOKEN: "  " }), {}), null);
  await assertConfigError(
    loadAuth(settings({ MCP_OAUTH_AUDIENCE: "x" }), {}),
    /need MCP_OAUTH_ISSUER/,
  );
  await assertConfigError(
    loadAuth(settings({ MCP_OAUTH_ISSUER: "https://as.example.com" }), {}),
    /needs MCP_HTTP_PUBLIC_URL/,
  );
});

Deno.test("HTTP-AUTH-2: static tokens (env and file) authenticate by name", async () => {
  const file = await tokenFile(`# team tokens\n\nci ${TOKEN_A}\nalice\t${TOKEN_B}\n`);
  try {
    const a = await loadAuth(
      settings({ MCP_HTTP_TOKEN: ENV_TOKEN, MCP_HTTP_TOKEN_FILE: file }),
      {},
      { resourceUrl: RESOURCE },
    );
    assert.ok(a !== null);
    assert.deepEqual(a.methods, ["static"]);
    const expected: [string, string][] = [
      [ENV_TOKEN, "token:default"],
      [TOKEN_A, "token:ci"],
      [TOKEN_B, "token:alice"],
    ];
    for (const [tok, principal] of expected) {
      const r = await a.authenticate(req(`Bearer ${tok}`));
      assertOk(r);
      assert.equal(r.principal, principal);
      assert.equal(r.authInfo.clientId, principal);
      assert.equal(r.tiers, null);
      assert.notEqual(r.authInfo.token, tok);
      assert.ok(!JSON.stringify(r.authInfo).includes(tok), "authInfo holds the raw token");
      assert.match(r.authInfo.token, /^sha256:[0-9a-f]{16}$/);
    }
    // scheme is case-insensitive
    assertOk(await a.authenticate(req(`bearer ${TOKEN_A}`)));
    for (const bad of [TOKEN_C, TOKEN_A.slice(0, -1), TOKEN_A + "x", TOKEN_A.toUpperCase()]) {
      const { www, body } = await refused(await a.authenticate(req(`Bearer ${bad}`)), 401);
      assert.match(www, /error="invalid_token"/);
      assert.ok(!www.includes(bad) && !body.includes(bad));
    }
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("HTTP-AUTH-3: token file errors name the line, never the token", async () => {
  const secret = "s".repeat(40);
  const cases: [string, RegExp][] = [
    [`${secret}\n`, /line 1: expected "name token"/],
    [`# c\n\nok ${TOKEN_A}\nx ${secret} extra\n`, /line 4: expected "name token"/],
    [`bad/name ${secret}\n`, /line 1: the name must be/],
    [`${"n".repeat(65)} ${secret}\n`, /line 1: the name must be/],
    [`a ${secret.slice(0, 31)}\n`, /line 1: the token is too short \(31 characters/],
    [`a ${secret}\n# x\nb ${secret}\n`, /line 3: the same token as line 1/],
    [`a ${TOKEN_A}\na ${secret}\n`, /line 2: duplicate name "a" \(first on line 1\)/],
    [`a ${secret}\u00e9\n`, /line 1: the token must be printable ASCII/],
  ];
  for (const [text, re] of cases) {
    await assertConfigError(parseTokenFile(text, "/etc/t"), re, [secret, secret.slice(0, 31)]);
  }
  // accepted syntax: BOM, CRLF, indentation, comments
  const ok = await parseTokenFile(`\uFEFF# x\r\n  a ${TOKEN_A}  \r\n\r\n#b ${TOKEN_B}\r\n`, "t");
  assert.deepEqual(ok.map((e) => [e.name, e.origin]), [["a", "line 2"]]);
  // an empty file and the reserved name are refused at load time
  const empty = await tokenFile("# nothing\n");
  const clash = await tokenFile(`default ${TOKEN_A}\n`);
  const same = await tokenFile(`x ${ENV_TOKEN}\n`);
  try {
    await assertConfigError(loadAuth(settings({ MCP_HTTP_TOKEN_FILE: empty }), {}), /no tokens/);
    await assertConfigError(
      loadAuth(settings({ MCP_HTTP_TOKEN: ENV_TOKEN, MCP_HTTP_TOKEN_FILE: clash }), {}),
      /line 1: the name "default" is taken by MCP_HTTP_TOKEN/,
      [TOKEN_A, ENV_TOKEN],
    );
    await assertConfigError(
      loadAuth(settings({ MCP_HTTP_TOKEN: ENV_TOKEN, MCP_HTTP_TOKEN_FILE: same }), {}),
      /line 1: the same token as MCP_HTTP_TOKEN/,
      [ENV_TOKEN],
    );
  } finally {
    for (const f of [empty, clash, same]) await Deno.remove(f);
  }
});

Deno.test({
  name: "HTTP-AUTH-4: group/world-readable token file and short tokens refused",
  ignore: Deno.build.os === "windows",
  async fn() {
    for (const mode of [0o640, 0o604, 0o660]) {
      const f = await tokenFile(`a ${TOKEN_A}\n`, mode);
      try {
        await assertConfigError(
          loadAuth(settings({ MCP_HTTP_TOKEN_FILE: f }), {}),
          /readable by group or others .*chmod 600/,
          [TOKEN_A],
        );
      } finally {
        await Deno.remove(f);
      }
    }
    // ~ is expanded with the env passed in
    const f = await tokenFile(`a ${TOKEN_A}\n`);
    try {
      const dir = f.slice(0, f.lastIndexOf("/"));
      const name = f.slice(f.lastIndexOf("/") + 1);
      const a = await loadAuth(settings({ MCP_HTTP_TOKEN_FILE: `~/${name}` }), { HOME: dir });
      assert.ok(a !== null);
      assertOk(await a.authenticate(req(`Bearer ${TOKEN_A}`)));
    } finally {
      await Deno.remove(f);
    }
    await assertConfigError(
      loadAuth(settings({ MCP_HTTP_TOKEN: "short-token" }), {}),
      /MCP_HTTP_TOKEN is too short \(11 characters/,
      ["short-token"],
    );
    await assertConfigError(
      loadAuth(settings({ MCP_HTTP_TOKEN_FILE: "/nonexistent/dir/tokens" }), {}),
      /cannot be read/,
    );
  },
});

Deno.test("HTTP-AUTH-5: every configured token is compared, whatever matches", async () => {
  const file = await tokenFile(`a ${TOKEN_A}\nb ${TOKEN_B}\nc ${TOKEN_C}\n`);
  try {
    const calls: [number, number][] = [];
    const a = await loadAuth(
      settings({ MCP_HTTP_TOKEN: ENV_TOKEN, MCP_HTTP_TOKEN_FILE: file }),
      {},
      {
        compare: (x, y) => {
          calls.push([x.length, y.length]);
          return x.length === y.length && x.every((v, i) => v === y[i]);
        },
      },
    );
    assert.ok(a !== null);
    for (const tok of [ENV_TOKEN, TOKEN_A, TOKEN_C, "wrong".repeat(10), "x"]) {
      calls.length = 0;
      await a.authenticate(req(`Bearer ${tok}`));
      assert.equal(calls.length, 4, `token ${tok.slice(0, 4)}: ${calls.length} comparisons`);
      assert.ok(calls.every(([x, y]) => x === 32 && y === 32), "digests of equal length");
    }
    // the first matching name wins, later entries are still compared
    calls.length = 0;
    const r = await a.authenticate(req(`Bearer ${ENV_TOKEN}`));
    assertOk(r);
    assert.equal(r.principal, "token:default");
    assert.equal(calls.length, 4);
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("HTTP-AUTH-6: challenge headers (no credentials, bad scheme, bad token)", async () => {
  const a = await loadAuth(
    settings({ MCP_HTTP_TOKEN: ENV_TOKEN, MCP_HTTP_PUBLIC_URL: "https://gw.example.com/" }),
    {},
  );
  assert.ok(a !== null);
  // static tokens only: nothing to discover, so no resource_metadata (RFC 9728 is for OAuth)
  assert.equal(a.resourceMetadataUrl, null);
  assert.equal(a.resourceMetadata, null);
  // no credentials: RFC 6750 §3.1, no error code
  let { www, body } = await refused(await a.authenticate(req()), 401);
  assert.equal(www, "Bearer");
  assert.match(body, /unauthorized/);
  ({ www } = await refused(await a.authenticate(req("Basic dXNlcjpwYXNz")), 401));
  assert.ok(!www.includes("error="));
  assert.ok(!www.includes("dXNlcjpwYXNz"));
  // malformed / wrong bearer credentials
  const secretish = "Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0Z2FycGx5";
  for (
    const h of [
      `Bearer ${secretish}`,
      `Bearer ${secretish} extra`,
      "Bearer",
      `Bearer "${secretish}"`,
    ]
  ) {
    ({ www, body } = await refused(await a.authenticate(req(h)), 401));
    assert.match(www, /^Bearer error="invalid_token", error_description="[^"]*"$/);
    assert.ok(!www.includes(secretish) && !body.includes(secretish), `echoed: ${www} ${body}`);
    assert.equal(JSON.parse(body).error, "invalid_token");
  }
  // an oversized header is refused without processing
  ({ www } = await refused(await a.authenticate(req(`Bearer ${"x".repeat(20000)}`)), 401));
  assert.match(www, /invalid_token/);
});

Deno.test("HTTP-AUTH-7: valid JWT -> sub principal, tiers from scope or scp", async () => {
  await using iss = await startIssuer();
  const a = await oauthAuth(iss);
  assert.deepEqual(a.methods, ["oauth"]);
  const tok = await iss.sign(claims(iss));
  const r = await a.authenticate(req(`Bearer ${tok}`));
  assertOk(r);
  assert.equal(r.principal, "sub:alice");
  assert.equal(r.authInfo.clientId, "sub:alice");
  assert.deepEqual([...(r.tiers ?? [])].sort(), ["dangerous", "read"]);
  assert.deepEqual(r.authInfo.scopes, ["ssh:read", "ssh:dangerous"]);
  assert.equal(typeof r.authInfo.expiresAt, "number");
  assert.equal(r.authInfo.resource?.href, RESOURCE);
  assert.equal(r.authInfo.resourceMetadataUrl, PRM_URL);
  assert.ok(!JSON.stringify(r.authInfo).includes(tok));
  assert.match(r.authInfo.token, /^sha256:/);

  // scp array (Okta style), audience array containing this server, trailing-slash twin
  const scp = await iss.sign(
    claims(iss, { scope: undefined, scp: ["ssh:sudo", "ssh:low-access"], aud: ["x", RESOURCE] }),
  );
  const r2 = await a.authenticate(req(`Bearer ${scp}`));
  assertOk(r2);
  assert.deepEqual([...(r2.tiers ?? [])].sort(), ["low-access", "sudo"]);
  assertOk(
    await a.authenticate(req(`Bearer ${await iss.sign(claims(iss, { aud: RESOURCE + "/" }))}`)),
  );
  // within the 30 s clock tolerance
  assertOk(await a.authenticate(req(`Bearer ${await iss.sign(claims(iss, { exp: now() - 10 }))}`)));
  // the JWKS is fetched once and cached
  assert.equal(iss.hits["/jwks"], 1);
});

Deno.test("HTTP-AUTH-8: bad JWTs are 401 invalid_token", async () => {
  await using iss = await startIssuer();
  const a = await oauthAuth(iss);
  const other = await jose.generateKeyPair("ES256");
  const forged = await new jose.SignJWT(claims(iss))
    .setProtectedHeader({ alg: "ES256", kid: "k1" })
    .sign(other.privateKey);
  const none = `${b64url({ alg: "none", typ: "JWT" })}.${b64url(claims(iss))}.`;
  const spki = await jose.exportSPKI(await jose.importJWK(iss.publicJwk, "ES256") as CryptoKey);
  const hsPem = await new jose.SignJWT(claims(iss))
    .setProtectedHeader({ alg: "HS256", kid: "k1" })
    .sign(new TextEncoder().encode(spki));
  const hsJwk = await new jose.SignJWT(claims(iss))
    .setProtectedHeader({ alg: "HS256", kid: "k1" })
    .sign(new TextEncoder().encode(JSON.stringify(iss.publicJwk)));
  const cases: [string, string, RegExp][] = [
    ["expired", await iss.sign(claims(iss, { exp: now() - 120 })), /expired/],
    ["not yet valid", await iss.sign(claims(iss, { nbf: now() + 120 })), /not valid/],
    [
      "wrong audience",
      await iss.sign(claims(iss, { aud: "https://other.example/mcp" })),
      /not issued for this resource/,
    ],
    [
      "audience of the issuer host",
      await iss.sign(claims(iss, { aud: "https://gw.example.com" })),
      /not issued/,
    ],
    ["audience missing", await iss.sign(claims(iss, { aud: undefined })), /not/],
    ["wrong issuer", await iss.sign(claims(iss, { iss: "http://127.0.0.1:1" })), /not valid/],
    ["sub missing", await iss.sign(claims(iss, { sub: undefined })), /not valid/],
    ["exp missing", await iss.sign(claims(iss, { exp: undefined })), /not valid/],
    ["sub with control chars", await iss.sign(claims(iss, { sub: "a\nb" })), /subject/],
    ["forged with the same kid", forged, /not valid/],
    ["alg none", none, /not valid/],
    ["HS256 keyed with the PEM public key", hsPem, /not valid/],
    ["HS256 keyed with the JWK", hsJwk, /not valid/],
    ["unknown kid", await iss.sign(claims(iss), { header: { kid: "k2" } }), /not valid/],
  ];
  for (const [what, tok, re] of cases) {
    const r = await a.authenticate(req(`Bearer ${tok}`));
    assert.equal(r.ok, false, `${what} was accepted`);
    const { www, body } = await refused(r, 401);
    assert.match(www, /error="invalid_token"/, what);
    assert.match(www, re, what);
    assert.ok(www.includes(`resource_metadata="${PRM_URL}"`), what);
    assert.ok(!www.includes(tok) && !body.includes(tok), `${what}: token echoed`);
    assert.ok(!www.includes("scope="), `${what}: no scope on 401`);
  }
});

Deno.test("HTTP-AUTH-9: no ssh:* scope -> 403 insufficient_scope with scope=ssh:read", async () => {
  await using iss = await startIssuer();
  const a = await oauthAuth(iss);
  // with OAuth, even the bare challenge points at the metadata (RFC 9728 §5.1)
  const bare = await refused(await a.authenticate(req()), 401);
  assert.equal(bare.www, `Bearer resource_metadata="${PRM_URL}"`);
  for (const over of [{ scope: "openid profile" }, { scope: undefined }, { scope: "ssh:admin" }]) {
    const tok = await iss.sign(claims(iss, over));
    const { www, body } = await refused(await a.authenticate(req(`Bearer ${tok}`)), 403);
    assert.match(www, /^Bearer error="insufficient_scope"/);
    assert.match(www, /scope="ssh:read"/);
    assert.ok(www.includes(`resource_metadata="${PRM_URL}"`));
    assert.equal(JSON.parse(body).error, "insufficient_scope");
    assert.ok(!www.includes(tok) && !body.includes(tok));
  }
});

Deno.test("HTTP-AUTH-10: issuer discovery rules", async () => {
  // RFC 8414 metadata first
  {
    await using iss = await startIssuer();
    await oauthAuth(iss);
    assert.equal(iss.hits["/.well-known/oauth-authorization-server"], 1);
    assert.equal(iss.hits["/.well-known/openid-configuration"], undefined);
  }
  // OIDC fallback
  {
    await using iss = await startIssuer({ oauthMetadata: false });
    const a = await oauthAuth(iss);
    assert.equal(iss.hits["/.well-known/openid-configuration"], 1);
    assertOk(await a.authenticate(req(`Bearer ${await iss.sign(claims(iss))}`)));
  }
  // the metadata must name exactly the configured issuer
  {
    await using iss = await startIssuer({ metadataIssuer: "http://evil.example" });
    await assertConfigError(oauthAuth(iss), /names the issuer "http:\/\/evil.example"/);
    await using iss2 = await startIssuer();
    await assertConfigError(
      oauthAuth(iss2, { MCP_OAUTH_ISSUER: iss2.issuer + "/" }),
      /must be equal byte for byte/,
    );
  }
  // https unless loopback
  await assertConfigError(
    loadAuth(
      settings({ MCP_OAUTH_ISSUER: "http://as.example.com", MCP_HTTP_PUBLIC_URL: RESOURCE }),
      {},
    ),
    /MCP_OAUTH_ISSUER must be an https:\/\/ URL/,
  );
  // an explicit JWKS URL skips discovery; explicit audience replaces the resource URL
  {
    await using iss = await startIssuer();
    const a = await oauthAuth(iss, {
      MCP_OAUTH_JWKS_URL: `${iss.issuer}/jwks`,
      MCP_OAUTH_AUDIENCE: "api://ssh-mcp",
    });
    assert.equal(iss.hits["/.well-known/oauth-authorization-server"], undefined);
    assertOk(
      await a.authenticate(req(`Bearer ${await iss.sign(claims(iss, { aud: "api://ssh-mcp" }))}`)),
    );
    await refused(await a.authenticate(req(`Bearer ${await iss.sign(claims(iss))}`)), 401);
  }
  // unreachable issuer: load succeeds (retry on demand), a JWT then gets 503, static still works
  {
    const iss = await startIssuer();
    const tok = await iss.sign(claims(iss));
    await iss[Symbol.asyncDispose]();
    const a = await loadAuth(
      settings({
        MCP_OAUTH_ISSUER: iss.issuer,
        MCP_HTTP_PUBLIC_URL: RESOURCE,
        MCP_HTTP_TOKEN: ENV_TOKEN,
      }),
      {},
    );
    assert.ok(a !== null);
    const r = await a.authenticate(req(`Bearer ${tok}`));
    assert.equal(r.ok, false);
    if (!r.ok) {
      assert.equal(r.response.status, 503);
      assert.equal(r.response.headers.get("retry-after"), "30");
      assert.ok(!(await r.response.text()).includes(tok));
    }
    assertOk(await a.authenticate(req(`Bearer ${ENV_TOKEN}`)));
  }
});

Deno.test("HTTP-AUTH-11: protected resource metadata document and URL", async () => {
  assert.equal(protectedResourceMetadataUrl(RESOURCE), PRM_URL);
  assert.equal(
    protectedResourceMetadataUrl("https://gw.example.com/"),
    "https://gw.example.com/.well-known/oauth-protected-resource",
  );
  assert.equal(resourceUrlFromPublicUrl("https://gw.example.com").href, RESOURCE);
  assert.equal(resourceUrlFromPublicUrl("https://gw.example.com/").href, RESOURCE);
  assert.equal(
    resourceUrlFromPublicUrl("https://gw.example.com/ssh/mcp").href,
    "https://gw.example.com/ssh/mcp",
  );
  assert.throws(() => resourceUrlFromPublicUrl("gw.example.com"), ConfigError);
  assert.throws(() => resourceUrlFromPublicUrl("https://gw.example.com/mcp?x=1"), ConfigError);
  assert.deepEqual(protectedResourceMetadata(RESOURCE, "https://as.example.com"), {
    resource: RESOURCE,
    authorization_servers: ["https://as.example.com"],
    bearer_methods_supported: ["header"],
    scopes_supported: ["ssh:read", "ssh:low-access", "ssh:dangerous", "ssh:sudo"],
    resource_name: "ssh-mcp",
  });
  assert.equal(protectedResourceMetadata(RESOURCE, null).authorization_servers, undefined);
  await using iss = await startIssuer();
  const a = await oauthAuth(iss);
  assert.equal(a.resourceUrl?.href, RESOURCE);
  assert.deepEqual(a.resourceMetadata?.authorization_servers, [iss.issuer]);
});

Deno.test("HTTP-AUTH-12: rate limit per principal, refill, bounded memory", () => {
  let t = 1_000_000;
  const rl = new RateLimiter({ limit: 3, now: () => t });
  for (let i = 0; i < 3; i++) assert.deepEqual(rl.take("token:a"), { ok: true });
  const no = rl.take("token:a");
  assert.equal(no.ok, false);
  if (!no.ok) assert.equal(no.retryAfterS, 20); // 3/min = one every 20 s
  assert.deepEqual(rl.take("token:b"), { ok: true }, "buckets are per principal");
  t += 10_000;
  const still = rl.take("token:a");
  assert.ok(!still.ok && still.retryAfterS > 0 && still.retryAfterS <= 10);
  t += 10_000;
  assert.deepEqual(rl.take("token:a"), { ok: true });
  assert.equal(rl.take("token:a").ok, false);
  t += 60_000; // full again, but never more than the burst
  for (let i = 0; i < 3; i++) assert.ok(rl.take("token:a").ok);
  assert.equal(rl.take("token:a").ok, false);

  const small = new RateLimiter({ limit: 5, now: () => t, maxBuckets: 10 });
  for (let i = 0; i < 100; i++) small.take(`sub:${i}`);
  assert.ok(small.size <= 10, `size ${small.size}`);
  // the newest principal keeps its (used) bucket through eviction
  for (let i = 0; i < 5; i++) small.take("sub:hot");
  for (let i = 0; i < 20; i++) small.take(`sub:x${i}`);
  // idle buckets refill and are dropped on the next sweep
  t += 120_000;
  for (let i = 0; i < 12; i++) small.take(`sub:late${i}`);
  assert.ok(small.size <= 10);

  assert.equal(rateLimiterFromSettings({ MCP_HTTP_RATE_LIMIT: 0 }), null);
  assert.equal(rateLimiterFromSettings({ MCP_HTTP_RATE_LIMIT: 600 })?.limit, 600);
  assert.throws(() => new RateLimiter({ limit: 0 }), RangeError);
  const res = rateLimitResponse(7);
  assert.equal(res.status, 429);
  assert.equal(res.headers.get("retry-after"), "7");
});

Deno.test("HTTP-AUTH-12b: the hot principal is not reset by eviction pressure", () => {
  let t = 0;
  const rl = new RateLimiter({ limit: 2, now: () => t, maxBuckets: 3 });
  assert.ok(rl.take("hot").ok);
  assert.ok(rl.take("hot").ok);
  for (let i = 0; i < 50; i++) {
    rl.take(`other${i}`);
    assert.equal(rl.take("hot").ok, false, `hot got a fresh bucket after ${i} others`);
    t += 1; // 1 ms: no meaningful refill
  }
});

Deno.test("HTTP-AUTH-13: static token and OAuth configured together", async () => {
  await using iss = await startIssuer();
  const a = await oauthAuth(iss, { MCP_HTTP_TOKEN: ENV_TOKEN });
  assert.deepEqual(a.methods, ["static", "oauth"]);
  const s = await a.authenticate(req(`Bearer ${ENV_TOKEN}`));
  assertOk(s);
  assert.equal(s.principal, "token:default");
  assert.equal(s.tiers, null);
  const j = await a.authenticate(req(`Bearer ${await iss.sign(claims(iss, { sub: "bob" }))}`));
  assertOk(j);
  assert.equal(j.principal, "sub:bob");
  await refused(await a.authenticate(req(`Bearer ${TOKEN_C}`)), 401);
});
