/**
 * Parsers of the systemctl group (TOOLS.md §11 "Parsing"), pure functions
 * over the (sanitized) text systemctl and journalctl print. Tested against
 * captured real output in `tests/fixtures/systemctl/`.
 *
 * @module
 */

/** States `is-active` may report (anything else is `unknown`). */
export const ACTIVE_STATES: readonly string[] = [
  "active",
  "inactive",
  "failed",
  "activating",
  "deactivating",
  "reloading",
];

/** States `is-enabled` may report (anything else is `unknown`). */
export const ENABLED_STATES: readonly string[] = [
  "enabled",
  "enabled-runtime",
  "linked",
  "linked-runtime",
  "alias",
  "masked",
  "masked-runtime",
  "static",
  "indirect",
  "disabled",
  "generated",
  "transient",
  "bad",
  "not-found",
];

/** `active_state` of `systemctl status`: the first token after the first `Active:` line. */
export function parseActiveState(stdout: string): string | null {
  for (const line of stdout.split("\n")) {
    const t = line.trim();
    if (t.startsWith("Active:")) {
      const tok = t.slice("Active:".length).trim().split(/\s+/)[0];
      return tok ? tok : null;
    }
  }
  return null;
}

/** `is-active`: exit 4 -> unknown; else the trimmed stdout when it is a known state. */
export function parseIsActive(stdout: string, exitCode: number): string {
  if (exitCode === 4) return "unknown";
  const s = stdout.trim();
  return ACTIVE_STATES.includes(s) ? s : "unknown";
}

/** `is-enabled`: the trimmed stdout when it is a known state, else unknown. */
export function parseIsEnabled(stdout: string): string {
  const s = stdout.trim();
  return ENABLED_STATES.includes(s) ? s : "unknown";
}

/** `is-failed`: `failed` is exit 0; `state` is the raw trimmed stdout. */
export function parseIsFailed(
  stdout: string,
  exitCode: number,
): { failed: boolean; state: string } {
  return { failed: exitCode === 0, state: stdout.trim() };
}

/** One row of `list-units`. */
export interface UnitRow {
  unit: string;
  load: string;
  active: string;
  sub: string;
  description: string;
}

/**
 * `list-units --no-legend`: non-empty trimmed lines split on whitespace into
 * at most 5 parts (the description keeps its blanks), at least 4 required.
 * A leading status bullet (`●`, `*`) of failed units is dropped first.
 */
export function parseListUnits(stdout: string): UnitRow[] {
  const rows: UnitRow[] = [];
  for (const raw of stdout.split("\n")) {
    let line = raw.trim();
    if (line.startsWith("\u25cf ") || line.startsWith("* ")) line = line.slice(2).trim();
    if (!line) continue;
    const parts: string[] = [];
    let rest = line;
    while (parts.length < 4) {
      const m = /^(\S+)\s*/.exec(rest);
      if (!m) break;
      parts.push(m[1]!);
      rest = rest.slice(m[0].length);
    }
    if (parts.length < 4) continue;
    rows.push({
      unit: parts[0]!,
      load: parts[1]!,
      active: parts[2]!,
      sub: parts[3]!,
      description: rest.trim(),
    });
  }
  return rows;
}

/** `show`: each line with `=` -> key (trimmed) and value as-is; the last duplicate wins. */
export function parseShow(stdout: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of stdout.split("\n")) {
    const i = line.indexOf("=");
    if (i < 0) continue;
    const key = line.slice(0, i).trim();
    if (!key) continue;
    out[key] = line.slice(i + 1);
  }
  return out;
}

/**
 * journalctl output printed newest first (`-r`) back in chronological order:
 * an entry is a line plus its indented continuation lines (multi-line
 * messages in the short format), so entries are reversed as a whole.
 * journalctl's informational `-- ... --` lines are dropped.
 */
export function chronological(stdout: string): string {
  const entries: string[][] = [];
  for (const line of stdout.split("\n")) {
    if (line === "") continue;
    if (/^-- .* --$/.test(line)) continue;
    if (/^\s/.test(line) && entries.length) entries[entries.length - 1]!.push(line);
    else entries.push([line]);
  }
  return entries.reverse().map((e) => e.join("\n") + "\n").join("");
}

/** `lines_returned`: the number of non-empty stdout lines. */
export function countLines(stdout: string): number {
  return stdout.split("\n").filter((l) => l.trim() !== "").length;
}

/** The unit facts check mode reads with `show --property=...`. */
export interface UnitFacts {
  id: string;
  load_state: string;
  active_state: string;
  sub_state: string;
  unit_file_state: string;
}

/** Properties read for {@link UnitFacts}. */
export const FACT_PROPERTIES = "Id,LoadState,ActiveState,SubState,UnitFileState";

/** {@link UnitFacts} from `show` output. */
export function unitFacts(props: Record<string, string>, unit: string): UnitFacts {
  return {
    id: props.Id || unit,
    load_state: props.LoadState ?? "",
    active_state: props.ActiveState ?? "",
    sub_state: props.SubState ?? "",
    unit_file_state: props.UnitFileState ?? "",
  };
}

/** What a unit action would do, judged from the unit's current facts (check mode). */
export interface Prediction {
  would_change: boolean;
  /** one sentence for the agent */
  summary: string;
}

/** Check-mode prediction of `systemctl <verb>` for a unit in state `f`. */
export function predict(verb: string, f: UnitFacts): Prediction {
  const a = f.active_state;
  const u = f.unit_file_state;
  const masked = u === "masked" || u === "masked-runtime";
  const no = (why: string): Prediction => ({ would_change: false, summary: why });
  const yes = (what: string): Prediction => ({ would_change: true, summary: what });
  switch (verb) {
    case "start":
      if (masked) return no(`would fail: ${f.id} is masked (unmask it first)`);
      if (a === "active" || a === "reloading") return no(`no change: ${f.id} is already ${a}`);
      return yes(`would start ${f.id} (ActiveState ${a} -> active)`);
    case "stop":
      if (a === "inactive" || a === "failed") return no(`no change: ${f.id} is ${a}`);
      return yes(`would stop ${f.id} (ActiveState ${a} -> inactive)`);
    case "restart":
      if (masked) return no(`would fail: ${f.id} is masked (unmask it first)`);
      return yes(
        a === "active"
          ? `would restart ${f.id} (stop, then start; brief interruption)`
          : `would start ${f.id} (ActiveState ${a} -> active)`,
      );
    case "reload":
      if (a !== "active") return no(`would fail: ${f.id} is ${a}, only an active unit can reload`);
      return yes(`would ask ${f.id} to reload its configuration (no restart)`);
    case "enable":
      if (masked) return no(`would fail: ${f.id} is masked (unmask it first)`);
      if (u === "enabled" || u === "enabled-runtime") return no(`no change: ${f.id} is ${u}`);
      if (u === "static") return no(`no change: ${f.id} is static (no [Install] section)`);
      return yes(`would enable ${f.id} (UnitFileState ${u} -> enabled; not started now)`);
    case "disable":
      if (u === "enabled" || u === "enabled-runtime") {
        return yes(`would disable ${f.id} (UnitFileState ${u} -> disabled; not stopped now)`);
      }
      return no(`no change: ${f.id} is ${u || "not enabled"}`);
    case "mask":
      if (masked) return no(`no change: ${f.id} is already masked`);
      return yes(
        `would mask ${f.id} (it can no longer be started${
          a === "active" ? "; the running instance keeps running until stopped" : ""
        })`,
      );
    case "unmask":
      if (masked) return yes(`would unmask ${f.id}`);
      return no(`no change: ${f.id} is not masked`);
    case "reset-failed":
      if (a === "failed") return yes(`would reset the failed state of ${f.id} (-> inactive)`);
      return no(`no change: ${f.id} is ${a}, not failed`);
    default:
      return no(`unknown action ${verb}`);
  }
}
