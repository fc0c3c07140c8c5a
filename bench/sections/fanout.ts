/**
 * `deno task bench fanout`: the fan-out engine (`ssh_broadcast`) at 50, 200
 * and 1,000 real sshd hosts on loopback, against parallel-ssh and asyncssh in
 * the same run, on the same hosts, with the same parallelism.
 *
 * Per size and round (rounds interleave ours and the peers, so load drift on
 * a shared machine hits all of them alike):
 *
 * - ours, cold: a fresh server process (real MCP client over stdio, as
 *   `deno task start`), `tools/list`, then one `ssh_broadcast uptime` over all
 *   hosts: every host needs a new connection (TCP, KEX, host key check, auth,
 *   exec). Warm: the same call again `WARM` times on the pooled connections.
 *   Server peak RSS is VmHWM of the server process after the warm calls.
 * - parallel-ssh (Debian `pssh`), KEX pinned to curve25519-sha256 (the
 *   post-quantum default costs ~40 ms CPU per handshake on each side and ssh2
 *   does not offer it): cold is a plain run; warm is a run over ControlMaster
 *   sockets made by a previous run.
 * - asyncssh (`/usr/bin/python3 bench/peers/asyncssh_fanout.py`): connect +
 *   run per host (cold), then runs on the open connections (warm); its peak
 *   RSS is the RSS peer.
 *
 * Rows: cold and warm wall time (median over rounds) with each peer and the
 * ratio; per-host ms at each size (cost growth 50 -> 200 -> 1,000); server
 * peak RSS. Knobs: `FANOUT_SIZES` (default `50,200,1000`), `FANOUT_ROUNDS`
 * (default 3; sizes >= 500 run one round), `FANOUT_WARM` (warm calls per
 * round, default 3; sizes >= 500 make one), `FANOUT_PEERS` (default
 * `pssh,asyncssh`), `FANOUT_PARALLEL` (default 64, our default concurrency).
 *
 * @module
 */

import { type Fleet, startFleet } from "../../tests/_support/fleet.ts";
import { out, pct, ROOT, type Row, startServer } from "../_lib.ts";

/** Section name for `deno task bench fanout`. */
export const name = "fanout";

const SIZES = (Deno.env.get("FANOUT_SIZES") ?? "50,200,1000").split(",").map(Number);
const ROUNDS = Number(Deno.env.get("FANOUT_ROUNDS") ?? 3);
/** peers to run (`pssh`, `asyncssh`); a peer left out is reported as not run */
const PEERS = new Set((Deno.env.get("FANOUT_PEERS") ?? "pssh,asyncssh").split(","));
const PARALLEL = Number(Deno.env.get("FANOUT_PARALLEL") ?? 64);
const WARM = Number(Deno.env.get("FANOUT_WARM") ?? 3);
/** warm calls at sizes of 500 hosts and more (each parallel-ssh run there takes minutes) */
const warmAt = (n: number) => (n >= 500 ? 1 : WARM);
const COMMAND = "uptime";
const FLEET_SSHD = { extraConfig: ["MaxStartups 1000:30:1000", "MaxSessions 64"] };
const PYTHON = "/usr/bin/python3";
const PSSH = "/usr/bin/parallel-ssh";
const ASYNCSSH_PEER = `${ROOT}bench/peers/asyncssh_fanout.py`;

interface Run {
  cold: number;
  warm: number[];
  /** peak RSS in KiB */
  rss?: number;
}

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

/** Runs `f` over `xs` with at most `width` at once. */
async function pool<T>(xs: T[], width: number, f: (x: T) => Promise<unknown>): Promise<void> {
  let i = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, xs.length) }, async () => {
      while (i < xs.length) await f(xs[i++]!);
    }),
  );
}

function ourEnv(fleet: Fleet, n: number): Record<string, string> {
  return {
    SSH_MCP_DISABLE_DOTENV: "1",
    SSH_HOSTS_FILE: fleet.hostsTomlPath,
    SSH_KNOWN_HOSTS: fleet.knownHostsPath,
    SSH_HOST_NOTES_DIR: "",
    ALLOW_DANGEROUS_TOOLS: "true",
    ALLOW_ANY_COMMAND: "true",
    SSH_BROADCAST_MAX_HOSTS: String(Math.max(500, n)),
    // the peers wait as long (pssh -t 300, asyncssh without a limit): on a
    // loaded 2-core machine 64 handshakes at once can exceed the 10 s default
    SSH_CONNECT_TIMEOUT: "300",
    // the product default: audit lines on stderr (consumed by the client)
    SSH_AUDIT_LOG: "stderr",
    LOG_LEVEL: "WARNING",
  };
}

async function vmHwmKiB(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  return Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? NaN);
}

/** Ours: a fresh server (cold pool), `ssh_broadcast` once cold, then WARM times warm. */
async function ours(fleet: Fleet, n: number): Promise<Run> {
  const s = await startServer(ourEnv(fleet, n));
  try {
    await s.client.listTools();
    const hosts = fleet.hosts.slice(0, n).map((h) => h.alias);
    const once = async () => {
      const t0 = performance.now();
      const r = await s.client.callTool(
        { name: "ssh_broadcast", arguments: { hosts, command: COMMAND, concurrency: PARALLEL } },
        undefined,
        { timeout: 900_000 },
      );
      const ms = performance.now() - t0;
      if (r.isError) throw new Error(JSON.stringify(r.content).slice(0, 300));
      const sc = r.structuredContent as {
        summary: { succeeded: number };
        error_messages: Record<string, string>;
      };
      if (sc.summary.succeeded !== n) {
        const some = Object.entries(sc.error_messages).slice(0, 3);
        throw new Error(
          `ssh_broadcast: ${sc.summary.succeeded}/${n} succeeded: ${JSON.stringify(some)}`,
        );
      }
      return ms;
    };
    const cold = await once();
    const warm: number[] = [];
    for (let i = 0; i < warmAt(n); i++) warm.push(await once());
    return { cold, warm, rss: await vmHwmKiB(s.transport.pid!) };
  } finally {
    await s.client.close();
  }
}

function psshOpts(fleet: Fleet): string[] {
  return [
    "StrictHostKeyChecking=yes",
    `UserKnownHostsFile=${fleet.knownHostsPath}`,
    "GlobalKnownHostsFile=/dev/null",
    "BatchMode=yes",
    "IdentitiesOnly=yes",
    `IdentityFile=${fleet.key.privatePath}`,
    "KexAlgorithms=curve25519-sha256",
  ].flatMap((o) => ["-O", o]);
}

/** parallel-ssh: cold (a fresh ssh per host), warm (runs over ControlMaster sockets). */
async function pssh(fleet: Fleet, n: number): Promise<Run | string> {
  if (!(await exists(PSSH))) return "parallel-ssh: not installed (apt-get install -y pssh)";
  const hostsFile = `${fleet.dir}/pssh-hosts-${n}`;
  await Deno.writeTextFile(
    hostsFile,
    fleet.hosts.slice(0, n).map((h) => `${h.sshd.user.name}@${h.sshd.address}:${h.sshd.port}`)
      .join("\n") + "\n",
  );
  const base = ["-h", hostsFile, "-p", String(PARALLEL), "-t", "300", "-x", "-F /dev/null"];
  const once = async (extra: string[]) => {
    const t0 = performance.now();
    const r = await proc(PSSH, [...base, ...psshOpts(fleet), ...extra, COMMAND]);
    const ms = performance.now() - t0;
    if (r.code !== 0) throw new Error(`parallel-ssh exit ${r.code}: ${r.stdout.slice(-500)}`);
    return ms;
  };
  const cold = await once([]);
  // short socket directory: ControlPath must fit in sun_path (108 bytes)
  const cmDir = await Deno.makeTempDir({ prefix: "pcm" });
  const cm = ["ControlMaster=auto", `ControlPath=${cmDir}/%C`, "ControlPersist=600"]
    .flatMap((o) => ["-O", o]);
  try {
    await once(cm); // establishes the masters
    const warm: number[] = [];
    for (let i = 0; i < warmAt(n); i++) warm.push(await once(cm));
    return { cold, warm };
  } finally {
    await pool(fleet.hosts.slice(0, n), 32, (h) =>
      proc("ssh", [
        "-F",
        "/dev/null",
        "-o",
        `ControlPath=${cmDir}/%C`,
        "-p",
        String(h.sshd.port),
        "-O",
        "exit",
        `${h.sshd.user.name}@${h.sshd.address}`,
      ]));
    await Deno.remove(cmDir, { recursive: true }).catch(() => {});
  }
}

/** asyncssh (bench/peers/asyncssh_fanout.py). */
async function asyncssh(fleet: Fleet, n: number): Promise<Run | string> {
  if (!(await exists(PYTHON))) return `asyncssh: ${PYTHON} missing`;
  const probe = await proc(PYTHON, ["-c", "import asyncssh"]);
  if (probe.code !== 0) return "asyncssh: not installed (apt-get install -y python3-asyncssh)";
  const hosts = fleet.hosts.slice(0, n);
  const r = await proc(
    PYTHON,
    [ASYNCSSH_PEER],
    JSON.stringify({
      hosts: hosts.map((h) => ({ address: h.sshd.address, port: h.sshd.port })),
      user: hosts[0]!.sshd.user.name,
      key: fleet.key.privatePath,
      known_hosts: fleet.knownHostsPath,
      parallel: PARALLEL,
      command: COMMAND,
      warm_rounds: warmAt(n),
    }),
  );
  if (r.code !== 0) {
    throw new Error(`asyncssh peer failed: ${r.stderr.trim().split("\n").slice(-3).join(" | ")}`);
  }
  const o = JSON.parse(r.stdout.trim().split("\n").pop()!) as {
    cold: number;
    warm: number[];
    maxrss_kib: number;
  };
  return { cold: o.cold, warm: o.warm, rss: o.maxrss_kib };
}

const median = (xs: number[]) => pct(xs, 50);

/** Runs the section. */
export async function run(): Promise<Row[]> {
  const rows: Row[] = [];
  const max = Math.max(...SIZES);
  out(`fanout bench: starting ${max} sshd hosts ...`);
  const t0 = performance.now();
  const fleet = await startFleet(max, { sshd: FLEET_SSHD, startConcurrency: 32 });
  out(`fanout bench: ${max} sshd up in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  try {
    for (const n of SIZES) {
      const rounds = n >= 500 ? 1 : ROUNDS;
      const got: Record<"ours" | "pssh" | "asyncssh", Run[]> = { ours: [], pssh: [], asyncssh: [] };
      const missing: Record<string, string> = {};
      for (let r = 0; r < rounds; r++) {
        // rotate the order each round so drift does not favour one side
        const order = (["ours", "pssh", "asyncssh"] as const).map((_, i, a) => a[(i + r) % 3]!);
        for (const who of order) {
          const res = who !== "ours" && !PEERS.has(who)
            ? `${who}: not run (FANOUT_PEERS=${[...PEERS].join(",")})`
            : who === "ours"
            ? await ours(fleet, n)
            : who === "pssh"
            ? await pssh(fleet, n)
            : await asyncssh(fleet, n);
          if (typeof res === "string") missing[who] = res;
          else got[who].push(res);
          out(
            `fanout ${n} round ${r + 1} ${who}: ${
              typeof res === "string"
                ? res
                : `cold ${res.cold.toFixed(0)} ms, warm ${
                  res.warm.map((x) => x.toFixed(0)).join("/")
                } ms`
            }`,
          );
        }
      }
      const cold = got.ours.map((x) => x.cold);
      const warm = got.ours.flatMap((x) => x.warm);
      for (const phase of ["cold", "warm"] as const) {
        const oursSamples = phase === "cold" ? cold : warm;
        const v = median(oursSamples);
        const metric = `fan-out ${COMMAND} to ${n} hosts, ${phase} (p=${PARALLEL})`;
        for (const who of ["pssh", "asyncssh"] as const) {
          const label = who === "pssh"
            ? `parallel-ssh, curve25519-sha256${phase === "warm" ? ", ControlMaster" : ""}`
            : "asyncssh, curve25519-sha256";
          if (missing[who]) {
            rows.push({ section: name, metric, value: v, unit: "ms", note: missing[who] });
            continue;
          }
          const theirs = phase === "cold"
            ? got[who].map((x) => x.cold)
            : got[who].flatMap((x) => x.warm);
          const pv = median(theirs);
          rows.push({
            section: name,
            metric,
            value: v,
            unit: "ms",
            peer: label,
            peerValue: pv,
            ratio: v / pv,
            samples: oursSamples,
            peerSamples: theirs,
          });
        }
        const psshPer = got.pssh.length
          ? median(
            phase === "cold" ? got.pssh.map((x) => x.cold) : got.pssh.flatMap((x) => x.warm),
          ) / n
          : null;
        rows.push({
          section: name,
          metric: `fan-out ${phase}, per host at ${n} hosts`,
          value: v / n,
          unit: "ms",
          ...(psshPer !== null
            ? {
              peer: `parallel-ssh${phase === "warm" ? " + ControlMaster" : ""}, per host`,
              peerValue: psshPer,
              ratio: v / n / psshPer,
            }
            : {}),
        });
      }
      const rss = got.ours.map((x) => x.rss!).filter(Number.isFinite);
      const peerRss = got.asyncssh.map((x) => x.rss!).filter(Number.isFinite);
      rows.push({
        section: name,
        metric: `server peak RSS (VmHWM), fan-out to ${n} hosts`,
        value: Math.max(...rss) / 1024,
        unit: "MiB",
        samples: rss.map((k) => k / 1024),
        ...(peerRss.length
          ? {
            peer: "asyncssh process peak RSS",
            peerValue: Math.max(...peerRss) / 1024,
            ratio: Math.max(...rss) / Math.max(...peerRss),
          }
          : {}),
      });
    }
  } finally {
    await fleet.stop();
  }
  return rows;
}
