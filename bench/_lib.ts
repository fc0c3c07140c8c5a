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
import type { Fleet } from "../tests/_support/fleet.ts";

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
  /** the peer's raw samples, when it has several */
  peerSamples?: number[];
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

/**
 * Runs `deno <args>` in the repository (PATH and HOME passed on, plus `env`)
 * and connects an MCP client over its stdio; `onStderr` receives its stderr
 * text (ignored by default).
 */
export async function startDenoMcp(
  args: string[],
  env: Record<string, string> = {},
  onStderr: (text: string) => void = () => {},
): Promise<{ client: Client; transport: StdioClientTransport }> {
  const transport = new StdioClientTransport({
    command: Deno.execPath(),
    args,
    env: { PATH: Deno.env.get("PATH") ?? "", HOME: Deno.env.get("HOME") ?? "/root", ...env },
    cwd: ROOT,
    stderr: "pipe",
  });
  const dec = new TextDecoder();
  transport.stderr?.on("data", (d: Uint8Array) => onStderr(dec.decode(d, { stream: true })));
  const client = new Client({ name: "bench", version: "1" });
  await client.connect(transport);
  return { client, transport };
}

/**
 * Starts the server as `deno task start` does and connects an MCP client over
 * stdio; `onStderr` receives the server's stderr text (ignored by default).
 */
export function startServer(
  env: Record<string, string>,
  onStderr: (text: string) => void = () => {},
): Promise<{ client: Client; transport: StdioClientTransport }> {
  return startDenoMcp(["run", "--quiet", ...START_PERMS, `${ROOT}main.ts`, "serve"], env, onStderr);
}

/**
 * Start-up phases in the order the server goes through them (src/startup.ts
 * marks; `listed` is the client's `tools/list` answer). The stdio server
 * answers `initialize` and `tools/list` before the MCP SDK loads
 * (src/mcp/early.ts), so `serving` (the MCP layer loaded and connected)
 * comes after `listed`.
 */
export const STARTUP_PHASES: readonly { mark: string; label: string }[] = [
  { mark: "origin", label: "spawn -> Deno runtime up" },
  { mark: "launcher", label: "launcher modules" },
  { mark: "plan", label: "launcher: config + permission plan" },
  { mark: "worker", label: "Worker up + server modules (no SDK)" },
  { mark: "config", label: "Worker: config" },
  { mark: "app", label: "App built (policies, catalog)" },
  { mark: "early", label: "summary logged, early reader up" },
  { mark: "listed", label: "initialize + tools/list answered early" },
  { mark: "serving", label: "then: SDK + MCP layer loaded, connected" },
];

/**
 * Phase durations (ms, in {@link STARTUP_PHASES} order) of one cold start:
 * `spawnedAt` and `listedAt` are epoch ms taken by the client, `stderr` the
 * server's JSON log (`SSH_LOG_FORMAT=json`) with the "serving MCP" line and
 * its `startup_ms` / `startup_origin_epoch_ms` fields. Null when the line is
 * missing or a mark is absent (e.g. no Worker).
 */
export function startupPhases(
  stderr: string,
  spawnedAt: number,
  listedAt: number,
): number[] | null {
  for (const line of stderr.split("\n")) {
    if (!line.includes("serving MCP")) continue;
    let o: { startup_ms?: Record<string, number>; startup_origin_epoch_ms?: number };
    try {
      o = JSON.parse(line);
    } catch {
      continue;
    }
    const ms = o.startup_ms, origin = o.startup_origin_epoch_ms;
    if (!ms || typeof origin !== "number") continue;
    const at: Record<string, number> = { origin: 0, listed: listedAt - origin };
    for (const [k, v] of Object.entries(ms)) at[k] = v;
    const out: number[] = [];
    let prev = spawnedAt - origin;
    for (const p of STARTUP_PHASES) {
      const t = at[p.mark];
      if (typeof t !== "number") return null;
      out.push(t - prev);
      prev = t;
    }
    return out;
  }
  return null;
}

/**
 * The environment bench/floor_exec_server.ts and bench/ssh2_transfer_floor.ts
 * read their host from: the fleet's first host, its user and key, its first
 * host key pinned.
 */
export function floorSshEnv(fleet: Fleet): Record<string, string> {
  const h = fleet.hosts[0]!.sshd;
  return {
    FLOOR_SSH_HOST: h.address,
    FLOOR_SSH_PORT: String(h.port),
    FLOOR_SSH_USER: h.user.name,
    FLOOR_SSH_KEY: fleet.key.privatePath,
    FLOOR_SSH_HOST_KEY: h.hostKeys[0]!.publicKey.split(" ")[1]!,
  };
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

/** Format of a number with its unit (two decimals, or none for large values). */
function fmt(v: number | undefined, unit: string): string {
  if (v === undefined || !Number.isFinite(v)) return "";
  return `${Math.abs(v) >= 1000 ? v.toFixed(0) : v.toFixed(2)} ${unit}`;
}

/** Prints every row: metric, ours, peer value, ratio (ours / peer), peer name or note. */
export function printTable(rows: readonly Row[]): void {
  out(
    `${"metric".padEnd(56)} ${"ours".padStart(12)}  ${"peer".padStart(12)}  ${
      "ratio".padStart(6)
    }  peer`,
  );
  let section = "";
  for (const r of rows) {
    if (r.section !== section) {
      section = r.section;
      out(`[${section}]`);
    }
    out(
      `${r.metric.padEnd(56)} ${fmt(r.value, r.unit).padStart(12)}  ${
        fmt(r.peerValue, r.unit).padStart(12)
      }  ${r.ratio !== undefined ? r.ratio.toFixed(2).padStart(6) : "".padStart(6)}  ${
        [r.peer, r.note].filter(Boolean).join("; ")
      }`,
    );
  }
}

/** One row of the issue's performance table and how to find it among the measured rows. */
export interface IssueRow {
  /** the row as the issue words it */
  label: string;
  /**
   * sections that measure it (`deno task bench <section>`), in order of
   * preference; only their rows are considered
   */
  sections: string[];
  /** matches the measured row's `metric` */
  metric: RegExp;
  /** matches the measured row's `peer` (which of several peer rows is the issue's) */
  peer?: RegExp;
  /**
   * the issue's goal: on the ratio (ours / peer), or with `on: "value"` on our
   * own figure in the row's unit (the issue's absolute goals: ms, MiB, KiB)
   */
  goal?: { max?: number; min?: number; on?: "ratio" | "value" };
}

/**
 * The issue's table (issue 17). Rows are picked by metric name, so a section
 * renaming its metric must update the pattern here (the summary then says
 * "not measured" instead of silently showing another row).
 */
export const ISSUE_ROWS: readonly IssueRow[] = [
  {
    label: "cold start to tools/list (median of 10)",
    sections: ["foundation"],
    metric: /^cold start to tools\/list/,
    goal: { max: 120, on: "value" },
  },
  {
    label: "idle RSS after tools/list",
    // foundation's row with the minimal-server floor as peer first
    sections: ["foundation", "memory"],
    metric: /^(idle )?RSS after tools\/list/,
    goal: { max: 80, on: "value" },
  },
  {
    label: "RSS per idle pooled connection (0 -> 1000)",
    sections: ["memory"],
    metric: /^RSS per pooled idle connection \(0 -> 1000\)/,
    goal: { max: 150, on: "value" },
  },
  {
    label: "512 MiB download via local_path vs OpenSSH sftp aes128-gcm",
    sections: ["files"],
    metric: /512 MiB download via local_path|vs OpenSSH's fastest/,
    peer: /sftp get.*(aes128-gcm|fastest)/,
    goal: { min: 0.8 },
  },
  {
    label: "512 MiB upload via local_path vs OpenSSH sftp aes128-gcm",
    sections: ["files"],
    metric: /512 MiB upload via local_path|vs OpenSSH's fastest/,
    peer: /sftp put.*(aes128-gcm|fastest)/,
    goal: { min: 0.8 },
  },
  {
    label: "ssh_exec_run true p50 vs ssh -S ControlMaster",
    sections: ["exec"],
    metric: /^ssh_exec_run true.* p50$/,
    peer: /ssh -S ControlMaster/,
    goal: { max: 0.45 },
  },
  {
    label: "ssh_exec_run true p50 vs raw ssh2",
    sections: ["exec"],
    metric: /^ssh_exec_run true.* p50$/,
    peer: /raw ssh2/,
    goal: { max: 1.25 },
  },
  {
    label: "fan-out uptime to 200 hosts, cold vs parallel-ssh (curve25519)",
    sections: ["fanout"],
    metric: /^fan-out uptime to 200 hosts, cold/,
    peer: /^parallel-ssh/,
    goal: { max: 0.6 },
  },
  {
    label: "fan-out uptime to 200 hosts, warm vs pssh + ControlMaster",
    sections: ["fanout"],
    metric: /^fan-out uptime to 200 hosts, warm/,
    peer: /^parallel-ssh.*ControlMaster/,
    goal: { max: 0.35 },
  },
  {
    label: "second passphrase-protected key load: event loop blocked",
    sections: ["kdf"],
    metric: /^second passphrase-protected key load: event loop blocked/,
  },
];

/** The measured row standing for an issue row (null when its section did not run). */
export function pickIssueRow(rows: readonly Row[], want: IssueRow): Row | null {
  for (const section of want.sections) {
    const hits = rows.filter((r) => r.section === section && want.metric.test(r.metric));
    const hit = want.peer
      ? hits.find((r) => r.peer !== undefined && want.peer!.test(r.peer))
      : hits[0];
    if (hit) return hit;
  }
  return null;
}

/**
 * Prints the issue's table: each row with ours, the peer measured in the same
 * run, the ratio and the goal verdict; rows whose section did not run say so.
 */
export function printSummary(rows: readonly Row[]): void {
  out("\nissue 17 summary (ratio = ours / peer; times: lower is better, MiB/s: higher)");
  out(
    `${"row".padEnd(64)} ${"ours".padStart(12)}  ${"peer".padStart(12)}  ${"ratio".padStart(6)}  ${
      "goal".padEnd(18)
    } peer`,
  );
  for (const want of ISSUE_ROWS) {
    const r = pickIssueRow(rows, want);
    if (!r) {
      out(
        `${want.label.padEnd(64)} ${"".padStart(12)}  ${"".padStart(12)}  ${"".padStart(6)}  ${
          "".padEnd(18)
        } not measured (run \`deno task bench ${want.sections.join(" or ")}\`)`,
      );
      continue;
    }
    let goal = "";
    const judged = want.goal?.on === "value" ? r.value : r.ratio;
    if (want.goal && judged !== undefined) {
      const ok = (want.goal.max === undefined || judged <= want.goal.max) &&
        (want.goal.min === undefined || judged >= want.goal.min);
      const g = want.goal.max !== undefined ? `<=${want.goal.max}` : `>=${want.goal.min}`;
      const unit = want.goal.on === "value" ? ` ${r.unit}` : "";
      goal = `${g}${unit} ${ok ? "met" : "MISSED"}`;
    }
    out(
      `${want.label.padEnd(64)} ${fmt(r.value, r.unit).padStart(12)}  ${
        fmt(r.peerValue, r.unit).padStart(12)
      }  ${r.ratio !== undefined ? r.ratio.toFixed(2).padStart(6) : "".padStart(6)}  ${
        goal.padEnd(18)
      } ${[r.peer ?? "no peer measured", r.note].filter(Boolean).join("; ")}`,
    );
  }
}

/**
 * Saves every row with its raw samples (and the machine's load while it ran)
 * as JSON under `bench/results/`; returns the file path.
 */
export async function saveResults(
  rows: readonly Row[],
  meta: { sections: string[]; startedAt: string; loadBefore?: number[] },
): Promise<string> {
  const dir = `${ROOT}bench/results`;
  await Deno.mkdir(dir, { recursive: true });
  const at = new Date().toISOString();
  const file = `${dir}/${at.replace(/[:.]/g, "-")}.json`;
  let loadAfter: number[] | undefined;
  try {
    loadAfter = Deno.loadavg();
  } catch {
    // not available on this platform
  }
  const doc = {
    at,
    startedAt: meta.startedAt,
    sections: meta.sections,
    machine: {
      os: Deno.build.os,
      arch: Deno.build.arch,
      cpus: navigator.hardwareConcurrency,
      deno: Deno.version.deno,
      loadavgBefore: meta.loadBefore,
      loadavgAfter: loadAfter,
    },
    rows,
  };
  await Deno.writeTextFile(file, JSON.stringify(doc, null, 2) + "\n");
  return file;
}
