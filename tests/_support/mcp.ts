/**
 * Drives the real server through a real MCP `Client`:
 *
 * - {@link startInProcess}: the real App + registry + MCP server, connected to
 *   a `Client` over the SDK's in-memory transport (fast; tests can also look at
 *   the App's internals such as the pool);
 * - {@link startStdio}: `deno run main.ts serve` as a child process over stdio,
 *   exactly what `deno task start` runs.
 *
 * @module
 */

import { Client } from "@modelcontextprotocol/sdk/client";
// @ts-types="../../node_modules/@modelcontextprotocol/sdk/dist/esm/inMemory.d.ts"
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
// @ts-types="../../node_modules/@modelcontextprotocol/sdk/dist/esm/client/stdio.d.ts"
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
// @ts-types="../../node_modules/@modelcontextprotocol/sdk/dist/esm/types.d.ts"
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { App, type AppOptions } from "../../src/app.ts";
import { loadConfig } from "../../src/config/load.ts";
import { Logger } from "../../src/log.ts";
import { buildMcpServer } from "../../src/mcp/server.ts";
import { ToolRegistry } from "../../src/registry/pipeline.ts";

export { Client };
export type { CallToolResult };

const ROOT = new URL("../..", import.meta.url).pathname;

/** The `--allow-*` flags of `deno task start` (read from deno.json, so they cannot drift). */
export const START_PERMS: readonly string[] = (() => {
  const cfg = JSON.parse(Deno.readTextFileSync(`${ROOT}deno.json`));
  const perms = String(cfg.tasks.start).split(/\s+/).filter((t) => t.startsWith("--allow-"));
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

function helpers(client: Client, close: () => Promise<void>): McpHandle {
  const call = async (name: string, args: Record<string, unknown> = {}) =>
    await client.callTool({ name, arguments: args }) as CallToolResult;
  return {
    client,
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

/** Env every test server gets unless overridden. */
export function baseEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    SSH_MCP_DISABLE_DOTENV: "1",
    HOME: Deno.env.get("HOME") ?? "/root",
    PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
    SSH_AUDIT_LOG: "off",
    LOG_LEVEL: "ERROR",
    SSH_HOST_NOTES_DIR: "",
    ...extra,
  };
}

/** Starts the real server in this process and connects a real MCP client. */
export async function startInProcess(
  env: Record<string, string>,
  opts: AppOptions & { cwd?: string } = {},
): Promise<InProcess> {
  const cfg = await loadConfig({ env, cwd: opts.cwd ?? Deno.cwd() });
  const app = await App.create(cfg, {
    logger: opts.logger ?? new Logger({ level: "CRITICAL" }),
    ...opts,
  });
  await app.startHooks(); // as `serve` does
  const registry = new ToolRegistry(app);
  const server = buildMcpServer(app, registry);
  const [ct, st] = InMemoryTransport.createLinkedPair();
  await server.connect(st);
  const client = new Client({ name: "ssh-mcp-tests", version: "1.0.0" });
  await client.connect(ct);
  await client.listTools();
  const h = helpers(client, async () => {
    await client.close();
    await server.close();
    await app.close();
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
