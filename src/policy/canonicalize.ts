/**
 * Canonicalization of a remote path on its host (SECURITY.md §PATH,
 * PATH-2..5, PATH-24), the I/O half of the path policy:
 *
 * 1. `realpath -e -- <path>` (must exist) or `realpath -m -- <path>`, the path
 *    POSIX-single-quoted by the `sh` template (PATH-2);
 * 2. when it fails, the host's realpath is probed once (`realpath -e -- /`,
 *    cached per host): a realpath that rejects `-e` (BSD, macOS, BusyBox)
 *    switches to a POSIX-sh canonicalizer (PATH-4); otherwise (missing
 *    realpath, ENOENT, chroot) SFTP `REALPATH` is tried, with a WARNING (PATH-3).
 *
 * Windows (PATH-5): SFTP `REALPATH`, `/C:/x` -> `C:/x`, UNC untouched; when the
 * server refuses, only absolute inputs are accepted, normalised lexically.
 *
 * @module
 */

import type { HostPolicy } from "../config/types.ts";
import { isToolError, ToolError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { sh, type ShellCommand } from "../checked.ts";
import { isAbsoluteRemote, normalizeRemote, notAllowed } from "./path_syntax.ts";

/** What a canonicalization command returned (a subset of the ssh layer's exec result). */
export interface PathIoResult {
  exitCode: number;
  stdout: string;
  stdoutRaw: Uint8Array;
  stdoutTruncated: boolean;
  stderr: string;
  timedOut: boolean;
  cancelled: boolean;
}

/** The attributes of an SFTP `stat` a path check may look at. */
export interface PathStats {
  uid?: number;
  mode?: number;
}

/** The SFTP requests a path check may send (callback style, as the ssh2 channel offers them). */
export interface PathSftp {
  realpath(p: string, cb: (err: Error | null | undefined, abs: string) => void): void;
  stat(p: string, cb: (err: Error | null | undefined, stats?: PathStats) => void): void;
  lstat(p: string, cb: (err: Error | null | undefined, stats?: PathStats) => void): void;
}

/** Remote I/O a path check may use on the path's host (realpath, SFTP fallback). */
export interface PathIo {
  exec(cmd: ShellCommand, timeoutMs?: number): Promise<PathIoResult>;
  sftp(): Promise<PathSftp>;
}

/** What canonicalization needs to know about one path. */
export interface CanonRequest {
  policy: HostPolicy;
  raw: string;
  mustExist: boolean;
  io: PathIo;
}

function joinLeaf(parent: string, leaf: string): string {
  return parent.endsWith("/") ? parent + leaf : `${parent}/${leaf}`;
}

/** Remote text in a message: one line, bounded, control characters removed. */
function clip(s: string, n = 200): string {
  // deno-lint-ignore no-control-regex
  const one = s.replace(/[\u0000-\u001f\u007f-\u009f]+/g, " ").trim();
  return one.length > n ? one.slice(0, n) + "..." : one;
}

function errText(e: unknown): string {
  if (isToolError(e)) return clip(e.message);
  if (e instanceof Error) return clip(e.message);
  return clip(String(e));
}

function sftpRealpath(sftp: PathSftp, p: string): Promise<string> {
  return new Promise((resolve, reject) => {
    sftp.realpath(p, (err, abs) => (err ? reject(err) : resolve(abs)));
  });
}

function sftpStat(sftp: PathSftp, p: string, link: boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    const cb = (err: Error | null | undefined) => (err ? reject(err) : resolve());
    if (link) sftp.lstat(p, cb);
    else sftp.stat(p, cb);
  });
}

/** What the host's `realpath` can do (cached per host). */
type RealpathKind = "gnu" | "portable" | "none";

/**
 * POSIX-sh canonicalizer (PATH-4). `$@` = candidate prefixes, longest first,
 * ending with `/` or `.`. Prints `D <i>` + `pwd -P` of the deepest existing
 * directory, `F <i>` for an existing non-directory on the way, `L <i>` for a
 * symlink that is not a directory, `X <i>` for a directory it cannot enter.
 */
const PORTABLE_SCRIPT = [
  "i=0",
  'for a in "$@"; do',
  '  if [ -d "$a" ]; then',
  '    if cd -P "$a" 2>/dev/null; then echo "D $i"; pwd -P; else echo "X $i"; fi',
  "    exit 0",
  "  fi",
  '  if [ -L "$a" ]; then echo "L $i"; exit 0; fi',
  '  if [ -e "$a" ]; then echo "F $i"; fi',
  "  i=$((i+1))",
  "done",
  'echo "N"',
].join("\n");

const utf8 = new TextDecoder("utf-8", { fatal: true });

function decodeOutput(raw: Uint8Array, fallback: string): string | null {
  try {
    return utf8.decode(raw);
  } catch {
    return raw.length ? null : fallback;
  }
}

/** Canonicalizes paths on their hosts; remembers each host's kind of realpath. */
export class Canonicalizer {
  readonly #logger: Logger;
  readonly #realpathKind = new Map<string, RealpathKind>();

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  /** The canonical path, following symlinks (`mustExist`: it must exist). */
  resolved(req: CanonRequest): Promise<string> {
    return this.#canonicalize(req, req.raw, req.mustExist);
  }

  /** PATH-24: the canonical parent + the leaf name itself (act on a symlink, not its target). */
  leaf(req: CanonRequest): Promise<string> {
    return this.#leaf(req);
  }

  async #leaf(req: CanonRequest): Promise<string> {
    const platform = req.policy.platform;
    const seps = platform === "windows" ? /[\\/]+$/ : /\/+$/;
    const raw = req.raw.replace(seps, "");
    const cut = platform === "windows"
      ? Math.max(raw.lastIndexOf("/"), raw.lastIndexOf("\\"))
      : raw.lastIndexOf("/");
    const leaf = raw.slice(cut + 1);
    if (
      leaf === "" || leaf === "." || leaf === ".." ||
      (platform === "windows" && /^[A-Za-z]:$/.test(leaf))
    ) {
      throw notAllowed(
        `The path ${req.raw} does not end in a file or directory name; with follow_symlinks=false ` +
          `the last component is acted on itself, so it cannot be "/", "." or "..".`,
        { stage: "canonicalize" },
      );
    }
    let parentRaw = cut < 0 ? "." : raw.slice(0, cut);
    if (parentRaw === "") parentRaw = "/";
    if (platform === "windows" && /^[A-Za-z]:$/.test(parentRaw)) parentRaw += "/";
    const parent = await this.#canonicalize(req, parentRaw, true);
    const full = joinLeaf(parent, leaf);
    if (req.mustExist) {
      try {
        await sftpStat(await req.io.sftp(), full, true);
      } catch (e) {
        throw notAllowed(
          `Path ${full} does not exist on ${req.policy.alias} (lstat: ${errText(e)}). ` +
            `This tool needs an existing path.`,
          { stage: "canonicalize" },
        );
      }
    }
    return full;
  }

  #canonicalize(req: CanonRequest, raw: string, mustExist: boolean): Promise<string> {
    return req.policy.platform === "windows"
      ? this.#windows(req, raw, mustExist)
      : this.#posix(req, raw, mustExist);
  }

  #hostKey(p: HostPolicy): string {
    return `${p.user}@${p.hostname}:${p.port}`;
  }

  async #posix(req: CanonRequest, raw: string, mustExist: boolean): Promise<string> {
    const { io, policy } = req;
    const r = await io.exec(
      mustExist ? sh`realpath -e -- ${raw}` : sh`realpath -m -- ${raw}`,
    );
    if (r.exitCode === 0 && !r.timedOut && !r.cancelled) {
      if (r.stdoutTruncated) {
        throw notAllowed(`realpath printed too much output for ${raw} on ${policy.alias}.`, {
          stage: "canonicalize",
        });
      }
      const out = decodeOutput(r.stdoutRaw, r.stdout);
      if (out === null) {
        throw notAllowed(
          `The resolved path of ${raw} on ${policy.alias} is not valid UTF-8; it cannot be checked.`,
          { stage: "canonicalize" },
        );
      }
      const canon = out.endsWith("\n") ? out.slice(0, -1) : out;
      if (!canon.startsWith("/")) {
        throw notAllowed(
          `realpath on ${policy.alias} answered a path that is not absolute for ${raw}; refusing it.`,
          { stage: "canonicalize" },
        );
      }
      this.#realpathKind.set(this.#hostKey(policy), "gnu");
      return canon;
    }
    if (r.cancelled) throw new ToolError("Cancelled", "The request was cancelled.");
    const shellFailure = r.timedOut
      ? "realpath timed out"
      : `realpath exit ${r.exitCode}${r.stderr.trim() ? `: ${clip(r.stderr)}` : ""}`;
    const kind = await this.#kind(io, policy);
    if (kind === "portable") return await this.#portable(req, raw, mustExist);
    return await this.#sftpFallback(req, raw, mustExist, shellFailure);
  }

  /** Probes the host's realpath once: GNU-like (`-e` works), other (portable), or none. */
  async #kind(io: PathIo, policy: HostPolicy): Promise<RealpathKind> {
    const key = this.#hostKey(policy);
    const known = this.#realpathKind.get(key);
    if (known) return known;
    const r = await io.exec(sh`realpath -e -- /`);
    let kind: RealpathKind;
    if (r.exitCode === 0 && r.stdout.trim() === "/") kind = "gnu";
    else if (r.exitCode === 127 || r.exitCode === 126 || r.timedOut || r.exitCode < 0) {
      kind = "none";
    } else kind = "portable";
    this.#realpathKind.set(key, kind);
    if (kind !== "gnu") {
      this.#logger.info(
        kind === "portable"
          ? `path policy: realpath on ${policy.alias} does not support -e/-m; using the portable POSIX-sh canonicalizer`
          : `path policy: no usable realpath on ${policy.alias}; paths are canonicalized with SFTP REALPATH`,
      );
    }
    return kind;
  }

  /** PATH-4: deepest existing ancestor via `cd -P && pwd -P`, non-existing remainder appended lexically. */
  async #portable(req: CanonRequest, raw: string, mustExist: boolean): Promise<string> {
    const { io, policy } = req;
    const abs = raw.startsWith("/");
    const comps = raw.split("/").filter((c) => c !== "" && c !== ".");
    const prefixes: string[] = [];
    for (let n = comps.length; n >= 1; n--) {
      prefixes.push((abs ? "/" : "./") + comps.slice(0, n).join("/"));
    }
    prefixes.push(abs ? "/" : ".");
    const r = await io.exec(sh`/bin/sh -c ${PORTABLE_SCRIPT} ssh-mcp-canonicalize ${prefixes}`);
    const fail = (why: string) =>
      notAllowed(
        `Path ${raw} cannot be canonicalized on ${policy.alias} without GNU realpath: ${why}.`,
        { stage: "canonicalize" },
      );
    if (r.exitCode !== 0) {
      return await this.#sftpFallback(
        req,
        raw,
        mustExist,
        `portable canonicalizer exit ${r.exitCode}${r.stderr.trim() ? `: ${clip(r.stderr)}` : ""}`,
      );
    }
    const out = decodeOutput(r.stdoutRaw, r.stdout);
    if (out === null) throw fail("the resolved directory is not valid UTF-8");
    const lines = out.split("\n");
    let fileAt: number | null = null;
    let li = 0;
    for (; li < lines.length; li++) {
      const m = /^([FDLX]) (\d+)$/.exec(lines[li]!);
      if (!m) break;
      const idx = Number(m[2]);
      if (m[1] === "F") {
        fileAt ??= idx;
        continue;
      }
      if (m[1] === "L") throw fail(`${prefixes[idx]} is a symbolic link that is not a directory`);
      if (m[1] === "X") throw fail(`${prefixes[idx]} cannot be entered`);
      // D
      const dir = lines[li + 1] ?? "";
      if (!dir.startsWith("/")) throw fail("pwd -P answered a path that is not absolute");
      if (lines.length !== li + 3 || lines[li + 2] !== "") {
        // a directory name with a newline in it (through a symlink)
        throw fail("the resolved directory name contains a line break");
      }
      const kept = comps.length - idx; // components resolved by cd -P
      const remainder = comps.slice(kept);
      if (fileAt !== null) {
        if (fileAt !== idx - 1 || remainder.length !== 1) {
          throw fail(`${prefixes[fileAt]} is not a directory`);
        }
        return joinLeaf(dir, remainder[0]!);
      }
      if (remainder.includes("..")) {
        throw fail(`".." after the non-existing component ${remainder[0]}`);
      }
      if (mustExist && remainder.length > 0) {
        throw notAllowed(
          `Path ${raw} does not exist on ${policy.alias} (${
            remainder[0]
          } is missing). This tool needs an existing path.`,
          { stage: "canonicalize" },
        );
      }
      return remainder.reduce((acc, c) => joinLeaf(acc, c), dir);
    }
    throw fail("unexpected answer from the canonicalizer");
  }

  /** PATH-3: SFTP REALPATH when the shell cannot answer (chroot, no realpath, ENOENT). */
  async #sftpFallback(
    req: CanonRequest,
    raw: string,
    mustExist: boolean,
    shellFailure: string,
  ): Promise<string> {
    const { io, policy } = req;
    const both = (sftpFailure: string) =>
      notAllowed(
        `Path ${raw} could not be resolved on ${policy.alias}: ${shellFailure}; SFTP REALPATH: ${sftpFailure}. ` +
          (mustExist ? "This tool needs an existing path; check the name." : "Check the path."),
        { stage: "canonicalize" },
      );
    let sftp: PathSftp;
    let abs: string;
    try {
      sftp = await io.sftp();
      abs = await sftpRealpath(sftp, raw);
    } catch (e) {
      throw both(errText(e));
    }
    if (!abs.startsWith("/")) throw both("the answer is not an absolute path");
    if (mustExist) {
      try {
        await sftpStat(sftp, abs, false);
      } catch (e) {
        throw both(`stat failed (${errText(e)})`);
      }
    }
    this.#logger.warn(
      `path policy: shell realpath failed on ${policy.alias} (${
        shellFailure.split(":")[0]
      }); used SFTP REALPATH instead. The SFTP and shell views of the filesystem may differ (chroot?).`,
    );
    return normalizeRemote(abs, "posix");
  }

  /** PATH-5: Windows hosts. */
  async #windows(req: CanonRequest, raw: string, mustExist: boolean): Promise<string> {
    const { io, policy } = req;
    let sftp: PathSftp | null = null;
    let canon: string | null = null;
    let sftpFailure = "";
    try {
      sftp = await io.sftp();
      canon = normalizeRemote(await sftpRealpath(sftp, raw), "windows");
    } catch (e) {
      sftpFailure = errText(e);
    }
    if (canon === null) {
      if (!isAbsoluteRemote(raw, "windows")) {
        throw notAllowed(
          `Path ${raw} is not absolute and SFTP REALPATH failed on ${policy.alias} (${sftpFailure}). ` +
            `Use an absolute path such as C:/dir/file.`,
          { stage: "canonicalize" },
        );
      }
      canon = normalizeRemote(raw, "windows");
    }
    if (!isAbsoluteRemote(canon, "windows")) {
      throw notAllowed(
        `SFTP REALPATH on ${policy.alias} answered a path that is not absolute for ${raw}; refusing it.`,
        { stage: "canonicalize" },
      );
    }
    if (mustExist) {
      try {
        if (!sftp) throw new Error(sftpFailure || "no SFTP session");
        await sftpStat(sftp, canon, false);
      } catch (e) {
        throw notAllowed(
          `Path ${canon} does not exist on ${policy.alias} (stat: ${
            errText(e)
          }). This tool needs an existing path.`,
          { stage: "canonicalize" },
        );
      }
    }
    return canon;
  }
}
