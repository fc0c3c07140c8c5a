/**
 * `deno task bench`: measured, never assumed. Starts real sshd hosts, runs the
 * real server (as `deno task start` does) behind a real MCP client over stdio,
 * and measures the peers side by side in the same run. Prints a table with
 * ratios and saves raw samples under `bench/results/`.
 *
 * Sections: `foundation` here (cold start and RSS with the full catalog vs a
 * minimal MCP server on the same runtime, the cold start split into its
 * phases from the server's start-up timeline, pooled call latency vs OpenSSH
 * ControlMaster, idle RSS) plus every module in `bench/sections/` exporting
 * `name` and `run(): Promise<Row[]>`. Run some with `deno task bench <name>...`.
 *
 * @module
 */

// @ts-types="../node_modules/@modelcontextprotocol/sdk/dist/esm/client/stdio.d.ts"
import type { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import type { Client } from "@modelcontextprotocol/sdk/client";
import { startFleet } from "../tests/_support/fleet.ts";
import {
  opensshArgs,
  out,
  pct,
  printSummary,
  printTable,
  ROOT,
  type Row,
  saveResults,
  startDenoMcp,
  startServer,
  STARTUP_PHASES,
  startupPhases,
} from "./_lib.ts";

export type { Row };

async function rssKiB(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
}

async function sh(cmd: string, args: string[]) {
  const o = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  if (o.code !== 0) {
    throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(o.stderr)}`);
  }
}

/**
 * The floor: a minimal MCP server on the same runtime and SDK (bench/floor_server.ts),
 * started as the server is (`deno run`, same client).
 */
function startFloor(): Promise<{ client: Client; transport: StdioClientTransport }> {
  return startDenoMcp(["run", "--quiet", `${ROOT}bench/floor_server.ts`]);
}

async function foundation(): Promise<Row[]> {
  const rows: Row[] = [];
  const fleet = await startFleet(1);
  const env = {
    SSH_MCP_DISABLE_DOTENV: "1",
    SSH_HOSTS_FILE: fleet.hostsTomlPath,
    SSH_KNOWN_HOSTS: fleet.knownHostsPath,
    SSH_AUDIT_LOG: "off",
    SSH_HOST_NOTES_DIR: "",
  };
  // the full catalog (every tier), as issue 17 measures start-up
  const full = {
    ...env,
    ALLOW_LOW_ACCESS_TOOLS: "true",
    ALLOW_DANGEROUS_TOOLS: "true",
    ALLOW_SUDO: "true",
  };
  try {
    // 1. cold start: process spawn -> initialize -> tools/list answered, interleaved with
    // the floor (a minimal server on the same runtime and SDK) so both see the same load
    const cold: number[] = [];
    const floor: number[] = [];
    let listed = 0;
    const floorRss: number[] = [];
    const rss: number[] = [];
    /** per cold start of ours: the phase durations (STARTUP_PHASES order) */
    const phases: number[][] = [];
    /** spawn -> the first tools/call answered (ours: ssh_server_info, the floor: its echo) */
    const firstCall: number[] = [];
    const floorFirstCall: number[] = [];
    let missing = 0;
    for (let i = 0; i < 10; i++) {
      for (const which of i % 2 === 0 ? ["ours", "floor"] : ["floor", "ours"]) {
        let stderr = "";
        const spawnedAt = performance.timeOrigin + performance.now();
        const t0 = performance.now();
        const s = which === "ours"
          ? await startServer({ ...full, SSH_LOG_FORMAT: "json" }, (t) => (stderr += t))
          : await startFloor();
        const r = await s.client.listTools();
        (which === "ours" ? cold : floor).push(performance.now() - t0);
        if (which === "ours") {
          const listedAt = performance.timeOrigin + performance.now();
          listed = r.tools.length;
          // the log line is written before serving starts; its pipe may deliver after stdout's
          for (let w = 0; w < 50 && !stderr.includes("serving MCP"); w++) {
            await new Promise((r) => setTimeout(r, 20));
          }
          const p = startupPhases(stderr, spawnedAt, listedAt);
          if (p) phases.push(p);
          else missing++;
        }
        if (i < 3) {
          await new Promise((r) => setTimeout(r, 500));
          (which === "ours" ? rss : floorRss).push((await rssKiB(s.transport.pid!)) / 1024);
        } else {
          // the stdio server answers tools/list before its SDK and modules load (early.ts):
          // when can a tool run?
          const r = which === "ours"
            ? await s.client.callTool({ name: "ssh_server_info", arguments: {} })
            : await s.client.callTool({ name: "echo", arguments: { text: "x" } });
          if (r.isError) throw new Error(`first call failed: ${JSON.stringify(r.content)}`);
          (which === "ours" ? firstCall : floorFirstCall).push(performance.now() - t0);
        }
        await s.client.close();
      }
    }
    rows.push({
      section: "foundation",
      metric: `cold start to tools/list, ${listed} tools (median of 10)`,
      value: pct(cold, 50),
      unit: "ms",
      peer: "minimal MCP server, same runtime + SDK (floor)",
      peerValue: pct(floor, 50),
      ratio: pct(cold, 50) / pct(floor, 50),
      samples: cold,
    });
    rows.push({
      section: "foundation",
      metric: `cold start to the first tools/call answered (median of ${firstCall.length})`,
      value: pct(firstCall, 50),
      unit: "ms",
      peer: "minimal MCP server, same runtime + SDK (floor)",
      peerValue: pct(floorFirstCall, 50),
      ratio: pct(firstCall, 50) / pct(floorFirstCall, 50),
      samples: firstCall,
    });
    // where the cold start goes (src/startup.ts marks in the server's "serving MCP" log line)
    if (missing) out(`foundation: ${missing} cold start(s) logged no start-up timeline`);
    STARTUP_PHASES.forEach((ph, k) => {
      if (!phases.length) return;
      rows.push({
        section: "foundation",
        metric: `cold start ${k + 1}/${STARTUP_PHASES.length}: ${ph.label}`,
        value: pct(phases.map((p) => p[k]!), 50),
        unit: "ms",
        samples: phases.map((p) => p[k]!),
      });
    });
    rows.push({
      section: "foundation",
      metric: `RSS after tools/list, ${listed} tools (median of 3)`,
      value: pct(rss, 50),
      unit: "MiB",
      peer: "minimal MCP server (floor)",
      peerValue: pct(floorRss, 50),
      ratio: pct(rss, 50) / pct(floorRss, 50),
    });

    // 2. pooled ssh_user_info through the MCP client, vs `ssh -S` on a ControlMaster
    const s = await startServer(env);
    const pid = s.transport.pid!;
    await s.client.listTools();
    await new Promise((r) => setTimeout(r, 1000));
    rows.push({
      section: "foundation",
      metric: "idle RSS after tools/list",
      value: (await rssKiB(pid)) / 1024,
      unit: "MiB",
    });
    const call = () => s.client.callTool({ name: "ssh_user_info", arguments: { host: "h1" } });
    for (let i = 0; i < 10; i++) await call(); // warm the pool
    const lat: number[] = [];
    for (let i = 0; i < 100; i++) {
      const t0 = performance.now();
      const r = await call();
      if (r.isError) throw new Error(JSON.stringify(r.content));
      lat.push(performance.now() - t0);
    }
    const h = fleet.hosts[0]!.sshd;
    const ctl = `${fleet.dir}/cm.sock`;
    const base = opensshArgs({
      knownHostsPath: fleet.knownHostsPath,
      identity: fleet.key.privatePath,
      port: h.port,
      controlPath: ctl,
    });
    await sh("ssh", [
      ...base,
      "-o",
      "ControlMaster=yes",
      "-o",
      "ControlPersist=60",
      "-fN",
      `${h.user.name}@${h.address}`,
    ]);
    const peer: number[] = [];
    const script = 'u=$(id -un); getent passwd -- "$u"; id -Gn -- "$u"; id -gn -- "$u"';
    for (let i = 0; i < 100; i++) {
      const t0 = performance.now();
      await sh("ssh", [...base, `${h.user.name}@${h.address}`, script]);
      peer.push(performance.now() - t0);
    }
    await sh("ssh", [...base, "-O", "exit", `${h.user.name}@${h.address}`]).catch(() => {});
    rows.push({
      section: "foundation",
      metric: "pooled ssh_user_info, median of 100 (MCP stdio)",
      value: pct(lat, 50),
      unit: "ms",
      peer: "ssh -S ControlMaster, same lookups",
      peerValue: pct(peer, 50),
      ratio: pct(lat, 50) / pct(peer, 50),
      samples: lat,
    });
    rows.push({
      section: "foundation",
      metric: "pooled ssh_user_info, p90 of 100",
      value: pct(lat, 90),
      unit: "ms",
      peer: "ssh -S p90",
      peerValue: pct(peer, 90),
      ratio: pct(lat, 90) / pct(peer, 90),
    });
    await s.client.close();
  } finally {
    await fleet.stop();
  }
  return rows;
}

/** Built-in sections plus `bench/sections/*.ts` (each exports `name` and `run`). */
async function sections(): Promise<Record<string, () => Promise<Row[]>>> {
  const out: Record<string, () => Promise<Row[]>> = { foundation };
  const dir = new URL("./sections/", import.meta.url);
  const files: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (e.isFile && e.name.endsWith(".ts")) files.push(e.name);
  }
  for (const f of files.sort()) {
    const m = await import(new URL(f, dir).href) as { name: string; run: () => Promise<Row[]> };
    out[m.name] = m.run;
  }
  return out;
}

if (import.meta.main) {
  const SECTIONS = await sections();
  const wanted = Deno.args.length ? Deno.args : Object.keys(SECTIONS);
  const rows: Row[] = [];
  const startedAt = new Date().toISOString();
  const loadBefore = Deno.loadavg();
  for (const name of wanted) {
    const f = SECTIONS[name];
    if (!f) throw new Error(`unknown section ${name}; known: ${Object.keys(SECTIONS).join(", ")}`);
    rows.push(...await f());
  }
  printTable(rows);
  printSummary(rows);
  const file = await saveResults(rows, { sections: wanted, startedAt, loadBefore });
  out(`\nraw samples: ${file}`);
}
