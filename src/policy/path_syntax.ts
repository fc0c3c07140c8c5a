/**
 * Lexical path rules of the path policy (SECURITY.md §PATH), no I/O:
 * characters (PATH-1), absolute and normalised forms per platform, `inside`
 * on separator boundaries (PATH-7), Windows hardening (PATH-13) and the deny
 * side's normalised matching of restricted roots (PATH-8/12).
 *
 * @module
 */

import path from "node:path";
import type { Platform } from "../config/types.ts";
import { type ErrorAttributes, ToolError } from "../errors.ts";
import { stripTrailingDotsSpaces } from "./globs.ts";

/** Longest accepted path in UTF-8 bytes (PATH-1). */
export const MAX_PATH_BYTES = 4096;

const encoder = new TextEncoder();

function hex(cp: number): string {
  return "0x" + cp.toString(16).padStart(2, "0");
}

/** A `PathNotAllowed` error. */
export function notAllowed(message: string, attributes: ErrorAttributes = {}): ToolError {
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

/**
 * The first restricted root equal to `p` or below it (deny side, PATH-33):
 * a zone that lies inside a subtree an operation acts on as a whole.
 */
export function matchRestrictedBelow(
  p: string,
  roots: readonly string[],
  platform: Platform,
  caseInsensitive: boolean,
): string | null {
  const ts = denyTransforms(platform, caseInsensitive);
  for (const root of roots) {
    if (root === "") continue;
    for (const t of ts) {
      if (isInside(t(root), t(p), platform)) return root;
    }
  }
  return null;
}
