/**
 * The shell side of `pinned.ts`: the functions every pinned script starts
 * with, the capability probe, and the parsers of what the scripts print.
 * Internal to the ssh layer.
 *
 * @module
 */

import { type EntryKind, SFTP_STATUS } from "./sftp_channel.ts";

/**
 * Shell functions every pinned script starts with: `pin DIR` makes the
 * checked directory the working directory or exits 96/97; `pin2 DIR` pins a
 * second checked directory as descriptor 4 and sets `D` to the prefix that
 * reaches it without resolving its path again (`.` when it is the first).
 */
export const PROLOGUE: string = [
  "pin() {",
  '  [ -d "$1" ] || { printf "ssh-mcp-pin: %s does not exist\\n" "$1" >&2; exit 96; }',
  '  cd -P "$1" 2>/dev/null || { printf "ssh-mcp-pin: %s cannot be entered\\n" "$1" >&2; exit 97; }',
  "  h=$(pwd -P) || exit 97",
  '  [ "$h" = "$1" ] || { printf "ssh-mcp-pin: %s now resolves to %s\\n" "$1" "$h" >&2; exit 97; }',
  "}",
  "pin2() {",
  '  if [ "$1" = "$h" ]; then D=.; return 0; fi',
  '  [ -d "$1" ] || { printf "ssh-mcp-pin: %s does not exist\\n" "$1" >&2; exit 96; }',
  '  { command exec 4<"$1"; } 2>/dev/null || { printf "ssh-mcp-pin: %s cannot be opened\\n" "$1" >&2; exit 97; }',
  "  h2=$(readlink /proc/self/fd/4) || exit 97",
  '  [ "$h2" = "$1" ] || { printf "ssh-mcp-pin: %s now resolves to %s\\n" "$1" "$h2" >&2; exit 97; }',
  "  D=/proc/self/fd/4",
  "}",
  "",
].join("\n");

/** sha256 of `abc` as `openssl dgst -sha256 -r` prints it (the probe's known answer). */
export const OPENSSL_ABC =
  "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad *stdin";

/**
 * The capability probe: `/proc/self/fd` traversal, GNU coreutils and
 * findutils, and an `openssl` whose sha256 gives the known answer (it hashes
 * 2-3x faster than coreutils' `sha256sum` where coreutils is built without
 * OpenSSL, as Debian's is).
 */
export const PROBE: string = [
  "p=0; g=0; o=0",
  '{ command exec 4</; } 2>/dev/null && [ "$(readlink /proc/self/fd/4 2>/dev/null)" = / ] && [ -d /proc/self/fd/4/. ] && p=1',
  'case "$(mv --version 2>/dev/null)" in *"GNU coreutils"*)',
  '  [ "$(stat -c %F / 2>/dev/null)" = directory ] &&',
  "  [ \"$(find / -maxdepth 0 -printf '%y' 2>/dev/null)\" = d ] &&",
  "  [ \"$(printf 'a\\0b\\0' | head -z -n 1 | tr '\\0' x)\" = ax ] && g=1;;",
  "esac",
  `[ "$(printf abc | openssl dgst -sha256 -r 2>/dev/null)" = "${OPENSSL_ABC}" ] && o=1`,
  'echo "ssh-mcp-caps p=$p g=$g o=$o"',
].join("\n");

/** What the host offers (probed once per connection). */
export interface PinCaps {
  /** `/proc/self/fd/N` names and traverses open directories */
  proc: boolean;
  /** GNU coreutils and findutils (`mv -T`, `stat -c`, `find -printf`, `head -z`) */
  gnu: boolean;
  /** `openssl dgst -sha256 -r` gives the known answer (the faster sha256) */
  openssl: boolean;
}

/**
 * The capabilities in the probe's output, or null when its `ssh-mcp-caps`
 * line is missing (`gnu` decides elsewhere whether the host is hardened).
 */
export function parseCaps(stdout: string): PinCaps | null {
  const m = /ssh-mcp-caps p=([01]) g=([01]) o=([01])/.exec(stdout);
  return m ? { proc: m[1] === "1", gnu: m[2] === "1", openssl: m[3] === "1" } : null;
}

/** A pinned script: the shared functions, then `body`. */
export function script(body: string): string {
  return PROLOGUE + body;
}

/** `<dir>` and `<leaf>` of an absolute POSIX path (`/` has no leaf). */
export function splitPath(p: string): { dir: string; leaf: string } {
  const cut = p.lastIndexOf("/");
  if (cut < 0) throw new Error(`not an absolute path: ${p}`);
  const dir = cut === 0 ? "/" : p.slice(0, cut);
  return { dir, leaf: p.slice(cut + 1) };
}

/** The entry kind of GNU `stat -c %F` text. */
export function kindFromStat(text: string): EntryKind {
  if (text.startsWith("regular")) return "file";
  if (text === "directory") return "dir";
  if (text === "symbolic link") return "symlink";
  return "other";
}

/** The entry kind of a GNU `find -printf %y` letter. */
export function kindFromFind(y: string): EntryKind {
  return y === "f" ? "file" : y === "d" ? "dir" : y === "l" ? "symlink" : "other";
}

/** An SFTP-like status for a failed shell operation, from its stderr. */
export function statusOf(stderr: string): number {
  if (/No such file or directory/.test(stderr)) return SFTP_STATUS.NO_SUCH_FILE;
  if (/Permission denied|Operation not permitted|Read-only file system/.test(stderr)) {
    return SFTP_STATUS.PERMISSION_DENIED;
  }
  return SFTP_STATUS.FAILURE;
}

/** The last lines of a failed script's stderr (pin notices dropped), bounded. */
export function lastLines(s: string): string {
  return s.trim().split("\n").filter((l) => !l.startsWith("ssh-mcp-pin:")).slice(-3).join(" ")
    .slice(0, 500);
}
