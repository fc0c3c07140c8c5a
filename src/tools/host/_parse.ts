/**
 * Pure parsers for the host tools (TOOLS.md §4 behaviour details). They
 * consume raw command output and never throw on odd input, and every value
 * they return fits the tool's output schema (INPUT-10): an integer outside
 * the safe range (a 20-digit `nproc`), a non-finite number or a malformed
 * field becomes null or drops the row, never an internal error.
 *
 * @module
 */

/** A decimal integer in the safe range (`^[0-9]+$`, at most 2^53 - 1), else null. */
export function safeInt(text: string): number | null {
  const t = text.trim();
  if (!/^[0-9]{1,16}$/.test(t)) return null;
  const n = Number(t);
  return Number.isSafeInteger(n) ? n : null;
}

/** A finite number parsed from `text` (decimal notation only), else null. */
export function finiteNumber(text: string): number | null {
  const t = text.trim();
  if (!/^-?[0-9]+(\.[0-9]+)?$/.test(t)) return null;
  const n = Number(t);
  return Number.isFinite(n) ? n : null;
}

/** `/etc/os-release`: `KEY=value` lines, not `#`, key trimmed, value trimmed and unquoted. */
export function parseOsRelease(text: string): Record<string, string> {
  // a Map, then own properties: a key such as `__proto__` stays a plain key
  const out = new Map<string, string>();
  for (const line of text.split("\n")) {
    if (!line.includes("=") || line.trimStart().startsWith("#")) continue;
    const i = line.indexOf("=");
    const k = line.slice(0, i).trim();
    if (!k) continue;
    out.set(k, line.slice(i + 1).trim().replaceAll('"', ""));
  }
  return Object.fromEntries(out);
}

/** First non-empty value of `model name`, else `Model`, else `Hardware`. */
export function parseCpuModel(cpuinfo: string): string | null {
  for (const key of ["model name", "Model", "Hardware"]) {
    for (const line of cpuinfo.split("\n")) {
      if (!line.startsWith(key)) continue;
      const i = line.indexOf(":");
      if (i < 0) continue;
      if (line.slice(0, i).trim() !== key) continue;
      const v = line.slice(i + 1).trim();
      if (v) return v;
    }
  }
  return null;
}

/** One address of an interface. */
export interface IfAddress {
  family: string;
  address: string;
  prefix_length: number;
}
/** One interface from `ip -j addr show`. */
export interface Interface {
  name: string;
  state: string;
  mac: string | null;
  addresses: IfAddress[];
}

/** `ip -j addr show`; empty or invalid output gives `[]`. */
export function parseIpAddr(text: string): Interface[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return [];
  }
  if (!Array.isArray(data)) return [];
  const out: Interface[] = [];
  for (const it of data) {
    if (!it || typeof it !== "object") continue;
    const o = it as Record<string, unknown>;
    if (typeof o.ifname !== "string") continue;
    const addresses: IfAddress[] = [];
    if (Array.isArray(o.addr_info)) {
      for (const a of o.addr_info) {
        if (!a || typeof a !== "object") continue;
        const r = a as Record<string, unknown>;
        if (
          typeof r.family === "string" && typeof r.local === "string" &&
          Number.isSafeInteger(r.prefixlen)
        ) {
          addresses.push({
            family: r.family,
            address: r.local,
            prefix_length: r.prefixlen as number,
          });
        }
      }
    }
    out.push({
      name: o.ifname,
      state: typeof o.operstate === "string" ? o.operstate : "UNKNOWN",
      mac: typeof o.address === "string" ? o.address : null,
      addresses,
    });
  }
  return out;
}

/** One `df -PTh` row. */
export interface DfEntry {
  filesystem: string;
  type: string;
  size: string;
  used: string;
  available: string;
  use_percent: string;
  mount: string;
}

/** `df -PTh`: header skipped, rows split into <= 7 fields (mount keeps spaces). */
export function parseDf(text: string): DfEntry[] {
  const lines = text.split("\n").slice(1);
  const out: DfEntry[] = [];
  for (const line of lines) {
    if (!line.trim()) continue;
    const f = splitMax(line.trim(), 7);
    if (f.length < 7) continue;
    out.push({
      filesystem: f[0]!,
      type: f[1]!,
      size: f[2]!,
      used: f[3]!,
      available: f[4]!,
      use_percent: f[5]!,
      mount: f[6]!,
    });
  }
  return out;
}

/** Splits on whitespace into at most `n` fields; the last keeps the rest. */
export function splitMax(s: string, n: number): string[] {
  const out: string[] = [];
  let rest = s;
  while (out.length < n - 1) {
    const m = /^(\S+)\s+/.exec(rest);
    if (!m) break;
    out.push(m[1]!);
    rest = rest.slice(m[0].length);
  }
  if (rest.length) out.push(rest);
  return out;
}

/** One `ps` row. */
export interface ProcessEntry {
  pid: number;
  user: string;
  pcpu: number;
  pmem: number;
  command: string;
}

/** `ps -eo pid,user,pcpu,pmem,comm --sort=-pcpu`: first `top` data rows. */
export function parsePs(text: string, top: number): ProcessEntry[] {
  const out: ProcessEntry[] = [];
  for (const line of text.split("\n").slice(1)) {
    if (out.length >= top) break;
    if (!line.trim()) continue;
    const f = splitMax(line.trim(), 5);
    if (f.length < 5) continue;
    const pid = safeInt(f[0]!);
    const pcpu = finiteNumber(f[2]!);
    const pmem = finiteNumber(f[3]!);
    if (pid === null || pcpu === null || pmem === null) continue;
    out.push({ pid, user: f[1]!, pcpu, pmem, command: f[4]! });
  }
  return out;
}

/** `/proc/meminfo` values in kB. */
export function parseMeminfo(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split("\n")) {
    const m = /^([A-Za-z0-9_()]+):\s+(\d+)/.exec(line);
    const v = m ? safeInt(m[2]!) : null;
    if (m && v !== null && !Object.hasOwn(out, m[1]!)) out[m[1]!] = v;
  }
  return out;
}

/** First token of `/proc/loadavg`, or null. */
export function parseLoad1(text: string): number | null {
  const t = text.trim().split(/\s+/)[0];
  if (!t) return null;
  return finiteNumber(t);
}

/** A `getent passwd` line. */
export interface PasswdEntry {
  username: string;
  uid: number;
  gid: number;
  gecos: string;
  home: string;
  shell: string;
}

/** `name:pw:uid:gid:gecos:home:shell` (>= 7 fields, numeric ids), else null. */
export function parsePasswd(line: string): PasswdEntry | null {
  const f = line.trim().split(":");
  if (f.length < 7) return null;
  const uid = safeInt(f[2]!);
  const gid = safeInt(f[3]!);
  if (uid === null || gid === null) return null;
  return { username: f[0]!, uid, gid, gecos: f[4]!, home: f[5]!, shell: f.slice(6).join(":") };
}
