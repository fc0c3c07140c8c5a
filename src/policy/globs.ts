/**
 * Deny-side glob matching for `restricted_globs` and `redact_paths_globs`
 * (SECURITY.md PATH-9, PATH-12, PATH-13; REFERENCE_GAPS.md #6).
 *
 * Semantics (NEW, a strict superset of the reference):
 *
 * - `*` matches within one path component, `?` one character, `[...]` one
 *   character of a set (`[!...]` negated), `**` as a whole component matches
 *   zero or more components;
 * - a pattern without a leading `/` (Windows: without a drive or UNC root) is
 *   implicitly prefixed with `**`/, so `.env` and `**` + `/.env` mean the same;
 * - a path is denied when the pattern matches the path itself **or any of its
 *   ancestor directories** (`**` + `/secrets/*` denies `/x/secrets/a/b`);
 * - matching is also done on the NFC-normalised path and pattern, and, with
 *   `caseInsensitive` (always on Windows), on lower-cased forms; Windows paths
 *   are also matched with trailing dots and spaces stripped from every
 *   component (`.env.` is `.env`).
 *
 * The reference used Python's `PurePath.match` (right-anchored, `**` = `*`,
 * `fnmatch` character semantics: `\`, `{`, `(`, `!`... are literal, `[^a]` is
 * the set `{^, a}`). Each pattern component is translated from fnmatch syntax
 * into picomatch syntax so that picomatch gives exactly the fnmatch verdict per
 * component, and the raw path is matched too, so every path the reference
 * denied is still denied (tested against Python's own verdicts).
 *
 * Matching itself is picomatch's; this module only translates syntax and
 * builds the path forms.
 *
 * @module
 */

// @ts-types="npm:@types/picomatch@4.0.3"
import picomatch from "picomatch";

/** Options of {@link matchGlobs}. */
export interface GlobOptions {
  /** fold case on the deny side (`case_insensitive_paths`; implied by `windows`) */
  caseInsensitive: boolean;
  /** Windows path and pattern rules (`\` is a separator, drive and UNC roots) */
  windows?: boolean;
}

/**
 * picomatch options: fnmatch-compatible syntax only, Unicode-aware regexes.
 * `fastpaths: false`: the fast path escapes every non-word character with a
 * backslash (invalid under the `u` flag) and splits astral characters.
 */
const PM_OPTIONS: picomatch.PicomatchOptions & { fastpaths: boolean } = {
  fastpaths: false,
  dot: true,
  nobrace: true,
  noextglob: true,
  nonegate: true,
  posix: false,
  flags: "u",
};

/** Stands in for the root component in the reference's view of a path (see {@link selfForms}). */
const ROOT_SENTINEL = "\u0000";

/** Characters escaped with `\` outside brackets (regex syntax characters, valid escapes under the `u` flag). */
const ESCAPE_OUTSIDE = new Set([
  "\\",
  "*",
  "?",
  "[",
  "]",
  "{",
  "}",
  "(",
  ")",
  "|",
  "+",
  "^",
  "$",
  ".",
]);
/** Characters escaped inside a bracket expression. */
const ESCAPE_INSIDE = new Set([
  "\\",
  "]",
  "[",
  "^",
  "-",
  "{",
  "}",
  "(",
  ")",
  "|",
  "+",
  "$",
  ".",
  "*",
  "?",
]);

function escapeOutside(c: string): string {
  // picomatch mangles runs of escaped backslashes ("\\\\" -> one backslash, and
  // "*a\\\\" never finishes compiling); a one-element set is safe
  if (c === "\\") return "[\\\\]";
  // a leading double quote starts a quoted literal in picomatch
  if (c === '"') return '["]';
  return ESCAPE_OUTSIDE.has(c) ? "\\" + c : c;
}

function escapeInside(c: string): string {
  return ESCAPE_INSIDE.has(c) ? "\\" + c : c;
}

/** One item of a bracket set: a single code point or an inclusive range. */
type SetItem = { lo: string; hi: string };

/**
 * The set of a fnmatch bracket expression, computed exactly like Python 3.11
 * `fnmatch.translate` (chunks split on `-`, empty ranges removed) and then
 * read like `re` reads a character class. `stuff` is the text between `[` and
 * `]`, including a leading `!`.
 */
function fnmatchSet(stuff: string): { negate: boolean; items: SetItem[] } | "never" | "any" {
  const cps = [...stuff];
  // Python builds a regex class body; we build the same body as a token list
  // (each token a literal code point or a range operator) instead of a string.
  type Tok = { lit: string } | { range: true };
  let toks: Tok[];
  if (!cps.includes("-")) {
    toks = cps.map((c) => ({ lit: c }));
  } else {
    const chunks: string[][] = [];
    let i = 0;
    let k = cps[0] === "!" ? 2 : 1;
    for (;;) {
      const f = k < cps.length ? cps.indexOf("-", k) : -1;
      if (f < 0) break;
      chunks.push(cps.slice(i, f));
      i = f + 1;
      k = f + 3;
    }
    const last = cps.slice(i);
    if (last.length) chunks.push(last);
    else chunks[chunks.length - 1]!.push("-");
    for (let j = chunks.length - 1; j > 0; j--) {
      const prev = chunks[j - 1]!;
      const cur = chunks[j]!;
      if (prev[prev.length - 1]! > cur[0]!) {
        // compare by code point like Python
        chunks[j - 1] = [...prev.slice(0, -1), ...cur.slice(1)];
        chunks.splice(j, 1);
      }
    }
    toks = [];
    chunks.forEach((ch, idx) => {
      if (idx > 0) toks.push({ range: true });
      for (const c of ch) toks.push({ lit: c });
    });
  }
  if (toks.length === 0) return "never";
  let negate = false;
  const first = toks[0]!;
  if ("lit" in first && first.lit === "!") {
    negate = true;
    toks = toks.slice(1);
    if (toks.length === 0) return "any";
  }
  // read the class body like `re`: a literal followed by a range operator and
  // another literal is a range; anything else is a literal (a leading or
  // trailing "-" included)
  const items: SetItem[] = [];
  let p = 0;
  const litAt = (n: number): string | null => {
    const t = toks[n];
    if (!t) return null;
    return "lit" in t ? t.lit : "-";
  };
  while (p < toks.length) {
    const c = litAt(p)!;
    const t = toks[p]!;
    const next = toks[p + 1];
    const after = litAt(p + 2);
    if ("lit" in t && next && "range" in next && after !== null) {
      if (cmpCodePoint(c, after) > 0) return "never"; // Python would raise; treat as matching nothing
      items.push({ lo: c, hi: after });
      p += 3;
    } else {
      items.push({ lo: c, hi: c });
      p += 1;
    }
  }
  return { negate, items };
}

function cmpCodePoint(a: string, b: string): number {
  return a.codePointAt(0)! - b.codePointAt(0)!;
}

/**
 * Translates one fnmatch component pattern into picomatch syntax with the
 * same verdict on any single component, or null when it can never match.
 */
export function fnmatchComponentToPicomatch(part: string): string | null {
  const cps = [...part];
  let out = "";
  let i = 0;
  while (i < cps.length) {
    const c = cps[i]!;
    if (c === "*") {
      while (cps[i] === "*") i++;
      out += "*";
      continue;
    }
    if (c === "?") {
      out += "?";
      i++;
      continue;
    }
    if (c === "[") {
      let j = i + 1;
      if (cps[j] === "!") j++;
      if (cps[j] === "]") j++;
      while (j < cps.length && cps[j] !== "]") j++;
      if (j >= cps.length) {
        out += "\\[";
        i++;
        continue;
      }
      const set = fnmatchSet(cps.slice(i + 1, j).join(""));
      i = j + 1;
      if (set === "never") return null;
      if (set === "any") {
        out += "?";
        continue;
      }
      // distinct items; items with a backslash first (picomatch misreads a
      // second escaped backslash just before "]")
      const texts = [
        ...new Set(
          set.items.map((it) =>
            it.lo === it.hi ? escapeInside(it.lo) : `${escapeInside(it.lo)}-${escapeInside(it.hi)}`
          ),
        ),
      ].sort((a, b) => Number(b.startsWith("\\\\")) - Number(a.startsWith("\\\\")));
      out += "[" + (set.negate ? "^" : "") + texts.join("") + "]";
      continue;
    }
    out += escapeOutside(c);
    i++;
  }
  return out;
}

/** A path split into its root (anchor) and components. */
interface SplitPath {
  /** "" relative; "/" POSIX root; "c:" drive; "//server/share" UNC */
  anchor: string;
  parts: string[];
}

const DRIVE_RE = /^\/?([A-Za-z]:)(\/|$)/;
const UNC_RE = /^\/\/([^/]+)\/([^/]+)(\/|$)/;

function splitPath(p: string, windows: boolean): SplitPath {
  if (!windows) {
    const anchor = p.startsWith("/") ? "/" : "";
    return { anchor, parts: p.split("/").filter((x) => x !== "" && x !== ".") };
  }
  const s = p.replaceAll("\\", "/");
  const unc = UNC_RE.exec(s);
  if (unc) {
    return {
      anchor: `//${unc[1]}/${unc[2]}`,
      parts: s.slice(unc[0].length).split("/").filter((x) => x !== "" && x !== "."),
    };
  }
  const drive = DRIVE_RE.exec(s);
  if (drive) {
    return {
      anchor: drive[1]!,
      parts: s.slice(drive[0].length).split("/").filter((x) => x !== "" && x !== "."),
    };
  }
  const anchor = s.startsWith("/") ? "/" : "";
  return { anchor, parts: s.split("/").filter((x) => x !== "" && x !== ".") };
}

/** Plain match string: the components joined by `/`, a Windows anchor as the first component(s). */
function plainOf(sp: SplitPath, n = sp.parts.length): string {
  const head = sp.anchor === "" || sp.anchor === "/"
    ? []
    : sp.anchor.startsWith("//")
    ? sp.anchor.slice(2).split("/")
    : [sp.anchor];
  return [...head, ...sp.parts.slice(0, n)].join("/");
}

/**
 * The reference matched a relative pattern against the path's parts with the
 * root as a part of its own (`/`, `c:\`, `\\server\share\`), so `*` + `/x`
 * matched `/x`. The root is written with a sentinel character in place of
 * every separator, which only wildcards can match (no pattern contains NUL).
 */
function sentinelOf(sp: SplitPath): string {
  if (sp.anchor === "") return plainOf(sp);
  const root = sp.anchor === "/"
    ? ROOT_SENTINEL
    : sp.anchor.startsWith("//")
    ? sp.anchor.replaceAll("/", ROOT_SENTINEL) + ROOT_SENTINEL
    : sp.anchor + ROOT_SENTINEL;
  return [root, ...sp.parts].join("/");
}

/** A compiled pattern. */
interface Compiled {
  source: string;
  /** null: can never match (an empty fnmatch set) */
  test: ((s: string) => boolean) | null;
  relative: boolean;
  /** picomatch could not compile the translated pattern (it then denies everything) */
  failed: boolean;
}

const cache = new Map<string, Compiled>();

function compile(pattern: string, windows: boolean): Compiled {
  const key = `${windows ? "w" : "p"}\u0000${pattern}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const sp = splitPath(pattern, windows);
  const relative = sp.anchor === "";
  let test: ((s: string) => boolean) | null;
  let failed = false;
  const parts: string[] = [];
  let never = false;
  for (const part of sp.parts) {
    if (part === "**") {
      parts.push("**");
      continue;
    }
    const t = fnmatchComponentToPicomatch(part);
    if (t === null) {
      never = true;
      break;
    }
    parts.push(t);
  }
  if (never) {
    test = null;
  } else {
    // what stands before the components: the implicit "**" of a relative
    // pattern, or the anchor (Windows "/x" = any drive or any UNC share)
    const tr = (xs: string[]) => xs.map((x) => fnmatchComponentToPicomatch(x));
    const heads: (string | null)[][] = relative
      ? [["**"]]
      : sp.anchor === "/"
      ? (windows ? [["*"], ["*", "*"]] : [[]])
      : sp.anchor.startsWith("//")
      ? [tr(sp.anchor.slice(2).split("/"))]
      : [tr([sp.anchor])];
    const tests: ((s: string) => boolean)[] = [];
    for (const head of heads) {
      if (head.includes(null)) continue;
      const full = [...head, ...parts].join("/");
      if (full === "") {
        // the bare POSIX root pattern "/": matches the root itself only
        tests.push((s: string) => s === "");
        continue;
      }
      const re = picomatch.makeRe(full, PM_OPTIONS);
      if (re.source === "$^") {
        // picomatch could not compile it: fail closed (deny everything)
        failed = true;
        tests.push(() => true);
      } else {
        tests.push((s: string) => re.test(s));
      }
    }
    test = tests.length === 0 ? null : (s: string) => tests.some((t) => t(s));
  }
  const c: Compiled = { source: pattern, test, relative, failed };
  if (cache.size > 10_000) cache.clear();
  cache.set(key, c);
  return c;
}

function fold(s: string): string {
  return s.toLowerCase();
}

/** Windows deny-side form: trailing dots and spaces stripped from every component. */
export function stripTrailingDotsSpaces(p: string): string {
  return p.split(/([\\/])/).map((seg, i) => (i % 2 === 1 ? seg : seg.replace(/[. ]+$/, (m) =>
    // keep "." and ".." themselves and a drive spec
    seg === m ? m : ""))
  ).join("");
}

/** Path/pattern transformations applied together on the deny side (PATH-12/13). */
function variants(opts: GlobOptions): ((s: string) => string)[] {
  const ci = opts.caseInsensitive || opts.windows === true;
  const fs: ((s: string) => string)[] = [(s) => s, (s) => s.normalize("NFC")];
  if (ci) fs.push((s) => fold(s), (s) => fold(s.normalize("NFC")));
  return fs;
}

/**
 * Returns the first pattern that denies `path` (the pattern as configured), or
 * null. `path` is a canonical absolute path (POSIX `/a/b`, Windows `C:/a/b`
 * or `//server/share/a`).
 */
export function matchGlobs(
  path: string,
  patterns: readonly string[],
  opts: { caseInsensitive: boolean; windows?: boolean },
): string | null {
  if (patterns.length === 0) return null;
  const windows = opts.windows === true;
  const pathForms = new Set<string>([path]);
  if (windows) pathForms.add(stripTrailingDotsSpaces(path));
  const vs = variants(opts);
  for (const pattern of patterns) {
    if (pattern === "") continue;
    for (const v of vs) {
      const c = compile(v(pattern), windows);
      if (!c.test) continue;
      for (const pf of pathForms) {
        const sp = splitPath(v(pf), windows);
        // the path itself and every ancestor (the root excluded)
        for (let n = sp.parts.length; n >= 1; n--) {
          if (c.test(plainOf(sp, n))) return pattern;
        }
        if (sp.parts.length === 0 && c.test(plainOf(sp, 0))) return pattern;
        // the reference's view of the path itself (root as a component)
        if (c.relative && c.test(sentinelOf(sp))) return pattern;
      }
    }
  }
  return null;
}

/**
 * Checks that every pattern compiles (for configuration checks and tests).
 * Returns the patterns picomatch cannot compile; those deny every path.
 */
export function invalidGlobs(patterns: readonly string[], windows = false): string[] {
  return patterns.filter((p) => compile(p, windows).failed);
}
