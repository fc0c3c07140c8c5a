/**
 * The command denylist (SECURITY.md §EXEC EXEC-17, EXEC-42..48, §SCRIPT
 * SCRIPT-3). It matches meaning, not spelling:
 *
 * - every simple command anywhere in the text (inside compound commands and
 *   substitutions too) is checked, and so is everything it runs through a
 *   wrapper (`sudo -i`, `sh -c '...'`, `xargs`, `env`, `timeout`, ...,
 *   `command_wrappers.ts`);
 * - entries match word by word (`command_match.ts` {@link denyMatch}):
 *   options in any cluster, order or long spelling (`rm -rf /` also denies
 *   `rm -r -f //`, `rm --recursive --force /.`, `rm -Rf /`), paths also in
 *   lexically normalised form;
 * - entries with shell operator characters are structural and match the
 *   whole text (and any shell code a wrapper runs);
 * - a few entries have their own meaning (`dd of=*`: any output file but
 *   `/dev/null`, `/dev/stdout`, `/dev/stderr`).
 *
 * A script is checked as a whole and line by line.
 *
 * @module
 */

import { posix } from "node:path";
import { parseCommand, type ParsedCommand } from "./command_parse.ts";
import { denyMatch, globToRegExp, normalisePath } from "./command_match.ts";
import { type Invocation, reachedInvocations } from "./command_wrappers.ts";

export { stripWrappers } from "./command_wrappers.ts";

const OPERATOR_CHARS = /[;|&(){}<>]/;

const HARMLESS_DD_OUTPUTS = new Set(["/dev/null", "/dev/stdout", "/dev/stderr"]);

/** Entries with a meaning of their own (keyed by the exact entry text). */
const SPECIAL: Readonly<Record<string, (inv: Invocation) => boolean>> = {
  "dd of=*": (inv) =>
    base(inv.program) === "dd" &&
    inv.args.some((a) =>
      a.startsWith("of=") && !HARMLESS_DD_OUTPUTS.has(normalisePath(a.slice(3)))
    ),
};

function base(program: string): string {
  return posix.basename(program) || program;
}

function structuralText(command: string): string {
  return command.replace(/\s+/g, " ").trim();
}

function isStructural(entry: string): boolean {
  return OPERATOR_CHARS.test(entry.replace(/\\./g, ""));
}

/** Does `entry` deny the invocation `inv`? */
function entryHits(entry: string, inv: Invocation): boolean {
  const special = SPECIAL[entry];
  if (special) return special(inv);
  return denyMatch(entry, inv.program, inv.args);
}

/** EXEC-17 / EXEC-42..48: the first denylist entry hit, or null. */
export function denylistHit(
  command: string,
  parsed: ParsedCommand | null,
  entries: readonly string[],
): string | null {
  const texts = [structuralText(command)];
  const invocations: Invocation[] = [];
  if (parsed && parsed.ok) {
    for (const sc of parsed.simple) {
      if (sc.program === null) continue;
      const r = reachedInvocations({ program: sc.program, args: sc.args });
      invocations.push(...r.invocations);
      texts.push(...r.texts.map(structuralText));
    }
  }
  for (const entry of entries) {
    if (isStructural(entry) || !parsed || !parsed.ok) {
      const re = globToRegExp(entry, "contains");
      if (texts.some((t) => re.test(t))) return entry;
      continue;
    }
    if (invocations.some((inv) => entryHits(entry, inv))) return entry;
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
