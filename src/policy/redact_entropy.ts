/**
 * Redaction layer 4 (SECURITY.md §RED): high-entropy runs outside comment
 * lines, when the host enables entropy detection: base64-like runs of 20+
 * characters, then hex runs of 32+ (a run of hex digits is reported as
 * `entropy_hex`).
 *
 * @module
 */

import type { Redactor } from "./redact_engine.ts";
import { BASE64_RUN, COMMENT_LINE, HEX_RUN } from "./redact_patterns.ts";

/** Layer 4: high-entropy runs outside comment lines. */
export function redactEntropyRuns(r: Redactor): void {
  const L = r.lines;
  for (let i = 0; i < L.count; i++) {
    const line = L.get(i);
    if (COMMENT_LINE.test(line)) continue;
    const [ls] = L.span(i);
    for (const m of line.matchAll(BASE64_RUN)) {
      const hexOnly = /^[a-fA-F0-9]{32,}$/.test(m[0]);
      r.secret(
        ls + m.index,
        ls + m.index + m[0].length,
        hexOnly ? "entropy_hex" : "entropy_base64",
        null,
      );
    }
    for (const m of line.matchAll(HEX_RUN)) {
      r.secret(ls + m.index, ls + m.index + m[0].length, "entropy_hex", null);
    }
  }
}
