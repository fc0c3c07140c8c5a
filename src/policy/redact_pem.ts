/**
 * Redaction layer 1 (SECURITY.md §RED RED-13, RED-23): key blocks, always,
 * whatever the format and even with entropy detection off.
 *
 * - PEM blocks `-----BEGIN X-----` ... `-----END X-----` (every private kind:
 *   RSA, EC, DSA, PKCS#8, encrypted, OpenSSH, PGP; certificates too): the
 *   header line kept, the body (headers such as `DEK-Info` included) replaced
 *   by one marker, the closing line `-----END (redacted)-----`; an
 *   unterminated block is redacted to the end of the text (fail closed); a
 *   block on one line (JSON `\n` escapes) keeps its markers;
 * - SSH.com / RFC 4716 blocks `---- BEGIN SSH2 ... ----` ... `---- END ... ----`;
 * - PuTTY `.ppk` files: the `Private-Lines: N` lines and `Private-MAC` /
 *   `Private-Hash` values.
 *
 * @module
 */

import type { Redactor } from "./redact_engine.ts";

const PEM_BEGIN = /-----BEGIN [A-Za-z0-9 ]+-----/;
const PEM_END = /-----END [A-Za-z0-9 ]+-----/;
const SSH2_BEGIN = /^\s*---- BEGIN [A-Z0-9 ]+ ----\s*$/;
const SSH2_END = /^\s*---- END [A-Z0-9 ]+ ----\s*$/;
const PUTTY_LINES = /^Private-Lines:\s*(\d+)\s*$/;
const PUTTY_MAC = /^(Private-(?:MAC|Hash)):\s*(\S+)/;
const END_LITERAL = "-----END (redacted)-----";

/** Layer 1: PEM, SSH2 and PuTTY key material. */
export function redactKeyBlocks(r: Redactor): void {
  const L = r.lines;
  for (let i = 0; i < L.count; i++) {
    const line = L.get(i);
    const [ls] = L.span(i);
    if (line.includes("-----BEGIN ")) {
      const b = PEM_BEGIN.exec(line);
      if (b) {
        const next = pemBlock(r, i, b.index + b[0].length);
        if (next === null) return; // unterminated: redacted to the end
        i = next;
        continue;
      }
    }
    if (line.startsWith("Private-") || line.trimStart().startsWith("---- BEGIN")) {
      const n = PUTTY_LINES.exec(line);
      if (n) {
        const count = Math.min(Number(n[1]), L.count - i - 1);
        if (count > 0) {
          const s = L.starts[i + 1]!;
          const e = L.span(i + count)[1];
          r.secret(s, e, { kind: "pem_block", key: null });
          i += count;
        }
        continue;
      }
      const mac = PUTTY_MAC.exec(line);
      if (mac) {
        const s = ls + line.length - line.slice(mac.index + mac[1]!.length + 1).trimStart().length;
        r.secret(s, s + mac[2]!.length, { kind: "pem_block", key: null });
        continue;
      }
      if (SSH2_BEGIN.test(line)) {
        let j = i + 1;
        while (j < L.count && !SSH2_END.test(L.get(j))) j++;
        const s = L.starts[i + 1] ?? r.text.length;
        const e = j < L.count ? L.starts[j]! : r.text.length;
        body(r, s, e, "", j < L.count);
        i = j;
      }
    }
  }
}

/** One PEM block whose header ends at column `hdrEnd` of line `i`; the last line used, or null. */
function pemBlock(r: Redactor, i: number, hdrEnd: number): number | null {
  const L = r.lines;
  const [ls] = L.span(i);
  const bodyStart = ls + hdrEnd;
  const sameEnd = PEM_END.exec(L.get(i).slice(hdrEnd));
  if (sameEnd) {
    const endStart = bodyStart + sameEnd.index;
    r.secret(bodyStart, endStart, { kind: "pem_block", key: null });
    r.literal(endStart, endStart + sameEnd[0].length, END_LITERAL);
    return i;
  }
  let j = i + 1;
  for (; j < L.count; j++) {
    const t = L.get(j);
    if (t.includes("-----END ") && PEM_END.test(t)) break;
  }
  if (j >= L.count) {
    let end = r.text.length;
    if (r.text.endsWith("\n")) end--;
    if (end > bodyStart) body(r, bodyStart, end, "", false);
    return null;
  }
  const endLine = L.get(j);
  const e = PEM_END.exec(endLine)!;
  const [es] = L.span(j);
  const prefix = endLine.slice(0, e.index);
  const indent = /^\s*$/.test(prefix) ? prefix : "";
  body(r, bodyStart, es + (indent === "" ? e.index : 0), indent);
  r.literal(es + indent.length, es + e.index + e[0].length, END_LITERAL);
  return j;
}

/** Replaces a multi-line body by "\n<indent><marker>\n" (no final newline when unterminated). */
function body(r: Redactor, start: number, end: number, indent: string, closed = true): void {
  let value = r.text.slice(start, end);
  const lead = value.match(/^[ \t]*\r?\n/)?.[0] ?? "";
  value = value.slice(lead.length).replace(/\r?\n$/, "");
  if (value.trim() === "") return;
  const cr = lead.endsWith("\r\n") ? "\r\n" : "\n";
  r.secret(start, end, {
    kind: "pem_block",
    key: null,
    value,
    wrap: [`${lead || "\n"}${indent}`, closed ? cr : ""],
  });
}
