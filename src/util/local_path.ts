/**
 * Paths of the machine the server runs on, with `node:path`'s exact results,
 * without starting Deno's Node layer on POSIX systems.
 *
 * Importing any `node:` built-in evaluates a part of Deno's Node layer (its
 * error classes, validators, `process`): measured for issue 17, `node:path`
 * alone cost the launcher ~14 ms and the permission Worker ~18 ms of a cold
 * start (bench/README.md, "Where a cold start goes"), and the start path needs
 * nothing else from that layer. No maintained ESM package gives Node's
 * semantics: `pathe`, the common one, turns every backslash into a separator,
 * so on Linux `a\b` (one legal file name) would become `a/b` and a check and
 * the file operation after it would see different files.
 *
 * So on POSIX this module carries the POSIX half of Node's `path` as Deno
 * ships it (`ext:deno_node/path/_posix.ts` and `_util.ts` of Deno 2.9, from
 * Node.js; both MIT), the functions the server uses, unchanged in behaviour:
 * tests/unit/local_path_test.ts compares every export with `node:path` on
 * generated paths. On Windows it is `node:path` itself (drive letters, UNC
 * names, both separators), loaded here. Remote paths never come here: the
 * policy uses `node:path`'s `posix` and `win32` by the host's platform.
 *
 * @module
 */

const SLASH = 47; // "/"
const DOT = 46; // "."

function assertPath(p: unknown, name = "path"): asserts p is string {
  if (typeof p !== "string") {
    throw new TypeError(`The "${name}" argument must be of type string. Received ${typeof p}`);
  }
}

/** Resolves `.` and `..` segments (Node's `normalizeString` with `/`). */
function normalizeString(path: string, allowAboveRoot: boolean): string {
  let res = "";
  let lastSegmentLength = 0;
  let lastSlash = -1;
  let dots = 0;
  let code = 0;
  for (let i = 0, len = path.length; i <= len; ++i) {
    if (i < len) code = path.charCodeAt(i);
    else if (code === SLASH) break;
    else code = SLASH;
    if (code === SLASH) {
      if (lastSlash === i - 1 || dots === 1) {
        // NOOP
      } else if (dots === 2) {
        if (
          res.length < 2 || lastSegmentLength !== 2 ||
          res.charCodeAt(res.length - 1) !== DOT || res.charCodeAt(res.length - 2) !== DOT
        ) {
          if (res.length > 2) {
            const lastSlashIndex = res.length - lastSegmentLength - 1;
            if (lastSlashIndex === -1) {
              res = "";
              lastSegmentLength = 0;
            } else {
              res = res.slice(0, lastSlashIndex);
              lastSegmentLength = res.length - 1 - res.lastIndexOf("/");
            }
            lastSlash = i;
            dots = 0;
            continue;
          } else if (res.length !== 0) {
            res = "";
            lastSegmentLength = 0;
            lastSlash = i;
            dots = 0;
            continue;
          }
        }
        if (allowAboveRoot) {
          res += res.length > 0 ? "/.." : "..";
          lastSegmentLength = 2;
        }
      } else {
        if (res.length > 0) res += "/" + path.slice(lastSlash + 1, i);
        else res = path.slice(lastSlash + 1, i);
        lastSegmentLength = i - lastSlash - 1;
      }
      lastSlash = i;
      dots = 0;
    } else if (code === DOT && dots !== -1) {
      ++dots;
    } else {
      dots = -1;
    }
  }
  return res;
}

/** The working directory as `node:path`'s `posix` sees it (on Windows: `/`-separated, no drive). */
function posixCwd(): string {
  if (Deno.build.os !== "windows") return Deno.cwd();
  const cwd = Deno.cwd().replaceAll("\\", "/");
  return cwd.slice(cwd.indexOf("/"));
}

function posixResolve(...paths: string[]): string {
  if (paths.length === 0 || (paths.length === 1 && (paths[0] === "" || paths[0] === "."))) {
    const cwd = posixCwd();
    if (cwd.charCodeAt(0) === SLASH) return cwd;
  }
  let resolved = "";
  let absolute = false;
  for (let i = paths.length - 1; i >= 0 && !absolute; i--) {
    const p = paths[i];
    assertPath(p, `paths[${i}]`);
    if (p.length === 0) continue;
    resolved = `${p}/${resolved}`;
    absolute = p.charCodeAt(0) === SLASH;
  }
  if (!absolute) {
    const cwd = posixCwd();
    resolved = `${cwd}/${resolved}`;
    absolute = cwd.charCodeAt(0) === SLASH;
  }
  resolved = normalizeString(resolved, !absolute);
  if (absolute) return `/${resolved}`;
  return resolved.length > 0 ? resolved : ".";
}

function posixNormalize(path: string): string {
  assertPath(path);
  if (path.length === 0) return ".";
  const absolute = path.charCodeAt(0) === SLASH;
  const trailing = path.charCodeAt(path.length - 1) === SLASH;
  path = normalizeString(path, !absolute);
  if (path.length === 0 && !absolute) path = ".";
  if (path.length > 0 && trailing) path += "/";
  return absolute ? `/${path}` : path;
}

function posixIsAbsolute(path: string): boolean {
  assertPath(path);
  return path.length > 0 && path.charCodeAt(0) === SLASH;
}

function posixJoin(...paths: string[]): string {
  if (paths.length === 0) return ".";
  let joined: string | undefined;
  for (const p of paths) {
    assertPath(p);
    if (p.length > 0) joined = joined ? `${joined}/${p}` : p;
  }
  return joined ? posixNormalize(joined) : ".";
}

function posixRelative(from: string, to: string): string {
  assertPath(from, "from");
  assertPath(to, "to");
  if (from === to) return "";
  from = posixResolve(from);
  to = posixResolve(to);
  if (from === to) return "";
  const fromStart = 1;
  const fromEnd = from.length;
  const fromLen = fromEnd - fromStart;
  const toStart = 1;
  const toLen = to.length - toStart;
  const length = fromLen < toLen ? fromLen : toLen;
  let lastCommonSep = -1;
  let i = 0;
  for (; i < length; i++) {
    const code = from.charCodeAt(fromStart + i);
    if (code !== to.charCodeAt(toStart + i)) break;
    else if (code === SLASH) lastCommonSep = i;
  }
  if (i === length) {
    if (toLen > length) {
      // `from` is the exact base path of `to`, or the root
      if (to.charCodeAt(toStart + i) === SLASH) return to.slice(toStart + i + 1);
      if (i === 0) return to.slice(toStart + i);
    } else if (fromLen > length) {
      // `to` is the exact base path of `from`, or the root
      if (from.charCodeAt(fromStart + i) === SLASH) lastCommonSep = i;
      else if (i === 0) lastCommonSep = 0;
    }
  }
  let out = "";
  for (i = fromStart + lastCommonSep + 1; i <= fromEnd; ++i) {
    if (i === fromEnd || from.charCodeAt(i) === SLASH) out += out.length === 0 ? ".." : "/..";
  }
  return out + to.slice(toStart + lastCommonSep);
}

function posixDirname(path: string): string {
  assertPath(path);
  if (path.length === 0) return ".";
  const hasRoot = path.charCodeAt(0) === SLASH;
  let end = -1;
  let matchedSlash = true;
  for (let i = path.length - 1; i >= 1; --i) {
    if (path.charCodeAt(i) === SLASH) {
      if (!matchedSlash) {
        end = i;
        break;
      }
    } else {
      matchedSlash = false;
    }
  }
  if (end === -1) return hasRoot ? "/" : ".";
  if (hasRoot && end === 1) return "//";
  return path.slice(0, end);
}

function posixBasename(path: string, suffix = ""): string {
  assertPath(suffix, "ext");
  assertPath(path);
  let start = 0;
  let end = -1;
  let matchedSlash = true;
  if (suffix.length > 0 && suffix.length <= path.length) {
    if (suffix === path) return "";
    let extIdx = suffix.length - 1;
    let firstNonSlashEnd = -1;
    for (let i = path.length - 1; i >= 0; --i) {
      const code = path.charCodeAt(i);
      if (code === SLASH) {
        if (!matchedSlash) {
          start = i + 1;
          break;
        }
      } else {
        if (firstNonSlashEnd === -1) {
          matchedSlash = false;
          firstNonSlashEnd = i + 1;
        }
        if (extIdx >= 0) {
          if (code === suffix.charCodeAt(extIdx)) {
            if (--extIdx === -1) end = i;
          } else {
            extIdx = -1;
            end = firstNonSlashEnd;
          }
        }
      }
    }
    if (start === end) end = firstNonSlashEnd;
    else if (end === -1) end = path.length;
    return path.slice(start, end);
  }
  for (let i = path.length - 1; i >= 0; --i) {
    if (path.charCodeAt(i) === SLASH) {
      if (!matchedSlash) {
        start = i + 1;
        break;
      }
    } else if (end === -1) {
      matchedSlash = false;
      end = i + 1;
    }
  }
  return end === -1 ? "" : path.slice(start, end);
}

function posixExtname(path: string): string {
  assertPath(path);
  let startDot = -1;
  let startPart = 0;
  let end = -1;
  let matchedSlash = true;
  // the state of the characters before the first dot and after any separator
  let preDotState = 0;
  for (let i = path.length - 1; i >= 0; --i) {
    const code = path.charCodeAt(i);
    if (code === SLASH) {
      if (!matchedSlash) {
        startPart = i + 1;
        break;
      }
      continue;
    }
    if (end === -1) {
      matchedSlash = false;
      end = i + 1;
    }
    if (code === DOT) {
      if (startDot === -1) startDot = i;
      else if (preDotState !== 1) preDotState = 1;
    } else if (startDot !== -1) {
      preDotState = -1;
    }
  }
  if (
    startDot === -1 || end === -1 || preDotState === 0 ||
    (preDotState === 1 && startDot === end - 1 && startDot === startPart + 1)
  ) {
    return "";
  }
  return path.slice(startDot, end);
}

/** The functions of `node:path` this server uses, with their signatures. */
export interface PathApi {
  readonly sep: string;
  readonly delimiter: string;
  resolve(...paths: string[]): string;
  normalize(path: string): string;
  isAbsolute(path: string): boolean;
  join(...paths: string[]): string;
  relative(from: string, to: string): string;
  dirname(path: string): string;
  basename(path: string, suffix?: string): string;
  extname(path: string): string;
}

/** POSIX paths on every platform (`node:path`'s `posix`). */
export const posix: PathApi = Object.freeze({
  sep: "/",
  delimiter: ":",
  resolve: posixResolve,
  normalize: posixNormalize,
  isAbsolute: posixIsAbsolute,
  join: posixJoin,
  relative: posixRelative,
  dirname: posixDirname,
  basename: posixBasename,
  extname: posixExtname,
});

const native: PathApi = Deno.build.os === "windows" ? await import("node:path") : posix;

/** The platform's separator (`/`, or `\` on Windows). */
export const sep: string = native.sep;
/** The separator of `PATH`-like lists (`:`, or `;` on Windows). */
export const delimiter: string = native.delimiter;
/** `path.resolve` of the platform. */
export const resolve: PathApi["resolve"] = native.resolve;
/** `path.normalize` of the platform. */
export const normalize: PathApi["normalize"] = native.normalize;
/** `path.isAbsolute` of the platform. */
export const isAbsolute: PathApi["isAbsolute"] = native.isAbsolute;
/** `path.join` of the platform. */
export const join: PathApi["join"] = native.join;
/** `path.relative` of the platform. */
export const relative: PathApi["relative"] = native.relative;
/** `path.dirname` of the platform. */
export const dirname: PathApi["dirname"] = native.dirname;
/** `path.basename` of the platform. */
export const basename: PathApi["basename"] = native.basename;
/** `path.extname` of the platform. */
export const extname: PathApi["extname"] = native.extname;
