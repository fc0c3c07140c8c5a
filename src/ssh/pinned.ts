/**
 * Directory-pinned file operations on POSIX hosts (SECURITY.md PATH-50..
 * PATH-56): the race defence of the file tools.
 *
 * A path the policy checked can be swapped for a symbolic link by another
 * process on the host before the operation runs (a shared directory, a
 * hostile local user). SFTP has no directory handles (no `openat`), so every
 * path-based request re-resolves the whole path. Here each operation runs as
 * one `/bin/sh` script that first pins the checked parent directory as its
 * working directory (`cd -P`, then `pwd -P` must equal the checked path) and
 * a second checked directory, when there is one, as file descriptor 4
 * (opened, then `/proc/self/fd/4` must name the checked path); the operation
 * itself then names only `./<leaf>` and `/proc/self/fd/4/<leaf>`, so no
 * ancestor is resolved again. A leaf that became a link is never followed:
 * `mv -T`, `ln -T`, `rm`, `rmdir`, `mkdir` act on the directory entry, `stat`
 * does not follow, reads open a descriptor and check its `/proc` name first.
 *
 * Needs GNU coreutils (`-T`, `stat -c`, `find -printf`, `head -z`) and, for
 * operations on two directories and for descriptor checks, `/proc/self/fd`.
 * {@link PinnedShell.open} probes a connection once; hosts without these
 * (BusyBox, BSD, macOS, non-POSIX login shells, SFTP-only accounts) get
 * `null`, and `fs.ts` falls back to path-based SFTP with the PATH-30
 * re-checks (a documented, wider residual window).
 *
 * @module
 */

import { sh, type ShellCommand } from "../checked.ts";
import { ToolError } from "../errors.ts";
import type { Connection } from "./connection.ts";
import type { ExecOptions, RawExecResult } from "./exec.ts";
import {
  kindFromFind,
  kindFromStat,
  lastLines,
  parseCaps,
  type PinCaps,
  PROBE,
  script,
  splitPath,
  statusOf,
} from "./pinned_sh.ts";
import { type EntryKind, SFTP_STATUS, SftpError } from "./sftp_channel.ts";

export { type PinCaps, splitPath };

/** Runs a command on the connection's host (with the call's limits and signal). */
export type PinExec = (cmd: ShellCommand, opts?: Partial<ExecOptions>) => Promise<RawExecResult>;

/** Exit status of a script whose pinned directory moved (the race was detected). */
export const PIN_MOVED = 97;
/** Exit status of a script whose pinned directory does not exist. */
export const PIN_MISSING = 96;
/** Exit status: the destination exists (no-replace operations). */
export const PIN_EXISTS = 93;

/** Attributes of a directory entry read without following it. */
export interface PinnedStat {
  kind: EntryKind;
  size: number;
  mtime: number;
  uid: number;
  gid: number;
  perm: number;
  /** full st_mode (type bits included) */
  mode: number;
  atime: number;
}

/** One entry of {@link PinnedShell.list}. */
export interface PinnedListEntry {
  name: string;
  stat: PinnedStat;
  /** a symbolic link's text */
  link: string | null;
}

/** File-type bits of `find -printf %y` letters. */
const TYPE_BITS: Record<string, number> = {
  f: 0o100000,
  d: 0o040000,
  l: 0o120000,
  p: 0o010000,
  s: 0o140000,
  c: 0o020000,
  b: 0o060000,
};

/** The checked path moved between the policy check and the operation. */
export class PathMovedError extends Error {
  readonly path: string;
  readonly detail: string;
  constructor(path: string, detail: string) {
    super(`${path} changed since it was checked (${detail})`);
    this.name = "PathMovedError";
    this.path = path;
    this.detail = detail;
  }
}

const CAPS = new WeakMap<Connection, Promise<PinCaps | null>>();

/** One walked entry (see {@link PinnedShell.walk}). */
export interface PinnedWalkEntry {
  rel: string;
  kind: EntryKind;
  link: string | null;
}

/** Directory-pinned operations of one host (see module docs). */
export class PinnedShell {
  readonly caps: PinCaps;
  readonly #exec: PinExec;

  private constructor(caps: PinCaps, exec: PinExec) {
    this.caps = caps;
    this.#exec = exec;
  }

  /**
   * The pinned operations of `conn`'s host, or null when the host lacks what
   * they need (probed once per connection; see module docs).
   */
  static async open(conn: Connection, exec: PinExec): Promise<PinnedShell | null> {
    if (conn.target.policy.platform !== "posix" || !(await conn.knowShell())) return null;
    let p = CAPS.get(conn);
    if (!p) {
      p = exec(sh`/bin/sh -c ${PROBE} ssh-mcp-probe`, { timeoutMs: 15_000 }).then((r) => {
        const caps = r.exitCode === 0 ? parseCaps(r.stdout) : null;
        if (caps) return caps.gnu ? caps : null;
        if (r.exitCode === 126 || r.exitCode === 127) return null; // no /bin/sh: a definite no
        // never fall back to the weaker path-based mode because of a transient failure
        throw new ToolError(
          "ConnectError",
          `Could not probe the file tools' race defence on ${conn.target.policy.alias} (${
            r.timedOut ? "timed out" : r.cancelled ? "cancelled" : `exit ${r.exitCode}`
          }); nothing was changed. Retry the call.`,
        );
      });
      CAPS.set(conn, p);
      // a transient failure is retried by the next call
      p.catch(() => CAPS.delete(conn));
    }
    const caps = await p;
    return caps ? new PinnedShell(caps, exec) : null;
  }

  /** True when operations on two different directories can be pinned. */
  get twoDirs(): boolean {
    return this.caps.proc;
  }

  async #run(
    op: string,
    path: string,
    body: string,
    args: (string | number)[],
    opts: Partial<ExecOptions> = {},
  ): Promise<RawExecResult> {
    const r = await this.#exec(
      sh`/bin/sh -c ${script(body)} ${`ssh-mcp-${op}`} ${args.map(String)}`,
      opts,
    );
    if (r.cancelled) throw new SftpError(op, path, null, "the request was cancelled");
    if (r.timedOut) {
      throw new SftpError(op, path, SFTP_STATUS.FAILURE, "the operation timed out on the host");
    }
    if (r.exitCode === PIN_MOVED) {
      const m = /ssh-mcp-pin: .* now resolves to (.*)$/m.exec(r.stderr);
      throw new PathMovedError(
        path,
        m ? `its directory now resolves to ${m[1]}` : "its directory cannot be entered any more",
      );
    }
    if (r.exitCode === PIN_MISSING) {
      throw new SftpError(op, path, SFTP_STATUS.NO_SUCH_FILE, "No such file (directory missing)");
    }
    if (r.exitCode === -1) {
      throw new SftpError(op, path, null, "the connection was lost");
    }
    return r;
  }

  #fail(op: string, path: string, r: RawExecResult, what?: string): never {
    const text = lastLines(r.stderr) || `exit ${r.exitCode}`;
    throw new SftpError(op, path, statusOf(r.stderr), what ? `${what}: ${text}` : text);
  }

  /** `lstat` of `path` from its pinned directory; null when it does not exist. */
  async lstat(path: string, signal?: AbortSignal): Promise<PinnedStat | null> {
    const { dir, leaf } = splitPath(path);
    const r = await this.#run(
      "lstat",
      path,
      `pin "$1"; [ -e "./$2" ] || [ -L "./$2" ] || { echo MISSING; exit 0; }\n` +
        `exec stat -c '%F|%s|%Y|%u|%g|%a|%f|%X' -- "./$2"`,
      [dir, leaf || "."],
      { signal },
    );
    if (r.exitCode !== 0) this.#fail("lstat", path, r);
    const line = r.stdout.trim();
    if (line === "MISSING") return null;
    const f = line.split("|");
    if (f.length !== 8) this.#fail("lstat", path, r, `unexpected stat output ${line.slice(0, 80)}`);
    return {
      kind: kindFromStat(f[0]!),
      size: Number(f[1]),
      mtime: Number(f[2]),
      uid: Number(f[3]),
      gid: Number(f[4]),
      perm: parseInt(f[5]!, 8),
      mode: parseInt(f[6]!, 16),
      atime: Number(f[7]),
    };
  }

  /**
   * The entries of the directory `dir` read from inside it (pinned): name,
   * attributes and link text, without following links (PATH-51: a swapped
   * directory is never listed).
   */
  async list(dir: string, signal?: AbortSignal): Promise<PinnedListEntry[]> {
    const r = await this.find(dir, [
      "-mindepth",
      "1",
      "-maxdepth",
      "1",
      "-printf",
      "%y\\0%s\\0%m\\0%T@\\0%A@\\0%U\\0%G\\0%l\\0%P\\0",
    ], { signal, stdoutCap: 64 * 1024 * 1024 });
    if (r.exitCode !== 0 || r.stdoutTruncated) this.#fail("readdir", dir, r);
    const f = new TextDecoder().decode(r.stdoutRaw).split("\0");
    f.pop();
    const out: PinnedListEntry[] = [];
    for (let i = 0; i + 8 < f.length; i += 9) {
      const kind = kindFromFind(f[i]!);
      const perm = parseInt(f[i + 2]!, 8);
      out.push({
        name: f[i + 8]!,
        link: kind === "symlink" ? f[i + 7]! : null,
        stat: {
          kind,
          size: Number(f[i + 1]),
          perm,
          mode: (TYPE_BITS[f[i]!] ?? 0) | perm,
          mtime: Math.floor(Number(f[i + 3])),
          atime: Math.floor(Number(f[i + 4])),
          uid: Number(f[i + 5]),
          gid: Number(f[i + 6]),
        },
      });
    }
    return out;
  }

  /** `mkdir` of `path` with `mode` (minus the host's umask, like SFTP). */
  async mkdir(path: string, mode: number, signal?: AbortSignal): Promise<void> {
    const { dir, leaf } = splitPath(path);
    const r = await this.#run(
      "mkdir",
      path,
      `pin "$1"; m=$(umask); exec mkdir -m "$(printf '%o' $(( $3 & ~0$m )))" -- "./$2"`,
      [dir, leaf, mode & 0o7777],
      { signal },
    );
    if (r.exitCode !== 0) this.#fail("mkdir", path, r);
  }

  /** Removes a file or link (never a directory). */
  async unlink(path: string, signal?: AbortSignal): Promise<void> {
    const { dir, leaf } = splitPath(path);
    const r = await this.#run(
      "remove",
      path,
      `pin "$1"\nif [ -d "./$2" ] && [ ! -L "./$2" ]; then echo "rm: ./$2: Is a directory" >&2; exit 1; fi\nexec rm -- "./$2"`,
      [dir, leaf],
      { signal },
    );
    if (r.exitCode !== 0) this.#fail("remove", path, r);
  }

  /** Removes an empty directory. */
  async rmdir(path: string, signal?: AbortSignal): Promise<void> {
    const { dir, leaf } = splitPath(path);
    const r = await this.#run("rmdir", path, `pin "$1"; exec rmdir -- "./$2"`, [dir, leaf], {
      signal,
    });
    if (r.exitCode !== 0) this.#fail("rmdir", path, r);
  }

  /** `rm -rf` of `path` (never follows links; the parent is pinned). */
  async removeTree(path: string, signal?: AbortSignal): Promise<void> {
    const { dir, leaf } = splitPath(path);
    const r = await this.#run("rm -rf", path, `pin "$1"; exec rm -rf -- "./$2"`, [dir, leaf], {
      signal,
    });
    if (r.exitCode !== 0) this.#fail("rm -rf", path, r);
  }

  /** A symbolic link at `link` whose text is `target` (never inside an existing directory). */
  async symlink(target: string, link: string, signal?: AbortSignal): Promise<void> {
    const { dir, leaf } = splitPath(link);
    const r = await this.#run(
      "symlink",
      link,
      `pin "$1"; exec ln -sT -- "$3" "./$2"`,
      [dir, leaf, target],
      { signal },
    );
    if (r.exitCode !== 0) this.#fail("symlink", link, r);
  }

  /** The two-directory prefix of a script, or a refusal when `/proc` is missing. */
  #assertTwo(from: string, to: string): void {
    if (splitPath(from).dir !== splitPath(to).dir && !this.caps.proc) {
      throw new Error("two-directory operation without /proc/self/fd");
    }
  }

  /**
   * `rename(2)` of `from` onto `to` (replacing a file or an empty directory,
   * never moving into a directory); across filesystems GNU `mv` copies and
   * removes. Returns whether it was a rename or a copy.
   */
  async rename(from: string, to: string, signal?: AbortSignal): Promise<"rename" | "copy"> {
    this.#assertTwo(from, to);
    const a = splitPath(from);
    const b = splitPath(to);
    const r = await this.#run(
      "rename",
      to,
      `pin "$1"; pin2 "$3"\n` +
        `if [ "$(stat -c %d -- "./$2")" = "$(stat -L -c %d -- "$D")" ]; then echo same; else echo xdev; fi\n` +
        `exec mv -fT -- "./$2" "$D/$4"`,
      [a.dir, a.leaf, b.dir, b.leaf],
      { signal },
    );
    if (r.exitCode !== 0) this.#fail("rename", to, r);
    return r.stdout.startsWith("xdev") ? "copy" : "rename";
  }

  /** Moves the file `from` to `to` only when `to` does not exist (link + unlink, atomic). */
  async renameNoReplace(from: string, to: string, signal?: AbortSignal): Promise<void> {
    this.#assertTwo(from, to);
    const a = splitPath(from);
    const b = splitPath(to);
    const r = await this.#run(
      "rename",
      to,
      `pin "$1"; pin2 "$3"\n` +
        `if ! ln -PT -- "./$2" "$D/$4" 2>/dev/null; then\n` +
        `  if [ -e "$D/$4" ] || [ -L "$D/$4" ]; then echo "File exists" >&2; exit ${PIN_EXISTS}; fi\n` +
        `  ln -PT -- "./$2" "$D/$4" || exit 1\n` +
        `fi\n` +
        `exec rm -f -- "./$2"`,
      [a.dir, a.leaf, b.dir, b.leaf],
      { signal },
    );
    if (r.exitCode !== 0) this.#fail("rename", to, r);
  }

  /** A hard link `to` of `from` (a link `from` is linked itself). */
  async hardlink(from: string, to: string, signal?: AbortSignal): Promise<void> {
    this.#assertTwo(from, to);
    const a = splitPath(from);
    const b = splitPath(to);
    const r = await this.#run(
      "hardlink",
      to,
      `pin "$1"; pin2 "$3"; exec ln -PT -- "./$2" "$D/$4"`,
      [a.dir, a.leaf, b.dir, b.leaf],
      { signal },
    );
    if (r.exitCode !== 0) this.#fail("hardlink", to, r);
  }

  /**
   * `cp -a` of `src` into a fresh directory `<dst dir>/<tmp>` (mode 0700,
   * created here, so nothing planted can be in it); the copy is
   * `<dst dir>/<tmp>/x`. {@link commitCopy} renames it into place.
   */
  async stageCopy(src: string, dstDir: string, tmp: string, signal?: AbortSignal): Promise<void> {
    if (splitPath(src).dir !== dstDir && !this.caps.proc) {
      throw new Error("two-directory operation without /proc/self/fd");
    }
    const a = splitPath(src);
    const r = await this.#run(
      "cp -a",
      src,
      `pin "$1"; pin2 "$3"\n` +
        `mkdir -m 700 -- "$D/$4" || exit 1\n` +
        `cp -a -- "./$2" "$D/$4/x" || { rc=$?; rm -rf -- "$D/$4"; exit $rc; }`,
      [a.dir, a.leaf, dstDir, tmp],
      { signal },
    );
    if (r.exitCode !== 0) this.#fail("cp -a", src, r);
  }

  /** Renames a staged copy onto `<dir>/<name>` (`replace`: over an existing file) and removes the stage. */
  async commitCopy(
    dir: string,
    tmp: string,
    name: string,
    replace: boolean,
    signal?: AbortSignal,
  ): Promise<void> {
    const r = await this.#run(
      "rename",
      `${dir}/${name}`,
      `pin "$1"\n` +
        `[ -d "./$2" ] && [ ! -L "./$2" ] || { echo "the staged copy ./$2 is gone" >&2; exit 1; }\n` +
        `if [ "$4" = replace ]; then mv -fT -- "./$2/x" "./$3" || exit 1\n` +
        `else mv -nT -- "./$2/x" "./$3" 2>/dev/null\n` +
        `  if [ -e "./$2/x" ] || [ -L "./$2/x" ]; then echo "File exists" >&2; exit ${PIN_EXISTS}; fi\n` +
        `fi\n` +
        `exec rmdir -- "./$2"`,
      [dir, tmp, name, replace ? "replace" : "new"],
      { signal },
    );
    if (r.exitCode !== 0) this.#fail("rename", `${dir}/${name}`, r);
  }

  /** Removes a staged directory; never cancelled by the call (cleanup after a cancel). */
  async discard(dir: string, tmp: string): Promise<void> {
    const r = await this.#run("rm -rf", `${dir}/${tmp}`, `pin "$1"; exec rm -rf -- "./$2"`, [
      dir,
      tmp,
    ], { signal: new AbortController().signal });
    if (r.exitCode !== 0) this.#fail("rm -rf", `${dir}/${tmp}`, r);
  }

  /**
   * `<alg>sum` of the file `path` (of its first `prefix` bytes when given),
   * read through a descriptor whose `/proc` name must be `path` (so neither
   * an ancestor nor the leaf was swapped).
   *
   * A prefix that is the whole file (the common case) is hashed straight from
   * the descriptor: piping it through `head -c` costs the host two more
   * copies of every byte. If the file grows between that size check and the
   * hash, the digest covers more than the prefix and does not match; `exact`
   * always goes through `head -c` (the retry after a mismatch).
   *
   * `sha256` runs `openssl dgst -sha256 -r` on hosts whose probe found one
   * giving the known answer (same digest, 2-3x faster than a coreutils
   * `sha256sum` built without OpenSSL), else `sha256sum`; other algorithms
   * run `<alg>sum`. The output's first token is the digest either way.
   */
  async digest(
    path: string,
    alg: string,
    opts: Partial<ExecOptions> & { prefix?: number; exact?: boolean } = {},
  ): Promise<RawExecResult> {
    const { dir, leaf } = splitPath(path);
    const { prefix, exact, ...exec } = opts;
    // $1 dir, $2 leaf, $3 path, $4 prefix, then the program and its arguments
    const program = alg === "sha256" && this.caps.openssl
      ? ["openssl", "dgst", "-sha256", "-r"]
      : [`${alg}sum`];
    const whole = this.caps.proc && !exact
      ? `[ "$(stat -L -c %s /proc/self/fd/3 2>/dev/null)" = "$n" ] && exec "$@" <&3\n`
      : "";
    const read = `n=$4; shift 4\n` +
      (prefix === undefined ? `exec "$@" <&3` : `${whole}head -c "$n" <&3 | "$@"`);
    const body = this.caps.proc
      ? `pin "$1"\n{ command exec 3<"./$2"; } 2>/dev/null || { echo "cannot open ./$2" >&2; exit 1; }\n` +
        `h3=$(readlink /proc/self/fd/3)\n` +
        `[ "$h3" = "$3" ] || { printf "ssh-mcp-pin: %s now resolves to %s\\n" "$3" "$h3" >&2; exit 97; }\n` +
        read
      : `pin "$1"\n[ -L "./$2" ] && { echo "ssh-mcp-pin: $3 now resolves to a link" >&2; exit 97; }\n` +
        `exec 3<"./$2"\n` + read;
    return await this.#run(
      "hash",
      path,
      body,
      [dir, leaf, path, prefix ?? 0, ...program],
      exec,
    );
  }

  /**
   * Creates the empty file `path` exclusively (`O_CREAT|O_EXCL` through the
   * shell's noclobber, mode 0600) in its pinned directory: never through a
   * link, never elsewhere (PATH-52).
   */
  async createExclusive(path: string, signal?: AbortSignal): Promise<void> {
    const { dir, leaf } = splitPath(path);
    const r = await this.#run(
      "open",
      path,
      `pin "$1"; umask 077; set -C; : > "./$2"`,
      [dir, leaf],
      { signal },
    );
    if (r.exitCode !== 0) this.#fail("open", path, r);
  }

  /** `find . <args>` run inside the pinned directory `dir` (paths come back as `./...`). */
  async find(
    dir: string,
    args: string[],
    opts: Partial<ExecOptions> = {},
  ): Promise<RawExecResult> {
    return await this.#run("find", dir, `pin "$1"; shift; exec find . "$@"`, [dir, ...args], opts);
  }

  /**
   * Every entry of the tree at `root` (the root first, `rel` ""), never
   * following links; `linksOnly` lists only symbolic links. Stops after
   * `cap` entries (`complete: false`); directories `find` could not read are
   * reported.
   */
  async walk(
    root: string,
    cap: number,
    opts: { linksOnly?: boolean; signal?: AbortSignal } = {},
  ): Promise<{ entries: PinnedWalkEntry[]; complete: boolean; unreadable: string[] }> {
    const { dir, leaf } = root === "/" ? { dir: "/", leaf: "." } : splitPath(root);
    const records = 3 * (cap + 1);
    const r = await this.#run(
      "walk",
      root,
      `pin "$1"; n=$2; max=$3; shift 3\n` +
        `find "./$n" "$@" -printf '%y\\0%l\\0%P\\0' | head -z -n "$max"`,
      [dir, leaf, records, ...(opts.linksOnly ? ["-type", "l"] : [])],
      { signal: opts.signal, stdoutCap: 64 * 1024 * 1024, stderrCap: 64 * 1024 },
    );
    if (r.exitCode !== 0) this.#fail("walk", root, r);
    if (r.stdoutTruncated) return { entries: [], complete: false, unreadable: [] };
    const text = new TextDecoder().decode(r.stdoutRaw);
    const f = text.split("\0");
    f.pop();
    const entries: PinnedWalkEntry[] = [];
    for (let i = 0; i + 2 < f.length; i += 3) {
      const kind = kindFromFind(f[i]!);
      entries.push({ rel: f[i + 2]!, kind, link: kind === "symlink" ? f[i + 1]! : null });
    }
    const unreadable = r.stderr.split("\n").filter((l) => /^find: /.test(l)).map((l) =>
      l.replace(/^find: /, "").slice(0, 300)
    );
    const complete = entries.length <= cap;
    return { entries: complete ? entries : entries.slice(0, cap), complete, unreadable };
  }
}
