/**
 * `deno task bench protocol`: the MCP layer before and after a change, measured
 * in one run on the same machine and the same sshd host.
 *
 * The baseline is a detached `git worktree` of `BENCH_BASELINE_REF` (default
 * `38d9a04`, the last commit on `@modelcontextprotocol/sdk` v1) with its own
 * `deno install`; the current tree is the working tree this file lives in.
 * Both servers start as their own `deno task start` does (the `--allow-*`
 * flags of that tree's `deno.json` tasks.start, cwd = that tree) and are
 * driven by the same v1 SDK client over stdio. Runs alternate between the two
 * trees so both see the same noise:
 *
 * 1. cold start: spawn -> initialize -> tools/list answered (median of 10);
 * 2. idle RSS after tools/list (VmRSS of the server process);
 * 3. `ssh_host_list` per-call latency (no SSH I/O: protocol + tool pipeline),
 *    p50/p90 of 200 calls after 20 warm-up calls;
 * 4. `ssh_exec_run` (`true`) per-call latency on a pooled connection, p50/p90
 *    of 200 calls after 20 warm-up calls.
 *
 * Each metric gives a baseline row, a current row and a current/baseline
 * ratio row. The worktree is removed at the end, also on failure.
 *
 * @module
 */

// @ts-types="../../node_modules/@modelcontextprotocol/sdk/dist/esm/client/stdio.d.ts"
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { Client } from "@modelcontextprotocol/sdk/client";
import { startFleet } from "../../tests/_support/fleet.ts";
import { out, pct, ROOT, type Row } from "../_lib.ts";

/** Section name for `deno task bench protocol`. */
export const name = "protocol";

const BASELINE_REF = Deno.env.get("BENCH_BASELINE_REF") ?? "38d9a04";
const COLD_RUNS = 10;
const WARMUP = 20;
const CALLS = 200;

interface Tree {
  label: "baseline" | "current";
  /** directory with a trailing slash */
  dir: string;
  perms: string[];
}

interface Server {
  client: Client;
  transport: StdioClientTransport;
  pid: number;
  /** last 2000 characters the server wrote to stderr */
  stderr(): string;
}

async function run0(cmd: string, args: string[], cwd: string): Promise<string> {
  const o = await new Deno.Command(cmd, { args, cwd, stdout: "piped", stderr: "piped" }).output();
  const dec = new TextDecoder();
  if (o.code !== 0) {
    throw new Error(`${cmd} ${args.join(" ")} (in ${cwd}) -> ${o.code}: ${dec.decode(o.stderr)}`);
  }
  return dec.decode(o.stdout);
}

/** The `--allow-*` flags of a tree's `deno task start`. */
async function startPerms(dir: string): Promise<string[]> {
  const cfg = JSON.parse(await Deno.readTextFile(`${dir}deno.json`));
  const perms = String(cfg.tasks?.start ?? "").split(/\s+/).filter((t) => t.startsWith("--allow-"));
  if (!perms.length) throw new Error(`${dir}deno.json tasks.start has no --allow-* flags`);
  return perms;
}

/** Starts a tree's server as its `deno task start` does and connects the v1 client. */
async function startTree(tree: Tree, env: Record<string, string>): Promise<Server> {
  const transport = new StdioClientTransport({
    command: Deno.execPath(),
    args: ["run", "--quiet", ...tree.perms, `${tree.dir}main.ts`, "serve"],
    env: { PATH: Deno.env.get("PATH") ?? "", HOME: Deno.env.get("HOME") ?? "/root", ...env },
    cwd: tree.dir,
    stderr: "pipe",
  });
  // keep the tail of stderr to explain a server that dies
  let tail = "";
  transport.stderr?.on("data", (d: Uint8Array) => {
    tail = (tail + new TextDecoder().decode(d)).slice(-2000);
  });
  const client = new Client({ name: "bench", version: "1" });
  try {
    await client.connect(transport);
  } catch (e) {
    await new Promise((r) => setTimeout(r, 200));
    throw new Error(`${tree.label} server: ${(e as Error).message}\n${tail}`);
  }
  return { client, transport, pid: transport.pid!, stderr: () => tail };
}

async function rssMiB(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN) / 1024;
}

async function callOk(s: Server, tool: string, args: Record<string, unknown>): Promise<void> {
  const r = await s.client.callTool({ name: tool, arguments: args }).catch((e: Error) => {
    throw new Error(`${tool}: ${e.message}\n${s.stderr()}`);
  });
  if (r.isError) throw new Error(`${tool}: ${JSON.stringify(r.content).slice(0, 300)}`);
}

/** Calls `tool` alternately on each server (warm-up, then `CALLS` timed calls each). */
async function interleavedLatency(
  servers: Server[],
  tool: string,
  args: Record<string, unknown>,
): Promise<number[][]> {
  for (let i = 0; i < WARMUP; i++) for (const s of servers) await callOk(s, tool, args);
  const xs = servers.map(() => [] as number[]);
  for (let i = 0; i < CALLS; i++) {
    // alternate which tree goes first so neither always follows the other
    const order = i % 2 === 0 ? [0, 1] : [1, 0];
    for (const k of order) {
      const t0 = performance.now();
      await callOk(servers[k]!, tool, args);
      xs[k]!.push(performance.now() - t0);
    }
  }
  return xs;
}

function compare(
  metric: string,
  unit: string,
  base: number,
  cur: number,
  samples?: [number[], number[]],
): Row[] {
  return [
    {
      section: name,
      metric: `${metric} [baseline]`,
      peer: `= ${BASELINE_REF}`,
      value: base,
      unit,
      ...(samples ? { samples: samples[0] } : {}),
    },
    {
      section: name,
      metric: `${metric} [current]`,
      value: cur,
      unit,
      ...(samples ? { samples: samples[1] } : {}),
    },
    {
      section: name,
      metric: `${metric} [cur/base]`,
      value: cur,
      unit,
      peer: `current / baseline ${BASELINE_REF}`,
      peerValue: base,
      ratio: cur / base,
    },
  ];
}

async function measure(trees: [Tree, Tree]): Promise<Row[]> {
  const fleet = await startFleet(1);
  const alias = fleet.hosts[0]!.alias;
  const env = {
    SSH_MCP_DISABLE_DOTENV: "1",
    SSH_HOSTS_FILE: fleet.hostsTomlPath,
    SSH_KNOWN_HOSTS: fleet.knownHostsPath,
    SSH_AUDIT_LOG: "off",
    SSH_HOST_NOTES_DIR: "",
    // ssh_exec_run of `true` needs a command policy that admits it
    ALLOW_DANGEROUS_TOOLS: "true",
    ALLOW_ANY_COMMAND: "true",
  };
  const rows: Row[] = [];
  try {
    // 1. cold start, alternating trees (and which goes first)
    const cold: [number[], number[]] = [[], []];
    for (let i = 0; i < COLD_RUNS; i++) {
      const order = i % 2 === 0 ? [0, 1] : [1, 0];
      for (const k of order) {
        const t0 = performance.now();
        const s = await startTree(trees[k]!, env);
        await s.client.listTools();
        cold[k]!.push(performance.now() - t0);
        await s.client.close();
      }
    }
    rows.push(
      ...compare(
        `cold start to tools/list, median of ${COLD_RUNS}`,
        "ms",
        pct(cold[0], 50),
        pct(cold[1], 50),
        cold,
      ),
    );

    // 2. both servers up side by side; idle RSS, then interleaved call latency
    const servers: Server[] = [];
    try {
      for (const t of trees) {
        const s = await startTree(t, env);
        servers.push(s);
        await s.client.listTools();
      }
      await new Promise((r) => setTimeout(r, 1000));
      const rss = await Promise.all(servers.map((s) => rssMiB(s.pid)));
      rows.push(...compare("idle RSS after tools/list", "MiB", rss[0]!, rss[1]!));

      for (
        const [tool, args] of [
          ["ssh_host_list", {}],
          ["ssh_exec_run", { host: alias, command: "true" }],
        ] as const
      ) {
        const [b, c] = await interleavedLatency(servers, tool, args);
        const what = tool === "ssh_exec_run" ? `${tool} true pooled` : `${tool} (no SSH I/O)`;
        for (const p of [50, 90]) {
          rows.push(
            ...compare(
              `${what} p${p}, ${CALLS} calls`,
              "ms",
              pct(b!, p),
              pct(c!, p),
              p === 50 ? [b!, c!] : undefined,
            ),
          );
        }
      }
    } finally {
      for (const s of servers) await s.client.close().catch(() => {});
    }
  } finally {
    await fleet.stop();
  }
  return rows;
}

/** Runs the section. */
export async function run(): Promise<Row[]> {
  const parent = await Deno.makeTempDir({ prefix: "bench-protocol-" });
  const wt = `${parent}/baseline/`;
  let added = false;
  try {
    const sha = (await run0("git", ["rev-parse", "--verify", `${BASELINE_REF}^{commit}`], ROOT))
      .trim();
    out(`protocol bench: baseline ${BASELINE_REF} (${sha.slice(0, 12)}) -> ${wt}`);
    await run0("git", ["worktree", "add", "--detach", wt, sha], ROOT);
    added = true;
    const t0 = performance.now();
    await run0(Deno.execPath(), ["install"], wt);
    out(`protocol bench: deno install in baseline: ${(performance.now() - t0).toFixed(0)} ms`);
    const trees: [Tree, Tree] = [
      { label: "baseline", dir: wt, perms: await startPerms(wt) },
      { label: "current", dir: ROOT, perms: await startPerms(ROOT) },
    ];
    return await measure(trees);
  } finally {
    if (added) {
      await run0("git", ["worktree", "remove", "--force", wt], ROOT).catch((e) =>
        out(`protocol bench: worktree remove failed: ${(e as Error).message}`)
      );
    }
    await Deno.remove(parent, { recursive: true }).catch(() => {});
  }
}
