/**
 * What the login user may run as another user: a parser for `sudo -l`
 * output and a per-host cache (`ssh_sudo_capabilities`).
 *
 * `sudo -l` prints, after the "Matching Defaults entries" and "Runas and
 * Command-specific defaults" blocks, one line per sudoers entry under
 * `User <u> may run the following commands on <host>:`, e.g.
 * `(ALL : ALL) NOPASSWD: /usr/bin/apt, PASSWD: /usr/bin/vim, (bob) /bin/ls`.
 * Run-as lists and tags carry over to the following commands of the same
 * line until changed, as in sudoers itself.
 *
 * @module
 */

/** One command of a sudoers entry. */
export interface SudoRule {
  /** run-as users (`ALL`, `root`, ...); `["root"]` when sudo printed none */
  runas_users: string[];
  /** run-as groups (empty when none) */
  runas_groups: string[];
  /** the command pattern as printed (`ALL`, `/usr/bin/apt`, `/bin/systemctl restart nginx`) */
  command: string;
  /** true when sudo will not ask for a password */
  nopasswd: boolean;
  /** every tag in force (`NOPASSWD`, `NOEXEC`, `SETENV`, ...) */
  tags: string[];
  /** options such as `CWD=*`, `TIMEOUT=5m` */
  options: string[];
}

/** Parsed `sudo -l`. */
export interface SudoListing {
  /** lines of the "Matching Defaults entries" block, split at top-level commas */
  defaults: string[];
  rules: SudoRule[];
}

const TAGS = new Set([
  "NOPASSWD",
  "PASSWD",
  "NOEXEC",
  "EXEC",
  "SETENV",
  "NOSETENV",
  "LOG_INPUT",
  "NOLOG_INPUT",
  "LOG_OUTPUT",
  "NOLOG_OUTPUT",
  "MAIL",
  "NOMAIL",
  "FOLLOW",
  "NOFOLLOW",
  "INTERCEPT",
  "NOINTERCEPT",
]);

/** Splits at commas that are not backslash-escaped and not inside parentheses. */
export function splitTopLevel(s: string): string[] {
  const out: string[] = [];
  let cur = "";
  let depth = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === "\\" && i + 1 < s.length) {
      cur += c + s[i + 1];
      i++;
      continue;
    }
    if (c === "(") depth++;
    if (c === ")") depth = Math.max(0, depth - 1);
    if (c === "," && depth === 0) {
      out.push(cur.trim());
      cur = "";
      continue;
    }
    cur += c;
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}

function splitList(s: string): string[] {
  return s.split(",").map((x) => x.trim()).filter(Boolean);
}

/** Parses one entry line (without its leading indentation). */
export function parseEntry(line: string): SudoRule[] {
  const rules: SudoRule[] = [];
  let users = ["root"];
  let groups: string[] = [];
  let tags: string[] = [];
  for (let piece of splitTopLevel(line)) {
    const runas = /^\(([^)]*)\)\s*/.exec(piece);
    if (runas) {
      const [u = "", g] = runas[1]!.split(":");
      users = splitList(u);
      if (users.length === 0) users = g === undefined ? ["root"] : [];
      groups = g === undefined ? [] : splitList(g);
      piece = piece.slice(runas[0].length);
    }
    const options: string[] = [];
    for (;;) {
      const opt = /^([A-Z_]+)=("(?:[^"\\]|\\.)*"|\S+)\s+/.exec(piece);
      if (opt) {
        options.push(`${opt[1]}=${opt[2]}`);
        piece = piece.slice(opt[0].length);
        continue;
      }
      const tag = /^([A-Z_]+):\s*/.exec(piece);
      if (tag && TAGS.has(tag[1]!)) {
        const t = tag[1]!;
        const opposite = t.startsWith("NO") ? t.slice(2) : `NO${t}`;
        tags = [...tags.filter((x) => x !== opposite && x !== t), t];
        piece = piece.slice(tag[0].length);
        continue;
      }
      break;
    }
    const command = piece.trim();
    if (!command) continue;
    rules.push({
      runas_users: users,
      runas_groups: groups,
      command,
      nopasswd: tags.includes("NOPASSWD"),
      tags: [...tags],
      options,
    });
  }
  return rules;
}

/** Parses the whole `sudo -l` output. */
export function parseSudoList(text: string): SudoListing {
  const defaults: string[] = [];
  const rules: SudoRule[] = [];
  let section: "defaults" | "other" | "rules" | null = null;
  let pending = "";
  const flush = () => {
    if (!pending) return;
    if (section === "defaults") defaults.push(...splitTopLevel(pending));
    else if (section === "rules") rules.push(...parseEntry(pending));
    pending = "";
  };
  for (const rawLine of text.split("\n")) {
    const line = rawLine.replace(/\r$/, "");
    if (!line.trim()) {
      flush();
      continue;
    }
    if (!/^\s/.test(line)) {
      flush();
      if (/^Matching Defaults entries for /.test(line)) section = "defaults";
      else if (/ may run the following commands on /.test(line)) section = "rules";
      else section = "other";
      continue;
    }
    // an indented line starts a new entry unless the previous ended with a continuation
    if (pending.endsWith("\\")) pending = pending.slice(0, -1) + line.trim();
    else {
      flush();
      pending = line.trim();
    }
  }
  flush();
  return { defaults, rules };
}

/** True when a rule can admit `sudo -- sh -c ...` as root (approximation of sudoers matching). */
export function runsRootShell(r: SudoRule): boolean {
  const asRoot = r.runas_users.some((u) => u === "ALL" || u === "root" || u === "#0");
  return asRoot && (r.command === "ALL" || /^\/(usr\/)?bin\/sh(\s|$)/.test(r.command));
}

/** Cached capabilities of one host. */
export interface CapabilitiesEntry<T> {
  value: T;
  fetchedAt: number;
}

/**
 * The per-server capabilities cache (one per `App`). Entries of hosts that a
 * reload changed or removed are dropped (the sudoers of a re-pointed alias
 * may differ).
 */
export class CapabilitiesCache {
  readonly #entries = new Map<string, CapabilitiesEntry<unknown>>();

  /** The cached entry of `alias`; `T` is the shape its writer stored. */
  get<T>(alias: string): CapabilitiesEntry<T> | undefined {
    return this.#entries.get(alias) as CapabilitiesEntry<T> | undefined;
  }

  /** Caches the capabilities of `alias`. */
  set<T>(alias: string, entry: CapabilitiesEntry<T>): void {
    this.#entries.set(alias, entry);
  }

  /** Drops the entries of `aliases` (reload of changed or removed hosts). */
  forget(aliases: Iterable<string>): void {
    for (const a of aliases) this.#entries.delete(a);
  }
}
