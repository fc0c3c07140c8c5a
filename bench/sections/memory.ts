/**
 * `deno task bench memory`: where the server's idle memory goes, and what one
 * idle pooled SSH connection costs (issue 17 item 2; goal <= 150 KiB each).
 *
 * Two measurements, same fleet, one after the other:
 *
 * 1. The real server over stdio (`startServer`, as `deno task start`), driven
 *    by a real MCP client. Its RSS is read from `/proc/<pid>/status` and
 *    broken down from `/proc/<pid>/smaps` (we cannot run code inside it):
 *    - "V8 (heap pages, JIT code)": anonymous mappings below 2^46: V8 maps
 *      its pages at random address hints in that range (Deno's V8 has no
 *      pointer-compression cage), every JS object and JIT code lives there;
 *    - "malloc / native": `[heap]` plus the other anonymous mappings (near
 *      the shared libraries: glibc arenas, Rust allocations, ArrayBuffer
 *      backing stores, i.e. V8 "external", thread stacks);
 *    - "deno binary": file-backed pages of the deno executable (machine code
 *      and the embedded V8 snapshot; shared with every other deno process);
 *    - "other files": shared libraries and other mapped files.
 *    Stages: idle after `tools/list` (0 connections), then `ssh_broadcast
 *    true` to 100 hosts, then to the other 900 (1,000 pooled connections), a
 *    settle pause before each reading.
 * 2. The same server modules in a harness process (this file with
 *    `--harness`, run with `--v8-flags=--expose-gc`): the server in process
 *    behind a real MCP client (tests/_support/mcp.ts `startInProcess`), the
 *    same stages, and `Deno.memoryUsage()` after two full GCs at each: V8 heap
 *    used / total and external (ArrayBuffers, Buffers) precisely, so the
 *    per-connection cost splits into JS objects vs buffers vs native.
 *
 * Hosts: aliases `m1..mN`, each a distinct (address, port) because the pool
 * is keyed by (user, hostname, port). They point at ceil(N / 16) real sshd
 * instances, each listening on 16 loopback addresses (sshd's listen socket
 * limit), `MaxStartups 1000:30:1000`.
 *
 * Knobs: `MEMORY_SIZES` (default `100,1000`), `MEMORY_SETTLE_MS` (default
 * 3000), `MEMORY_PARALLEL` (broadcast concurrency, default 32).
 *
 * @module
 */

import { generateKey, type SshdInstance, startSshd, tempDir } from "../../tests/_support/sshd.ts";
import { out, ROOT, type Row, startServer } from "../_lib.ts";

/** Section name for `deno task bench memory`. */
export const name = "memory";

const SIZES = (Deno.env.get("MEMORY_SIZES") ?? "100,1000").split(",").map(Number)
  .filter((n) => n > 0).sort((a, b) => a - b);
const SETTLE_MS = Number(Deno.env.get("MEMORY_SETTLE_MS") ?? 3000);
const PARALLEL = Number(Deno.env.get("MEMORY_PARALLEL") ?? 32);
const PER_SSHD = 16;
const GOAL_KIB = 150;

interface MemFleet {
  dir: string;
  aliases: string[];
  hostsTomlPath: string;
  knownHostsPath: string;
  stop(): Promise<void>;
}

function loopback(used: Set<string>): string {
  for (;;) {
    const b = crypto.getRandomValues(new Uint8Array(3));
    const a = `127.${1 + (b[0]! % 250)}.${b[1]! % 255}.${2 + (b[2]! % 250)}`;
    if (!used.has(a)) {
      used.add(a);
      return a;
    }
  }
}

/** `n` host aliases over ceil(n / 16) sshd instances, 16 listen addresses each. */
async function startMemFleet(n: number): Promise<MemFleet> {
  const dir = await tempDir("sshmcp-mem-");
  const key = await generateKey(dir, { type: "ed25519", name: "client_ed25519" });
  const used = new Set<string>();
  const groups: { addresses: string[]; port: number }[] = [];
  for (let left = n; left > 0; left -= PER_SSHD) {
    const k = Math.min(PER_SSHD, left);
    const port = 20000 + Math.floor(Math.random() * 40000);
    groups.push({ addresses: Array.from({ length: k }, () => loopback(used)), port });
  }
  // by group, not by port: two groups may draw the same random port (on other addresses)
  const byGroup = new Map<(typeof groups)[number], SshdInstance>();
  let next = 0;
  let failure: unknown = null;
  const starter = async () => {
    while (next < groups.length && failure === null) {
      const g = groups[next++]!;
      try {
        // deno-lint-ignore no-await-in-loop
        const sshd = await startSshd({
          address: g.addresses[0]!,
          port: g.port,
          authorizedKeys: [key.publicLine],
          extraConfig: [
            "MaxSessions 16",
            ...g.addresses.slice(1).map((a) => `ListenAddress ${a}:${g.port}`),
          ],
        });
        byGroup.set(g, sshd);
      } catch (e) {
        failure ??= e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(8, groups.length) }, starter));
  const stop = async () => {
    await Promise.all([...byGroup.values()].map((s) => s.stop()));
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  if (failure !== null) {
    await stop();
    throw failure;
  }
  const aliases: string[] = [];
  const toml: string[] = [];
  const known: string[] = [];
  for (const g of groups) {
    const sshd = byGroup.get(g)!;
    for (const a of g.addresses) {
      const alias = `m${aliases.length + 1}`;
      aliases.push(alias);
      known.push(...sshd.knownHostsLines(a));
      toml.push(
        `[hosts.${alias}]`,
        `hostname = "${a}"`,
        `port = ${g.port}`,
        `user = "${sshd.user.name}"`,
        `[hosts.${alias}.auth]`,
        `method = "key"`,
        `key = "${key.privatePath}"`,
        "",
      );
    }
  }
  const hostsTomlPath = `${dir}/hosts.toml`;
  const knownHostsPath = `${dir}/known_hosts`;
  await Deno.writeTextFile(hostsTomlPath, toml.join("\n") + "\n");
  await Deno.writeTextFile(knownHostsPath, known.join("\n") + "\n");
  return { dir, aliases, hostsTomlPath, knownHostsPath, stop };
}

function serverEnv(fleet: MemFleet, n: number): Record<string, string> {
  return {
    SSH_MCP_DISABLE_DOTENV: "1",
    SSH_HOSTS_FILE: fleet.hostsTomlPath,
    SSH_KNOWN_HOSTS: fleet.knownHostsPath,
    SSH_PINNED_KNOWN_HOSTS: `${fleet.dir}/pinned_known_hosts`,
    SSH_HOST_NOTES_DIR: "",
    ALLOW_DANGEROUS_TOOLS: "true",
    ALLOW_ANY_COMMAND: "true",
    SSH_BROADCAST_MAX_HOSTS: String(Math.max(500, n)),
    // the pool must keep every connection for the whole measurement
    SSH_IDLE_TIMEOUT: "3600",
    // 1,000 handshakes on a loaded 2-core machine: the 10 s default is too tight
    SSH_CONNECT_TIMEOUT: "60",
    SSH_AUDIT_LOG: "off",
    LOG_LEVEL: "WARNING",
  };
}

/** Resident KiB per class of mapping (see module docs). */
type Breakdown = Record<string, number>;

/** Classifies `/proc/<pid>/smaps` Rss by mapping (see module docs). */
export async function smapsBreakdown(pid: number): Promise<Breakdown> {
  const text = await Deno.readTextFile(`/proc/${pid}/smaps`);
  const exe = await Deno.readLink(`/proc/${pid}/exe`).catch(() => "");
  interface Map {
    start: bigint;
    end: bigint;
    perms: string;
    path: string;
    rss: number;
  }
  const maps: Map[] = [];
  for (const line of text.split("\n")) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \d+\s*(.*)$/.exec(line);
    if (head) {
      maps.push({
        start: BigInt(`0x${head[1]}`),
        end: BigInt(`0x${head[2]}`),
        perms: head[3]!,
        path: head[4]!.trim(),
        rss: 0,
      });
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss && maps.length) maps[maps.length - 1]!.rss = Number(rss[1]);
  }
  // V8 places its pages (heap spaces, JIT code, large objects) at random mmap hints
  // below 2^46; glibc arenas, Rust allocations, thread stacks and other unhinted mmaps
  // land just below the shared libraries (0x7f...), the binary's brk heap is [heap]
  const V8_HINT_LIMIT = 1n << 46n;
  const b: Breakdown = {
    "V8 (heap pages, JIT code)": 0,
    "malloc / native (incl. external buffers)": 0,
    "deno binary (code, snapshot)": 0,
    "other files (libs)": 0,
    "stack / vdso": 0,
  };
  for (const m of maps) {
    let k: string;
    if (m.path === "") {
      k = m.start < V8_HINT_LIMIT
        ? "V8 (heap pages, JIT code)"
        : "malloc / native (incl. external buffers)";
    } else if (m.path === "[heap]") k = "malloc / native (incl. external buffers)";
    else if (m.path.startsWith("[")) k = "stack / vdso";
    else if (exe && m.path.startsWith(exe)) k = "deno binary (code, snapshot)";
    else k = "other files (libs)";
    b[k] = (b[k] ?? 0) + m.rss;
  }
  return b;
}

async function statusKiB(pid: number): Promise<{ rss: number; anon: number; file: number }> {
  const s = await Deno.readTextFile(`/proc/${pid}/status`);
  const f = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(s)?.[1] ?? NaN);
  return { rss: f("VmRSS"), anon: f("RssAnon"), file: f("RssFile") };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Caller {
  callTool(
    p: { name: string; arguments: Record<string, unknown> },
    s?: undefined,
    o?: { timeout: number },
  ): Promise<{ isError?: boolean; structuredContent?: unknown; content?: unknown }>;
}

/**
 * `ssh_broadcast true` over `hosts`; hosts that failed (handshake timeouts on a
 * loaded machine) are retried twice, then it throws.
 */
async function broadcast(client: Caller, hosts: string[]): Promise<void> {
  let todo = hosts;
  for (let attempt = 0; attempt < 3 && todo.length > 0; attempt++) {
    // deno-lint-ignore no-await-in-loop
    const r = await client.callTool(
      { name: "ssh_broadcast", arguments: { hosts: todo, command: "true", concurrency: PARALLEL } },
      undefined,
      { timeout: 1_800_000 },
    );
    if (r.isError) throw new Error(JSON.stringify(r.content).slice(0, 400));
    const sc = r.structuredContent as { error_messages: Record<string, string> };
    const failed = Object.keys(sc.error_messages ?? {});
    if (failed.length > 0 && attempt === 2) {
      throw new Error(
        `ssh_broadcast: ${failed.length}/${todo.length} failed: ${
          JSON.stringify(Object.entries(sc.error_messages).slice(0, 3))
        }`,
      );
    }
    todo = failed;
  }
}

/** Opens the pooled connections stage by stage (0, SIZES...), calling `measure` at each. */
async function stages(
  client: Caller,
  aliases: string[],
  measure: (n: number) => Promise<void>,
): Promise<void> {
  await measure(0);
  let open = 0;
  for (const n of SIZES) {
    // deno-lint-ignore no-await-in-loop
    await broadcast(client, aliases.slice(open, n));
    open = n;
    // deno-lint-ignore no-await-in-loop
    await measure(n);
  }
}

interface HarnessStage {
  n: number;
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
  opened: number;
}

/** Harness mode: the server in this process; prints one JSON array of stages. */
async function harness(env: Record<string, string>, aliases: string[]): Promise<void> {
  const { startInProcess, baseEnv } = await import("../../tests/_support/mcp.ts");
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error("run the harness with --v8-flags=--expose-gc");
  const s = await startInProcess(baseEnv(env));
  const pool = (s.app as unknown as { pool?: { opened?: number } }).pool;
  const rows: HarnessStage[] = [];
  try {
    await stages(s.client as unknown as Caller, aliases, async (n) => {
      await sleep(SETTLE_MS);
      gc();
      await sleep(50);
      gc();
      const m = Deno.memoryUsage();
      rows.push({
        n,
        rss: m.rss / 1024,
        heapTotal: m.heapTotal / 1024,
        heapUsed: m.heapUsed / 1024,
        external: m.external / 1024,
        opened: pool?.opened ?? NaN,
      });
    });
  } finally {
    await s.close();
  }
  Deno.stdout.writeSync(new TextEncoder().encode(JSON.stringify(rows) + "\n"));
}

function kib(v: number): string {
  return `${(v / 1024).toFixed(1)} MiB`;
}

/** Runs the section (see module docs). */
export async function run(): Promise<Row[]> {
  const rows: Row[] = [];
  const max = SIZES[SIZES.length - 1] ?? 0;
  out(`memory: starting ${max} host aliases on ${Math.ceil(max / PER_SSHD)} sshd instances`);
  const fleet = await startMemFleet(max);
  try {
    const env = serverEnv(fleet, max);
    // 1. the real server over stdio
    const s = await startServer(env);
    const pid = s.transport.pid!;
    const stdio: { n: number; rss: number; b: Breakdown }[] = [];
    try {
      await s.client.listTools();
      await stages(s.client as unknown as Caller, fleet.aliases, async (n) => {
        await sleep(SETTLE_MS);
        const st = await statusKiB(pid);
        const b = await smapsBreakdown(pid);
        stdio.push({ n, rss: st.rss, b });
        out(
          `memory: stdio server, ${n} pooled connections: RSS ${kib(st.rss)} (anon ${
            kib(st.anon)
          }, file ${kib(st.file)}); ${
            Object.entries(b).map(([k, v]) => `${k} ${kib(v)}`).join(", ")
          }`,
        );
      });
    } finally {
      await s.client.close();
    }
    const idle = stdio[0]!;
    rows.push({
      section: name,
      metric: "idle RSS after tools/list (stdio server)",
      value: idle.rss / 1024,
      unit: "MiB",
    });
    for (const [k, v] of Object.entries(idle.b)) {
      rows.push({ section: name, metric: `idle RSS: ${k}`, value: v / 1024, unit: "MiB" });
    }
    for (const st of stdio.slice(1)) {
      rows.push({
        section: name,
        metric: `RSS with ${st.n} pooled idle connections`,
        value: st.rss / 1024,
        unit: "MiB",
      });
      rows.push({
        section: name,
        metric: `RSS per pooled idle connection (0 -> ${st.n})`,
        value: (st.rss - idle.rss) / st.n,
        unit: "KiB",
        note: `goal <= ${GOAL_KIB} KiB`,
      });
    }
    for (let i = 2; i < stdio.length; i++) {
      const a = stdio[i - 1]!;
      const z = stdio[i]!;
      rows.push({
        section: name,
        metric: `RSS per pooled idle connection (${a.n} -> ${z.n})`,
        value: (z.rss - a.rss) / (z.n - a.n),
        unit: "KiB",
        note: `goal <= ${GOAL_KIB} KiB`,
      });
      for (const k of Object.keys(z.b)) {
        rows.push({
          section: name,
          metric: `  of which ${k} (${a.n} -> ${z.n})`,
          value: ((z.b[k] ?? 0) - (a.b[k] ?? 0)) / (z.n - a.n),
          unit: "KiB",
        });
      }
    }

    // 2. the harness: same modules in process, V8 numbers after forced GC
    const p = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--quiet",
        "--allow-all",
        "--v8-flags=--expose-gc",
        `${ROOT}bench/sections/memory.ts`,
        "--harness",
        JSON.stringify({ env, aliases: fleet.aliases }),
      ],
      cwd: ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(p.stdout).trim().split("\n").pop() ?? "";
    if (!p.success) {
      throw new Error(
        `memory harness failed: ${new TextDecoder().decode(p.stderr).slice(-800)}`,
      );
    }
    const hs = JSON.parse(text) as HarnessStage[];
    for (const h of hs) {
      out(
        `memory: harness, ${h.n} pooled connections (after GC): rss ${kib(h.rss)}, V8 heap used ${
          kib(h.heapUsed)
        } of ${kib(h.heapTotal)}, external ${kib(h.external)}`,
      );
    }
    const h0 = hs[0]!;
    rows.push({
      section: name,
      metric: "idle V8 heap used after GC (harness)",
      value: h0.heapUsed / 1024,
      unit: "MiB",
    });
    rows.push({
      section: name,
      metric: "idle V8 heap total after GC (harness)",
      value: h0.heapTotal / 1024,
      unit: "MiB",
    });
    rows.push({
      section: name,
      metric: "idle V8 external after GC (harness)",
      value: h0.external / 1024,
      unit: "MiB",
    });
    for (const h of hs.slice(1)) {
      const per = (k: keyof HarnessStage) => ((h[k] as number) - (h0[k] as number)) / h.n;
      rows.push({
        section: name,
        metric: `harness per connection (0 -> ${h.n}): RSS`,
        value: per("rss"),
        unit: "KiB",
      });
      rows.push({
        section: name,
        metric: `harness per connection (0 -> ${h.n}): V8 heap used`,
        value: per("heapUsed"),
        unit: "KiB",
      });
      rows.push({
        section: name,
        metric: `harness per connection (0 -> ${h.n}): V8 external`,
        value: per("external"),
        unit: "KiB",
      });
      rows.push({
        section: name,
        metric: `harness per connection (0 -> ${h.n}): native (RSS - heap total - external)`,
        value: per("rss") - per("heapTotal") - per("external"),
        unit: "KiB",
      });
    }
  } finally {
    await fleet.stop();
  }
  return rows;
}

if (import.meta.main && Deno.args[0] === "--harness") {
  const cfg = JSON.parse(Deno.args[1] ?? "{}") as {
    env: Record<string, string>;
    aliases: string[];
  };
  await harness(cfg.env, cfg.aliases);
  Deno.exit(0);
}
