/**
 * Redaction layer 6 (SECURITY.md §RED RED-27): passwords on command lines
 * (scripts, shell history, CI files, systemd `ExecStart`, crontabs).
 *
 * - per program: `curl -u user:pass` / `--user` / `--proxy-user`,
 *   `sshpass -p pw` / `-ppw`, `mysql -ppw`, `docker login -p pw` (and
 *   podman, helm, ...), `redis-cli -a pw`, `smbclient -U user%pw`,
 *   `sqlcmd -P pw`, `ipmitool -P pw`, `ldapsearch -w pw`, `mongosh -p pw`,
 *   `htpasswd -b file user pw`, OpenSSL `pass:pw`,
 *   `ConvertTo-SecureString 'pw'`;
 * - any program: an option named like a secret, `--db-password pw`,
 *   `--token=x`, `-storepass x` (not `--password-stdin`, whose next word is
 *   no value).
 *
 * The program is the most recent program word of the line (continued over
 * `\` line ends), so `sshpass -p pw ssh -p 2222 host` redacts the password
 * and keeps ssh's port.
 *
 * @module
 */

import type { Redactor } from "./redact_engine.ts";
import { inner, type Word as Tok, words as splitWords } from "./redact_words.ts";

interface OptRule {
  /** short option (`-p`) */
  o: string;
  /** long option (`--user`) */
  long?: string;
  /** the value is `user<split>password`: only the password part */
  split?: string;
  /** only `-pVALUE` (mysql: a separate `-p` prompts) */
  attachedOnly?: boolean;
  /** a word that must follow the program (`docker login`) */
  needs?: string;
}

const group = (names: string, rules: OptRule[]) =>
  names.split(" ").map((n) => [n, rules] as [string, OptRule[]]);

const PROGRAMS = new Map<string, OptRule[]>([
  ...group("curl", [{ o: "-u", long: "--user", split: ":" }, {
    o: "-U",
    long: "--proxy-user",
    split: ":",
  }]),
  ...group("sshpass", [{ o: "-p" }]),
  ...group(
    "mysql mysqldump mysqladmin mysqlimport mysqlcheck mysqlshow mariadb mariadb-dump",
    [{ o: "-p", attachedOnly: true }],
  ),
  ...group("redis-cli valkey-cli", [{ o: "-a" }]),
  ...group("docker podman nerdctl buildah skopeo helm oras crane", [{
    o: "-p",
    needs: "login",
  }]),
  ...group("smbclient rpcclient smbmap smbcacls", [{ o: "-U", long: "--user", split: "%" }]),
  ...group("sqlcmd bcp osql isql ipmitool", [{ o: "-P" }]),
  ...group("ldapsearch ldapadd ldapmodify ldapdelete ldapwhoami ldappasswd ldapcompare", [{
    o: "-w",
  }]),
  ...group("mongo mongosh mongodump mongorestore mongoexport mongoimport mongostat mongotop", [{
    o: "-p",
  }]),
]);
/** Words that end the previous program's options (another program starts). */
const OTHER_PROGRAMS = new Set([
  "ssh",
  "scp",
  "sftp",
  "rsync",
  "git",
  "psql",
  "pg_dump",
  "tar",
  "sudo",
  "env",
  "xargs",
]);
/** Options whose next word is no value. */
const NO_VALUE = /-(?:stdin|file|fd|env|cmd|command|path|dir|prompt)$/;

/** Layer 6: command-line passwords. */
export function redactCommandLines(r: Redactor): void {
  const L = r.lines;
  let carry: string | null = null;
  for (let i = 0; i < L.count; i++) {
    const line = L.get(i);
    const cont = /\\$/.test(line);
    if (!line.includes("-") && !line.includes("pass:") && !carry) {
      carry = null;
      continue;
    }
    const [ls] = L.span(i);
    if (line.includes("|")) pipedPasswords(r, ls, line);
    const toks = words(line, ls);
    carry = scan(r, toks, carry);
    if (!cont) carry = null;
    // a quoted command (`- 'curl -u a:b ...'`, `sh -c "..."`) is a command line too
    for (const t of toks) {
      if (/^["'`]/.test(t.text) && /\s/.test(t.text)) {
        const [s, e] = inner(t);
        scan(r, words(r.text.slice(s, e), s), null);
      }
    }
  }
}

/** The words of `text` (quotes kept), at absolute offset `at`. */
function words(text: string, at: number): Tok[] {
  return splitWords(text, at, "|;&()");
}

/** A program's password option value [s, e) (`split`: only what follows the separator). */
function propose(r: Redactor, key: string, [s, e]: [number, number], split?: string): void {
  if (split) {
    const k = r.text.slice(s, e).indexOf(split);
    if (k < 0) return;
    s += k + 1;
  }
  r.keyed(key, s, e, { ctx: "directive", force: true });
}

/** One line's words; returns the program still in effect (for `\` continuations). */
function scan(r: Redactor, toks: Tok[], carry: string | null): string | null {
  let prog = carry;
  let rules = prog ? PROGRAMS.get(prog) : undefined;
  const words = new Set<string>();
  for (let k = 0; k < toks.length; k++) {
    const t = toks[k]!;
    const w = t.text;
    const base = w.replace(/^.*\//, "");
    if (PROGRAMS.has(base)) {
      prog = base;
      rules = PROGRAMS.get(base);
      words.clear();
      continue;
    }
    if (OTHER_PROGRAMS.has(base)) {
      prog = null;
      rules = undefined;
      continue;
    }
    if (!w.startsWith("-")) {
      words.add(w);
      cliWord(r, toks, k);
      continue;
    }
    let hit = false;
    for (const rule of rules ?? []) {
      if (rule.needs && !words.has(rule.needs)) continue;
      const next = toks[k + 1];
      if (w === rule.o || (rule.long && w === rule.long)) {
        if (!rule.attachedOnly && next && !next.text.startsWith("-")) {
          propose(r, `${prog} ${rule.o}`, inner(next), rule.split);
        }
        hit = true;
      } else if (rule.long && w.startsWith(rule.long + "=")) {
        const s = t.start + rule.long.length + 1;
        propose(
          r,
          `${prog} ${rule.long}`,
          inner({ text: w.slice(rule.long.length + 1), start: s }),
          rule.split,
        );
        hit = true;
      } else if (w.startsWith(rule.o) && w.length > rule.o.length && !w.startsWith("--")) {
        const s = t.start + rule.o.length;
        propose(
          r,
          `${prog} ${rule.o}`,
          inner({ text: w.slice(rule.o.length), start: s }),
          rule.split,
        );
        hit = true;
      }
    }
    if (!hit) genericOption(r, toks, k);
  }
  return prog;
}

/** `--name=value`, `--name value`, `-storepass value` with a secret-named option. */
function genericOption(r: Redactor, toks: Tok[], k: number): void {
  const t = toks[k]!;
  const m = /^--?([A-Za-z][\w.\-]+)(=(.*))?$/s.exec(t.text);
  if (!m || !r.isSecretKey(m[1]!) || NO_VALUE.test(m[1]!)) return;
  if (m[2] !== undefined) {
    const s = t.start + t.text.length - m[3]!.length;
    r.keyed(m[1]!, ...inner({ text: m[3]!, start: s }), { ctx: "directive" });
    return;
  }
  const next = toks[k + 1];
  if (next && !next.text.startsWith("-")) r.keyed(m[1]!, ...inner(next), { ctx: "directive" });
}

/** Program words that hold a password: `pass:x` (OpenSSL), `ConvertTo-SecureString 'x'`, `htpasswd -b`. */
function cliWord(r: Redactor, toks: Tok[], k: number): void {
  const t = toks[k]!;
  const w = t.text;
  if (w.startsWith("pass:") && w.length > 5) {
    r.keyed("openssl pass:", t.start + 5, t.start + w.length, { force: true });
  }
  if (/^ConvertTo-SecureString$/i.test(w)) {
    let n = k + 1;
    if (/^-String$/i.test(toks[n]?.text ?? "")) n++;
    const v = toks[n];
    if (v && !v.text.startsWith("-")) r.keyed(w, ...inner(v), { force: true });
  }
  if (w === "htpasswd") {
    const rest = toks.slice(k + 1);
    if (!rest.some((x) => /^-[a-zA-Z]*b/.test(x.text))) return;
    const args = rest.filter((x) => !x.text.startsWith("-"));
    const v = args[2];
    if (v) r.keyed("htpasswd -b", ...inner(v), { force: true });
  }
}

const ECHO = /(?<![\w-])(?:echo|printf)[ \t]+(?:-[neE]+[ \t]+)*/g;
/** True when a pipeline part reads a password from standard input. */
function readsPassword(part: string): boolean {
  return /--password-stdin|\bchpasswd\b|\bkinit\b|\bcryptsetup\b/.test(part) ||
    (/\bsudo\b/.test(part) && /\s-S\b/.test(part)) ||
    (/\bpasswd\b/.test(part) && /--stdin\b/.test(part));
}

/**
 * `echo "pw" | docker login --password-stdin` (and `sudo -S`, `passwd
 * --stdin`, `chpasswd`, `kinit`): the echoed word. Pipes are found once per
 * line and each pipeline part is tested once (RED-36).
 */
function pipedPasswords(r: Redactor, ls: number, line: string): void {
  const pipes: number[] = [];
  for (let k = line.indexOf("|"); k >= 0; k = line.indexOf("|", k + 1)) {
    if (line[k + 1] === "|") k++;
    else pipes.push(k);
  }
  const reads = new Map<number, boolean>();
  let p = 0;
  for (const m of line.matchAll(ECHO)) {
    const at = m.index! + m[0].length;
    const w = splitWords(line.slice(at), ls + at, "|;&()", 1)[0];
    if (!w) continue;
    while (p < pipes.length && pipes[p]! < w.start - ls + w.text.length) p++;
    if (p >= pipes.length) break;
    let ok = reads.get(p);
    if (ok === undefined) {
      ok = readsPassword(line.slice(pipes[p]! + 1, pipes[p + 1] ?? line.length));
      reads.set(p, ok);
    }
    if (ok) r.keyed("stdin password", ...inner(w), { force: true });
  }
}
