/**
 * systemctl and journalctl in the cheatsheet (CHEAT-15, CHEAT-16): the exact
 * call of `ssh_systemctl_<verb>` / `ssh_journalctl` (TOOLS.md §11) from the
 * command's words. Which commands match is still decided by CHEAT-4 (5) and
 * (6) (plus `daemon-reload`); this module only reads the words.
 *
 * @module
 */

import {
  CallBuilder,
  type LeadWords,
  noteOnePerCall,
  OptReader,
  scanOptions,
  setInt,
  type Suggestion,
  toolOnly,
} from "./cheatsheet_call.ts";

/** systemctl options (after the verb) that take a value. */
const SYSTEMCTL_VALUE = [
  "-n",
  "--lines",
  "-o",
  "--output",
  "-p",
  "--property",
  "-P",
  "-t",
  "--type",
  "--state",
  "-H",
  "--host",
  "-M",
  "--machine",
  "-s",
  "--signal",
  "--kill-whom",
  "--kill-value",
  "--root",
  "--image",
  "--job-mode",
  "--what",
  "--timestamp",
  "--preset-mode",
  "--message",
  "--drop-in",
  "--when",
];
const SYSTEMCTL_FLAG = [
  "--no-pager",
  "-l",
  "--full",
  "-q",
  "--quiet",
  "--no-block",
  "--now",
  "--user",
  "--system",
  "-a",
  "--all",
  "-r",
  "--recursive",
  "--no-legend",
  "--no-ask-password",
  "--no-reload",
  "--no-wall",
  "--runtime",
  "-f",
  "--force",
  "-i",
  "--ignore-inhibitors",
  "--dry-run",
  "--show-types",
  "--failed",
  "--plain",
  "--reverse",
  "--after",
  "--before",
  "--with-dependencies",
  "--value",
  "--wait",
];
const SYSTEMCTL_QUIET = [
  "--no-pager",
  "-l",
  "--full",
  "-q",
  "--quiet",
  "--no-block",
  "--system",
  "--no-ask-password",
  "--no-legend",
  "--plain",
];

function systemctlTool(verb: string): string {
  return verb === "list-unit-files"
    ? "ssh_systemctl_list_units"
    : `ssh_systemctl_${verb.replaceAll("-", "_")}`;
}

function listUnits(b: CallBuilder, r: OptReader, pos: string[], verb: string): void {
  const [pattern, ...rest] = pos;
  if (pattern !== undefined) b.set("pattern", pattern);
  noteOnePerCall(b, "pattern", rest);
  const state = r.last("--state") ?? (r.has("--failed") ? "failed" : null);
  if (state !== null) b.set("state", state);
  const type = r.last("-t", "--type");
  if (type !== null) b.set("unit_type", type);
  else b.note('unit_type defaults to "service" (the command listed every unit type)');
  if (verb === "list-unit-files") {
    b.note(
      "ssh_systemctl_list_units lists loaded units, not unit files; for a unit's boot setting use ssh_systemctl_is_enabled",
      ["ssh_systemctl_is_enabled"],
    );
  }
}

function unitVerb(b: CallBuilder, r: OptReader, pos: string[], verb: string): void {
  const [unit, ...rest] = pos;
  if (unit === undefined) b.note("unit= is required (the command did not name one)");
  else b.set("unit", unit);
  noteOnePerCall(b, "unit", rest);
  if (verb === "show") {
    const props = r.values("-p", "--property", "-P").flatMap((p) => p.split(","))
      .filter((p) => p !== "");
    if (props.length) b.set("properties", props);
    if (r.has("--value", "-P")) {
      b.note("the tool returns NAME=value pairs (--value is not carried over)");
    }
  }
  if ((verb === "enable" || verb === "disable") && r.has("--now")) {
    const other = verb === "enable" ? "ssh_systemctl_start" : "ssh_systemctl_stop";
    b.note(`--now is not carried over: call ${other} for the unit too`, [other]);
  }
}

/**
 * CHEAT-15: `systemctl <verb> [opts] [args]` -> `ssh_systemctl_<verb>` with
 * `unit`, `properties` (show), `pattern` / `state` / `unit_type` (list-units,
 * list-unit-files), nothing (daemon-reload).
 */
export function systemctlSuggestion(lead: LeadWords | null, verb: string): Suggestion {
  const tool = systemctlTool(verb);
  if (!lead || lead.texts[0] !== "systemctl" || lead.values[1] !== verb) return toolOnly(tool);
  const b = new CallBuilder(tool);
  const s = scanOptions(lead.values.slice(2), { value: SYSTEMCTL_VALUE, flag: SYSTEMCTL_FLAG });
  if (s.ambiguous) b.inexact();
  const r = new OptReader(s, SYSTEMCTL_QUIET);
  if (r.has("--user")) {
    b.note("the systemctl tools manage system units (--user is not carried over)");
  }
  if (verb === "list-units" || verb === "list-unit-files") listUnits(b, r, s.pos, verb);
  else if (verb === "daemon-reload") {
    if (s.pos.length) b.note(`not carried over: ${s.pos.join(" ")}`);
  } else unitVerb(b, r, s.pos, verb);
  r.noteLeftovers(b);
  return b.done();
}

const JOURNAL_VALUE = [
  "-u",
  "--unit",
  "-n",
  "--lines",
  "-S",
  "--since",
  "-U",
  "--until",
  "-g",
  "--grep",
  "-p",
  "--priority",
  "-o",
  "--output",
  "-t",
  "--identifier",
  "-T",
  "--exclude-identifier",
  "-D",
  "--directory",
  "--file",
  "-M",
  "--machine",
  "-F",
  "--field",
  "--output-fields",
  "-c",
  "--cursor",
  "--after-cursor",
  "--cursor-file",
  "--facility",
  "--namespace",
  "--root",
  "--image",
  "--user-unit",
];
const JOURNAL_FLAG = [
  "--no-pager",
  "-f",
  "--follow",
  "-e",
  "--pager-end",
  "-r",
  "--reverse",
  "-x",
  "--catalog",
  "-q",
  "--quiet",
  "-a",
  "--all",
  "-l",
  "--full",
  "--no-full",
  "-k",
  "--dmesg",
  "-m",
  "--merge",
  "--no-hostname",
  "--utc",
  "--system",
  "--user",
  "-b",
  "--boot",
  "--no-tail",
  "--show-cursor",
];
const JOURNAL_QUIET = [
  "--no-pager",
  "-e",
  "--pager-end",
  "-x",
  "--catalog",
  "-q",
  "--quiet",
  "-a",
  "--all",
  "-l",
  "--full",
  "--no-full",
  "--no-hostname",
  "--utc",
  "--system",
];

/**
 * CHEAT-16: `journalctl -u X [-n N] [--since S] [--until U] [-g G]` ->
 * `ssh_journalctl(unit=, lines=, since=, until=, grep=)`; without `-u` the
 * note says `unit=` is required.
 */
export function journalctlSuggestion(lead: LeadWords | null): Suggestion {
  const tool = "ssh_journalctl";
  if (!lead || lead.texts[0] !== "journalctl") return toolOnly(tool);
  const b = new CallBuilder(tool);
  const s = scanOptions(lead.values.slice(1), { value: JOURNAL_VALUE, flag: JOURNAL_FLAG });
  if (s.ambiguous) b.inexact();
  const r = new OptReader(s, JOURNAL_QUIET);
  const [unit, ...rest] = r.values("-u", "--unit");
  if (unit === undefined) {
    b.note("unit= is required: ssh_journalctl reads the journal of one unit");
  } else b.set("unit", unit);
  noteOnePerCall(b, "unit", rest);
  const lines = r.last("-n", "--lines");
  if (lines === "all") b.note("lines takes 1..1000 (the command asked for all lines)");
  else setInt(b, "lines", lines, 1, 1000);
  for (
    const [param, names] of [["since", ["-S", "--since"]], ["until", ["-U", "--until"]], [
      "grep",
      ["-g", "--grep"],
    ]] as const
  ) {
    const v = r.last(...names);
    if (v !== null) b.set(param, v);
  }
  if (r.has("-f", "--follow")) b.note("the tool does not follow: it returns the newest entries");
  if (s.pos.length) b.note(`journal matches are not carried over: ${s.pos.join(" ")}`);
  r.noteLeftovers(b);
  return b.done();
}
