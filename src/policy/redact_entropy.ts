/**
 * Redaction layer 8 (SECURITY.md §RED RED-13, RED-28): high-entropy runs
 * outside `#` / `//` comment lines, when the host enables entropy
 * detection: runs of 20+ base64 / base64url characters (`_` and `-`
 * included, so `dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk` is one run)
 * that look random, then hex runs of 32+ (a run of hex digits is reported
 * as `entropy_hex`). Runs that read as words, paths or identifiers are left.
 *
 * @module
 */

import type { Redactor } from "./redact_engine.ts";
import { ENTROPY_COMMENT_LINE } from "./redact_patterns.ts";
import { looksRandom } from "./redact_values.ts";

/** A base64 / base64url run of 20+ characters (optional `=` padding). */
const RUN = /(?<![A-Za-z0-9+\/_\-<])[A-Za-z0-9+\/_\-]{20,}={0,2}(?![A-Za-z0-9+\/_\-=])/g;
/** A hex run of 32+ digits. */
const HEX_RUN = /(?<![\w<])[a-fA-F0-9]{32,}(?!\w)/g;
const HEX_ONLY = /^[a-fA-F0-9]{32,}$/;

/** Layer 8: high-entropy runs outside comment lines. */
export function redactEntropyRuns(r: Redactor): void {
  const L = r.lines;
  for (let i = 0; i < L.count; i++) {
    const line = L.get(i);
    if (line.length < 20 || ENTROPY_COMMENT_LINE.test(line)) continue;
    const [ls] = L.span(i);
    for (const m of line.matchAll(RUN)) {
      const run = m[0];
      let a = 0;
      let b = run.length;
      while (a < b && "-_/".includes(run[a]!)) a++;
      while (b > a && "-_/".includes(run[b - 1]!)) b--;
      const core = run.slice(a, b);
      if (!looksRandom(core)) continue;
      const s = ls + m.index! + a;
      const kind = HEX_ONLY.test(core) ? "entropy_hex" : "entropy_base64";
      r.secret(s, s + core.length, { kind, key: null });
    }
    for (const m of line.matchAll(HEX_RUN)) {
      r.secret(ls + m.index!, ls + m.index! + m[0].length, { kind: "entropy_hex", key: null });
    }
  }
}
