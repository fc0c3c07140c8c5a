/**
 * Remote path confinement (SECURITY.md §PATH, PATH-1..PATH-14, PATH-22,
 * PATH-24): the resolution chain every path-bearing tool goes through.
 *
 * Order (PATH-11): characters -> canonicalize on the host -> allowlist ->
 * restricted prefixes -> restricted globs -> redact-bypass gate. The first
 * failure wins. Every decision is taken on the canonical path (INV-5), and the
 * deny side is matched on normalised forms (NFC, case-folded when the host is
 * case-insensitive, Windows hardening) while the allow side is never widened.
 *
 * Canonicalization (POSIX):
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
 * No remote I/O happens for a path rejected by the character check, and no
 * path ever reaches a shell unquoted.
 *
 * @module
 */

import path from "node:path";
import type { HostPolicy, Platform, Settings } from "../config/types.ts";
import { type ErrorAttributes, isToolError, ToolError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { type CheckedPath, sh, type ShellCommand } from "../checked.ts";
import { mintPath } from "./mint.ts";
import { effectivePolicy } from "./effective.ts";
import { matchGlobs, stripTrailingDotsSpaces } from "./globs.ts";

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

/** The SFTP requests a path check may send (callback style, as the ssh2 channel offers them). */
export interface PathSftp {
  realpath(p: string, cb: (err: Error | null | undefined, abs: string) => void): void;
  stat(p: string, cb: (err: Error | null | undefined) => void): void;
  lstat(p: string, cb: (err: Error | null | undefined) => void): void;
}

/** Remote I/O a path check may use on the path's host (realpath, SFTP fallback). */
export interface PathIo {
  exec(cmd: ShellCommand, timeoutMs?: number): Promise<PathIoResult>;
  sftp(): Promise<PathSftp>;
}

/** One path check (SECURITY.md §PATH resolution chain). */
export interface PathCheckRequest {
  tool: string;
  policy: HostPolicy;
  raw: string;
  mustExist: boolean;
  /** PATH-10 redact-bypass gate */
  redactGate: boolean;
  /** false: canonicalize the parent and keep the leaf (act on a symlink itself) */
  follow: boolean;
  /** true: `raw` is an absolute normalised path checked without remote canonicalization (PATH-22) */
  lexical: boolean;
  io: PathIo;
}

/** Outcome of an admitted path. */
export interface PathCheckResult {
  path: CheckedPath;
  /** e.g. the redact `warn` text; added to the result's output_warnings */
  warnings: string[];
  /** the path is redact-listed and the policy let it through (audit flag) */
  redactBypass: boolean;
}

/** The remote path policy (implemented in `src/policy/paths.ts`). */
export interface PathChecker {
  /** Throws PathNotAllowed / PathRestricted / RedactBypassBlocked; never widens access. */
  check(req: PathCheckRequest): Promise<PathCheckResult>;
}

/** Longest accepted path in UTF-8 bytes (PATH-1). */
export const MAX_PATH_BYTES = 4096;

/** The warning added by the `warn` redact-bypass policy (RED-3, byte-exact). */
export const REDACT_WARN_TEXT =
  "redact-list path: prefer ssh_read_redacted (this delivered raw secrets to the LLM)";

/** The tool a `RedactBypassBlocked` error points to (PATH-10). */
export const SUGGESTED_REDACTED_TOOL = "ssh_read_redacted";

const encoder = new TextEncoder();

function hex(cp: number): string {
  return "0x" + cp.toString(16).padStart(2, "0");
}

function notAllowed(message: string, attributes: ErrorAttributes = {}): ToolError {
  return new ToolError("PathNotAllowed", message, attributes);
}

/** Why a code point is refused in a path, or null (PATH-1). */
function badCodePoint(cp: number): string | null {
  if (cp === 0) return "a NUL byte (0x00)";
  if (cp < 0x20) return `the control character ${hex(cp)}`;
  if (cp === 0x7f) return "the control character 0x7f (DEL)";
  if (cp >= 0x80 && cp <= 0x9f) return `the C1 control character ${hex(cp)}`;
  if ((cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069)) {
    return `the bidirectional control character ${hex(cp)}`;
  }
  if (cp === 0x200e || cp === 0x200f) return `the direction mark ${hex(cp)}`;
  if ((cp >= 0x200b && cp <= 0x200d) || cp === 0xfeff) {
    return `the zero-width character ${hex(cp)}`;
  }
  if (cp >= 0xd800 && cp <= 0xdfff) return `the unpaired surrogate ${hex(cp)}`;
  return null;
}

/**
 * PATH-1 character checks, usable before any I/O. Throws `PathNotAllowed`
 * naming the offending code point (e.g. `0x1b`).
 */
export function assertPathChars(raw: string, what = "path"): void {
  if (raw === "") {
    throw notAllowed(`${what} is empty; pass a non-empty remote path.`, { stage: "characters" });
  }
  for (const ch of raw) {
    const cp = ch.codePointAt(0)!;
    const why = badCodePoint(cp);
    if (why) {
      throw notAllowed(
        `The ${what} contains ${why}; control, bidirectional and zero-width characters are not accepted in paths.`,
        { stage: "characters", code_point: hex(cp) },
      );
    }
  }
  const bytes = encoder.encode(raw).length;
  if (bytes > MAX_PATH_BYTES) {
    throw notAllowed(
      `The ${what} is ${bytes} bytes long; the limit is ${MAX_PATH_BYTES} bytes.`,
      { stage: "characters" },
    );
  }
}

const WIN_DRIVE_ABS = /^[A-Za-z]:\//;
const WIN_UNC = /^\/\/[^/]+\/[^/]+/;

/** True when `p` is absolute for the platform (Windows: drive-absolute or UNC). */
export function isAbsoluteRemote(p: string, platform: Platform): boolean {
  if (platform === "posix") return p.startsWith("/");
  let s = p.replaceAll("\\", "/");
  if (/^\/[A-Za-z]:(\/|$)/.test(s)) s = s.slice(1);
  return WIN_DRIVE_ABS.test(s) || /^[A-Za-z]:$/.test(s) || WIN_UNC.test(s);
}

/**
 * Lexical normalisation for the host platform: `//`, `/./` and `..` collapsed,
 * trailing separators removed (the root stays). Windows: `\` -> `/`, one
 * leading `/` before a drive spec dropped (`/C:/x` -> `C:/x`, INC-034), drive
 * root `C:/`, UNC `//server/share/...` kept as UNC.
 */
export function normalizeRemote(p: string, platform: Platform): string {
  if (p === "") return "";
  if (platform === "posix") {
    const n = path.posix.normalize(p);
    return n.length > 1 && n.endsWith("/") ? n.slice(0, -1) : n;
  }
  let s = p.replaceAll("\\", "/");
  if (/^\/[A-Za-z]:(\/|$)/.test(s)) s = s.slice(1);
  if (/^[A-Za-z]:$/.test(s)) s += "/";
  let n = path.win32.normalize(s).replaceAll("\\", "/");
  if (/^[A-Za-z]:\/$/.test(n)) return n;
  if (n.length > 1 && n.endsWith("/")) n = n.slice(0, -1);
  return n;
}

/**
 * True when `p` is `root` or below it on a separator boundary (PATH-7):
 * `/opt/app2` is not inside `/opt/app`; `/` (and `*`) contain everything.
 * Windows compares case-insensitively with `\` = `/`.
 */
export function isInside(p: string, root: string, platform: Platform): boolean {
  if (root === "*") return true;
  let a = normalizeRemote(p, platform);
  let r = normalizeRemote(root, platform);
  if (r === "/") return platform === "windows" || a.startsWith("/");
  if (platform === "windows") {
    a = a.toLowerCase();
    r = r.toLowerCase();
  }
  if (a === r) return true;
  return a.startsWith(r.endsWith("/") ? r : r + "/");
}

/**
 * The effective allowlist roots of a host, normalised (`*` -> `/`). Used by
 * PATH-26 (never delete an allowlist root or one of its ancestors).
 */
export function allowlistRoots(policy: HostPolicy, settings: Settings): string[] {
  const out = effectivePolicy(policy, settings).path_allowlist.map((e) =>
    e === "*" || e === "/" ? "/" : normalizeRemote(e, policy.platform)
  );
  return [...new Set(out.filter((e) => e !== ""))];
}

const DOS_DEVICE = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³]|conin\$|conout\$|clock\$)$/i;
const SHORT_NAME = /^[^~.]{1,7}~[0-9]{1,6}(\.[^.]{0,3})?$/i;

/**
 * PATH-13 Windows hardening: alternate data streams, DOS device names,
 * `\\?\` / `\\.\` prefixes, 8.3 short names. Throws `PathNotAllowed`.
 */
export function assertWindowsSafe(p: string, what = "path"): void {
  const s = p.replaceAll("\\", "/");
  if (/^\/\/[?.]\//.test(s) || s.startsWith("/??/")) {
    throw notAllowed(
      `The ${what} ${p} uses a Windows device namespace prefix (\\\\?\\ or \\\\.\\); use a plain drive or UNC path.`,
      { stage: "characters" },
    );
  }
  const rest = s.replace(/^\/?[A-Za-z]:/, "");
  if (rest.includes(":")) {
    throw notAllowed(
      `The ${what} ${p} names an alternate data stream (":" after the drive); not accepted.`,
      { stage: "characters" },
    );
  }
  for (const comp of rest.split("/")) {
    if (comp === "" || comp === "." || comp === "..") continue;
    const trimmed = comp.replace(/[. ]+$/, "");
    const base = trimmed.split(".")[0]!.replace(/ +$/, "");
    if (DOS_DEVICE.test(base)) {
      throw notAllowed(
        `The ${what} ${p} contains the DOS device name ${comp}; not accepted.`,
        { stage: "characters" },
      );
    }
    if (SHORT_NAME.test(trimmed)) {
      throw notAllowed(
        `The ${what} ${p} contains the 8.3 short name ${comp}; use the long file name.`,
        { stage: "characters" },
      );
    }
  }
}

/** Deny-side forms of a path and its matching partner (PATH-12/13). */
function denyTransforms(platform: Platform, ci: boolean): ((s: string) => string)[] {
  const fs: ((s: string) => string)[] = [(s) => s, (s) => s.normalize("NFC")];
  if (ci || platform === "windows") {
    fs.push((s) => s.toLowerCase(), (s) => s.normalize("NFC").toLowerCase());
  }
  if (platform === "windows") {
    for (const f of [...fs]) fs.push((s) => stripTrailingDotsSpaces(f(s)));
  }
  return fs;
}

/** The first restricted root containing `p` (deny side, PATH-8/12), or null. */
export function matchRestricted(
  p: string,
  roots: readonly string[],
  platform: Platform,
  caseInsensitive: boolean,
): string | null {
  const ts = denyTransforms(platform, caseInsensitive);
  for (const root of roots) {
    if (root === "") continue;
    for (const t of ts) {
      if (isInside(t(p), t(root), platform)) return root;
    }
  }
  return null;
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

/** Implements {@link PathChecker} (app.paths). */
class RemotePathChecker implements PathChecker {
  readonly #settings: Settings;
  readonly #logger: Logger;
  readonly #realpathKind = new Map<string, RealpathKind>();

  constructor(settings: Settings, logger: Logger) {
    this.#settings = settings;
    this.#logger = logger;
  }

  async check(req: PathCheckRequest): Promise<PathCheckResult> {
    const { policy } = req;
    const platform = policy.platform;
    const alias = policy.alias;
    // 1. characters (no I/O on rejection)
    assertPathChars(req.raw);
    if (platform === "windows") assertWindowsSafe(req.raw);
    const eff = effectivePolicy(policy, this.#settings);
    if (eff.path_allowlist.length === 0) {
      // default deny needs no remote I/O either (INV-1, INV-2)
      throw notAllowed(
        `No remote path is allowed on ${alias}: its path_allowlist and SSH_PATH_ALLOWLIST are both empty. ` +
          `Ask the operator to add an allowlist root (path_allowlist in hosts.toml or SSH_PATH_ALLOWLIST).`,
        { stage: "allowlist" },
      );
    }
    // 2. canonicalize
    let canonical: string;
    if (req.lexical) {
      if (!isAbsoluteRemote(req.raw, platform)) {
        throw notAllowed(
          `The path ${req.raw} is not absolute; this check needs an absolute path on ${alias}.`,
          { stage: "canonicalize" },
        );
      }
      canonical = normalizeRemote(req.raw, platform);
    } else if (!req.follow) {
      canonical = await this.#leaf(req);
    } else {
      canonical = await this.#canonicalize(req, req.raw, req.mustExist);
    }
    assertPathChars(canonical, "resolved path");
    if (platform === "windows") assertWindowsSafe(canonical, "resolved path");
    const shown = canonical === req.raw ? canonical : `${req.raw} (resolved to ${canonical})`;
    // 3. allowlist (allow side: exact, never widened by normalisation)
    const roots = allowlistRoots(policy, this.#settings);
    if (!roots.some((r) => isInside(canonical, r, platform))) {
      throw notAllowed(
        `Path ${shown} is outside the allowlist of ${alias} (${roots.join(", ")}). ` +
          `Use a path inside it; ssh_describe_host shows the policy.`,
        { stage: "allowlist" },
      );
    }
    const ci = policy.case_insensitive_paths || platform === "windows";
    // 4. restricted prefixes
    const restrictedRoots = eff.restricted_paths.map((r) => normalizeRemote(r, platform));
    const zone = matchRestricted(canonical, restrictedRoots, platform, ci);
    if (zone !== null) {
      throw new ToolError(
        "PathRestricted",
        `Path ${shown} is in the restricted zone ${zone} of ${alias} (restricted_paths / SSH_RESTRICTED_PATHS). ` +
          `File tools never touch restricted zones; only the exec tier can, if the operator allows the command.`,
        { stage: "restricted", rule: zone },
      );
    }
    // 5. restricted globs
    const glob = matchGlobs(canonical, eff.restricted_globs, {
      caseInsensitive: ci,
      windows: platform === "windows",
    });
    if (glob !== null) {
      throw new ToolError(
        "PathRestricted",
        `Path ${shown} matches the restricted glob ${glob} of ${alias} (restricted_globs / SSH_RESTRICTED_GLOBS). ` +
          `File tools never touch it; only the exec tier can, if the operator allows the command.`,
        { stage: "restricted_glob", rule: glob },
      );
    }
    // 6. redact-bypass gate
    const warnings: string[] = [];
    let redactBypass = false;
    if (req.redactGate) {
      const hit = matchGlobs(canonical, eff.redact_paths_globs, {
        caseInsensitive: ci,
        windows: platform === "windows",
      });
      if (hit !== null) {
        const mode = eff.redact_bypass_policy;
        if (mode === "block") {
          const sudo = req.tool.startsWith("ssh_sudo_");
          throw new ToolError(
            "RedactBypassBlocked",
            `Path ${shown} matches the redact list of ${alias} (${hit}) and the redact bypass policy is block: ` +
              `${req.tool} would hand raw secrets to the LLM. Read the file with ` +
              (sudo ? "ssh_sudo_read_redacted (or ssh_read_redacted)" : SUGGESTED_REDACTED_TOOL) +
              `, which masks secret values.`,
            { stage: "redact", rule: hit, suggested_tool: SUGGESTED_REDACTED_TOOL },
          );
        }
        redactBypass = true;
        if (mode === "warn") warnings.push(REDACT_WARN_TEXT);
      }
    }
    return { path: mintPath(canonical), warnings, redactBypass };
  }

  /** PATH-24: canonical parent + the leaf name itself (act on a symlink, not its target). */
  async #leaf(req: PathCheckRequest): Promise<string> {
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

  #canonicalize(req: PathCheckRequest, raw: string, mustExist: boolean): Promise<string> {
    return req.policy.platform === "windows"
      ? this.#windows(req, raw, mustExist)
      : this.#posix(req, raw, mustExist);
  }

  #hostKey(p: HostPolicy): string {
    return `${p.user}@${p.hostname}:${p.port}`;
  }

  async #posix(req: PathCheckRequest, raw: string, mustExist: boolean): Promise<string> {
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
  async #portable(req: PathCheckRequest, raw: string, mustExist: boolean): Promise<string> {
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
    req: PathCheckRequest,
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
  async #windows(req: PathCheckRequest, raw: string, mustExist: boolean): Promise<string> {
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

/** The remote path policy of a running server (`app.paths`). */
export function createPathChecker(deps: { settings: Settings; logger: Logger }): PathChecker {
  return new RemotePathChecker(deps.settings, deps.logger);
}
