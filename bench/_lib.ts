/**
 * Helpers shared by `bench/main.ts` and the sections in `bench/sections/`.
 * (Sections must not import values from `main.ts`: it imports them from its
 * top-level await, so a value import back would deadlock.)
 *
 * @module
 */

// @ts-types="../node_modules/@modelcontextprotocol/sdk/dist/esm/client/stdio.d.ts"
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { Client } from "@modelcontextprotocol/sdk/client";
import { START_PERMS } from "../tests/_support/mcp.ts";

/** Repository root (with a trailing slash). */
export const ROOT = new URL("..", import.meta.url).pathname;

/** One measured quantity. */
export interface Row {
  section: string;
  metric: string;
  value: number;
  unit: string;
  peer?: string;
  peerValue?: number;
  /** ours / peer (lower is better for times, higher for throughput) */
  ratio?: number;
  samples?: number[];
  /** why a peer value is missing (e.g. the peer could not be installed) */
  note?: string;
}

/** p-th percentile of samples (nearest rank). */
export function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

/** Writes a line of the bench report to stdout. */
export function out(line: string): void {
  Deno.stdout.writeSync(new TextEncoder().encode(line + "\n"));
}

/** Starts the server as `deno task start` does and connects an MCP client over stdio. */
export async function startServer(
  env: Record<string, string>,
): Promise<{ client: Client; transport: StdioClientTransport }> {
  const transport = new StdioClientTransport({
    command: Deno.execPath(),
    args: ["run", "--quiet", ...START_PERMS, `${ROOT}main.ts`, "serve"],
    env: { PATH: Deno.env.get("PATH") ?? "", HOME: Deno.env.get("HOME") ?? "/root", ...env },
    cwd: ROOT,
    stderr: "pipe",
  });
  transport.stderr?.on("data", () => {});
  const client = new Client({ name: "bench", version: "1" });
  await client.connect(transport);
  return { client, transport };
}

/**
 * OpenSSH client options for a fleet host (strict host keys against the
 * fleet's known_hosts, the fleet key, batch mode). `portFlag` is `-p` for ssh
 * and `-P` for sftp/scp; `controlPath` adds `-S` for a ControlMaster socket.
 */
export function opensshArgs(
  opts: {
    knownHostsPath: string;
    identity: string;
    port: number;
    portFlag?: "-p" | "-P";
    controlPath?: string;
  },
): string[] {
  return [
    "-F",
    "/dev/null",
    "-o",
    `UserKnownHostsFile=${opts.knownHostsPath}`,
    "-o",
    "StrictHostKeyChecking=yes",
    "-o",
    "BatchMode=yes",
    "-i",
    opts.identity,
    opts.portFlag ?? "-p",
    String(opts.port),
    ...(opts.controlPath ? ["-S", opts.controlPath] : []),
  ];
}
