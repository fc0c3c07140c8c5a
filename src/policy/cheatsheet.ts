/**
 * The exec cheatsheet (SECURITY.md §CHEAT): shell commands that duplicate a
 * dedicated tool are refused (default) or answered with a hint, naming the
 * tool to use. It is an ergonomic control, not a boundary (CHEAT-8): the
 * command policy decides everything the patterns miss.
 *
 * Matching order and regular expressions follow CHEAT-4..CHEAT-6; NEW
 * deviations: `systemctl list-unit-files` suggests the existing
 * `ssh_systemctl_list_units`, and `rm -R` is a recursive delete. The rules of
 * docs/security/cheatsheet.md add the exact call (CHEAT-9: `suggestedCall`,
 * built from the command's own words when the host argument is known), the
 * docker forms of CHEAT-10..14 (`cheatsheet_docker.ts`, replacing CHEAT-6's
 * second-word rule), systemctl / journalctl (`cheatsheet_units.ts`, with
 * `daemon-reload`), apt (`cheatsheet_apt.ts`, with `update` and `apt-mark`)
 * and hidden tools (CHEAT-18: a hit naming a tool that is not visible is no
 * hit).
 *
 * @module
 */

import { type LeadWords, leadWords, renderCall, type Suggestion } from "./cheatsheet_call.ts";
import { dockerProgramIndex, dockerSuggestion } from "./cheatsheet_docker.ts";
import { journalctlSuggestion, systemctlSuggestion } from "./cheatsheet_units.ts";
import { aptSuggestion } from "./cheatsheet_apt.ts";

/** A hit: pattern id and the tool (or tool family text) to use instead. */
export interface CheatsheetHit {
  patternId: string;
  suggestedTool: string;
  /**
   * CHEAT-9: the exact call, e.g. `ssh_docker_logs(host="web1", container="web", tail=100)`;
   * only when the context names the host and the command's words give a call
   */
  suggestedCall?: string;
  /** remarks on the call (options not carried over, decisions left to a human) */
  notes?: string[];
}

/** Context for path-aware suggestions (CHEAT-7: raw path text, no remote call). */
export interface CheatsheetContext {
  /** true when a path (as written in the command) matches the host's redact globs */
  redactListed(path: string): boolean;
  /** the host argument as the caller gave it; enables `suggestedCall` (CHEAT-9) */
  host?: string;
  /**
   * CHEAT-18: the tools visible in this configuration; when given, a hit whose
   * tool (or every tool of its family) is not in it is no hit at all
   */
  visibleTools?: ReadonlySet<string>;
}

const COMPOSITE = /\||&&|;|\$\(|`/;

/** CHEAT-5: composite commands escape the read/list/single-fileop shapes. */
export function isComposite(command: string): boolean {
  return COMPOSITE.test(command);
}

const SUDO_PREFIX = /^\s*sudo(\s+-[A-Za-z]+(\s+\S+)?)*\s+(?<rest>.+)$/s;
const READ_SINGLE =
  /^\s*(cat|head|tail|less|more|view|xxd|od|strings|wc)(\s+-\S+(\s+\S+)?)*\s+(?<path>\S+)\s*$/;
const READ_AMBIGUOUS = /^\s*(awk|sed|grep|file)\s+\S/;
const LIST_SINGLE = /^\s*ls(\s+-\w+)*\s+(?<path>\S+)\s*$/;
/** cheap pre-filter before the docker words are parsed (CHEAT-10) */
const DOCKER_WORD = /(?:^|\s)(?:docker|podman)(?:-compose)?(?:\s|$)/;
const SYSTEMCTL =
  /^\s*systemctl\s+(is-active|is-enabled|is-failed|status|show|cat|list-units|list-unit-files|start|stop|restart|reload|enable|disable|mask|unmask|reset-failed|daemon-reload)\b/;
const JOURNALCTL = /^\s*journalctl(\s|$)/;
const APT = /^\s*(apt|apt-get)\s+(install|upgrade|remove|purge|autoremove|update)\b/;
const APT_MARK = /^\s*(apt-mark)\s+(hold|unhold)\b/;
const HEREDOC = /<<\s*-?\s*['"]?[A-Za-z_]\w*['"]?/;
const TEE = /\btee\s+\S+/;
const ECHO_REDIRECT = /^\s*echo\s+.*>\s*\S+/;
const PRINTF_REDIRECT = /^\s*printf\s+.*>\s*\S+/;
const FILE_OP = /^\s*(mkdir|cp|mv|rm)\s/;
const RECURSIVE_FLAG = /\s-[A-Za-z]*[rR][A-Za-z]*\b/;
const SUDO_TEE = /^\s*tee(\s+-\S+)*\s+\S+\s*$/;
const SUDO_SH_CAT = /^\s*sh\s+-c\s+['"]\s*cat\s*>\s*\S+/;
const SUDO_EDITOR = /^\s*(vi|vim|nano|emacs|ed)\s+\S+/;

/** CHEAT-4 (10) output redirect: a `>` not after `&`, a digit or `>`, not before `>`, target not /dev/null. */
function outputRedirect(command: string): boolean {
  const re = /(?<![&\d>])>(?!>)\s*(\S+)?/g;
  for (const m of command.matchAll(re)) {
    const target = m[1];
    if (target === undefined) continue;
    if (target === "/dev/null" || target.startsWith("&")) continue;
    return true;
  }
  return false;
}

/** A hit before rendering: the pattern and what it suggests. */
interface RawHit {
  patternId: string;
  sug: Suggestion;
  /** the words the call was built from (CHEAT-9: literal words only) */
  lead?: LeadWords | null;
}

function plain(patternId: string, suggestedTool: string): RawHit {
  return { patternId, sug: { tool: suggestedTool, args: null, notes: [] } };
}

/** CHEAT-4 (4)..(7) with CHEAT-10..17: the hits that carry an exact call. */
function matchTools(c: string): RawHit | null {
  if (DOCKER_WORD.test(c)) {
    const lead = leadWords(c);
    const i = lead ? dockerProgramIndex(lead) : -1;
    if (lead && i >= 0) return { patternId: "docker", sug: dockerSuggestion(lead, i), lead };
  }
  const sc = SYSTEMCTL.exec(c);
  if (sc) {
    const lead = leadWords(c);
    return { patternId: "systemctl", sug: systemctlSuggestion(lead, sc[1]!), lead };
  }
  if (JOURNALCTL.test(c)) {
    const lead = leadWords(c);
    return { patternId: "journalctl", sug: journalctlSuggestion(lead), lead };
  }
  const apt = APT.exec(c) ?? APT_MARK.exec(c);
  if (apt) {
    const lead = leadWords(c);
    return { patternId: "apt-mutation", sug: aptSuggestion(lead, apt[1]!, apt[2]!), lead };
  }
  return null;
}

/** Matches one command (no sudo handling). */
function matchPlain(c: string, ctx: CheatsheetContext): RawHit | null {
  const composite = isComposite(c);
  if (!composite) {
    const rs = READ_SINGLE.exec(c);
    if (rs) {
      const path = rs.groups!.path!;
      return plain(
        "read-single",
        ctx.redactListed(path) ? "ssh_read_redacted" : "ssh_sftp_download",
      );
    }
    if (READ_AMBIGUOUS.test(c)) return plain("read-ambiguous", "ssh_sftp_download");
    if (LIST_SINGLE.test(c)) return plain("list-single", "ssh_sftp_list");
  }
  const tool = matchTools(c);
  if (tool) return tool;
  if (HEREDOC.test(c) || TEE.test(c) || ECHO_REDIRECT.test(c) || PRINTF_REDIRECT.test(c)) {
    return plain("heredoc", "ssh_upload");
  }
  if (!composite) {
    const fo = FILE_OP.exec(c);
    if (fo) {
      const op = fo[1]!;
      const tool = op === "mkdir"
        ? "ssh_mkdir"
        : op === "cp"
        ? "ssh_cp"
        : op === "mv"
        ? "ssh_mv"
        : RECURSIVE_FLAG.test(c)
        ? "ssh_delete_folder"
        : "ssh_delete";
      return plain("single-fileop", tool);
    }
  }
  if (outputRedirect(c)) return plain("output-redirect", "ssh_upload");
  return null;
}

/** The sudo shapes of CHEAT-4 (0), applied to the command after `sudo [opts]`. */
function matchSudo(rest: string, ctx: CheatsheetContext): RawHit | null {
  if (!isComposite(rest)) {
    const rs = READ_SINGLE.exec(rest);
    if (rs) {
      return plain(
        "sudo-read-single",
        ctx.redactListed(rs.groups!.path!) ? "ssh_sudo_read_redacted" : "ssh_sudo_read",
      );
    }
    if (READ_AMBIGUOUS.test(rest)) return plain("sudo-read-single", "ssh_sudo_read");
    if (SUDO_TEE.test(rest) || SUDO_SH_CAT.test(rest)) {
      return plain("sudo-write-single", "ssh_sudo_write");
    }
    if (SUDO_EDITOR.test(rest)) return plain("sudo-edit-single", "ssh_sudo_edit");
    if (LIST_SINGLE.test(rest)) return plain("sudo-list-single", "ssh_sudo_sftp_list");
  } else if (SUDO_SH_CAT.test(rest)) {
    return plain("sudo-write-single", "ssh_sudo_write");
  }
  return null;
}

const FAMILY = /^(\S+)\* family$/;

/** CHEAT-18: the tool (or one tool of the family) is visible. */
function isVisible(tool: string, visible: ReadonlySet<string> | undefined): boolean {
  if (!visible) return true;
  const fam = FAMILY.exec(tool);
  if (!fam) return visible.has(tool);
  for (const t of visible) if (t.startsWith(fam[1]!)) return true;
  return false;
}

/** CHEAT-9 and CHEAT-18: the hit as callers see it. */
function finish(raw: RawHit, ctx: CheatsheetContext): CheatsheetHit | null {
  const { sug, lead } = raw;
  if (!isVisible(sug.tool, ctx.visibleTools)) return null;
  const hit: CheatsheetHit = { patternId: raw.patternId, suggestedTool: sug.tool };
  if (ctx.host === undefined || sug.args === null || !lead?.literal) return hit;
  hit.suggestedCall = renderCall(sug.tool, ctx.host, sug.args);
  const notes = sug.notes.filter((n) =>
    (n.tools ?? []).every((t) => isVisible(t, ctx.visibleTools))
  )
    .map((n) => n.text);
  if (lead.more) {
    notes.push(
      "the call replaces only the first command; the rest of the pipeline or list is not carried over",
    );
  }
  if (notes.length) hit.notes = notes;
  return hit;
}

/** CHEAT-4: first hit wins; null when the command matches no pattern. */
export function matchCheatsheet(command: string, ctx: CheatsheetContext): CheatsheetHit | null {
  const sudo = SUDO_PREFIX.exec(command);
  const raw = sudo
    ? matchSudo(sudo.groups!.rest!, ctx) ?? matchPlain(sudo.groups!.rest!, ctx)
    : matchPlain(command, ctx);
  return raw ? finish(raw, ctx) : null;
}

/** What a message names: the exact call when known, else the tool (or family text). */
function suggested(hit: CheatsheetHit): string {
  return hit.suggestedCall ?? hit.suggestedTool;
}

/** CHEAT-1 refusal text. */
export function refusalMessage(tool: string, hit: CheatsheetHit): string {
  const notes = hit.notes?.length ? ` Notes: ${hit.notes.join("; ")}.` : "";
  return `${tool} refused: command matched cheatsheet pattern '${hit.patternId}'. Use ${
    suggested(hit)
  } instead -- ` +
    `it returns structured, policy-checked results without a shell.${notes} If a shell command is really needed here, ` +
    "the operator can set SSH_EXEC_ALLOW_CHEATSHEET_PATTERNS=true.";
}

/** CHEAT-2 opt-out warning text (output_warnings[0]). */
export function optOutWarning(tool: string, hit: CheatsheetHit): string {
  const notes = hit.notes?.length ? ` (${hit.notes.join("; ")})` : "";
  return `${tool} command matched cheatsheet pattern '${hit.patternId}'; consider ${
    suggested(hit)
  } next time${notes}`;
}
