/**
 * `deno task bench exec`: the exec group against its peers, measured in one
 * run on the same machine and the same sshd hosts.
 *
 * 1. Per-call latency of `ssh_exec_run` (`true`): median and p90 of 200 calls
 *    through a real MCP client over stdio, vs a raw ssh2 exec on a pooled
 *    connection (the floor), OpenSSH ControlMaster (`ssh -S`) and the MCP
 *    floor (bench/floor_exec_server.ts: a minimal SDK server whose one tool is
 *    that raw ssh2 exec, through the same client; it also gets its own row
 *    against raw ssh2, the MCP hop's share), in alternating blocks of 20 calls
 *    each (so load drift on a shared machine hits all alike), then the npm
 *    package `ssh-mcp` driven through the same MCP client.
 *
 * Fan-out (`ssh_broadcast` to 50, 200 and 1,000 hosts vs parallel-ssh and
 * asyncssh) is its own section: `bench/sections/fanout.ts`.
 *
 * Peers are never vendored: the npm `ssh-mcp` comes from `SSH_MCP_NPM_PEER` (path of its `build/index.js`, default
 * `/tmp/peers/node_modules/ssh-mcp/build/index.js`). A missing peer is
 * reported plainly instead of a number.
 *
 * @module
 */

// @ts-types="../../node_modules/@modelcontextprotocol/sdk/dist/esm/client/stdio.d.ts"
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { Client } from "@modelcontextprotocol/sdk/client";
import { type Fleet, startFleet } from "../../tests/_support/fleet.ts";
import { connectRawSsh2 } from "../../tests/_support/raw_ssh2.ts";
// type-only: a value import of ../main.ts would deadlock (main.ts imports the
// sections from its top-level await), so the few helpers are local below
import { floorSshEnv, opensshArgs, pct, type Row, startDenoMcp, startServer } from "../_lib.ts";

/** Section name for `deno task bench exec`. */
export const name = "exec";

const CALLS = 200;
const NPM_PEER = Deno.env.get("SSH_MCP_NPM_PEER") ??
  "/tmp/peers/node_modules/ssh-mcp/build/index.js";

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

async function proc(cmd: string, args: string[], stdin?: string) {
  const p = new Deno.Command(cmd, {
    args,
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const w = p.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
  }
  const o = await p.output();
  const dec = new TextDecoder();
  return { code: o.code, stdout: dec.decode(o.stdout), stderr: dec.decode(o.stderr) };
}

async function must(cmd: string, args: string[], stdin?: string): Promise<string> {
  const r = await proc(cmd, args, stdin);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(" ")} -> ${r.code}: ${r.stderr}`);
  return r.stdout;
}

function ourEnv(fleet: Fleet): Record<string, string> {
  return {
    SSH_MCP_DISABLE_DOTENV: "1",
    SSH_HOSTS_FILE: fleet.hostsTomlPath,
    SSH_KNOWN_HOSTS: fleet.knownHostsPath,
    SSH_HOST_NOTES_DIR: "",
    ALLOW_DANGEROUS_TOOLS: "true",
    ALLOW_ANY_COMMAND: "true",
    // the product default: audit lines on stderr (consumed by the client)
    SSH_AUDIT_LOG: "stderr",
    LOG_LEVEL: "WARNING",
  };
}

async function timed(n: number, f: () => Promise<void>): Promise<number[]> {
  const xs: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await f();
    xs.push(performance.now() - t0);
  }
  return xs;
}

function latencyRows(metric: string, ours: number[], peer: string, theirs: number[] | string) {
  const rows: Row[] = [];
  for (const p of [50, 90]) {
    const v = pct(ours, p);
    if (typeof theirs === "string") {
      rows.push({ section: name, metric: `${metric} p${p}`, value: v, unit: "ms", peer: theirs });
    } else {
      const pv = pct(theirs, p);
      rows.push({
        section: name,
        metric: `${metric} p${p}`,
        value: v,
        unit: "ms",
        peer,
        peerValue: pv,
        ratio: v / pv,
        ...(p === 50 ? { samples: ours } : {}),
      });
    }
  }
  return rows;
}

/** A peer measured call by call: one call, and its teardown. */
interface Peer {
  once: () => Promise<void>;
  close: () => Promise<void>;
}

/** Raw ssh2 exec of `true` on one kept-open connection (TCP_NODELAY): the floor. */
async function rawSsh2(fleet: Fleet): Promise<Peer> {
  const { client } = await connectRawSsh2(fleet);
  const once = () =>
    new Promise<void>((resolve, reject) => {
      client.exec("true", (err, ch) => {
        if (err) return reject(err);
        ch.on("data", () => {});
        ch.stderr.on("data", () => {});
        ch.once("close", () => resolve());
        ch.end();
      });
    });
  return { once, close: () => Promise.resolve(void client.end()) };
}

/**
 * The MCP floor: bench/floor_exec_server.ts (a minimal SDK server whose one
 * tool is the raw ssh2 exec above) through the same MCP client as ours.
 */
async function floorExec(fleet: Fleet): Promise<Peer> {
  let stderr = "";
  const args = ["run", "--quiet", "--allow-net", "--allow-read", "--allow-env"];
  const { client } = await startDenoMcp(
    [...args, new URL("../floor_exec_server.ts", import.meta.url).pathname],
    floorSshEnv(fleet),
    (text) => (stderr += text),
  ).catch((e) => {
    throw new Error(`floor_exec_server did not start: ${(e as Error).message}\n${stderr}`);
  });
  return {
    once: async () => {
      const r = await client.callTool({ name: "exec", arguments: { command: "true" } });
      if (r.isError) throw new Error(`floor exec: ${JSON.stringify(r.content)} ${stderr}`);
    },
    close: () => client.close(),
  };
}

/** `ssh -S` on an OpenSSH ControlMaster connection. */
async function controlMaster(fleet: Fleet): Promise<Peer> {
  const h = fleet.hosts[0]!.sshd;
  const ctl = `${fleet.dir}/cm-exec.sock`;
  const base = opensshArgs({
    knownHostsPath: fleet.knownHostsPath,
    identity: fleet.key.privatePath,
    port: h.port,
    controlPath: ctl,
  });
  const target = `${h.user.name}@${h.address}`;
  await must("ssh", [...base, "-o", "ControlMaster=yes", "-o", "ControlPersist=60", "-fN", target]);
  return {
    once: async () => void await must("ssh", [...base, target, "true"]),
    close: async () => void await proc("ssh", [...base, "-O", "exit", target]),
  };
}

/** The npm `ssh-mcp` server through the same MCP client (its `run-command` tool). */
async function npmSshMcp(fleet: Fleet): Promise<number[] | string> {
  if (!(await exists(NPM_PEER))) {
    return `npm ssh-mcp: not installed (npm install ssh-mcp outside the repo; set SSH_MCP_NPM_PEER)`;
  }
  const h = fleet.hosts[0]!.sshd;
  const dir = await Deno.makeTempDir({ prefix: "bench-npm-ssh-mcp-" });
  await Deno.chmod(dir, 0o700);
  const cfg = `${dir}/config.toml`;
  await Deno.writeTextFile(
    cfg,
    [
      "[defaults]",
      'defaultProfile = "h1"',
      'approvalMode = "auto"',
      "",
      "[[profiles]]",
      'name = "h1"',
      `host = "${h.address}"`,
      `port = ${h.port}`,
      `user = "${h.user.name}"`,
      'auth = "key"',
      `keyRef = "${fleet.key.privatePath}"`,
      `trustedHostKey = "${h.hostKeys[0]!.fingerprint}"`,
      'role = "admin"',
      'approvalPolicy = "auto"',
      "",
    ].join("\n"),
  );
  await Deno.chmod(cfg, 0o600);
  const transport = new StdioClientTransport({
    command: "node",
    args: [NPM_PEER, `--config=${cfg}`],
    env: { PATH: Deno.env.get("PATH") ?? "", HOME: dir },
    stderr: "pipe",
  });
  transport.stderr?.on("data", () => {});
  const client = new Client({ name: "bench", version: "1" });
  try {
    await client.connect(transport);
    await client.listTools();
    const call = async () => {
      const r = await client.callTool({ name: "run-command", arguments: { command: "true" } });
      if (r.isError) throw new Error(`npm ssh-mcp: ${JSON.stringify(r.content)}`);
    };
    for (let i = 0; i < 10; i++) await call();
    return await timed(CALLS, call);
  } catch (e) {
    return `npm ssh-mcp: failed (${(e as Error).message.slice(0, 120)})`;
  } finally {
    await client.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** Calls per block: blocks of ours and each peer alternate, so load drift hits all alike. */
const BLOCK = 20;

async function latency(): Promise<Row[]> {
  const fleet = await startFleet(1);
  const peers: Peer[] = [];
  try {
    const s = await startServer(ourEnv(fleet));
    const call = async () => {
      const r = await s.client.callTool({
        name: "ssh_exec_run",
        arguments: { host: "h1", command: "true" },
      });
      if (r.isError) throw new Error(JSON.stringify(r.content));
    };
    peers.push({ once: call, close: async () => await s.client.close() });
    peers.push(await rawSsh2(fleet));
    peers.push(await controlMaster(fleet));
    peers.push(await floorExec(fleet));
    const samples: number[][] = peers.map(() => []);
    for (const p of peers) for (let i = 0; i < 10; i++) await p.once();
    for (let done = 0; done < CALLS; done += BLOCK) {
      for (const [i, p] of peers.entries()) samples[i]!.push(...await timed(BLOCK, p.once));
    }
    for (const p of peers.splice(0)) await p.close();
    const [ours, raw, cm, floor] = samples as [number[], number[], number[], number[]];
    const npm = await npmSshMcp(fleet);
    const metric = `ssh_exec_run true, ${CALLS} calls (MCP stdio)`;
    // the two rows say where the MCP floor itself stands against the same peer
    const floorNote = (peer: number[]) => {
      const f = pct(floor, 50);
      return `MCP floor ${f.toFixed(2)} ms = ${(f / pct(peer, 50)).toFixed(2)}x`;
    };
    const noted = (rows: Row[], peer: number[]) =>
      rows.map((r) => r.metric.endsWith(" p50") ? { ...r, note: floorNote(peer) } : r);
    return [
      ...noted(latencyRows(metric, ours, "ssh -S ControlMaster", cm), cm),
      ...noted(latencyRows(metric, ours, "raw ssh2 pooled exec (floor)", raw), raw),
      ...latencyRows(metric, ours, "minimal SDK server running an ssh2 exec (MCP floor)", floor),
      ...latencyRows(
        `MCP floor exec true, ${CALLS} calls (MCP stdio)`,
        floor,
        "raw ssh2 pooled exec (floor)",
        raw,
      ),
      ...latencyRows(metric, ours, "npm ssh-mcp run-command (MCP stdio)", npm),
    ];
  } finally {
    for (const p of peers) await p.close().catch(() => {});
    await fleet.stop();
  }
}

/** Runs the section. */
export async function run(): Promise<Row[]> {
  return await latency();
}
