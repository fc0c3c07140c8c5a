/**
 * src/util/local_path.ts carries the POSIX half of Deno's `node:path` so the
 * start path does not evaluate Deno's Node layer (issue 17, start-up). It
 * must give `node:path`'s result for every input: compared here function by
 * function on 20,000 generated paths (separators doubled and trailing, `.`,
 * `..` and dot names, backslashes, which are file name characters on POSIX,
 * empty strings, absolute and relative), and on the edge cases Node's own
 * tests name. On POSIX systems the platform exports must be these
 * functions, on Windows `node:path`'s own.
 */

import assert from "node:assert/strict";
import nodePath from "node:path";
import * as local from "../../src/util/local_path.ts";

const PARTS = [
  "a",
  "b",
  "ab",
  ".",
  "..",
  "...",
  ".x",
  "x.",
  "x.y",
  "a.b.c",
  "\\",
  "a\\b",
  " ",
  "é",
];
const SEPS = ["/", "/", "/", "//", "///"];

/** A deterministic generator (xorshift32), so a failure names a reproducible case. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 0x1_0000_0000;
  };
}

function genPath(r: () => number): string {
  const pick = <T>(a: readonly T[]): T => a[Math.floor(r() * a.length)]!;
  let p = r() < 0.45 ? pick(SEPS) : "";
  const n = Math.floor(r() * 6);
  for (let i = 0; i < n; i++) p += (i > 0 ? pick(SEPS) : "") + pick(PARTS);
  if (r() < 0.25) p += pick(SEPS);
  return r() < 0.05 ? "" : p;
}

const EDGES = [
  "",
  "/",
  "//",
  "///",
  ".",
  "..",
  "./",
  "../",
  "/..",
  "/../..",
  "a/..",
  "a/../..",
  "./a",
  "a//b",
  "/a/b/",
  "/a/b//",
  "//a",
  "//a/b",
  "a/./b/../../..",
  ".x",
  "..x",
  "x..",
  "/x.y.z/",
  "a/b.c/",
  "/.",
  "/..a",
  "a/...",
  "a\\b/..",
  "\\",
  "\\\\server\\share",
  "C:\\x",
  "C:/x",
];

function check(name: string, got: () => unknown, want: () => unknown, input: unknown): void {
  let g: unknown, w: unknown;
  try {
    w = want();
  } catch (e) {
    w = `throws ${(e as Error).name}`;
  }
  try {
    g = got();
  } catch (e) {
    g = `throws ${(e as Error).name}`;
  }
  assert.deepEqual(g, w, `${name}(${JSON.stringify(input)})`);
}

Deno.test("local_path: every function equals node:path.posix on edge cases and 20,000 generated paths", () => {
  const P = nodePath.posix;
  const L = local.posix;
  const r = rng(0x5eed);
  const inputs = [...EDGES];
  for (let i = 0; i < 20_000; i++) inputs.push(genPath(r));
  for (const p of inputs) {
    check("normalize", () => L.normalize(p), () => P.normalize(p), p);
    check("isAbsolute", () => L.isAbsolute(p), () => P.isAbsolute(p), p);
    check("dirname", () => L.dirname(p), () => P.dirname(p), p);
    check("basename", () => L.basename(p), () => P.basename(p), p);
    check("extname", () => L.extname(p), () => P.extname(p), p);
    check("resolve", () => L.resolve(p), () => P.resolve(p), p);
    const q = genPath(r);
    const s = genPath(r);
    check("join", () => L.join(p, q), () => P.join(p, q), [p, q]);
    check("join3", () => L.join(p, q, s), () => P.join(p, q, s), [p, q, s]);
    check("resolve2", () => L.resolve(p, q), () => P.resolve(p, q), [p, q]);
    check("relative", () => L.relative(p, q), () => P.relative(p, q), [p, q]);
    const suffix = [".y", "y", "b", p.slice(-2), ""][Math.floor(r() * 5)]!;
    check("basename2", () => L.basename(p, suffix), () => P.basename(p, suffix), [p, suffix]);
  }
  check("join()", () => L.join(), () => P.join(), []);
  check("resolve()", () => L.resolve(), () => P.resolve(), []);
  for (const args of [[""], ["."], ["", ""], ["a", ""]]) {
    check("resolve", () => L.resolve(...args), () => P.resolve(...args), args);
  }
  assert.equal(L.sep, P.sep);
  assert.equal(L.delimiter, P.delimiter);
});

Deno.test("local_path: a non-string argument is a TypeError, as in node:path", () => {
  for (const f of [local.posix.normalize, local.posix.dirname, local.posix.basename]) {
    assert.throws(() => (f as (x: unknown) => string)(undefined), TypeError);
  }
  assert.throws(() => local.posix.join("a", 1 as unknown as string), TypeError);
  assert.throws(() => local.posix.resolve("a", null as unknown as string), TypeError);
  assert.throws(() => local.posix.basename("a", 1 as unknown as string), TypeError);
});

Deno.test("local_path: on this platform the exports are node:path's", () => {
  // POSIX systems get the carried-over functions, Windows node:path itself
  const want = Deno.build.os === "windows" ? nodePath : local.posix;
  for (
    const k of [
      "resolve",
      "normalize",
      "isAbsolute",
      "join",
      "relative",
      "dirname",
      "basename",
      "extname",
    ] as const
  ) {
    assert.equal(local[k], want[k], k);
  }
  assert.equal(local.sep, nodePath.sep);
  assert.equal(local.delimiter, nodePath.delimiter);
});
