/**
 * Redaction by file name (SECURITY.md §RED RED-39), when the caller passes
 * the path: formats whose secrets carry no key at all.
 *
 * - exim `passwd.client` (`host:user:password`) and ppp `chap-secrets` /
 *   `pap-secrets` (`client server secret [ip]`): the password field;
 * - PgBouncer `userlist.txt` (`"user" "password"`): the second string;
 * - a small file named like a secret (`db_password.txt` from Docker
 *   secrets, Ansible `vault_pass.txt`, Rails `master.key`, `api.token`)
 *   whose lines are no assignments: every line.
 *
 * @module
 */

import path from "node:path";
import type { Redactor } from "./redact_engine.ts";
import { parseAssign } from "./redact_lines.ts";
import { inner, words } from "./redact_words.ts";

/** Layer 0b: rules chosen by the file's name. */
export function redactByName(r: Redactor, filePath: string): void {
  const base = path.posix.basename(filePath.replaceAll("\\", "/"));
  const lower = base.toLowerCase();
  const L = r.lines;
  for (let i = 0; i < L.count; i++) {
    const line = L.get(i);
    if (line.trim() === "" || /^\s*#/.test(line)) continue;
    const [ls] = L.span(i);
    if (lower === "passwd.client") {
      const a = line.indexOf(":");
      const b = a < 0 ? -1 : line.indexOf(":", a + 1);
      if (b > 0) r.keyed(base, ls + b + 1, ls + line.length, { force: true });
    } else if (lower === "chap-secrets" || lower === "pap-secrets") {
      const w = words(line, ls, "", 4);
      if (w.length >= 3) r.keyed(base, ...inner(w[2]!), { force: true });
    } else if (lower === "userlist.txt") {
      const w = words(line, ls, "", 3);
      if (w.length >= 2 && /^"/.test(w[1]!.text)) r.keyed(base, ...inner(w[1]!), { force: true });
    }
  }
  secretFile(r, base);
}

/** A short file named like a secret, holding only values: each line is one. */
function secretFile(r: Redactor, base: string): void {
  const stem = base.replace(/^\./, "").replace(/\.(txt|key|token|secret|pass|pw)$/i, "");
  if (!r.isSecretKey(stem) && !r.isSecretKey(base)) return;
  const L = r.lines;
  const lines: number[] = [];
  for (let i = 0; i < L.count; i++) {
    const t = L.get(i);
    if (t.trim() === "") continue;
    if (lines.length >= 3 || /^-----BEGIN /.test(t) || parseAssign(t) !== null) return;
    lines.push(i);
  }
  for (const i of lines) {
    const [s, e] = L.span(i);
    r.keyed(base, s, e, { force: true });
  }
}
