/**
 * `deno task bench bridge`: what `ssh-mcp bridge` adds to a round trip,
 * measured in one run on the same machine against the same MCP server.
 *
 * The server is the reference filesystem MCP server from npm
 * (`@modelcontextprotocol/server-filesystem`, pinned in
 * `tests/_support/mcp_peers.ts`, run with Node). The same entry script is
 * reached two ways by the same real MCP client (the 1.32 SDK's `Client` over
 * `StdioClientTransport`):
 *
 * - ours: the client spawns `deno run main.ts bridge` (as the e2e test does),
 *   which relays over SSH to a real OpenSSH sshd on loopback whose
 *   `Subsystem mcpfs` runs the filesystem server as the test user;
 * - peer: the client spawns the filesystem server directly (local stdio).
 *
 * Per call: `tools/call list_allowed_directories` (the server's most trivial
 * tool) and an MCP `ping` request. After warm-up calls, 100 calls each,
 * interleaved (bridge, direct, direct, bridge, ...) so load drift hits both
 * sides; median (p50) and p90, ratio = bridge / direct.
 *
 * A missing fixture (sshd, node, the npm server) is printed as a row saying
 * so, with no number.
 *
 * @module
 */

import { Client } from "@modelcontextprotocol/sdk/client";
// @ts-types="../../node_modules/@modelcontextprotocol/sdk/dist/esm/client/stdio.d.ts"
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import {
  generateKey,
  SSHD_BIN,
  type SshdInstance,
  startSshd,
  tempDir,
} from "../../tests/_support/sshd.ts";
import { START_PERMS } from "../../tests/_support/mcp.ts";
import { FILESYSTEM_SERVER, filesystemServer } from "../../tests/_support/mcp_peers.ts";
import { out, pct, ROOT, type Row } from "../_lib.ts";

/** Section name for `deno task bench bridge`. */
export const name = "bridge";

const CALLS = 100;
const WARM = 10;
/** The Node binary the e2e test runs the filesystem server with (both sides use it). */
const NODE = "/usr/bin/node";
const PEER = `direct local stdio (same server, ${NODE})`;

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

function missing(metric: string, note: string): Row {
  return { section: name, metric, value: NaN, unit: "ms", note };
}

interface Peer {
  client: Client;
  stderr(): string;
}

/** Connects a 1.32 SDK client to `command args` over stdio, keeping its stderr for errors. */
async function connect(
  label: string,
  command: string,
  args: string[],
  env: Record<string, string>,
  cwd: string,
): Promise<Peer> {
  const transport = new StdioClientTransport({ command, args, env, cwd, stderr: "pipe" });
  let err = "";
  const dec = new TextDecoder();
  transport.stderr?.on("data", (d: Uint8Array) => {
    if (err.length < 16_384) err += dec.decode(d);
  });
  const client = new Client({ name: "bench-bridge", version: "1" });
  try {
    await client.connect(transport);
  } catch (e) {
    await client.close().catch(() => {});
    throw new Error(`${label} did not come up: ${(e as Error).message}\nstderr:\n${err}`);
  }
  return { client, stderr: () => err };
}

/** `tools/call list_allowed_directories`, checked: the answer must name the data directory. */
function listAllowed(c: Client, data: string): () => Promise<void> {
  return async () => {
    const r = await c.callTool({ name: "list_allowed_directories", arguments: {} });
    if (r.isError || !JSON.stringify(r.content).includes(data)) {
      throw new Error(`list_allowed_directories: unexpected answer ${JSON.stringify(r)}`);
    }
  };
}

/**
 * Warm-up, then CALLS timed calls of each side, interleaved call by call with
 * the order swapped every call (ABBA) so both see the same load.
 */
async function interleaved(
  ours: () => Promise<void>,
  peer: () => Promise<void>,
): Promise<{ ours: number[]; peer: number[] }> {
  for (let i = 0; i < WARM; i++) {
    await ours();
    await peer();
  }
  const a: number[] = [];
  const b: number[] = [];
  const once = async (f: () => Promise<void>, into: number[]) => {
    const t0 = performance.now();
    await f();
    into.push(performance.now() - t0);
  };
  for (let i = 0; i < CALLS; i++) {
    if (i % 2 === 0) {
      await once(ours, a);
      await once(peer, b);
    } else {
      await once(peer, b);
      await once(ours, a);
    }
  }
  return { ours: a, peer: b };
}

function latencyRows(metric: string, ours: number[], peer: number[]): Row[] {
  return [50, 90].map((p) => {
    const v = pct(ours, p);
    const pv = pct(peer, p);
    return {
      section: name,
      metric: `${metric} p${p}`,
      value: v,
      unit: "ms",
      peer: PEER,
      peerValue: pv,
      ratio: v / pv,
      ...(p === 50 ? { samples: ours, peerSamples: peer } : {}),
    };
  });
}

const TOOL_METRIC = `bridge list_allowed_directories, ${CALLS} calls`;
const PING_METRIC = `bridge ping, ${CALLS} calls`;

async function measure(): Promise<Row[]> {
  if (!(await exists(SSHD_BIN))) {
    const note = `not installed: ${SSHD_BIN} (apt-get install -y openssh-server)`;
    return [missing(TOOL_METRIC, note), missing(PING_METRIC, note)];
  }
  if (!(await exists(NODE))) {
    const note = `not installed: ${NODE} (Node 20, runs ${FILESYSTEM_SERVER})`;
    return [missing(TOOL_METRIC, note), missing(PING_METRIC, note)];
  }
  let fsEntry: string;
  try {
    fsEntry = await filesystemServer();
  } catch (e) {
    const note = `not installed: ${FILESYSTEM_SERVER} (${(e as Error).message.slice(0, 200)})`;
    return [missing(TOOL_METRIC, note), missing(PING_METRIC, note)];
  }

  const dir = await tempDir("sshmcp-bench-bridge-");
  const data = await tempDir("sshmcp-bench-bridge-data-");
  const key = await generateKey(dir, { type: "ed25519" });
  const sshd: SshdInstance = await startSshd({
    authorizedKeys: [key.publicLine],
    extraConfig: [`Subsystem mcpfs ${NODE} ${fsEntry} ${data}`],
  });
  const kh = `${dir}/known_hosts`;
  await Deno.writeTextFile(kh, sshd.knownHostsLines().join("\n") + "\n");
  const env: Record<string, string> = {
    PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
    HOME: Deno.env.get("HOME") ?? "/root",
    SSH_MCP_DISABLE_DOTENV: "1",
    SSH_HOSTS_FILE: "/nonexistent",
    ...(Deno.env.get("DENO_DIR") ? { DENO_DIR: Deno.env.get("DENO_DIR")! } : {}),
  };
  let bridge: Peer | undefined;
  let direct: Peer | undefined;
  try {
    bridge = await connect(
      "ssh-mcp bridge",
      Deno.execPath(),
      [
        "run",
        "--quiet",
        ...START_PERMS,
        `${ROOT}main.ts`,
        "bridge",
        `${sshd.user.name}@${sshd.address}`,
        "-p",
        String(sshd.port),
        "-i",
        key.privatePath,
        "--known-hosts",
        kh,
        "--subsystem",
        "mcpfs",
      ],
      env,
      ROOT,
    );
    direct = await connect("the filesystem server (direct)", NODE, [fsEntry, data], env, "/tmp");
    const b = bridge.client;
    const d = direct.client;
    const names = (await b.listTools()).tools.map((t) => t.name);
    if (!names.includes("list_allowed_directories")) {
      throw new Error(`the bridged server has no list_allowed_directories: ${names.join(",")}`);
    }

    const tool = await interleaved(listAllowed(b, data), listAllowed(d, data));
    out(
      `bridge list_allowed_directories: p50 ${pct(tool.ours, 50).toFixed(2)} ms via bridge vs ` +
        `${pct(tool.peer, 50).toFixed(2)} ms direct`,
    );
    const ping = await interleaved(
      async () => void await b.ping(),
      async () => void await d.ping(),
    );
    out(
      `bridge ping: p50 ${pct(ping.ours, 50).toFixed(2)} ms via bridge vs ` +
        `${pct(ping.peer, 50).toFixed(2)} ms direct`,
    );
    return [
      ...latencyRows(TOOL_METRIC, tool.ours, tool.peer),
      ...latencyRows(PING_METRIC, ping.ours, ping.peer),
    ];
  } catch (e) {
    const tail = bridge ? `\nbridge stderr:\n${bridge.stderr().slice(-2000)}` : "";
    throw new Error(`${(e as Error).message}${tail}`);
  } finally {
    await bridge?.client.close().catch(() => {});
    await direct?.client.close().catch(() => {});
    // the bridge closes its session when its stdin ends; kill any straggler before the listener
    await sshd.killConnections();
    await sshd.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    await Deno.remove(data, { recursive: true }).catch(() => {});
  }
}

/** Runs the section. */
export async function run(): Promise<Row[]> {
  return await measure();
}
