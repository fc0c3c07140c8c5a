/**
 * `deno task bench`: measured, never assumed. Starts real sshd hosts, runs the
 * real server (as `deno task start` does) behind a real MCP client over stdio,
 * and measures the peers side by side in the same run. Prints a table with
 * ratios and saves raw samples under `bench/results/`.
 *
 * Sections: `foundation` here (cold start, pooled call latency vs OpenSSH
 * ControlMaster, idle RSS) plus every module in `bench/sections/` exporting
 * `name` and `run(): Promise<Row[]>`. Run some with `deno task bench <name>...`.
 *
 * @module
 */

import { startFleet } from "../tests/_support/fleet.ts";
import { opensshArgs, out, pct, ROOT, type Row, startServer } from "./_lib.ts";

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
  try {
    // 1. cold start: process spawn -> initialize -> tools/list answered
    const cold: number[] = [];
    for (let i = 0; i < 10; i++) {
      const t0 = performance.now();
      const s = await startServer(env);
      await s.client.listTools();
      cold.push(performance.now() - t0);
      await s.client.close();
    }
    rows.push({
      section: "foundation",
      metric: "cold start to tools/list (median of 10)",
      value: pct(cold, 50),
      unit: "ms",
      samples: cold,
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
  for (const name of wanted) {
    const f = SECTIONS[name];
    if (!f) throw new Error(`unknown section ${name}; known: ${Object.keys(SECTIONS).join(", ")}`);
    rows.push(...await f());
  }
  out(
    `\nssh-mcp bench  ${
      new Date().toISOString()
    }  (${Deno.build.os}, ${navigator.hardwareConcurrency} cpus)`,
  );
  out(
    `${"metric".padEnd(52)} ${"ours".padStart(10)}  ${"peer".padStart(10)}  ${
      "ratio".padStart(6)
    }  peer`,
  );
  for (const r of rows) {
    out(
      `${r.metric.padEnd(52)} ${(r.value.toFixed(2) + " " + r.unit).padStart(10)}  ${
        r.peerValue !== undefined
          ? (r.peerValue.toFixed(2) + " " + r.unit).padStart(10)
          : "".padStart(10)
      }  ${r.ratio !== undefined ? r.ratio.toFixed(2).padStart(6) : "".padStart(6)}  ${
        r.peer ?? ""
      }`,
    );
  }
  await Deno.mkdir(`${ROOT}bench/results`, { recursive: true });
  const file = `${ROOT}bench/results/${new Date().toISOString().replace(/[:.]/g, "-")}.json`;
  await Deno.writeTextFile(file, JSON.stringify({ at: new Date().toISOString(), rows }, null, 2));
  out(`\nraw samples: ${file}`);
}
