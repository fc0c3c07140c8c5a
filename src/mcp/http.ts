/**
 * The Streamable HTTP gateway (`MCP_TRANSPORT=http`, issue 14): one
 * `Deno.serve` on `MCP_HTTP_HOST:MCP_HTTP_PORT` (TLS with
 * `MCP_HTTP_TLS_CERT`/`_KEY`), MCP on `/mcp`, RFC 9728 metadata on
 * `/.well-known/oauth-protected-resource[/mcp]` when OAuth is configured.
 *
 * Every request passes, in order:
 *
 * 1. the route (anything else is 404);
 * 2. DNS-rebinding protection: the `Host` header must name an allowed host
 *    (loopback names, the bind address, the public URL's host,
 *    `MCP_HTTP_ALLOWED_HOSTS`), and an `Origin`, when present, an allowed
 *    origin (`MCP_HTTP_ALLOWED_ORIGINS`, else loopback only): 403 otherwise;
 * 3. the body limit (`MCP_HTTP_MAX_BODY_BYTES`, 413) before any parsing;
 * 4. authentication (static named bearer tokens and/or OAuth 2.1 JWTs,
 *    `src/http/auth.ts`): 401/403 with `WWW-Authenticate`; the principal
 *    (token name or JWT subject) and the tiers its scopes grant go on as
 *    `authInfo`; no auth configured = loopback only (enforced at start-up);
 * 5. the per-principal rate limit (`MCP_HTTP_RATE_LIMIT`, 429 +
 *    `Retry-After`);
 * 6. the protocol era: a 2026-07-28 request (per-request envelope) goes to
 *    the SDK's `createMcpHandler` (one server instance per request from the
 *    service's factory); a 2025-era request goes to a SESSIONFUL Streamable
 *    HTTP transport per `initialize` (so elicitation, progress, logging and
 *    resumable SSE streams with `Last-Event-ID` work for 2025 clients),
 *    bound to the principal that opened it: another principal's session id
 *    answers 404, exactly like an unknown one.
 *
 * Tokens are never logged, never put in a response and never forwarded.
 *
 * @module
 */

import {
  type AuthInfo,
  createMcpHandler,
  isLegacyRequest,
  localhostAllowedHostnames,
  localhostAllowedOrigins,
  type McpServer,
  validateHostHeader,
  validateOriginHeader,
  WebStandardStreamableHTTPServerTransport,
} from "./sdk.ts";
import type { App } from "../app.ts";
import type { McpService } from "./server.ts";
import { randomHex } from "../util/random.ts";
import {
  type Authenticator,
  protectedResourceMetadata,
  resourceUrlFromPublicUrl,
} from "../http/auth.ts";
import { RateLimiter } from "../http/rate_limit.ts";
import { mark, startupFields } from "../startup.ts";
import { createEventStore } from "../state/events.ts";

/** Path of the MCP endpoint. */
export const MCP_PATH = "/mcp";
/**
 * A 2025-era session with no request for this long, and no stream open, is
 * closed (an open SSE stream, GET or a long call's, keeps it).
 */
export const SESSION_IDLE_MS = 30 * 60 * 1000;
/** Most 2025-era sessions open at once (each holds a server instance). */
export const MAX_SESSIONS = 1000;

/** Options of {@link startHttp}. */
export interface HttpOptions {
  /** null = no authentication (loopback only; the settings check refuses otherwise) */
  auth: Authenticator | null;
  /** port override (tests: 0 = any free port) */
  port?: number;
}

/** A running gateway. */
export interface HttpGateway {
  /** the MCP endpoint URL as bound (`http://127.0.0.1:PORT/mcp`) */
  url: string;
  port: number;
  /** the public URL (audience of OAuth tokens, RFC 9728 resource) */
  resourceUrl: string;
  /** resolves when the listener stopped */
  finished: Promise<void>;
  /** stops accepting, closes sessions and in-flight exchanges */
  close(): Promise<void>;
}

interface Session extends IdleState {
  transport: WebStandardStreamableHTTPServerTransport;
  server: McpServer;
  principal: string;
}

/** What the idle reaper looks at. */
export interface IdleState {
  /** when the last request came, or the last stream ended (epoch ms) */
  lastUsed: number;
  /** SSE responses of the session still open (the GET stream, a call streaming its result) */
  streams: number;
}

/** Sessions to close at `now`: no request for `idleMs`, and no stream open. */
export function idleSessions(
  sessions: ReadonlyMap<string, IdleState>,
  now: number,
  idleMs: number = SESSION_IDLE_MS,
): string[] {
  return [...sessions].filter(([, s]) => s.streams === 0 && now - s.lastUsed > idleMs)
    .map(([id]) => id);
}

/**
 * An SSE response counts as use of its session for as long as it is open:
 * `onOpen` now, `onEnd` once when the body ends, fails or the client goes
 * away (the body is passed through unchanged). Any other response is
 * returned as it is.
 */
export function holdWhileStreaming(
  res: Response,
  onOpen: () => void,
  onEnd: () => void,
): Response {
  const type = res.headers.get("content-type") ?? "";
  if (!res.body || !type.toLowerCase().startsWith("text/event-stream")) return res;
  const reader = res.body.getReader();
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    onEnd();
  };
  onOpen();
  const body = new ReadableStream<Uint8Array>({
    async pull(c) {
      try {
        const { value, done } = await reader.read();
        if (done) {
          end();
          c.close();
        } else c.enqueue(value);
      } catch (e) {
        end();
        c.error(e);
      }
    },
    async cancel(reason) {
      end();
      await reader.cancel(reason).catch(() => {});
    },
  });
  return new Response(body, {
    status: res.status,
    statusText: res.statusText,
    headers: res.headers,
  });
}

function jsonError(status: number, message: string, headers: Record<string, string> = {}) {
  return new Response(
    JSON.stringify({ jsonrpc: "2.0", error: { code: -32000, message }, id: null }),
    { status, headers: { "content-type": "application/json", ...headers } },
  );
}

/** `https://a.example:8443` or `a.example` -> `a.example`; IPv6 keeps its brackets. */
function hostnameOf(v: string): string {
  const t = v.trim();
  if (!t) return "";
  try {
    return new URL(t.includes("://") ? t : `http://${t}`).hostname.toLowerCase();
  } catch {
    return t.toLowerCase();
  }
}

function bracketed(host: string): string {
  return host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
}

/** Starts the gateway (see module docs). */
export async function startHttp(
  app: App,
  service: McpService,
  opts: HttpOptions,
): Promise<HttpGateway> {
  const s = app.settings;
  const log = app.logger.child({ transport: "http" });
  const tls = s.MCP_HTTP_TLS_CERT !== null && s.MCP_HTTP_TLS_KEY !== null;
  const cert = tls ? await Deno.readTextFile(s.MCP_HTTP_TLS_CERT!) : undefined;
  const key = tls ? await Deno.readTextFile(s.MCP_HTTP_TLS_KEY!) : undefined;
  const maxBody = s.MCP_HTTP_MAX_BODY_BYTES;
  const limiter = s.MCP_HTTP_RATE_LIMIT > 0
    ? new RateLimiter({ limit: s.MCP_HTTP_RATE_LIMIT })
    : null;
  // failed authentications are limited per client address (guessing tokens)
  const failures = s.MCP_HTTP_RATE_LIMIT > 0
    ? new RateLimiter({ limit: s.MCP_HTTP_RATE_LIMIT })
    : null;
  const sessions = new Map<string, Session>();
  // inline uploads travel base64 in the request body (4/3 of the bytes)
  if (Math.ceil(s.SSH_UPLOAD_MAX_FILE_BYTES * 4 / 3) + 65536 > maxBody) {
    log.warn(
      "inline uploads above the HTTP body limit are refused with 413; use local_path uploads " +
        "or raise MCP_HTTP_MAX_BODY_BYTES",
      {
        max_body_bytes: maxBody,
        inline_upload_max_bytes: Math.max(0, Math.floor((maxBody - 65536) * 3 / 4)),
      },
    );
  }

  // the modern (2026-07-28) leg: one server instance per request
  const modern = createMcpHandler(
    (ctx) => service.create({ authInfo: ctx.authInfo }),
    {
      legacy: "reject",
      maxRequestBodySize: maxBody,
      onerror: (e) => log.debug("MCP HTTP error", { error: e.message.slice(0, 300) }),
    },
  );

  const allowedHosts = new Set<string>([
    ...localhostAllowedHostnames(),
    bracketed(s.MCP_HTTP_HOST.toLowerCase()),
    ...s.MCP_HTTP_ALLOWED_HOSTS.map(hostnameOf),
  ]);
  const allowedOrigins = s.MCP_HTTP_ALLOWED_ORIGINS.length
    ? s.MCP_HTTP_ALLOWED_ORIGINS.map(hostnameOf)
    : localhostAllowedOrigins();

  let resourceUrl = "";
  const reapTimer = setInterval(() => {
    for (const id of idleSessions(sessions, Date.now())) void closeSession(id);
  }, 60_000);
  Deno.unrefTimer(reapTimer);

  async function closeSession(id: string): Promise<void> {
    const sess = sessions.get(id);
    if (!sess) return;
    sessions.delete(id);
    await sess.server.close().catch(() => {});
  }

  /** The 2025-era leg: sessionful Streamable HTTP, sessions bound to their principal. */
  async function legacy(req: Request, authInfo: AuthInfo, principal: string): Promise<Response> {
    const sid = req.headers.get("mcp-session-id");
    if (sid) {
      const sess = sessions.get(sid);
      if (!sess || sess.principal !== principal) {
        return jsonError(404, "Session not found: open a new session with initialize.");
      }
      sess.lastUsed = Date.now();
      const res = holdWhileStreaming(
        await sess.transport.handleRequest(req, { authInfo }),
        () => sess.streams++,
        () => {
          sess.streams--;
          sess.lastUsed = Date.now();
        },
      );
      if (req.method === "DELETE") void closeSession(sid);
      return res;
    }
    if (req.method !== "POST") {
      return jsonError(
        400,
        "Bad Request: a 2025-era GET or DELETE needs an Mcp-Session-Id header.",
      );
    }
    if (sessions.size >= MAX_SESSIONS) {
      return jsonError(503, "Too many open sessions; retry later.", { "retry-after": "30" });
    }
    const server = service.create({ authInfo });
    let opened: string | null = null;
    const id = randomHex(16);
    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: () => id,
      // events of this session's SSE streams, replayable after a reconnect (Last-Event-ID);
      // in the shared state when SSH_STATE_URL is set
      eventStore: createEventStore(app.state, { namespace: id }),
      maxRequestBodySize: maxBody,
      onsessioninitialized: (id) => {
        opened = id;
        sessions.set(id, { transport, server, principal, lastUsed: Date.now(), streams: 0 });
      },
      onsessionclosed: (id) => void closeSession(id),
    });
    await server.connect(transport);
    const res = await transport.handleRequest(req, { authInfo });
    if (opened === null) await server.close().catch(() => {}); // not an initialize: nothing kept
    return res;
  }

  async function handle(req: Request, remote: string): Promise<Response> {
    const url = new URL(req.url);
    // 2. DNS rebinding: Host, then Origin
    // HTTP/2 carries the host in :authority, which the Request exposes as its URL
    const host = validateHostHeader(req.headers.get("host") ?? url.host, [...allowedHosts]);
    if (!host.ok) return jsonError(403, `Forbidden: ${host.message}`);
    const origin = validateOriginHeader(req.headers.get("origin"), allowedOrigins);
    if (!origin.ok) return jsonError(403, `Forbidden: ${origin.message}`);
    // RFC 9728 protected-resource metadata (public; only with OAuth)
    if (url.pathname.startsWith("/.well-known/oauth-protected-resource")) {
      if (req.method !== "GET" || s.MCP_OAUTH_ISSUER === null) return jsonError(404, "Not Found");
      return Response.json(
        opts.auth?.resourceMetadata ?? protectedResourceMetadata(resourceUrl, s.MCP_OAUTH_ISSUER),
      );
    }
    if (url.pathname !== MCP_PATH) return jsonError(404, "Not Found");
    // 3. body limit before anything reads the body
    const length = Number(req.headers.get("content-length") ?? "0");
    if (Number.isFinite(length) && length > maxBody) {
      return jsonError(
        413,
        `Payload Too Large: the limit is ${maxBody} bytes (MCP_HTTP_MAX_BODY_BYTES).`,
      );
    }
    // 4. authentication
    let principal = `anonymous@${remote}`;
    let authInfo: AuthInfo = { token: "", clientId: principal, scopes: [] };
    if (opts.auth) {
      const r = await opts.auth.authenticate(req);
      if (!r.ok) {
        const t = failures?.take(`ip:${remote}`);
        if (t && !t.ok) {
          await r.response.body?.cancel();
          return jsonError(429, "Too Many Requests: too many failed authentications.", {
            "retry-after": String(t.retryAfterS),
          });
        }
        return r.response;
      }
      principal = r.principal;
      // the tiers the credential grants travel to the server factory (McpService.create)
      authInfo = {
        ...r.authInfo,
        clientId: principal,
        extra: { ...r.authInfo.extra, ...(r.tiers ? { tiers: [...r.tiers] } : {}) },
      };
    }
    // 5. rate limit per principal
    if (limiter) {
      const t = limiter.take(principal);
      if (!t.ok) {
        return jsonError(429, "Too Many Requests: slow down (MCP_HTTP_RATE_LIMIT).", {
          "retry-after": String(t.retryAfterS),
        });
      }
    }
    // 6. the era
    if (await isLegacyRequest(req, undefined, { maxRequestBodySize: maxBody })) {
      return await legacy(req, authInfo, principal);
    }
    return await modern.fetch(req, { authInfo });
  }

  const ac = new AbortController();
  const listening = Promise.withResolvers<Deno.NetAddr>();
  const server = Deno.serve({
    hostname: s.MCP_HTTP_HOST,
    port: opts.port ?? s.MCP_HTTP_PORT,
    signal: ac.signal,
    ...(tls ? { cert, key } : {}),
    onListen: (addr) => listening.resolve(addr as Deno.NetAddr),
    onError: (e) => {
      log.error("HTTP handler failed", { error: e instanceof Error ? e.message : String(e) });
      return jsonError(500, "Internal Server Error");
    },
  }, (req, info) => {
    const remote = (info.remoteAddr as Deno.NetAddr).hostname ?? "unknown";
    return handle(req, remote).catch((e) => {
      log.error("HTTP request failed", { error: e instanceof Error ? e.message : String(e) });
      return jsonError(500, "Internal Server Error");
    });
  });
  const addr = await listening.promise;
  const scheme = tls ? "https" : "http";
  const url = `${scheme}://${bracketed(addr.hostname)}:${addr.port}${MCP_PATH}`;
  resourceUrl = opts.auth?.resourceUrl?.href ??
    (s.MCP_HTTP_PUBLIC_URL !== null ? resourceUrlFromPublicUrl(s.MCP_HTTP_PUBLIC_URL).href : url);
  allowedHosts.add(hostnameOf(resourceUrl));
  mark("serving");
  log.info(`ssh-mcp serving MCP on ${url}`, {
    auth: opts.auth ? opts.auth.methods.join("+") : "none (loopback only)",
    tls,
    ...startupFields(),
  });
  return {
    url,
    port: addr.port,
    resourceUrl,
    finished: server.finished,
    async close() {
      clearInterval(reapTimer);
      await modern.close().catch(() => {});
      await Promise.all([...sessions.keys()].map((id) => closeSession(id)));
      ac.abort();
      await server.finished;
    },
  };
}
