/**
 * The exec cheatsheet (SECURITY.md §CHEAT): shell commands that duplicate a
 * dedicated tool are refused (default) or answered with a hint, naming the
 * tool to use. It is an ergonomic control, not a boundary (CHEAT-8): the
 * command policy decides everything the patterns miss.
 *
 * Matching order and regular expressions follow CHEAT-4..CHEAT-6 exactly;
 * NEW deviations: `systemctl list-unit-files` suggests the existing
 * `ssh_systemctl_list_units`, and `rm -R` is a recursive delete.
 *
 * @module
 */

/** A hit: pattern id and the tool (or tool family text) to use instead. */
export interface CheatsheetHit {
  patternId: string;
  suggestedTool: string;
}

/** Context for path-aware suggestions (CHEAT-7: raw path text, no remote call). */
export interface CheatsheetContext {
  /** true when a path (as written in the command) matches the host's redact globs */
  redactListed(path: string): boolean;
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
const DOCKER = /^\s*docker(\s|$)/;
const SYSTEMCTL =
  /^\s*systemctl\s+(is-active|is-enabled|is-failed|status|show|cat|list-units|list-unit-files|start|stop|restart|reload|enable|disable|mask|unmask|reset-failed)\b/;
const JOURNALCTL = /^\s*journalctl(\s|$)/;
const APT = /^\s*apt(-get)?\s+(install|upgrade|remove|purge|autoremove)\b/;
const HEREDOC = /<<\s*-?\s*['"]?[A-Za-z_]\w*['"]?/;
const TEE = /\btee\s+\S+/;
const ECHO_REDIRECT = /^\s*echo\s+.*>\s*\S+/;
const PRINTF_REDIRECT = /^\s*printf\s+.*>\s*\S+/;
const FILE_OP = /^\s*(mkdir|cp|mv|rm)\s/;
const RECURSIVE_FLAG = /\s-[A-Za-z]*[rR][A-Za-z]*\b/;
const SUDO_TEE = /^\s*tee(\s+-\S+)*\s+\S+\s*$/;
const SUDO_SH_CAT = /^\s*sh\s+-c\s+['"]\s*cat\s*>\s*\S+/;
const SUDO_EDITOR = /^\s*(vi|vim|nano|emacs|ed)\s+\S+/;

const DOCKER_SUBCOMMANDS: Record<string, string> = {
  ps: "ssh_docker_ps",
  images: "ssh_docker_images",
  inspect: "ssh_docker_inspect",
  logs: "ssh_docker_logs",
  stats: "ssh_docker_stats",
  top: "ssh_docker_top",
  events: "ssh_docker_events",
  volume: "ssh_docker_volumes",
  volumes: "ssh_docker_volumes",
  exec: "ssh_docker_exec",
  run: "ssh_docker_run",
  start: "ssh_docker_start",
  stop: "ssh_docker_stop",
  restart: "ssh_docker_restart",
  kill: "ssh_docker_stop",
  rm: "ssh_docker_rm",
  rmi: "ssh_docker_rmi",
  pull: "ssh_docker_pull",
  prune: "ssh_docker_prune",
  cp: "ssh_docker_cp",
};
const COMPOSE_VERBS = new Set(["up", "down", "pull", "start", "stop", "restart", "ps", "logs"]);

/** CHEAT-6: the docker tool for a docker command line. */
function dockerTool(command: string): string {
  const words = command.trim().split(/\s+/);
  const sub = words[1];
  if (sub === "compose") {
    const verb = words[2];
    return verb && COMPOSE_VERBS.has(verb)
      ? `ssh_docker_compose_${verb}`
      : "ssh_docker_compose_* family";
  }
  return (sub && Object.hasOwn(DOCKER_SUBCOMMANDS, sub) ? DOCKER_SUBCOMMANDS[sub] : undefined) ??
    "ssh_docker_* family";
}

/** CHEAT-10 output redirect: a `>` not after `&`, a digit or `>`, not before `>`, target not /dev/null. */
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

/** Matches one command (no sudo handling). */
function matchPlain(c: string, ctx: CheatsheetContext): CheatsheetHit | null {
  const composite = isComposite(c);
  if (!composite) {
    const rs = READ_SINGLE.exec(c);
    if (rs) {
      const path = rs.groups!.path!;
      return {
        patternId: "read-single",
        suggestedTool: ctx.redactListed(path) ? "ssh_read_redacted" : "ssh_sftp_download",
      };
    }
    if (READ_AMBIGUOUS.test(c)) {
      return { patternId: "read-ambiguous", suggestedTool: "ssh_sftp_download" };
    }
    if (LIST_SINGLE.test(c)) return { patternId: "list-single", suggestedTool: "ssh_sftp_list" };
  }
  if (DOCKER.test(c)) return { patternId: "docker", suggestedTool: dockerTool(c) };
  const sc = SYSTEMCTL.exec(c);
  if (sc) {
    const verb = sc[1]!;
    return {
      patternId: "systemctl",
      suggestedTool: verb === "list-unit-files"
        ? "ssh_systemctl_list_units"
        : `ssh_systemctl_${verb.replaceAll("-", "_")}`,
    };
  }
  if (JOURNALCTL.test(c)) return { patternId: "journalctl", suggestedTool: "ssh_journalctl" };
  const apt = APT.exec(c);
  if (apt) {
    const verb = apt[2]!;
    const tool = verb === "purge" ? "remove" : verb;
    return { patternId: "apt-mutation", suggestedTool: `ssh_apt_${tool}` };
  }
  if (HEREDOC.test(c) || TEE.test(c) || ECHO_REDIRECT.test(c) || PRINTF_REDIRECT.test(c)) {
    return { patternId: "heredoc", suggestedTool: "ssh_upload" };
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
      return { patternId: "single-fileop", suggestedTool: tool };
    }
  }
  if (outputRedirect(c)) return { patternId: "output-redirect", suggestedTool: "ssh_upload" };
  return null;
}

/** The sudo shapes of CHEAT-4 (0), applied to the command after `sudo [opts]`. */
function matchSudo(rest: string, ctx: CheatsheetContext): CheatsheetHit | null {
  if (!isComposite(rest)) {
    const rs = READ_SINGLE.exec(rest);
    if (rs) {
      return {
        patternId: "sudo-read-single",
        suggestedTool: ctx.redactListed(rs.groups!.path!)
          ? "ssh_sudo_read_redacted"
          : "ssh_sudo_read",
      };
    }
    if (READ_AMBIGUOUS.test(rest)) {
      return { patternId: "sudo-read-single", suggestedTool: "ssh_sudo_read" };
    }
    if (SUDO_TEE.test(rest) || SUDO_SH_CAT.test(rest)) {
      return { patternId: "sudo-write-single", suggestedTool: "ssh_sudo_write" };
    }
    if (SUDO_EDITOR.test(rest)) {
      return { patternId: "sudo-edit-single", suggestedTool: "ssh_sudo_edit" };
    }
    if (LIST_SINGLE.test(rest)) {
      return { patternId: "sudo-list-single", suggestedTool: "ssh_sudo_sftp_list" };
    }
  } else if (SUDO_SH_CAT.test(rest)) {
    return { patternId: "sudo-write-single", suggestedTool: "ssh_sudo_write" };
  }
  return null;
}

/** CHEAT-4: first hit wins; null when the command matches no pattern. */
export function matchCheatsheet(command: string, ctx: CheatsheetContext): CheatsheetHit | null {
  const sudo = SUDO_PREFIX.exec(command);
  if (sudo) {
    const rest = sudo.groups!.rest!;
    return matchSudo(rest, ctx) ?? matchPlain(rest, ctx);
  }
  return matchPlain(command, ctx);
}

/** CHEAT-1 refusal text. */
export function refusalMessage(tool: string, hit: CheatsheetHit): string {
  return `${tool} refused: command matched cheatsheet pattern '${hit.patternId}'. Use ${hit.suggestedTool} instead -- ` +
    "it returns structured, policy-checked results without a shell. If a shell command is really needed here, " +
    "the operator can set SSH_EXEC_ALLOW_CHEATSHEET_PATTERNS=true.";
}

/** CHEAT-2 opt-out warning text (output_warnings[0]). */
export function optOutWarning(tool: string, hit: CheatsheetHit): string {
  return `${tool} command matched cheatsheet pattern '${hit.patternId}'; consider ${hit.suggestedTool} next time`;
}
