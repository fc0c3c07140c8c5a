/**
 * Unified-diff application for `ssh_patch` (TOOLS.md §7): parsed and applied
 * by the maintained `diff` package with `fuzzFactor: 0`, after our own checks
 * of the contract's rules -- exactly one file, hunks in order and not
 * overlapping, and every context and removal line equal to the file's line at
 * the hunk's stated position (no offset search, no fuzz). Pure functions.
 *
 * @module
 */

import { applyPatch, parsePatch, type StructuredPatch } from "diff";
import { ToolError } from "../../errors.ts";

/**
 * Parses `unified_diff` into exactly one file patch; throws a message naming
 * the problem (0 files, several files, malformed hunk).
 */
export function parseOneFilePatch(text: string): StructuredPatch {
  let files: StructuredPatch[];
  try {
    files = parsePatch(text);
  } catch (e) {
    throw new Error(`malformed unified diff: ${(e as Error).message}`);
  }
  const withHunks = files.filter((f) => f.hunks.length > 0);
  if (withHunks.length === 0) throw new Error("the diff contains no hunks (no @@ ... @@ lines)");
  if (files.length > 1) {
    throw new Error(
      `the diff touches ${files.length} files; ssh_patch applies a diff for one file only`,
    );
  }
  const p = withHunks[0]!;
  p.hunks.forEach((h, i) => {
    if (!Number.isInteger(h.oldStart) || !Number.isInteger(h.oldLines) || h.oldStart < 0) {
      throw new Error(`malformed unified diff: hunk ${i + 1} has no valid @@ -a,b +c,d @@ header`);
    }
  });
  return p;
}

function show(s: string): string {
  return JSON.stringify(s.length > 120 ? s.slice(0, 117) + "..." : s);
}

/**
 * Applies `patch` to `source` under the contract's rules; returns the new
 * text and the hunk count. Rule violations are `WriteError`s naming the hunk
 * and the 1-based line.
 */
export function applyStrict(
  source: string,
  patch: StructuredPatch,
): { text: string; hunks: number } {
  const lines = source.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  let prevEnd = 0;
  patch.hunks.forEach((h, i) => {
    const n = i + 1;
    let pos = Math.max(0, h.oldStart - 1);
    if (pos < prevEnd) {
      throw new ToolError(
        "WriteError",
        `hunk ${n} starts at line ${h.oldStart}, before the end of hunk ${i} (line ${prevEnd}); hunks must be in file order and must not overlap. The file was left untouched.`,
      );
    }
    for (const l of h.lines) {
      const op = l[0];
      if (op === "+" || op === "\\") continue;
      const want = l.slice(1);
      const have = lines[pos];
      if (have === undefined) {
        throw new ToolError(
          "WriteError",
          `hunk ${n}: line ${
            pos + 1
          } is past the end of the file (${lines.length} lines); expected ${
            show(want)
          }. The file was left untouched; re-read it and rebuild the diff.`,
        );
      }
      if (have !== want) {
        throw new ToolError(
          "WriteError",
          `hunk ${n}: ${op === "-" ? "removal" : "context"} line ${
            pos + 1
          } does not match: the diff expects ${show(want)}, the file has ${
            show(have)
          }. No fuzz is applied; the file was left untouched.`,
          { hunk: n, line: pos + 1 },
        );
      }
      pos++;
    }
    prevEnd = pos;
  });
  const out = applyPatch(source, patch, { fuzzFactor: 0, autoConvertLineEndings: false });
  if (out === false) {
    throw new ToolError(
      "WriteError",
      "The diff could not be applied; the file was left untouched.",
    );
  }
  return { text: out, hunks: patch.hunks.length };
}
