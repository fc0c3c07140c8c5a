/**
 * The floor for `ssh_exec_run`: a minimal MCP server on the same runtime and
 * SDK as ssh-mcp (`@modelcontextprotocol/server` + zod, stdio) with one tool,
 * `exec`, that runs its command on one kept-open ssh2 connection, exactly as
 * the exec section's raw ssh2 peer does (ssh2's own cipher order, no policy,
 * no audit, no pid marker, no output checks). The exec section calls it
 * through the same MCP client as ssh-mcp, so it shows what the MCP hop alone
 * adds to a raw exec, and what ssh-mcp adds on top of that.
 *
 * The host comes from the environment (`FLOOR_SSH_HOST`, `FLOOR_SSH_PORT`,
 * `FLOOR_SSH_USER`, `FLOOR_SSH_KEY`: a private key file, `FLOOR_SSH_HOST_KEY`:
 * the base64 host key to pin). It connects before it serves, so a wrong
 * setting fails the start instead of a call.
 *
 * @module
 */

// @ts-types="npm:@types/ssh2@1.15.5"
import type ssh2 from "ssh2";
import { connectSsh2 } from "../tests/_support/raw_ssh2.ts";
import { McpServer } from "@modelcontextprotocol/server";
import { serveStdio } from "@modelcontextprotocol/server/stdio";
import { z } from "zod";

/** The setting `name` from the environment; throws naming it when unset. */
export function env(name: string): string {
  const v = Deno.env.get(name);
  if (!v) throw new Error(`floor_exec_server: ${name} is not set`);
  return v;
}

/**
 * Connects to the host the environment names; `cipher` narrows ssh2's offer
 * (else ssh2's own order). Also used by bench/ssh2_transfer_floor.ts.
 */
export async function connect(cipher?: string): Promise<ssh2.Client> {
  const { client } = await connectSsh2(
    {
      host: env("FLOOR_SSH_HOST"),
      port: Number(env("FLOOR_SSH_PORT")),
      username: env("FLOOR_SSH_USER"),
      privateKey: Deno.readTextFileSync(env("FLOOR_SSH_KEY")),
      pinnedHostKey: env("FLOOR_SSH_HOST_KEY"),
    },
    cipher ? { cipher: [cipher as ssh2.CipherAlgorithm] } : undefined,
  );
  return client;
}

/** Runs `command`; resolves to its stdout and exit code. */
function exec(client: ssh2.Client, command: string): Promise<{ stdout: string; code: number }> {
  return new Promise((resolve, reject) => {
    client.exec(command, (err, ch) => {
      if (err) return reject(err);
      let stdout = "";
      let code = -1;
      const dec = new TextDecoder();
      ch.on("data", (d: Uint8Array) => (stdout += dec.decode(d, { stream: true })));
      ch.stderr.on("data", () => {});
      ch.once("exit", (c: number | null) => (code = c ?? -1));
      ch.once("close", () => resolve({ stdout, code }));
      ch.end();
    });
  });
}

if (import.meta.main) {
  const client = await connect();
  serveStdio(() => {
    const server = new McpServer({ name: "floor-exec", version: "1" });
    server.registerTool(
      "exec",
      { description: "exec", inputSchema: z.object({ command: z.string() }) },
      async ({ command }) => {
        const r = await exec(client, command);
        return {
          content: [{ type: "text", text: r.stdout }],
          ...(r.code === 0 ? {} : { isError: true }),
        };
      },
    );
    return server;
  });
}
