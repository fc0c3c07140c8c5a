/**
 * Drives the real server through a real MCP `Client`:
 *
 * - {@link startInProcess}: the real App + registry + MCP service, served by
 *   the SDK's `serveStdio` entry (both protocol eras) over an in-memory
 *   transport (fast; tests can also look at the App's internals such as the
 *   pool);
 * - {@link startStdio}: `deno run main.ts serve` as a child process over stdio,
 *   exactly what `deno task start` runs.
 *
 * The default client is the 1.32 SDK's `Client` (`@modelcontextprotocol/sdk`,
 * protocol 2025-11-25), i.e. what most MCP hosts ship today; `startInProcess2`
 * and `startStdio2` connect the v2 SDK's client pinned to 2026-07-28.
 *
 * @module
 */

import { Client } from "@modelcontextprotocol/sdk/client";
// @ts-types="../../node_modules/@modelcontextprotocol/sdk/dist/esm/client/stdio.d.ts"
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
// @ts-types="../../node_modules/@modelcontextprotocol/sdk/dist/esm/types.d.ts"
import { type CallToolResult, ErrorCode, McpError } from "@modelcontextprotocol/sdk/types.js";
import { Client as Client2, InMemoryTransport } from "@modelcontextprotocol/client";
import { StdioClientTransport as StdioClientTransport2 } from "@modelcontextprotocol/client/stdio";
import { App, type AppOptions } from "../../src/app.ts";
import { loadConfig } from "../../src/config/load.ts";
import { Logger } from "../../src/log.ts";
import { type McpServerOptions, McpService } from "../../src/mcp/server.ts";
import { serveStdio } from "../../src/mcp/sdk.ts";
import { ToolRegistry } from "../../src/registry/pipeline.ts";

/** What the 1.32 client throws for a JSON-RPC error answer, and its codes. */
export { Client, Client2, ErrorCode, McpError };
export type { CallToolResult };

/** The protocol revision a v2 test client pins. */
export const MODERN = "2026-07-28";

/** Options of the v2 (2026-07-28) test client. */
export interface Client2Options {
  /** capabilities to declare (e.g. `{ elicitation: { form: {} } }`) */
  capabilities?: Record<string, unknown>;
  /** answer `input_required` rounds automatically through registered handlers (default true) */
  autoFulfill?: boolean;
}

/** A v2 client pinned to 2026-07-28. */
export function modernClient(opts: Client2Options = {}): Client2 {
  return new Client2({ name: "ssh-mcp-tests-2026", version: "1.0.0" }, {
    versionNegotiation: { mode: { pin: MODERN } },
    ...(opts.capabilities ? { capabilities: opts.capabilities as never } : {}),
    ...(opts.autoFulfill === false ? { inputRequired: { autoFulfill: false } } : {}),
  });
}

/** The repository root (with a trailing slash). */
export const ROOT = new URL("../..", import.meta.url).pathname;

/** The `--allow-*` flags of `deno task start` (read from deno.json, so they cannot drift). */
export const START_PERMS: readonly string[] = (() => {
  const cfg = JSON.parse(Deno.readTextFileSync(`${ROOT}deno.json`));
  const perms = String(cfg.tasks.start).split(/\s+/).filter((t) =>
    t.startsWith("--allow-") || t === "--no-prompt" || t.startsWith("--unstable-") ||
    t.startsWith("--v8-flags=")
  );
  if (!perms.length) throw new Error("deno.json tasks.start has no --allow-* flags");
  return perms;
})();

/** A tool error as the client sees it. */
export interface ToolErr {
  code: string;
  message: string;
  meta: Record<string, unknown>;
}

/** Helpers shared by both server flavours. */
export interface McpHandle {
  client: Client;
  /** raw tools/call */
  call(name: string, args?: Record<string, unknown>): Promise<CallToolResult>;
  /** tools/call that must succeed; returns structuredContent */
  ok<T = Record<string, unknown>>(name: string, args?: Record<string, unknown>): Promise<T>;
  /** tools/call that must fail with isError; returns the class and message */
  err(name: string, args?: Record<string, unknown>): Promise<ToolErr>;
  close(): Promise<void>;
}

/** The one client method the helpers use (both SDK generations have it). */
interface CallsTools {
  callTool(params: { name: string; arguments?: Record<string, unknown> }): Promise<unknown>;
}

function helpers<C extends CallsTools>(
  client: C,
  close: () => Promise<void>,
): McpHandle & { client: C } {
  const call = async (name: string, args: Record<string, unknown> = {}) =>
    await client.callTool({ name, arguments: args }) as CallToolResult;
  return {
    client: client as C & Client,
    call,
    async ok<T>(name: string, args: Record<string, unknown> = {}) {
      const r = await call(name, args);
      if (r.isError) {
        const t = r.content.map((c) => (c.type === "text" ? c.text : "")).join("");
        throw new Error(`${name} failed: ${t}`);
      }
      if (!r.structuredContent) throw new Error(`${name} returned no structuredContent`);
      return r.structuredContent as T;
    },
    async err(name: string, args: Record<string, unknown> = {}) {
      const r = await call(name, args);
      if (!r.isError) {
        throw new Error(`${name} unexpectedly succeeded: ${JSON.stringify(r.structuredContent)}`);
      }
      const text = r.content.map((c) => (c.type === "text" ? c.text : "")).join("");
      const i = text.indexOf(": ");
      return {
        code: i > 0 ? text.slice(0, i) : "",
        message: i > 0 ? text.slice(i + 2) : text,
        meta: ((r._meta ?? {})["ssh-mcp/error"] ?? {}) as Record<string, unknown>,
      };
    },
    close,
  };
}

/** An in-process server. */
export interface InProcess extends McpHandle {
  app: App;
}

/** A pin file no test server shares with the machine's real ~/.config (issue 13). */
const PIN_DIR = Deno.makeTempDirSync({ prefix: "sshmcp-pins-" });
globalThis.addEventListener("unload", () => {
  try {
    Deno.removeSync(PIN_DIR, { recursive: true });
  } catch {
    // already gone
  }
});

/** Env every test server gets unless overridden. */
export function baseEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    SSH_MCP_DISABLE_DOTENV: "1",
    HOME: Deno.env.get("HOME") ?? "/root",
    PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
    SSH_AUDIT_LOG: "off",
    LOG_LEVEL: "ERROR",
    SSH_HOST_NOTES_DIR: "",
    SSH_PINNED_KNOWN_HOSTS: `${PIN_DIR}/pinned_known_hosts`,
    ...extra,
  };
}

/** Options of {@link startInProcess}. */
export type InProcessOptions = AppOptions & {
  cwd?: string;
  mcp?: McpServerOptions;
  /** capabilities the 1.32 client declares (e.g. `{ elicitation: {} }`) */
  clientCapabilities?: Record<string, unknown>;
  /** registers client-side handlers before connecting (1.32 client) */
  setup?: (c: Client) => void;
};

async function serveInProcess(env: Record<string, string>, opts: InProcessOptions) {
  const cfg = await loadConfig({ env, cwd: opts.cwd ?? Deno.cwd() });
  const app = await App.create(cfg, {
    logger: opts.logger ?? new Logger({ level: "CRITICAL" }),
    ...opts,
  });
  await app.startHooks(); // as `serve` does
  const registry = new ToolRegistry(app);
  const service = new McpService(app, registry, opts.mcp);
  const [ct, st] = InMemoryTransport.createLinkedPair();
  const handle = serveStdio(() => service.create(), { transport: st });
  const close = async () => {
    await handle.close().catch(() => {});
    await app.close();
  };
  return { app, ct, close };
}

/** Starts the real server in this process and connects a real MCP client (1.32). */
export async function startInProcess(
  env: Record<string, string>,
  opts: InProcessOptions = {},
): Promise<InProcess> {
  const { app, ct, close } = await serveInProcess(env, opts);
  const client = new Client(
    { name: "ssh-mcp-tests", version: "1.0.0" },
    opts.clientCapabilities ? { capabilities: opts.clientCapabilities } : undefined,
  );
  opts.setup?.(client);
  await client.connect(ct as never);
  await client.listTools();
  const h = helpers(client, async () => {
    await client.close();
    await close();
  });
  return { ...h, app };
}

/** An in-process server with a v2 client pinned to 2026-07-28. */
export interface InProcess2 extends Omit<McpHandle, "client"> {
  client: Client2;
  app: App;
}

/** Like {@link startInProcess}, with the v2 client pinned to 2026-07-28. */
export async function startInProcess2(
  env: Record<string, string>,
  opts: Omit<InProcessOptions, "setup"> & {
    client?: Client2Options;
    setup?: (c: Client2) => void;
  } = {},
): Promise<InProcess2> {
  const { setup: _setup, ...rest } = opts;
  const { app, ct, close } = await serveInProcess(env, rest);
  const client = modernClient(opts.client);
  opts.setup?.(client);
  await client.connect(ct);
  await client.listTools();
  const h = helpers(client, async () => {
    await client.close();
    await close();
  });
  return { ...h, app };
}

/** A server child process. */
export interface StdioServer extends McpHandle {
  /** what the server wrote to stderr so far (logs and audit lines) */
  stderr(): string;
  /** the server process's pid (for /proc readings such as its RSS) */
  pid: number;
}

/** Starts `deno run main.ts serve` with `env` only and connects over stdio. */
export async function startStdio(
  env: Record<string, string>,
  cwd: string = ROOT,
): Promise<StdioServer> {
  const transport = new StdioClientTransport({
    command: Deno.execPath(),
    args: [
      "run",
      "--quiet",
      ...START_PERMS,
      `${ROOT}main.ts`,
      "serve",
    ],
    env,
    cwd,
    stderr: "pipe",
  });
  let err = "";
  const dec = new TextDecoder();
  transport.stderr?.on("data", (d: Uint8Array) => (err += dec.decode(d)));
  const client = new Client({ name: "ssh-mcp-tests", version: "1.0.0" });
  await client.connect(transport);
  await client.listTools();
  const h = helpers(client, async () => {
    await client.close();
  });
  const pid = transport.pid;
  if (pid === null) throw new Error("the stdio server has no pid after connect");
  return { ...h, stderr: () => err, pid };
}

/** A stdio server with the v2 client pinned to 2026-07-28. */
export interface StdioServer2 extends Omit<McpHandle, "client"> {
  client: Client2;
  stderr(): string;
  pid: number;
}

/** Like {@link startStdio}, with the v2 client pinned to 2026-07-28. */
export async function startStdio2(
  env: Record<string, string>,
  opts: {
    cwd?: string;
    client?: Client2Options;
    setup?: (c: Client2) => void;
    /** sees every message the server sends, as received (before the client decodes it) */
    tap?: (message: unknown) => void;
  } = {},
): Promise<StdioServer2> {
  const transport = new StdioClientTransport2({
    command: Deno.execPath(),
    args: ["run", "--quiet", ...START_PERMS, `${ROOT}main.ts`, "serve"],
    env,
    cwd: opts.cwd ?? ROOT,
    stderr: "pipe",
  });
  let err = "";
  const dec = new TextDecoder();
  transport.stderr?.on("data", (d: Uint8Array) => (err += dec.decode(d)));
  const client = modernClient(opts.client);
  opts.setup?.(client);
  await client.connect(transport);
  if (opts.tap) {
    const deliver = transport.onmessage;
    const tap = opts.tap;
    transport.onmessage = ((m: unknown, extra: unknown) => {
      tap(m);
      (deliver as (m: unknown, e: unknown) => void)?.(m, extra);
    }) as typeof transport.onmessage;
  }
  await client.listTools();
  const h = helpers(client, async () => {
    await client.close();
  });
  const pid = transport.pid;
  if (pid === null) throw new Error("the stdio server has no pid after connect");
  return { ...h, stderr: () => err, pid };
}

/** Parses the audit JSON lines out of a stderr capture or an audit file. */
export function auditLines(text: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const line of text.split("\n")) {
    if (!line.startsWith("{")) continue;
    try {
      const o = JSON.parse(line);
      if (o && typeof o === "object" && (o.type === "audit" || o.type === "policy_decision")) {
        out.push(o);
      }
    } catch {
      // a log line
    }
  }
  return out;
}
