/**
 * Authentication of the Streamable HTTP gateway.
 *
 * Two methods, either or both:
 *
 * - static bearer tokens: `MCP_HTTP_TOKEN` (principal `token:default`) and
 *   `MCP_HTTP_TOKEN_FILE` (`name token` per line, principal `token:<name>`).
 *   A presented token is compared in constant time with EVERY configured
 *   token (SHA-256 of both, then `timingSafeEqual`), never stopping at the
 *   first match. Static tokens get every tier the environment allows.
 * - OAuth 2.1 resource server: JWT access tokens from `MCP_OAUTH_ISSUER`,
 *   verified locally against the issuer's JWKS (asymmetric algorithms only),
 *   with the audience bound to this server (RFC 8707) and the `ssh:*` scopes
 *   mapped to access tiers.
 *
 * Refusals are ready `Response`s with an RFC 6750 / RFC 9728
 * `WWW-Authenticate: Bearer ...` challenge (built by the MCP SDK's
 * `bearerAuthChallengeResponse`). Tokens are never logged, echoed in a
 * challenge or error message, or forwarded anywhere; `AuthInfo.token` holds
 * an opaque marker, not the token.
 *
 * @module
 */

import { timingSafeEqual } from "node:crypto";
import * as jose from "jose";
import {
  type AuthInfo,
  bearerAuthChallengeResponse,
  getOAuthProtectedResourceMetadataUrl,
  OAuthError,
  OAuthErrorCode,
  type OAuthProtectedResourceMetadata,
  type OAuthTokenVerifier,
} from "@modelcontextprotocol/server";
import { expandPath } from "../config/env.ts";
import { isLoopbackHost } from "../config/settings.ts";
import "../config/ip_lib.ts"; // isLoopbackHost of any host name
import type { Settings, Tier } from "../config/types.ts";
import { ConfigError } from "../errors.ts";
import { type Logger, nullLogger } from "../log.ts";

/** The settings this module reads. */
export type AuthSettings = Pick<
  Settings,
  | "MCP_HTTP_TOKEN"
  | "MCP_HTTP_TOKEN_FILE"
  | "MCP_HTTP_PUBLIC_URL"
  | "MCP_OAUTH_ISSUER"
  | "MCP_OAUTH_JWKS_URL"
  | "MCP_OAUTH_AUDIENCE"
>;

/** OAuth scope -> access tier. */
export const SCOPE_TIERS: Readonly<Record<string, Tier>> = Object.freeze({
  "ssh:read": "read",
  "ssh:low-access": "low-access",
  "ssh:dangerous": "dangerous",
  "ssh:sudo": "sudo",
});

/** Every scope this server understands (advertised as `scopes_supported`). */
export const SCOPES_SUPPORTED: readonly string[] = Object.freeze(Object.keys(SCOPE_TIERS));

/** JWS algorithms accepted for access tokens: asymmetric only (no `none`, no HMAC). */
export const JWT_ALGORITHMS: readonly string[] = Object.freeze([
  "RS256",
  "PS256",
  "ES256",
  "ES384",
  "EdDSA",
]);

/** Minimum length of a static token (MCP_HTTP_TOKEN and the token file). */
export const MIN_TOKEN_CHARS = 32;
/** Human-readable name in the protected resource metadata. */
export const RESOURCE_NAME = "ssh-mcp";

const NAME_RE = /^[A-Za-z0-9_.-]{1,64}$/;
/** visible ASCII: what a bearer token may hold in an HTTP header */
const TOKEN_CHARS_RE = /^[\x21-\x7E]+$/;
const MAX_TOKEN_FILE_BYTES = 1024 * 1024;
/** longer Authorization values are refused without being processed */
const MAX_AUTHORIZATION_CHARS = 16 * 1024;
const MAX_SUB_CHARS = 256;
const CLOCK_TOLERANCE_S = 30;
const FETCH_TIMEOUT_MS = 5000;
const MAX_METADATA_BYTES = 1024 * 1024;
/** after a failed issuer discovery, the next attempt waits this long */
const DISCOVERY_RETRY_MS = 30_000;

/** The outcome of {@link Authenticator.authenticate}. */
export type AuthResult =
  | {
    readonly ok: true;
    /** `token:<name>` (static token) or `sub:<jwt sub>` (OAuth) */
    readonly principal: string;
    /** for `createMcpHandler(...).fetch(req, { authInfo })`; `token` is an opaque marker */
    readonly authInfo: AuthInfo;
    /** tiers granted by the credential; null = every tier the environment allows */
    readonly tiers: ReadonlySet<Tier> | null;
  }
  | { readonly ok: false; readonly response: Response };

/** Authenticates requests of the HTTP gateway. */
export interface Authenticator {
  /** Checks the request's `Authorization: Bearer` credential. Never throws. */
  authenticate(req: Request): Promise<AuthResult>;
  /** configured methods, for the startup log and `doctor` */
  readonly methods: readonly ("static" | "oauth")[];
  /** the protected resource (the public URL of the MCP endpoint), when known */
  readonly resourceUrl: URL | null;
  /** RFC 9728 metadata URL advertised in challenges; null unless OAuth is configured */
  readonly resourceMetadataUrl: string | null;
  /** the RFC 9728 document to serve at `resourceMetadataUrl` (null when that is null) */
  readonly resourceMetadata: OAuthProtectedResourceMetadata | null;
}

/** Options of {@link loadAuth}. */
export interface LoadAuthOptions {
  logger?: Logger;
  /** fetch for issuer discovery and the JWKS (tests); default: global fetch */
  fetch?: typeof fetch;
  /**
   * The public URL of the MCP endpoint (the protected resource). Overrides
   * the URL derived from `MCP_HTTP_PUBLIC_URL`.
   */
  resourceUrl?: string | URL;
  /**
   * Equal-length byte comparison of two SHA-256 digests; default
   * `node:crypto` `timingSafeEqual`. Injectable so tests can count calls.
   */
  compare?: (a: Uint8Array, b: Uint8Array) => boolean;
}

/** One parsed static token (the raw token is kept only as its digest). */
export interface StaticTokenEntry {
  name: string;
  /** SHA-256 of the token's UTF-8 bytes */
  digest: Uint8Array;
  /** where it was configured, for error messages (`MCP_HTTP_TOKEN` or `file line N`) */
  origin: string;
}

/**
 * Builds the authenticator from the settings, or returns null when no
 * authentication is configured (the caller then serves loopback only).
 * Throws `ConfigError` on an invalid configuration; messages never contain a
 * token.
 */
export async function loadAuth(
  settings: AuthSettings,
  env: Record<string, string | undefined> = Deno.env.toObject(),
  opts: LoadAuthOptions = {},
): Promise<Authenticator | null> {
  const logger = opts.logger ?? nullLogger;
  const token = nonBlank(settings.MCP_HTTP_TOKEN);
  const tokenFile = nonBlank(settings.MCP_HTTP_TOKEN_FILE);
  const issuer = nonBlank(settings.MCP_OAUTH_ISSUER);
  const jwksUrl = nonBlank(settings.MCP_OAUTH_JWKS_URL);
  const audience = nonBlank(settings.MCP_OAUTH_AUDIENCE);

  if (issuer === null && (jwksUrl !== null || audience !== null)) {
    throw new ConfigError(
      "MCP_OAUTH_JWKS_URL and MCP_OAUTH_AUDIENCE need MCP_OAUTH_ISSUER (the authorization " +
        "server whose tokens are accepted); set it or unset them.",
    );
  }
  if (token === null && tokenFile === null && issuer === null) return null;

  const resourceUrl = opts.resourceUrl !== undefined
    ? parseResourceUrl(String(opts.resourceUrl), "the resource URL")
    : nonBlank(settings.MCP_HTTP_PUBLIC_URL) !== null
    ? resourceUrlFromPublicUrl(settings.MCP_HTTP_PUBLIC_URL as string)
    : null;
  if (
    resourceUrl !== null && resourceUrl.protocol !== "https:" &&
    !isLoopbackHost(resourceUrl.hostname)
  ) {
    logger.warn(
      "http auth: the public URL is not https; bearer tokens would cross the network in clear " +
        "unless a TLS proxy fronts the gateway",
    );
  }

  const entries: StaticTokenEntry[] = [];
  if (token !== null) {
    checkStaticToken(token, "MCP_HTTP_TOKEN");
    entries.push({ name: "default", digest: await sha256(token), origin: "MCP_HTTP_TOKEN" });
  }
  if (tokenFile !== null) {
    const path = expandPath(tokenFile, env);
    const fromFile = await readTokenFile(path);
    for (const e of fromFile) {
      const clash = entries.find((x) => x.name === e.name);
      if (clash !== undefined) {
        throw new ConfigError(
          `MCP_HTTP_TOKEN_FILE ${path} ${e.origin}: the name "default" is taken by MCP_HTTP_TOKEN; ` +
            "rename one of them.",
        );
      }
      const same = entries.find((x) => bytesEqual(x.digest, e.digest));
      if (same !== undefined) {
        throw new ConfigError(
          `MCP_HTTP_TOKEN_FILE ${path} ${e.origin}: the same token as ${same.origin}; ` +
            "give every client its own token.",
        );
      }
      entries.push(e);
    }
  }
  const statics = entries.length > 0
    ? new StaticTokens(entries, opts.compare ?? defaultCompare)
    : null;

  let oauth: JwtVerifier | null = null;
  if (issuer !== null) {
    if (resourceUrl === null) {
      throw new ConfigError(
        "MCP_OAUTH_ISSUER needs MCP_HTTP_PUBLIC_URL (the URL clients use, e.g. " +
          "https://gateway.example.com/mcp): it is the token audience (RFC 8707) and the " +
          "resource of the protected resource metadata (RFC 9728).",
      );
    }
    const issuerUrl = checkRemoteUrl(issuer, "MCP_OAUTH_ISSUER");
    if (issuerUrl.search !== "" || issuerUrl.hash !== "") {
      throw new ConfigError("MCP_OAUTH_ISSUER must not have a query or fragment.");
    }
    const fixedJwks = jwksUrl === null ? null : checkRemoteUrl(jwksUrl, "MCP_OAUTH_JWKS_URL");
    const audiences = audience !== null ? [audience] : resourceAudiences(resourceUrl);
    oauth = new JwtVerifier({
      issuer,
      audiences,
      resourceUrl,
      fixedJwks,
      fetch: opts.fetch ?? globalThis.fetch,
      logger,
    });
    await oauth.init();
  }

  // RFC 9728 discovery only makes sense with an authorization server to
  // discover: static-token challenges carry no resource_metadata (a client
  // cannot obtain a static token through OAuth)
  const resourceMetadataUrl = oauth === null || resourceUrl === null
    ? null
    : protectedResourceMetadataUrl(resourceUrl);
  const resourceMetadata = oauth === null || resourceUrl === null
    ? null
    : protectedResourceMetadata(resourceUrl, issuer);
  const methods: ("static" | "oauth")[] = [];
  if (statics !== null) methods.push("static");
  if (oauth !== null) methods.push("oauth");
  logger.info("http auth configured", {
    methods: methods.join(","),
    static_tokens: entries.length,
    ...(issuer !== null ? { issuer } : {}),
  });
  return new GatewayAuthenticator(
    statics,
    oauth,
    resourceUrl,
    resourceMetadataUrl,
    resourceMetadata,
    logger,
  );
}

/**
 * The RFC 9728 Protected Resource Metadata document of this server.
 * `authorization_servers` is present only when an issuer is configured.
 */
export function protectedResourceMetadata(
  resourceUrl: string | URL,
  issuer: string | null,
): OAuthProtectedResourceMetadata {
  const url = new URL(String(resourceUrl));
  url.hash = "";
  return {
    resource: url.href,
    ...(issuer !== null ? { authorization_servers: [issuer] } : {}),
    bearer_methods_supported: ["header"],
    scopes_supported: [...SCOPES_SUPPORTED],
    resource_name: RESOURCE_NAME,
  };
}

/**
 * The RFC 9728 §3.1 metadata URL of a resource:
 * `https://gw.example.com/mcp` -> `https://gw.example.com/.well-known/oauth-protected-resource/mcp`.
 */
export function protectedResourceMetadataUrl(resourceUrl: string | URL): string {
  return getOAuthProtectedResourceMetadataUrl(new URL(String(resourceUrl)));
}

/**
 * The URL of the MCP endpoint from `MCP_HTTP_PUBLIC_URL`: a URL without a
 * path (or `/`) gets `mcpPath` appended; any other path is taken as the
 * endpoint's own URL (a proxy that mounts the gateway under a prefix).
 */
export function resourceUrlFromPublicUrl(publicUrl: string, mcpPath = "/mcp"): URL {
  const url = parseResourceUrl(publicUrl, "MCP_HTTP_PUBLIC_URL");
  if (url.pathname === "" || url.pathname === "/") url.pathname = mcpPath;
  return url;
}

/**
 * Parses a token file (`name token` per line, `#` comments, blank lines).
 * Errors name the line number, never the line's content.
 */
export async function parseTokenFile(text: string, source: string): Promise<StaticTokenEntry[]> {
  const out: StaticTokenEntry[] = [];
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const n = i + 1;
    const line = (lines[i] as string).trim();
    if (line === "" || line.startsWith("#")) continue;
    const fail = (why: string): never => {
      throw new ConfigError(`MCP_HTTP_TOKEN_FILE ${source} line ${n}: ${why}`);
    };
    const parts = line.split(/[ \t]+/);
    if (parts.length !== 2) {
      fail(`expected "name token" (two fields separated by spaces), found ${parts.length} fields.`);
    }
    const [name, token] = parts as [string, string];
    if (!NAME_RE.test(name)) {
      fail("the name must be 1-64 characters of A-Z a-z 0-9 _ . -");
    }
    if (token.length < MIN_TOKEN_CHARS) {
      fail(
        `the token is too short (${token.length} characters; at least ${MIN_TOKEN_CHARS} ` +
          "required). Generate one with `openssl rand -hex 32`.",
      );
    }
    if (!TOKEN_CHARS_RE.test(token)) {
      fail("the token must be printable ASCII without spaces.");
    }
    const origin = `line ${n}`;
    const digest = await sha256(token);
    for (const e of out) {
      if (e.name === name) fail(`duplicate name "${name}" (first on ${e.origin}).`);
      if (bytesEqual(e.digest, digest)) {
        fail(`the same token as ${e.origin}; give every client its own token.`);
      }
    }
    out.push({ name, digest, origin });
  }
  return out;
}

// ---------------------------------------------------------------------------
// static tokens

async function readTokenFile(path: string): Promise<StaticTokenEntry[]> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (e) {
    throw new ConfigError(
      `MCP_HTTP_TOKEN_FILE ${path} cannot be read: ${e instanceof Error ? e.name : "error"}.`,
    );
  }
  if (!info.isFile) throw new ConfigError(`MCP_HTTP_TOKEN_FILE ${path} is not a regular file.`);
  if (info.mode !== null && (info.mode & 0o077) !== 0) {
    throw new ConfigError(
      `MCP_HTTP_TOKEN_FILE ${path} is readable by group or others (mode ` +
        `${(info.mode & 0o777).toString(8).padStart(3, "0")}); run \`chmod 600 ${path}\`.`,
    );
  }
  if (info.size > MAX_TOKEN_FILE_BYTES) {
    throw new ConfigError(`MCP_HTTP_TOKEN_FILE ${path} is larger than 1 MiB.`);
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(await Deno.readFile(path));
  } catch (e) {
    if (e instanceof TypeError) {
      throw new ConfigError(`MCP_HTTP_TOKEN_FILE ${path} is not valid UTF-8.`);
    }
    throw new ConfigError(
      `MCP_HTTP_TOKEN_FILE ${path} cannot be read: ${e instanceof Error ? e.name : "error"}.`,
    );
  }
  const entries = await parseTokenFile(text, path);
  if (entries.length === 0) {
    throw new ConfigError(`MCP_HTTP_TOKEN_FILE ${path} holds no tokens.`);
  }
  return entries;
}

function checkStaticToken(token: string, setting: string): void {
  if (token.length < MIN_TOKEN_CHARS) {
    throw new ConfigError(
      `${setting} is too short (${token.length} characters; at least ${MIN_TOKEN_CHARS} ` +
        "required). Generate one with `openssl rand -hex 32`.",
    );
  }
  if (!TOKEN_CHARS_RE.test(token)) {
    throw new ConfigError(`${setting} must be printable ASCII without spaces.`);
  }
}

function defaultCompare(a: Uint8Array, b: Uint8Array): boolean {
  return timingSafeEqual(a, b);
}

/** The configured static tokens; lookup compares with every one of them. */
class StaticTokens {
  readonly #entries: readonly StaticTokenEntry[];
  readonly #compare: (a: Uint8Array, b: Uint8Array) => boolean;

  constructor(
    entries: readonly StaticTokenEntry[],
    compare: (a: Uint8Array, b: Uint8Array) => boolean,
  ) {
    this.#entries = entries;
    this.#compare = compare;
  }

  /**
   * The name of the matching token, or null. The presented token is hashed
   * (so its length does not matter) and compared with every entry: no early
   * exit, the loop always runs to the end.
   */
  async match(token: string): Promise<string | null> {
    const digest = await sha256(token);
    let found: string | null = null;
    for (const e of this.#entries) {
      const eq = this.#compare(digest, e.digest);
      found = eq && found === null ? e.name : found;
    }
    return found;
  }
}

// ---------------------------------------------------------------------------
// OAuth (JWT access tokens)

interface JwtVerifierOptions {
  issuer: string;
  audiences: string[];
  resourceUrl: URL;
  fixedJwks: URL | null;
  fetch: typeof fetch;
  logger: Logger;
}

/** The JWKS could not be obtained: the answer is 503, not 401. */
class UpstreamUnavailable extends Error {}

/**
 * Local JWT verification against the issuer's JWKS; an SDK
 * `OAuthTokenVerifier` (throws `OAuthError` invalid_token on any token fault).
 */
class JwtVerifier implements OAuthTokenVerifier {
  readonly #o: JwtVerifierOptions;
  #jwks: ReturnType<typeof jose.createRemoteJWKSet> | null = null;
  #discovery: Promise<void> | null = null;
  #lastFailure = 0;

  constructor(o: JwtVerifierOptions) {
    this.#o = o;
  }

  /**
   * Resolves the JWKS URL at startup. A configuration fault (issuer mismatch,
   * non-https URL) throws ConfigError; an unreachable issuer is logged and
   * retried on the first token.
   */
  async init(): Promise<void> {
    try {
      await this.#ensureJwks();
    } catch (e) {
      if (e instanceof ConfigError) throw e;
      this.#o.logger.warn(
        "http auth: the OAuth issuer's metadata cannot be fetched now; retrying on demand",
        { issuer: this.#o.issuer, error: errorName(e) },
      );
    }
  }

  async #ensureJwks(): Promise<ReturnType<typeof jose.createRemoteJWKSet>> {
    if (this.#jwks !== null) return this.#jwks;
    if (this.#discovery === null) {
      if (this.#lastFailure !== 0 && Date.now() - this.#lastFailure < DISCOVERY_RETRY_MS) {
        throw new UpstreamUnavailable("issuer discovery failed recently");
      }
      this.#discovery = (async () => {
        const url = this.#o.fixedJwks ?? await discoverJwksUri(this.#o.issuer, this.#o.fetch);
        this.#jwks = jose.createRemoteJWKSet(url, {
          timeoutDuration: FETCH_TIMEOUT_MS,
          cooldownDuration: 30_000,
          cacheMaxAge: 10 * 60_000,
          [jose.customFetch]: this.#o.fetch,
        });
      })();
      try {
        await this.#discovery;
      } catch (e) {
        this.#lastFailure = Date.now();
        throw e;
      } finally {
        this.#discovery = null;
      }
    } else {
      await this.#discovery;
    }
    if (this.#jwks === null) throw new UpstreamUnavailable("no JWKS");
    return this.#jwks;
  }

  /** Verifies signature, issuer, audience, exp/nbf and `sub`; see the module doc. */
  async verifyAccessToken(token: string): Promise<AuthInfo> {
    let jwks: ReturnType<typeof jose.createRemoteJWKSet>;
    try {
      jwks = await this.#ensureJwks();
    } catch (e) {
      throw e instanceof UpstreamUnavailable ? e : new UpstreamUnavailable(errorName(e));
    }
    let payload: jose.JWTPayload;
    try {
      ({ payload } = await jose.jwtVerify(token, jwks, {
        issuer: this.#o.issuer,
        audience: this.#o.audiences,
        algorithms: [...JWT_ALGORITHMS],
        clockTolerance: CLOCK_TOLERANCE_S,
        requiredClaims: ["exp", "sub"],
      }));
    } catch (e) {
      throw classifyJoseError(e);
    }
    const sub = payload.sub;
    if (
      typeof sub !== "string" || sub.length === 0 || sub.length > MAX_SUB_CHARS ||
      // deno-lint-ignore no-control-regex
      /[\x00-\x1F\x7F]/.test(sub)
    ) {
      throw new OAuthError(OAuthErrorCode.InvalidToken, "The access token's subject is not usable");
    }
    const principal = `sub:${sub}`;
    return {
      token: await tokenMarker(token),
      clientId: principal,
      scopes: tokenScopes(payload),
      ...(typeof payload.exp === "number" ? { expiresAt: payload.exp } : {}),
      resource: new URL(this.#o.resourceUrl.href),
      extra: {
        method: "oauth",
        ...(typeof payload.azp === "string" ? { azp: payload.azp } : {}),
        ...(typeof payload["client_id"] === "string"
          ? { oauth_client_id: payload["client_id"] }
          : {}),
      },
    };
  }
}

/** token faults (401) vs infrastructure faults (503) */
const TOKEN_FAULTS = new Set([
  "ERR_JWT_CLAIM_VALIDATION_FAILED",
  "ERR_JWT_EXPIRED",
  "ERR_JOSE_ALG_NOT_ALLOWED",
  "ERR_JOSE_NOT_SUPPORTED",
  "ERR_JWS_INVALID",
  "ERR_JWT_INVALID",
  "ERR_JWKS_NO_MATCHING_KEY",
  "ERR_JWKS_MULTIPLE_MATCHING_KEYS",
  "ERR_JWS_SIGNATURE_VERIFICATION_FAILED",
]);

function classifyJoseError(e: unknown): Error {
  if (e instanceof jose.errors.JOSEError && TOKEN_FAULTS.has(e.code)) {
    if (e.code === "ERR_JWT_EXPIRED") {
      return new OAuthError(OAuthErrorCode.InvalidToken, "The access token expired");
    }
    if (e instanceof jose.errors.JWTClaimValidationFailed && e.claim === "aud") {
      return new OAuthError(
        OAuthErrorCode.InvalidToken,
        "The access token was not issued for this resource",
      );
    }
    return new OAuthError(OAuthErrorCode.InvalidToken, "The access token is not valid");
  }
  return new UpstreamUnavailable(errorName(e));
}

function tokenScopes(payload: jose.JWTPayload): string[] {
  const out = new Set<string>();
  for (const claim of [payload["scope"], payload["scp"]]) {
    const items = typeof claim === "string"
      ? claim.split(" ")
      : Array.isArray(claim)
      ? claim.filter((x): x is string => typeof x === "string")
      : [];
    for (const s of items) if (s !== "") out.add(s);
  }
  return [...out];
}

async function discoverJwksUri(issuer: string, fetchImpl: typeof fetch): Promise<URL> {
  const iss = new URL(issuer);
  const path = iss.pathname === "/" ? "" : iss.pathname.replace(/\/$/, "");
  const candidates = path === ""
    ? [
      `${iss.origin}/.well-known/oauth-authorization-server`,
      `${iss.origin}/.well-known/openid-configuration`,
    ]
    : [
      `${iss.origin}/.well-known/oauth-authorization-server${path}`,
      `${iss.origin}/.well-known/openid-configuration${path}`,
      `${iss.origin}${path}/.well-known/openid-configuration`,
    ];
  let lastError = "no metadata document found";
  for (const url of candidates) {
    let res: Response;
    try {
      res = await fetchImpl(url, {
        headers: { accept: "application/json" },
        redirect: "error",
        signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
      });
    } catch (e) {
      lastError = errorName(e);
      continue;
    }
    if (!res.ok) {
      await res.body?.cancel();
      lastError = `HTTP ${res.status}`;
      continue;
    }
    const text = await res.text();
    if (text.length > MAX_METADATA_BYTES) throw new ConfigError(`${url} is too large.`);
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      throw new ConfigError(`The OAuth issuer metadata at ${url} is not JSON.`);
    }
    if (typeof doc !== "object" || doc === null) {
      throw new ConfigError(`The OAuth issuer metadata at ${url} is not a JSON object.`);
    }
    const d = doc as Record<string, unknown>;
    if (d["issuer"] !== issuer) {
      throw new ConfigError(
        `The OAuth metadata at ${url} names the issuer ${JSON.stringify(d["issuer"])}, ` +
          `not MCP_OAUTH_ISSUER=${JSON.stringify(issuer)}; they must be equal byte for byte ` +
          "(mind a trailing slash).",
      );
    }
    if (typeof d["jwks_uri"] !== "string") {
      throw new ConfigError(
        `The OAuth metadata at ${url} has no jwks_uri; set MCP_OAUTH_JWKS_URL.`,
      );
    }
    return checkRemoteUrl(d["jwks_uri"], `jwks_uri of ${url}`);
  }
  throw new UpstreamUnavailable(lastError);
}

// ---------------------------------------------------------------------------
// the authenticator

class GatewayAuthenticator implements Authenticator {
  readonly methods: readonly ("static" | "oauth")[];

  constructor(
    private readonly statics: StaticTokens | null,
    private readonly oauth: JwtVerifier | null,
    readonly resourceUrl: URL | null,
    readonly resourceMetadataUrl: string | null,
    readonly resourceMetadata: OAuthProtectedResourceMetadata | null,
    private readonly logger: Logger,
  ) {
    const m: ("static" | "oauth")[] = [];
    if (statics !== null) m.push("static");
    if (oauth !== null) m.push("oauth");
    this.methods = m;
  }

  async authenticate(req: Request): Promise<AuthResult> {
    try {
      return await this.#authenticate(req);
    } catch (e) {
      this.logger.error("http auth: unexpected failure", { error: errorName(e) });
      return { ok: false, response: unavailable() };
    }
  }

  async #authenticate(req: Request): Promise<AuthResult> {
    const header = req.headers.get("authorization");
    if (header === null || header.trim() === "") return this.#refuse(null, "no credentials");
    const m = /^[ \t]*Bearer[ \t]+([\x21-\x7E]+)[ \t]*$/i.exec(header);
    if (m === null) {
      // another scheme (Basic, ...) is treated as no bearer credentials at all
      if (!/^[ \t]*Bearer(?:[ \t]|$)/i.test(header)) return this.#refuse(null, "not bearer");
      return this.#refuse(
        new OAuthError(OAuthErrorCode.InvalidToken, "Malformed bearer credentials"),
        "malformed",
      );
    }
    const token = m[1] as string;
    if (token.length > MAX_AUTHORIZATION_CHARS) {
      return this.#refuse(
        new OAuthError(OAuthErrorCode.InvalidToken, "The access token is not valid"),
        "too long",
      );
    }

    if (this.statics !== null) {
      const name = await this.statics.match(token);
      if (name !== null) {
        const principal = `token:${name}`;
        return {
          ok: true,
          principal,
          tiers: null,
          authInfo: {
            token: await tokenMarker(token),
            clientId: principal,
            scopes: [...SCOPES_SUPPORTED],
            ...(this.resourceUrl !== null ? { resource: new URL(this.resourceUrl.href) } : {}),
            ...(this.resourceMetadataUrl !== null
              ? { resourceMetadataUrl: this.resourceMetadataUrl }
              : {}),
            extra: { method: "static" },
          },
        };
      }
    }

    if (this.oauth === null || !looksLikeJwt(token)) {
      return this.#refuse(
        new OAuthError(OAuthErrorCode.InvalidToken, "The access token is not valid"),
        "unknown token",
      );
    }
    let info: AuthInfo;
    try {
      info = await this.oauth.verifyAccessToken(token);
    } catch (e) {
      if (e instanceof OAuthError) return this.#refuse(e, e.message);
      this.logger.warn("http auth: the OAuth JWKS is unavailable", { error: errorName(e) });
      return { ok: false, response: unavailable() };
    }
    const tiers = new Set<Tier>();
    for (const s of info.scopes) {
      const t = SCOPE_TIERS[s];
      if (t !== undefined) tiers.add(t);
    }
    if (tiers.size === 0) {
      return this.#refuse(
        new OAuthError(
          OAuthErrorCode.InsufficientScope,
          "The access token grants none of the ssh:* scopes",
        ),
        "no ssh scope",
        ["ssh:read"],
      );
    }
    return {
      ok: true,
      principal: info.clientId,
      tiers,
      authInfo: {
        ...info,
        ...(this.resourceMetadataUrl !== null
          ? { resourceMetadataUrl: this.resourceMetadataUrl }
          : {}),
      },
    };
  }

  /** 401/403 with the challenge; `err` null = no credentials (RFC 6750 §3.1: no error code). */
  #refuse(err: OAuthError | null, reason: string, requiredScopes: string[] = []): AuthResult {
    this.logger.debug("http auth refused", { reason });
    if (err === null) {
      let challenge = "Bearer";
      if (this.resourceMetadataUrl !== null) {
        challenge += ` resource_metadata="${quoted(this.resourceMetadataUrl)}"`;
      }
      return {
        ok: false,
        response: Response.json(
          { error: "unauthorized", error_description: "Bearer authentication required" },
          { status: 401, headers: { "WWW-Authenticate": challenge } },
        ),
      };
    }
    return {
      ok: false,
      response: bearerAuthChallengeResponse(err, {
        requiredScopes,
        ...(this.resourceMetadataUrl !== null
          ? { resourceMetadataUrl: this.resourceMetadataUrl }
          : {}),
      }),
    };
  }
}

function unavailable(): Response {
  return Response.json(
    {
      error: "temporarily_unavailable",
      error_description: "The token cannot be verified now; try again later",
    },
    { status: 503, headers: { "Retry-After": "30" } },
  );
}

// ---------------------------------------------------------------------------
// helpers

function nonBlank(v: string | null | undefined): string | null {
  return v === null || v === undefined || v.trim() === "" ? null : v.trim();
}

function parseResourceUrl(raw: string, what: string): URL {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw new ConfigError(`${what} is not a URL (expected e.g. https://gateway.example.com/mcp).`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new ConfigError(`${what} must be an https:// URL.`);
  }
  if (url.search !== "" || url.hash !== "" || url.username !== "" || url.password !== "") {
    throw new ConfigError(`${what} must not have a query, fragment or credentials.`);
  }
  return url;
}

/** the resource URL and its trailing-slash twin (clients and servers differ on it) */
function resourceAudiences(resource: URL): string[] {
  const href = resource.href;
  return [href, href.endsWith("/") ? href.slice(0, -1) : href + "/"];
}

/** https required unless the host is loopback; no credentials in the URL */
function checkRemoteUrl(raw: string, what: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(`${what} is not a URL.`);
  }
  if (url.username !== "" || url.password !== "") {
    throw new ConfigError(`${what} must not contain credentials.`);
  }
  if (url.protocol === "https:") return url;
  if (url.protocol === "http:" && isLoopbackHost(url.hostname)) return url;
  throw new ConfigError(
    `${what} must be an https:// URL (http:// is accepted for loopback hosts only).`,
  );
}

function looksLikeJwt(token: string): boolean {
  return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$/.test(token);
}

async function sha256(s: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(s)));
}

/** An opaque, non-reversible marker for `AuthInfo.token` (64 bits of SHA-256). */
async function tokenMarker(token: string): Promise<string> {
  const d = await sha256(token);
  return "sha256:" + Array.from(d.subarray(0, 8), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** for load-time duplicate checks only (not secret-dependent timing at request time) */
function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

function quoted(v: string): string {
  return v.replaceAll(/[\\"]/g, "\\$&").replaceAll(/[^\x20-\x7E]/g, " ");
}

function errorName(e: unknown): string {
  // never a free-form message from elsewhere: it could quote request data
  if (e instanceof jose.errors.JOSEError) return e.code;
  if (e instanceof UpstreamUnavailable) return e.message;
  if (e instanceof Error) return e.name;
  return "error";
}
