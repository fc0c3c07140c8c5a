/**
 * Command-line generator and oracle for the command policy fuzz tests
 * (EXEC-48): random mixes of allowlisted and other programs, quoting styles,
 * expansions, operators, environment prefixes, redirections, here-documents,
 * globs and unicode; and, for an admitted command, the argv records a run
 * must produce (every program records `[assignments..., program, args...]`).
 *
 * @module
 */

import type { ParsedCommand, StatementIR } from "../../src/policy/command_parse.ts";

/** A small seeded PRNG (mulberry32), so a failing run can be repeated with its seed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Programs the fuzz hosts allowlist (recorders there). */
export const FUZZ_ALLOWLIST: readonly string[] = ["ls", "cat", "grep", "printf", "wc", "head"];

/** Programs that must never run (tripwires there). */
export const FUZZ_OTHERS: readonly string[] = [
  "id",
  "touch",
  "rm",
  "curl",
  "tripwire",
  "python3",
  "perl",
  "cp",
  "chmod",
  "xargs",
  "find",
  "awk",
];

const PAYLOADS = [
  "id",
  "touch /tmp/pwned",
  "tripwire",
  "rm -f /tmp/x",
  "curl http://x",
];

function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)]!;
}

const PLAIN = [
  "a",
  "x1",
  "-l",
  "--all",
  "/tmp",
  "/var/log/x",
  "ünï",
  "日本",
  "a.b",
  "%s",
  "-n",
  "2",
  "=",
];

function word(r: () => number): string {
  const p = pick(r, PAYLOADS);
  const t = pick(r, PLAIN);
  switch (Math.floor(r() * 26)) {
    case 0:
      return `'${t} ${p}'`;
    case 1:
      return `"${t} x"`;
    case 2:
      return `"$(${p})"`;
    case 3:
      return `$(${p})`;
    case 4:
      return "`" + p + "`";
    case 5:
      return "$x";
    case 6:
      return "${x@P}";
    case 7:
      return "${!x}";
    case 8:
      return "$((x))";
    case 9:
      return "${a[$(" + p + ")]}";
    case 10:
      return `${t}*`;
    case 11:
      return "?";
    case 12:
      return "[ab]";
    case 13:
      return "~";
    case 14:
      return "~/x";
    case 15:
      return "{a,b}";
    case 16:
      return `$'${t}\\n'`;
    case 17:
      return `a\\ b`;
    case 18:
      return `'a[$(${p})]'`;
    case 19:
      return `"it's"`;
    case 20:
      return `'$HOME'`;
    case 21:
      return `"\\$x"`;
    case 22:
      return `--x=~/a`;
    case 23:
      return `"a"'b'c`;
    case 24:
      return "''";
    default:
      return t;
  }
}

function program(r: () => number): string {
  const x = r();
  if (x < 0.6) return pick(r, FUZZ_ALLOWLIST);
  if (x < 0.8) return pick(r, FUZZ_OTHERS);
  switch (Math.floor(r() * 10)) {
    case 0:
      return "/usr/bin/id";
    case 1:
      return `'${pick(r, FUZZ_ALLOWLIST)}'`;
    case 2:
      return `"${pick(r, FUZZ_ALLOWLIST)}"`;
    case 3:
      return "$x";
    case 4:
      return `./${pick(r, FUZZ_ALLOWLIST)}`;
    case 5:
      return "eval";
    case 6:
      return "sh -c";
    case 7:
      return "env";
    case 8:
      return "exec";
    default:
      return `\\${pick(r, FUZZ_ALLOWLIST)}`;
  }
}

function prefix(r: () => number): string {
  if (r() < 0.7) return "";
  return pick(r, [
    "LANG=C ",
    "LC_ALL=C.UTF-8 ",
    "TZ=UTC ",
    "FOO=1 ",
    "PATH=/tmp ",
    "BASH_ENV=/tmp/x ",
    "PERL5OPT=-d ",
    "a[0]=x ",
    "x+=1 ",
    "LANG=$(id) ",
    "TERM='a b' ",
  ]);
}

function redirect(r: () => number): string {
  if (r() < 0.75) return "";
  return pick(r, [
    " 2>&1",
    " >/dev/null",
    " 2>/dev/null",
    " &>/dev/null",
    " </dev/null",
    " >/tmp/out",
    " <<< 'x y'",
    " <<< $x",
    " >&2",
    " 2>&1-",
    " {fd}>&1",
    " </dev/tcp/127.0.0.1/9",
  ]);
}

function simple(r: () => number): string {
  if (r() < 0.05) {
    return pick(r, [
      "x=1",
      `x='$(${pick(r, PAYLOADS)})'`,
      "a[0]=./evil",
      "BASH_CMDS[ls]=/usr/bin/id",
    ]);
  }
  const n = Math.floor(r() * 4);
  const args = Array.from({ length: n }, () => word(r));
  return `${prefix(r)}${program(r)}${args.length ? " " + args.join(" ") : ""}${redirect(r)}`;
}

/** One random command line. */
export function generateCommand(r: () => number): string {
  const n = 1 + Math.floor(r() * 3);
  let out = "";
  for (let i = 0; i < n; i++) {
    if (i > 0) out += pick(r, [" ; ", " && ", " || ", " | ", " |& ", " & ", "\n", " ;\n"]);
    if (r() < 0.08) out += "! ";
    if (r() < 0.04) {
      out += pick(r, [
        `( ${simple(r)} )`,
        `{ ${simple(r)}; }`,
        `if ${simple(r)}; then ${simple(r)}; fi`,
      ]);
    } else out += simple(r);
  }
  const tail = r();
  if (tail < 0.05) out += ` <<'EOF'\n$HOME \`${pick(r, PAYLOADS)}\`\nEOF`;
  else if (tail < 0.1) out += ` <<EOF\n$(${pick(r, PAYLOADS)})\nEOF`;
  return out;
}

/** The argv records (program and args, assignments first) an admitted command produces when every program exits 0. */
export function expectedRecords(parsed: ParsedCommand): string[][] {
  const out: string[][] = [];
  const runStatement = (st: StatementIR) => {
    let status = -1;
    st.pipelines.forEach((pl, i) => {
      const op = i === 0 ? null : st.operators[i - 1];
      const run = op === null || (op === "&&" && status === 0) || (op === "||" && status !== 0);
      if (!run) return;
      for (const sc of pl.commands) {
        if (sc.program === null || sc.program === "cd" || sc.program === "pwd") continue;
        out.push([
          ...sc.assignments.map((a) => `${a.name}=${a.value?.value ?? ""}`),
          sc.program,
          ...sc.args,
        ]);
      }
      status = pl.negated ? 1 : 0;
    });
  };
  for (const st of parsed.statements) runStatement(st);
  return out;
}

/** Parses one recorder file: arguments terminated by NUL. */
export function parseRecord(text: string): string[] {
  const words = text.split("\0").slice(0, -1);
  if (words.at(-1) === RECORD_END) words.pop();
  return words;
}

/** The last word of a finished record (no argv word the generators make equals it). */
export const RECORD_END = "\x01";

/** True when the recorder that writes `text` has finished (a reader may race the writer). */
export function recordComplete(text: string): boolean {
  return text.endsWith(`${RECORD_END}\0`);
}

/**
 * The body of a recorder program (POSIX sh): writes its argv (its own name
 * first when `name` is given), NUL-terminated, to a file of its own in `dir`
 * (one file per process, so concurrent pipeline members never interleave),
 * ending with {@link RECORD_END} once complete.
 */
export function recorderScript(dir: string, name: string | null): string {
  const self = name === null ? "" : `printf '%s\\0' '${name}' > "$f"\n`;
  return `#!/bin/sh\nf=${dir}/rec.$$\n: > "$f"\n${self}for a in "$@"; do printf '%s\\0' "$a" >> "$f"; done\nprintf '\\001\\0' >> "$f"\n`;
}
