/**
 * Parsers of the pkg group (TOOLS.md §12 "Parsing"), pure functions over the
 * (sanitized) text apt, apt-cache, apt-mark, apt-get and dpkg-query print.
 * Tested against captured real output in `tests/fixtures/apt/`.
 *
 * @module
 */

/** One row of `apt list`. */
export interface AptListRow {
  name: string;
  version: string;
  architecture: string;
  state: string;
}

const LIST_ROW = /^([^/\s]+)\/(\S+)\s+(\S+)\s+(\S+)(?:\s+\[([^\]]*)\])?\s*$/;

/**
 * `apt list` rows `name/repos version arch [state]`; the `Listing...` header
 * lines, `WARNING:` lines and anything else that does not match are skipped.
 */
export function parseAptList(stdout: string): AptListRow[] {
  const rows: AptListRow[] = [];
  for (const raw of stdout.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("Listing...") || line.startsWith("WARNING:")) continue;
    const m = LIST_ROW.exec(line);
    if (!m) continue;
    rows.push({ name: m[1]!, version: m[3]!, architecture: m[4]!, state: m[5] ?? "" });
  }
  return rows;
}

/** `apt-cache search` rows split at the first `" - "`. */
export function parseAptSearch(stdout: string): { name: string; short_description: string }[] {
  const out: { name: string; short_description: string }[] = [];
  for (const raw of stdout.split("\n")) {
    const line = raw.trimEnd();
    const i = line.indexOf(" - ");
    if (i <= 0) continue;
    out.push({ name: line.slice(0, i).trim(), short_description: line.slice(i + 3).trim() });
  }
  return out;
}

/** Relationship fields of `apt-cache show` (TOOLS.md §12). */
export const RELATIONS = [
  "Depends",
  "Recommends",
  "Suggests",
  "Conflicts",
  "Breaks",
  "Replaces",
] as const;

/** What `apt-cache show` tells about one package (its first stanza). */
export interface PackageStanza {
  version: string | null;
  description: string | null;
  relations: Record<(typeof RELATIONS)[number], string[]>;
}

/**
 * The first stanza of `apt-cache show`: `Description` (or `Description-<lang>`)
 * is the first line plus its indented continuation lines (a lone `.` is a
 * blank line), trailing blank lines removed; the relationship fields are split
 * on `,` and trimmed (alternatives `a | b` kept verbatim).
 */
export function parseAptShow(stdout: string): PackageStanza {
  const fields = new Map<string, string[]>();
  let current: string[] | null = null;
  for (const line of stdout.split("\n")) {
    if (line.trim() === "") {
      if (fields.size) break; // end of the first stanza
      continue;
    }
    if (/^\s/.test(line)) {
      current?.push(line.slice(1));
      continue;
    }
    const i = line.indexOf(":");
    if (i <= 0) {
      current = null;
      continue;
    }
    const key = line.slice(0, i);
    current = [line.slice(i + 1).trim()];
    if (!fields.has(key)) fields.set(key, current);
    else current = null; // keep the first occurrence
  }
  const descKey = fields.has("Description")
    ? "Description"
    : [...fields.keys()].find((k) => k.startsWith("Description-") && k !== "Description-md5");
  let description: string | null = null;
  if (descKey) {
    const lines = fields.get(descKey)!.map((l) => (l.trim() === "." ? "" : l));
    while (lines.length && lines[lines.length - 1]!.trim() === "") lines.pop();
    description = lines.join("\n");
  }
  const relations = {} as PackageStanza["relations"];
  for (const r of RELATIONS) {
    const v = fields.get(r)?.join(" ") ?? "";
    relations[r] = v.split(",").map((s) => s.trim()).filter(Boolean);
  }
  return { version: fields.get("Version")?.[0] ?? null, description, relations };
}

/** What `apt-cache policy` tells about one package. */
export interface PolicyInfo {
  installed_version: string | null;
  candidate_version: string | null;
  repos: string[];
}

const POLICY_REPO = /^\s*(?:\*\*\*\s+)?\d+\s+((?:https?|file|cdrom|copy):\S+)(?:\s|$)/;

/**
 * `apt-cache policy`: `Installed:` / `Candidate:` values (`(none)` kept as
 * text), `repos` = the URLs of the `<prio> <url> <rest>` lines, de-duplicated.
 */
export function parseAptPolicy(stdout: string): PolicyInfo {
  let installed: string | null = null;
  let candidate: string | null = null;
  const repos: string[] = [];
  for (const line of stdout.split("\n")) {
    const t = line.trim();
    if (installed === null && t.startsWith("Installed:")) installed = t.slice(10).trim() || null;
    else if (candidate === null && t.startsWith("Candidate:")) {
      candidate = t.slice(10).trim() || null;
    } else {
      const m = POLICY_REPO.exec(line);
      if (m && !repos.includes(m[1]!)) repos.push(m[1]!);
    }
  }
  return { installed_version: installed, candidate_version: candidate, repos };
}

/** `apt-mark showhold`: the non-blank trimmed lines. */
export function parseHolds(stdout: string): string[] {
  return stdout.split("\n").map((l) => l.trim()).filter(Boolean);
}

/** One package of an apt simulation (`apt-get -s`). */
export interface SimulatedPackage {
  name: string;
  version: string;
  /** the installed version an upgrade replaces, or a removal removes */
  from_version?: string;
}

/** What `apt-get -s <verb>` says would happen. */
export interface Simulation {
  would_install: SimulatedPackage[];
  would_upgrade: SimulatedPackage[];
  would_remove: SimulatedPackage[];
  would_purge: SimulatedPackage[];
  kept_back: string[];
}

const INST = /^Inst (\S+) (?:\[([^\]]+)\] )?\((\S+)/;
const REMV = /^(Remv|Purg) (\S+)(?: \[([^\]]+)\])?/;

/**
 * `apt-get -s` lines: `Inst pkg (ver ...)` (new), `Inst pkg [old] (ver ...)`
 * (upgrade, or a downgrade), `Remv pkg [ver]`, `Purg pkg [ver]`, and the
 * names listed under "The following packages have been kept back:".
 */
export function parseSimulation(stdout: string): Simulation {
  const s: Simulation = {
    would_install: [],
    would_upgrade: [],
    would_remove: [],
    would_purge: [],
    kept_back: [],
  };
  let inKept = false;
  for (const line of stdout.split("\n")) {
    if (inKept) {
      if (/^\s+\S/.test(line)) {
        s.kept_back.push(...line.trim().split(/\s+/));
        continue;
      }
      inKept = false;
    }
    if (/^The following packages have been kept back:/.test(line)) {
      inKept = true;
      continue;
    }
    const i = INST.exec(line);
    if (i) {
      if (i[2]) s.would_upgrade.push({ name: i[1]!, version: i[3]!, from_version: i[2] });
      else s.would_install.push({ name: i[1]!, version: i[3]! });
      continue;
    }
    const r = REMV.exec(line);
    if (r) {
      const p: SimulatedPackage = { name: r[2]!, version: r[3] ?? "" };
      (r[1] === "Purg" ? s.would_purge : s.would_remove).push(p);
    }
  }
  return s;
}

/** `apt-get --print-uris update`: the quoted URIs apt would fetch. */
export function parsePrintUris(stdout: string): string[] {
  const out: string[] = [];
  for (const line of stdout.split("\n")) {
    const m = /^'([^']+)'/.exec(line.trim());
    if (m && !out.includes(m[1]!)) out.push(m[1]!);
  }
  return out;
}

/** A held package-manager lock, from apt's or dpkg's error text. */
export interface LockHolder {
  lock: string;
  pid: number | null;
  holder: string | null;
}

const APT_LOCK = /Could not get lock (\S+?)\.? It is held by process (\d+)(?: \(([^)\n]*)\))?/;
const DPKG_LOCK = /dpkg(?: frontend)? lock was locked by another process with pid (\d+)/;
const APT_LOCK_NO_PID = /Could not get lock (\S+?)\.?\s*(?:-|$)/m;

/** The lock and its holder when apt/dpkg refused because another process holds a lock. */
export function parseLockError(stderr: string): LockHolder | null {
  const a = APT_LOCK.exec(stderr);
  if (a) return { lock: a[1]!, pid: Number(a[2]), holder: a[3] ?? null };
  const d = DPKG_LOCK.exec(stderr);
  if (d) {
    return {
      lock: /frontend/.test(d[0]) ? "/var/lib/dpkg/lock-frontend" : "/var/lib/dpkg/lock",
      pid: Number(d[1]),
      holder: null,
    };
  }
  const n = APT_LOCK_NO_PID.exec(stderr);
  if (n) return { lock: n[1]!, pid: null, holder: null };
  return null;
}

/** The lock files whose holder the state report looks up (see `_apt.ts`). */
export const LOCK_FILES = [
  "/var/lib/dpkg/lock-frontend",
  "/var/lib/dpkg/lock",
  "/var/cache/apt/archives/lock",
  "/var/lib/apt/lists/lock",
] as const;

/** Prefix of the state report's lock lines: `<prefix> <lock file> <pid> <comm>`. */
export const LOCK_LINE = "sshmcp-lock";

/**
 * Splits a state report into the held locks it found (in {@link LOCK_FILES}
 * order, first holder per file) and the rest (dpkg-query's lines).
 */
export function parseReportLocks(report: string): { locks: LockHolder[]; rest: string } {
  const locks: LockHolder[] = [];
  const rest: string[] = [];
  for (const line of report.split("\n")) {
    if (!line.startsWith(`${LOCK_LINE} `)) {
      rest.push(line);
      continue;
    }
    const m = /^\S+ (\/\S+) (\d+) ?(.*)$/.exec(line);
    if (!m || !(LOCK_FILES as readonly string[]).includes(m[1]!)) continue;
    if (locks.some((l) => l.lock === m[1])) continue;
    locks.push({ lock: m[1]!, pid: Number(m[2]), holder: m[3]!.trim() || null });
  }
  locks.sort((a, b) =>
    (LOCK_FILES as readonly string[]).indexOf(a.lock) -
    (LOCK_FILES as readonly string[]).indexOf(b.lock)
  );
  return { locks, rest: rest.join("\n") };
}

/**
 * An error message of apt or dpkg in `stderr` (an `E:` line or `dpkg: error`):
 * when there is one, the failure is apt's to explain, not a lock we found.
 */
export function hasAptError(stderr: string): boolean {
  return /^(E: |dpkg: error)/m.test(stderr);
}

/** A package dpkg left between states (`dpkg-query` `db:Status-Status`). */
export interface UnsettledPackage {
  name: string;
  status: string;
  version: string;
}

/** Status words of packages that are settled (anything else needs recovery). */
const SETTLED = ["installed", "config-files", "not-installed"];

/** Lines `<status> <package> <version>` of `dpkg-query -W`, keeping unsettled packages. */
export function parseUnsettled(stdout: string): UnsettledPackage[] {
  const out: UnsettledPackage[] = [];
  for (const line of stdout.split("\n")) {
    const [status, name, version] = line.trim().split(/\s+/);
    if (!status || !name || SETTLED.includes(status)) continue;
    out.push({ name, status, version: version ?? "" });
  }
  return out;
}

/** apt's complaint when a previous dpkg run was interrupted. */
export function dpkgInterrupted(text: string): boolean {
  return /dpkg was interrupted, you must manually run '?dpkg --configure -a'?/.test(text);
}

/**
 * A progress phase of an apt-get run (the lines worth a notification), or
 * null: planning, download, unpack, configure, removal, triggers.
 */
export function aptPhase(line: string): string | null {
  const t = line.trim();
  const rules: [RegExp, (m: RegExpExecArray) => string][] = [
    [/^Reading package lists/, () => "reading package lists"],
    [/^Calculating upgrade/, () => "calculating the upgrade"],
    [
      /^(\d+) upgraded, (\d+) newly installed, (\d+) to remove and (\d+) not upgraded/,
      (m) => `plan: ${m[1]} upgraded, ${m[2]} new, ${m[3]} to remove, ${m[4]} not upgraded`,
    ],
    [/^Get:\d+ \S+ .*?(\S+) (\S+) \[[^\]]*\]$/, (m) => `downloading ${m[1]} ${m[2]}`],
    [/^Get:\d+ (\S+)/, (m) => `fetching ${m[1]}`],
    [/^Hit:\d+ (\S+)/, (m) => `up to date ${m[1]}`],
    [
      /^Unpacking (\S+) \(([^)]*)\)(?: over \(([^)]*)\))?/,
      (m) => `unpacking ${m[1]} ${m[2]}${m[3] ? ` (over ${m[3]})` : ""}`,
    ],
    [/^Setting up (\S+) \(([^)]*)\)/, (m) => `setting up ${m[1]} ${m[2]}`],
    [/^Removing (\S+) \(([^)]*)\)/, (m) => `removing ${m[1]} ${m[2]}`],
    [/^Purging configuration files for (\S+)/, (m) => `purging configuration of ${m[1]}`],
    [/^Processing triggers for (\S+)/, (m) => `processing triggers for ${m[1]}`],
    [/^(\S+) set on hold\.$/, (m) => `held ${m[1]}`],
    [/^Canceled hold on (\S+)\.$/, (m) => `unheld ${m[1]}`],
  ];
  for (const [re, f] of rules) {
    const m = re.exec(t);
    if (m) return f(m);
  }
  return null;
}
