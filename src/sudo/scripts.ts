/**
 * The shell scripts the sudo path tools run as root, and the parsers of
 * their output (TOOLS.md §9, SECURITY.md SUDO-8..10).
 *
 * Every script starts with the SUDO-8 re-check: the raw path is canonicalized
 * again inside the elevated shell and must equal the canonical path that the
 * path policy admitted a moment earlier; otherwise the script stops with
 * {@link CODE_PATH_CHANGED} before touching anything. All values are shell
 * variable assignments of quoted strings at the top (never positional
 * arguments, never interpolated into the body).
 *
 * Write stages (SUDO-9) exit with 1..5 (mktemp, cat>tmp, chmod, chown, mv);
 * every stage after mktemp removes the temp file first, and so does a
 * signal (cancellation, AC-039). Pre-checks use
 * 90..95 so they never collide with a stage.
 *
 * @module
 */

import { nested, raw, sh, type ShellCommand } from "../checked.ts";

/** SUDO-8: the path resolves differently now (swapped symlink, removed file). */
export const CODE_PATH_CHANGED = 90;
/** The path exists but is not a regular file. */
export const CODE_NOT_REGULAR = 91;
/** `stat`/`sha256sum` of the existing file failed. */
export const CODE_STAT_FAILED = 92;
/** The file is larger than the cap. */
export const CODE_OVER_CAP = 93;
/** The existing file has setuid/setgid/sticky bits and no explicit mode was given. */
export const CODE_SPECIAL_BITS = 94;
/** The file changed between read and write (`ssh_sudo_edit`). */
export const CODE_CHANGED_SINCE_READ = 95;

/** SUDO-9 stage names by exit code. */
export const WRITE_STAGES: Readonly<Record<number, string>> = {
  1: "mktemp",
  2: "cat>tmp",
  3: "chmod",
  4: "chown",
  5: "mv",
};

/** Human text of a pre-check code, or null for other codes. */
export function preCheckText(code: number): string | null {
  switch (code) {
    case CODE_PATH_CHANGED:
      return "path changed during operation";
    case CODE_NOT_REGULAR:
      return "not a regular file";
    case CODE_STAT_FAILED:
      return "stat failed";
    case CODE_OVER_CAP:
      return "file is larger than the size cap";
    case CODE_SPECIAL_BITS:
      return "the existing file has setuid/setgid/sticky bits; pass mode explicitly";
    case CODE_CHANGED_SINCE_READ:
      return "the file changed while it was being edited";
    default:
      return null;
  }
}

/** Stage name for a write-script exit code (`unknown(exit=N)` otherwise). */
export function writeStage(code: number): string {
  return WRITE_STAGES[code] ?? preCheckText(code) ?? `unknown(exit=${code})`;
}

function recheck(resolve: "-e" | "-m"): ShellCommand {
  return sh`p=$(realpath ${
    raw(resolve)
  } -- "$raw") && [ "$p" = "$expect" ] || exit ${CODE_PATH_CHANGED}`;
}

/**
 * `cat` of a regular file after the re-check; files larger than `cap` bytes
 * stop with {@link CODE_OVER_CAP} before any byte is sent.
 */
export function readScript(raw: string, expect: string, cap: number): ShellCommand {
  return sh`raw=${raw}; expect=${expect}; cap=${cap}
${nested(recheck("-e"))}
[ -f "$p" ] || exit ${CODE_NOT_REGULAR}
sz=$(stat -c %s -- "$p") || exit ${CODE_STAT_FAILED}
[ "$sz" -le "$cap" ] || exit ${CODE_OVER_CAP}
exec cat -- "$p"`;
}

/** `ls -la --time-style=full-iso` after the re-check (`ssh_sudo_sftp_list`). */
export function listScript(raw: string, expect: string): ShellCommand {
  return sh`raw=${raw}; expect=${expect}
${nested(recheck("-e"))}
exec ls -la --time-style=full-iso -- "$p"`;
}

/** Options of {@link writeScript}. */
export interface WriteScriptOptions {
  raw: string;
  expect: string;
  /** 4-digit octal (`0600`); null = keep the existing file's mode (0644 for a new file) */
  mode: string | null;
  /** user name or numeric id; null = keep the existing owner (root for a new file) */
  user: string | null;
  group: string | null;
  /** ALLOW_SPECIAL_MODE_BITS: an inherited mode may keep setuid/setgid/sticky bits */
  allowSpecial: boolean;
  /** `ssh_sudo_edit`: sha256 of the content that was read; the file must still have it */
  expectSha256?: string;
  /** payload length: a short stdin (never sent, cut off) fails stage cat>tmp instead of truncating */
  size: number;
}

/**
 * The SUDO-9 atomic write, with the SUDO-8 re-check and the SUDO-10 owner /
 * mode inheritance done in the same root shell. Prints one line after the
 * rename: `<existed 0|1> <uid>:<gid> <mode> <user name>:<group name>`
 * (nothing reaches stdout before the payload is read). The payload is read
 * from stdin by `cat > "$t"`.
 */
export function writeScript(o: WriteScriptOptions): ShellCommand {
  const sha = o.expectSha256 ?? "";
  return sh`raw=${o.raw}; expect=${o.expect}; mode=${o.mode ?? ""}; ouser=${o.user ?? ""}; ogroup=${
    o.group ?? ""
  }; special=${o.allowSpecial ? "1" : "0"}; sha=${sha}; size=${o.size}
${nested(recheck("-m"))}
dest=$p
existed=0
if [ -e "$dest" ] || [ -L "$dest" ]; then
  [ -f "$dest" ] || exit ${CODE_NOT_REGULAR}
  existed=1
  cur=$(stat -c '%u %g %a' -- "$dest") || exit ${CODE_STAT_FAILED}
  set -- $cur
  [ -n "$ouser" ] || ouser=$1
  [ -n "$ogroup" ] || ogroup=$2
  if [ -z "$mode" ]; then
    mode=$3
    case $mode in [1-7][0-7][0-7][0-7]) [ "$special" = 1 ] || exit ${CODE_SPECIAL_BITS} ;; esac
  fi
  if [ -n "$sha" ]; then
    h=$(sha256sum < "$dest") || exit ${CODE_STAT_FAILED}
    [ "\${h%% *}" = "$sha" ] || exit ${CODE_CHANGED_SINCE_READ}
  fi
else
  [ -z "$sha" ] || exit ${CODE_PATH_CHANGED}
  [ -n "$ouser" ] || ouser=0
  [ -n "$ogroup" ] || ogroup=0
  [ -n "$mode" ] || mode=644
fi
umask 077
t=$(mktemp -p "$(dirname "$dest")" .ssh-mcp-tmp.XXXXXXXX) || exit 1
trap 'rm -f "$t"; exit 2' HUP INT TERM PIPE
cat > "$t" && [ "$(wc -c < "$t")" -eq "$size" ] || { rm -f "$t"; exit 2; }
chmod "$mode" "$t" || { rm -f "$t"; exit 3; }
chown "$ouser:$ogroup" "$t" || { rm -f "$t"; exit 4; }
mv -- "$t" "$dest" || { rm -f "$t"; exit 5; }
names=$(id -nu -- "$ouser" 2>/dev/null || printf '%s' "$ouser"):$(getent group -- "$ogroup" 2>/dev/null | cut -d: -f1 | grep . || printf '%s' "$ogroup")
printf '%s %s:%s %s %s\\n' "$existed" "$ouser" "$ogroup" "$mode" "$names"`;
}

/** What the write script reported about the target before writing. */
export interface WriteInfo {
  existed: boolean;
  /** numeric `uid:gid` */
  ids: string;
  /** octal mode as `stat %a` prints it (or as given) */
  mode: string;
  /** `user:group` names (numeric when unknown) */
  owner: string;
}

/** Parses the info line of {@link writeScript}. */
export function parseWriteInfo(stdout: string): WriteInfo | null {
  const m = /^([01]) (\S+) ([0-7]{1,4}) (\S+)$/m.exec(stdout);
  if (!m) return null;
  return { existed: m[1] === "1", ids: m[2]!, mode: m[3]!, owner: m[4]! };
}

/** One `ls -la` row (TOOLS.md §2.2 SftpEntry). */
export interface LsEntry {
  name: string;
  kind: "file" | "dir" | "symlink" | "other";
  size: number;
  mode: string;
  mtime: string;
  symlink_target: string | null;
}

const LS_ROW = new RegExp(
  "^([-dlcbpsDLCBPS])([rwxstST-]{9})[+.@]?\\s+\\d+\\s+\\S+\\s+\\S+\\s+(\\d+)\\s+" +
    "(\\d{4}-\\d{2}-\\d{2}) (\\d{2}:\\d{2}:\\d{2}(?:\\.\\d+)?)(?: ([+-]\\d{4}))? (.+)$",
);

/** Mode from the nine rwx letters (s/t count as x; special bits are lost). */
function modeFromLetters(letters: string): string {
  let m = 0;
  for (let i = 0; i < 9; i++) {
    const c = letters[i]!;
    if (c !== "-" && c !== "S" && c !== "T") m |= 1 << (8 - i);
  }
  return m.toString(8).padStart(4, "0");
}

/**
 * Parses `ls -la --time-style=full-iso` output: `total` lines, `.`/`..` and
 * unparsable rows (BusyBox, device files) are skipped (AC-621); sorted by name.
 */
export function parseLsLa(text: string): LsEntry[] {
  const out: LsEntry[] = [];
  for (const line of text.split("\n")) {
    const m = LS_ROW.exec(line.replace(/\r$/, ""));
    if (!m) continue;
    const t = m[1]!;
    const kind = t === "d" || t === "D"
      ? "dir"
      : t === "l" || t === "L"
      ? "symlink"
      : t === "-"
      ? "file"
      : "other";
    let name = m[7]!;
    let target: string | null = null;
    if (kind === "symlink") {
      const i = name.indexOf(" -> ");
      if (i >= 0) {
        target = name.slice(i + 4);
        name = name.slice(0, i);
      }
    }
    if (name === "." || name === "..") continue;
    const tz = m[6] ? `${m[6].slice(0, 3)}:${m[6].slice(3)}` : "";
    out.push({
      name,
      kind,
      size: Number(m[3]),
      mode: modeFromLetters(m[2]!),
      mtime: `${m[4]}T${m[5]}${tz}`,
      symlink_target: target,
    });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
