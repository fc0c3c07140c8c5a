/**
 * The HTTP gateway as `deno task start` runs it (`MCP_TRANSPORT=http`), and
 * real MCP clients of both protocol generations over Streamable HTTP:
 * the 1.32 client (2025-11-25, sessionful) and the v2 client pinned to
 * 2026-07-28 (stateless, per-request envelope).
 *
 * @module
 */

import { Client } from "@modelcontextprotocol/sdk/client";
// @ts-types="../../node_modules/@modelcontextprotocol/sdk/dist/esm/client/streamableHttp.d.ts"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import {
  Client as Client2,
  StreamableHTTPClientTransport as StreamableHTTPClientTransport2,
} from "@modelcontextprotocol/client";
import { type Client2Options, modernClient, ROOT, START_PERMS } from "./mcp.ts";
import { freePort } from "./port.ts";

/** True when process `pid` holds a TCP socket listening on `port` (Linux: /proc). */
async function listensOn(pid: number, port: number): Promise<boolean> {
  const inodes = new Set<string>();
  try {
    for await (const e of Deno.readDir(`/proc/${pid}/fd`)) {
      const m = /^socket:\[(\d+)\]$/.exec(
        await Deno.readLink(`/proc/${pid}/fd/${e.name}`).catch(() => ""),
      );
      if (m) inodes.add(m[1]!);
    }
  } catch {
    return false; // not started yet, or gone
  }
  const hexPort = port.toString(16).toUpperCase().padStart(4, "0");
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    const text = await Deno.readTextFile(table).catch(() => "");
    for (const line of text.split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      // local_address is HEXIP:HEXPORT, st 0A is LISTEN, field 9 the inode
      if (f[1]?.endsWith(`:${hexPort}`) && f[3] === "0A" && inodes.has(f[9] ?? "")) return true;
    }
  }
  return false;
}

/** A gateway process. */
export interface HttpServerProc {
  url: string;
  port: number;
  pid: number;
  stderr(): string;
  /** SIGTERM and wait; resolves with the exit code */
  stop(): Promise<number>;
  /** SIGKILL (a crashed replica) */
  kill(): Promise<void>;
}

/** Starts `main.ts serve` with `MCP_TRANSPORT=http` on a free port; waits until it listens. */
export async function startHttpServer(
  env: Record<string, string>,
  opts: { port?: number; host?: string; scheme?: "http" | "https" } = {},
  attempt = 1,
): Promise<HttpServerProc> {
  const port = opts.port ?? freePort();
  const host = opts.host ?? "127.0.0.1";
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", ...START_PERMS, `${ROOT}main.ts`, "serve"],
    env: {
      LOG_LEVEL: "INFO",
      ...env,
      MCP_TRANSPORT: "http",
      MCP_HTTP_HOST: host,
      MCP_HTTP_PORT: String(port),
    },
    clearEnv: true,
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let err = "";
  const dec = new TextDecoder();
  void (async () => {
    for await (const c of child.stderr) err += dec.decode(c, { stream: true });
  })();
  void (async () => {
    for await (const _ of child.stdout) { /* nothing goes to stdout on HTTP */ }
  })();
  const scheme = opts.scheme ?? "http";
  const url = `${scheme}://${host.includes(":") ? `[${host}]` : host}:${port}/mcp`;
  const deadline = Date.now() + 30_000;
  let exited: number | null = null;
  child.status.then((s) => (exited = s.code));
  // ready when this child listens on the port: freePort() closed its probe socket, so another
  // process (an sshd of a test running in parallel) may take the port first, and a bare connect
  // would then succeed against it
  for (;;) {
    if (exited !== null) {
      // the port freePort() found was taken before the server bound it: once more, another port
      if (opts.port === undefined && attempt < 3 && /AddrInUse|address already in use/i.test(err)) {
        return await startHttpServer(env, opts, attempt + 1);
      }
      throw new Error(`the HTTP server exited (${exited}) before listening:\n${err.slice(-2000)}`);
    }
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`the HTTP server did not listen within 30 s:\n${err.slice(-2000)}`);
    }
    if (await listensOn(child.pid, port)) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    port,
    pid: child.pid,
    stderr: () => err,
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch {
        // already gone
      }
      return (await child.status).code;
    },
    async kill() {
      try {
        child.kill("SIGKILL");
      } catch {
        // already gone
      }
      await child.status;
    },
  };
}

function headers(token?: string): Record<string, string> {
  return token ? { authorization: `Bearer ${token}` } : {};
}

/** A 1.32 client (2025-11-25, sessionful Streamable HTTP). */
export async function legacyHttpClient(url: string, token?: string): Promise<Client> {
  const client = new Client({ name: "ssh-mcp-http-tests", version: "1.0.0" });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: headers(token) } }),
  );
  return client;
}

/** A v2 client pinned to 2026-07-28 over Streamable HTTP. */
export async function modernHttpClient(
  url: string,
  token?: string,
  opts: Client2Options = {},
): Promise<Client2> {
  const client = modernClient(opts);
  await client.connect(
    new StreamableHTTPClientTransport2(new URL(url), { requestInit: { headers: headers(token) } }),
  );
  return client;
}

/** A raw JSON-RPC POST to the endpoint (for status codes and headers). */
export async function rawPost(
  url: string,
  body: unknown,
  extraHeaders: Record<string, string> = {},
): Promise<Response> {
  return await fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      ...extraHeaders,
    },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

/** The `initialize` request body of a 2025-11-25 client. */
export function initializeBody(id = 1): Record<string, unknown> {
  return {
    jsonrpc: "2.0",
    id,
    method: "initialize",
    params: {
      protocolVersion: "2025-11-25",
      capabilities: {},
      clientInfo: { name: "raw", version: "1.0.0" },
    },
  };
}
