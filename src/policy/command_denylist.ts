/**
 * The command denylist (SECURITY.md §EXEC EXEC-17, §SCRIPT SCRIPT-3):
 * structural entries (with shell operators) match the whole command text,
 * the others each normalised simple command with and without its wrapper
 * prefixes (`sudo`, `env`, `timeout`, `nice`, ...); a script is checked as a
 * whole and line by line.
 *
 * @module
 */

import { posix } from "node:path";
import { parseCommand, type ParsedCommand } from "./command_parse.ts";
import { globToRegExp } from "./command_rules.ts";

const OPERATOR_CHARS = /[;|&(){}<>]/;

/** Options that take an argument, per wrapper, for EXEC-17 wrapper stripping. */
const WRAPPERS: Record<
  string,
  { argOpts: Set<string>; positional?: number; assignments?: boolean }
> = {
  sudo: { argOpts: new Set(["-u", "-g", "-h", "-p", "-C", "-D", "-R", "-T", "-U", "-r", "-t"]) },
  doas: { argOpts: new Set(["-u", "-C"]) },
  env: { argOpts: new Set(["-u", "-C", "-S", "--unset", "--chdir"]), assignments: true },
  nice: { argOpts: new Set(["-n", "--adjustment"]) },
  nohup: { argOpts: new Set() },
  timeout: { argOpts: new Set(["-s", "-k", "--signal", "--kill-after"]), positional: 1 },
  stdbuf: { argOpts: new Set(["-i", "-o", "-e"]) },
  ionice: { argOpts: new Set(["-c", "-n", "-p", "-P", "-u"]) },
  setsid: { argOpts: new Set() },
  command: { argOpts: new Set() },
  exec: { argOpts: new Set(["-a"]) },
  busybox: { argOpts: new Set() },
};

/** Strips known wrapper prefixes from a normalised simple command (EXEC-17). */
export function stripWrappers(normalized: string): string {
  let words = normalized.split(" ").filter(Boolean);
  for (let guard = 0; guard < 16 && words.length; guard++) {
    const prog = posix.basename(words[0]!);
    const w = WRAPPERS[prog];
    if (!w) break;
    let i = 1;
    while (i < words.length) {
      const t = words[i]!;
      if (t === "--") {
        i++;
        break;
      }
      if (w.assignments && /^[A-Za-z_][A-Za-z0-9_]*=/.test(t)) {
        i++;
        continue;
      }
      if (t.startsWith("-") && t !== "-") {
        i += w.argOpts.has(t) ? 2 : 1;
        continue;
      }
      break;
    }
    i += w.positional ?? 0;
    words = words.slice(i);
    if (words.length) words[0] = posix.basename(words[0]!) || words[0]!;
  }
  return words.join(" ");
}

/** Normalises a whole command for structural denylist entries. */
function structuralText(command: string): string {
  return command.replace(/\s+/g, " ").trim();
}

/** EXEC-17: the first denylist entry hit, or null. */
export function denylistHit(
  command: string,
  parsed: ParsedCommand | null,
  entries: readonly string[],
): string | null {
  const whole = structuralText(command);
  for (const entry of entries) {
    const structural = OPERATOR_CHARS.test(entry.replace(/\\./g, ""));
    if (structural || !parsed || !parsed.ok) {
      if (globToRegExp(entry, "contains").test(whole)) return entry;
      continue;
    }
    const re = globToRegExp(entry, "prefix");
    for (const sc of parsed.simple) {
      if (sc.program === null) continue;
      if (re.test(sc.normalized) || re.test(stripWrappers(sc.normalized))) return entry;
    }
  }
  return null;
}

/** The trimmed lines of a script, blank and `#` comment lines left out. */
function lineSplit(body: string): string[] {
  return body.split(/\r?\n/).map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
}

/** SCRIPT-3: the first denylist entry hit by a script as a whole or by one of its lines, or null. */
export function scriptDenylistHit(body: string, entries: readonly string[]): string | null {
  return denylistHit(body, parseCommand(body), entries) ??
    lineSplit(body).map((l) => denylistHit(l, parseCommand(l), entries)).find((x) => x) ?? null;
}
