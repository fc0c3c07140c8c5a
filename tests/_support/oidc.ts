/**
 * A local OIDC-style issuer for the gateway's OAuth tests: its own ES256 key
 * pair, `/.well-known/oauth-authorization-server` metadata and a JWKS
 * endpoint on `127.0.0.1`, and a `sign()` that mints access tokens (valid by
 * default; every claim can be overridden to make expired, wrong-audience,
 * wrong-issuer or under-scoped tokens).
 *
 * @module
 */

import * as jose from "jose";

/** A running issuer. */
export interface Issuer {
  /** the issuer identifier (`http://127.0.0.1:PORT`) */
  url: string;
  /** signs a token; `claims` override the defaults (sub alice, exp +5 min) */
  sign(
    claims: Record<string, unknown>,
    opts?: { key?: CryptoKey; kid?: string; alg?: string },
  ): Promise<string>;
  /** a key pair the issuer does NOT publish (forgeries) */
  otherKey(): Promise<CryptoKey>;
  close(): Promise<void>;
}

/** Starts an issuer on a free loopback port. */
export async function startIssuer(): Promise<Issuer> {
  const { publicKey, privateKey } = await jose.generateKeyPair("ES256", { extractable: true });
  const jwk = { ...(await jose.exportJWK(publicKey)), kid: "k1", alg: "ES256", use: "sig" };
  let url = "";
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    const path = new URL(req.url).pathname;
    if (path === "/.well-known/oauth-authorization-server") {
      return Response.json({
        issuer: url,
        jwks_uri: `${url}/jwks`,
        authorization_endpoint: `${url}/authorize`,
        token_endpoint: `${url}/token`,
        response_types_supported: ["code"],
      });
    }
    if (path === "/jwks") return Response.json({ keys: [jwk] });
    return new Response("not found", { status: 404 });
  });
  url = `http://127.0.0.1:${(server.addr as Deno.NetAddr).port}`;
  return {
    url,
    async sign(claims, opts = {}) {
      const now = Math.floor(Date.now() / 1000);
      return await new jose.SignJWT({ scope: "ssh:read", ...claims })
        .setProtectedHeader({ alg: opts.alg ?? "ES256", kid: opts.kid ?? "k1", typ: "at+jwt" })
        .setIssuer(typeof claims.iss === "string" ? claims.iss : url)
        .setSubject(typeof claims.sub === "string" ? claims.sub : "alice")
        .setIssuedAt(now)
        .setExpirationTime(typeof claims.exp === "number" ? claims.exp : now + 300)
        .sign(opts.key ?? privateKey);
    },
    async otherKey() {
      return (await jose.generateKeyPair("ES256")).privateKey;
    },
    async close() {
      await server.shutdown();
    },
  };
}
