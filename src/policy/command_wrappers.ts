/**
 * What a wrapper program runs (SECURITY.md EXEC-17, EXEC-45): the denylist
 * sees through `sudo` (also `-i`, `-s`, `-u x`), `doas`, `env` (also `-S`),
 * `nice`, `nohup`, `timeout`, `stdbuf`, `setsid`, `ionice`, `chrt`,
 * `taskset`, `xargs`, `find -exec`, `busybox`, `command`, `builtin`,
 * `exec`, `time`, `flock`, `watch`, `su -c`, `runuser`, `script -c`,
 * `chroot`, `unshare`, `nsenter`, `systemd-run`, `strace`, and shells run
 * with `-c` (`sh`, `bash`, `dash`, `zsh`, `ksh`, `ash`, `mksh`), whose
 * command string is parsed like a command of its own. Option clusters and
 * attached values are understood (`sudo -iu root`, `bash -lc '...'`).
 *
 * @module
 */

import { posix } from "node:path";
import { parseCommand } from "./command_parse.ts";

/** A program with its arguments (values after quote removal). */
export interface Invocation {
  program: string;
  args: readonly string[];
}

/** How a wrapper's options are read. */
interface Spec {
  /** short options taking an argument (attached or the next word) */
  argShort?: string;
  /** long options taking an argument (`--x=v` or `--x v`) */
  argLong?: readonly string[];
  /** short options whose argument is optional and attached only */
  optShort?: string;
  /** operands before the command (timeout's duration, chroot's root) */
  positional?: number;
  /** `NAME=value` words before the command (env) */
  assignments?: boolean;
  /** options whose argument is shell code (`su -c`, `flock -c`) */
  shellShort?: string;
  shellLong?: readonly string[];
  /** options whose argument is split into words that precede the command (`env -S`) */
  splitShort?: string;
  splitLong?: readonly string[];
  /** options after which no command runs (`command -v`, `ionice -p`) */
  noCommandShort?: string;
  /** options after which the rest is also shell code (`sudo -i`, `sudo -s`) */
  shellRestShort?: string;
  shellRestLong?: readonly string[];
  /** the rest of the words is run through `sh -c` (watch) */
  joinRest?: boolean;
  /** the option grammar is unknown: every later non-option word may start the command */
  scan?: boolean;
  /** `nice -10`: a dash followed by digits is an option */
  numericOption?: boolean;
}

const SHELL_NAMES = new Set(["sh", "bash", "dash", "zsh", "ksh", "ash", "mksh", "yash", "posh"]);

const SPECS: Readonly<Record<string, Spec>> = {
  sudo: {
    argShort: "CDghpRrTtUuc",
    argLong: [
      "user",
      "group",
      "host",
      "prompt",
      "chdir",
      "chroot",
      "role",
      "type",
      "command-timeout",
      "other-user",
      "close-from",
      "login-class",
    ],
    shellRestShort: "is",
    shellRestLong: ["login", "shell"],
    noCommandShort: "elvVkK",
  },
  doas: { argShort: "uC" },
  env: {
    argShort: "uC",
    argLong: ["unset", "chdir", "default-signal", "ignore-signal", "block-signal"],
    splitShort: "S",
    splitLong: ["split-string"],
    assignments: true,
  },
  nice: { argShort: "n", argLong: ["adjustment"], numericOption: true },
  nohup: {},
  timeout: { argShort: "sk", argLong: ["signal", "kill-after"], positional: 1 },
  stdbuf: { argShort: "ioe", argLong: ["input", "output", "error"] },
  setsid: {},
  ionice: {
    argShort: "cnpPu",
    argLong: ["class", "classdata", "pid", "pgid", "uid"],
    noCommandShort: "pPu",
  },
  chrt: {
    argShort: "TPD",
    argLong: ["sched-runtime", "sched-period", "sched-deadline"],
    positional: 1,
    noCommandShort: "pm",
  },
  taskset: { argShort: "", positional: 1, noCommandShort: "p" },
  xargs: {
    argShort: "adEILnPs",
    optShort: "eil",
    argLong: [
      "arg-file",
      "delimiter",
      "eof",
      "replace",
      "max-lines",
      "max-args",
      "max-procs",
      "max-chars",
      "process-slot-var",
    ],
  },
  command: { noCommandShort: "vV" },
  builtin: {},
  exec: { argShort: "a" },
  time: { argShort: "fo", argLong: ["format", "output"] },
  flock: {
    argShort: "wE",
    argLong: ["timeout", "conflict-exit-code"],
    shellShort: "c",
    shellLong: ["command"],
    positional: 1,
  },
  watch: { argShort: "nq", argLong: ["interval", "equexit"], optShort: "d", joinRest: true },
  su: {
    argShort: "sgGw",
    argLong: ["shell", "group", "supp-group", "whitelist-environment"],
    shellShort: "c",
    shellLong: ["command", "session-command"],
    scan: true,
  },
  runuser: {
    argShort: "ugGsw",
    argLong: ["user", "group", "supp-group", "shell"],
    shellShort: "c",
    shellLong: ["command", "session-command"],
  },
  script: {
    argShort: "EIOTB",
    argLong: [
      "echo",
      "log-in",
      "log-out",
      "log-timing",
      "log-io",
      "logging-format",
      "output-limit",
    ],
    shellShort: "c",
    shellLong: ["command"],
    noCommandShort: "",
  },
  chroot: { argLong: ["userspec", "groups"], positional: 1 },
  unshare: { scan: true },
  nsenter: { scan: true },
  "systemd-run": { scan: true },
  strace: { scan: true },
  ltrace: { scan: true },
  unbuffer: { scan: true },
  fakeroot: { scan: true },
  pkexec: { argLong: ["user"] },
};

/** The words a shell command string runs: every simple command in it (nested ones included). */
function shellInvocations(code: string): { invocations: Invocation[]; texts: string[] } {
  const p = parseCommand(code);
  const invocations = p.simple
    .filter((s) => s.program !== null)
    .map((s) => ({ program: s.program!, args: s.args }));
  return { invocations, texts: [code] };
}

/** env -S / --split-string: a simplified split (whitespace and quotes, as the shell would). */
function splitString(s: string): string[] {
  const p = parseCommand(s);
  const first = p.simple[0];
  if (!p.ok || !first) return s.split(/\s+/).filter(Boolean);
  return [
    ...first.assignments.map((a) => a.text),
    ...(first.program ? [first.program] : []),
    ...first.args,
  ];
}

/** What one level of wrapping runs (see module docs). */
export interface Unwrapped {
  /** commands run as argv */
  invocations: Invocation[];
  /** shell code run by the wrapper (for structural denylist entries) */
  texts: string[];
}

function unwrapShell(args: readonly string[]): Unwrapped {
  let stringMode = false;
  let i = 0;
  for (; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--" || a === "-") {
      i++;
      break;
    }
    if (a.startsWith("--")) {
      if (a === "--rcfile" || a === "--init-file") i++;
      continue;
    }
    if ((a.startsWith("-") || a.startsWith("+")) && a.length > 1) {
      if (a.includes("c")) stringMode = true;
      if (/[oO]/.test(a.slice(1))) i++;
      continue;
    }
    break;
  }
  if (!stringMode || i >= args.length) return { invocations: [], texts: [] };
  return shellInvocations(args[i]!);
}

function unwrapFind(args: readonly string[]): Unwrapped {
  const out: Invocation[] = [];
  for (let i = 0; i < args.length; i++) {
    if (!/^-(exec|execdir|ok|okdir)$/.test(args[i]!)) continue;
    let j = i + 1;
    while (j < args.length && args[j] !== ";" && args[j] !== "+") j++;
    const words = args.slice(i + 1, j);
    if (words.length) out.push({ program: words[0]!, args: words.slice(1) });
    i = j;
  }
  return { invocations: out, texts: [] };
}

function longName(a: string): string {
  return a.slice(2).split("=")[0]!;
}

function matchesLong(list: readonly string[] | undefined, name: string): boolean {
  return !!name && !!list?.some((l) => l.startsWith(name));
}

function unwrapSpec(spec: Spec, args: readonly string[]): Unwrapped {
  const shell: string[] = [];
  const pre: string[] = [];
  let noCommand = false;
  let shellRest = false;
  let i = 0;
  while (i < args.length) {
    const a = args[i]!;
    if (a === "--") {
      i++;
      break;
    }
    if (spec.assignments && /^[A-Za-z_][A-Za-z0-9_]*=/.test(a)) {
      i++;
      continue;
    }
    if (spec.numericOption && /^-\d+$/.test(a)) {
      i++;
      continue;
    }
    if (a.startsWith("--") && a.length > 2) {
      const name = longName(a);
      const attached = a.includes("=") ? a.slice(a.indexOf("=") + 1) : null;
      const value = () => attached ?? args[++i] ?? "";
      if (matchesLong(spec.shellLong, name)) shell.push(value());
      else if (matchesLong(spec.splitLong, name)) pre.push(...splitString(value()));
      else if (matchesLong(spec.shellRestLong, name)) shellRest = true;
      else if (matchesLong(spec.argLong, name) && attached === null) i++;
      i++;
      continue;
    }
    if (a.startsWith("-") && a.length > 1) {
      for (let k = 1; k < a.length; k++) {
        const ch = a[k]!;
        const rest = a.slice(k + 1);
        if (spec.noCommandShort?.includes(ch)) noCommand = true;
        if (spec.shellRestShort?.includes(ch)) shellRest = true;
        if (spec.shellShort?.includes(ch)) {
          shell.push(rest || (args[++i] ?? ""));
          break;
        }
        if (spec.splitShort?.includes(ch)) {
          pre.push(...splitString(rest || (args[++i] ?? "")));
          break;
        }
        if (spec.argShort?.includes(ch)) {
          if (!rest) i++;
          break;
        }
        if (spec.optShort?.includes(ch)) break;
      }
      i++;
      continue;
    }
    break;
  }
  // shell-code options after the operands (`flock FILE -c CMD`, `su root -c CMD`)
  for (let j = i; j < args.length; j++) {
    const a = args[j]!;
    if (/^-[A-Za-z]+$/.test(a) && spec.shellShort?.includes(a[a.length - 1]!)) {
      shell.push(args[++j] ?? "");
    } else if (a.startsWith("--") && matchesLong(spec.shellLong, longName(a))) {
      shell.push(a.includes("=") ? a.slice(a.indexOf("=") + 1) : (args[++j] ?? ""));
    }
  }
  const inv: Invocation[] = [];
  const texts: string[] = [];
  for (const code of shell) {
    const r = shellInvocations(code);
    inv.push(...r.invocations);
    texts.push(...r.texts);
  }
  if (spec.scan) {
    // unknown option grammar: any later word may start the command
    for (let j = i; j < args.length; j++) {
      if (!args[j]!.startsWith("-")) inv.push({ program: args[j]!, args: args.slice(j + 1) });
    }
    return { invocations: inv, texts };
  }
  if (noCommand) return { invocations: inv, texts };
  const words = [...pre, ...args.slice(i + (spec.positional ?? 0))];
  const assignments = spec.assignments
    ? words.findIndex((w) => !/^[A-Za-z_][A-Za-z0-9_]*=/.test(w))
    : 0;
  const cmd = assignments < 0 ? [] : words.slice(assignments);
  if (cmd.length) inv.push({ program: cmd[0]!, args: cmd.slice(1) });
  if ((shellRest || spec.joinRest) && cmd.length) {
    const r = shellInvocations(cmd.join(" "));
    inv.push(...r.invocations);
    texts.push(...r.texts);
  }
  return { invocations: inv, texts };
}

/** What `inv` runs one level down, or nothing when it is no known wrapper. */
export function unwrapOnce(inv: Invocation): Unwrapped {
  const name = posix.basename(inv.program) || inv.program;
  if (SHELL_NAMES.has(name)) return unwrapShell(inv.args);
  if (name === "find") return unwrapFind(inv.args);
  if (name === "busybox") {
    const a = inv.args.filter((x) => !x.startsWith("-"));
    if (!a.length) return { invocations: [], texts: [] };
    const applet = { program: a[0]!, args: inv.args.slice(inv.args.indexOf(a[0]!) + 1) };
    return { invocations: [applet], texts: [] };
  }
  const spec = SPECS[name];
  return spec ? unwrapSpec(spec, inv.args) : { invocations: [], texts: [] };
}

/**
 * Everything `inv` runs: itself, and recursively what each wrapper in it
 * runs (at most 12 levels deep), plus the shell code texts met on the way.
 */
export function reachedInvocations(inv: Invocation): Unwrapped {
  const invocations: Invocation[] = [];
  const texts: string[] = [];
  const visit = (x: Invocation, depth: number) => {
    invocations.push(x);
    if (depth >= 12 || invocations.length > 500) return;
    const u = unwrapOnce(x);
    texts.push(...u.texts);
    for (const y of u.invocations) visit(y, depth + 1);
  };
  visit(inv, 0);
  return { invocations, texts };
}

/**
 * EXEC-17 (kept for callers of the text form): the normalised simple command
 * with known wrapper prefixes removed, program reduced to its basename.
 */
export function stripWrappers(normalized: string): string {
  let words = normalized.split(" ").filter(Boolean);
  for (let guard = 0; guard < 16 && words.length; guard++) {
    const u = unwrapOnce({ program: words[0]!, args: words.slice(1) });
    const next = u.invocations[0];
    if (!next) break;
    words = [next.program, ...next.args];
  }
  if (words.length) words[0] = posix.basename(words[0]!) || words[0]!;
  return words.join(" ");
}
