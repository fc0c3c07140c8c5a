/**
 * The structural checks of a restrictive command policy (SECURITY.md
 * EXEC-12..15, EXEC-22..35): what may appear in a command that the server
 * re-emits word by word (`shell_emit.ts`). Refused, each with an error
 * naming the construct and how to write the command literally:
 *
 * - compound commands, substitutions, `eval`-like programs, the `time`
 *   keyword (`unsupported-construct`);
 * - words whose meaning depends on run-time expansion (`run-time-expansion`;
 *   in the program position `non-literal-program`), also in assignment
 *   values, redirection targets, here-strings and unquoted here-documents;
 * - array and append assignments (`a[0]=x` is an assignment to bash and a
 *   program name to dash);
 * - environment prefixes not on the safe list (`dangerous-env`,
 *   `env-not-allowed`, `command_env.ts`);
 * - output redirection other than to `/dev/null` (`redirect-to-file`), named
 *   and moved descriptors, bash's `/dev/tcp` and `/dev/udp`.
 *
 * When several problems exist, the first of the highest-ranked category is
 * reported (construct, redirect, environment, program, expansion).
 *
 * @module
 */

import { ToolError } from "../errors.ts";
import type { ParsedCommand, RedirectInfo, SimpleCommand } from "./command_parse.ts";
import { commandNotAllowed, type DenyReason } from "./command_refusal.ts";
import { envVerdict } from "./command_env.ts";
import { normalisePath } from "./command_match.ts";
import type { Expansion, WordInfo } from "./shell_words.ts";

/** Builtins that only exist inside the shell (no program file), refused once admitted. */
const SHELL_ONLY_BUILTINS = new Set([
  "alias",
  "bg",
  "bind",
  "break",
  "builtin",
  "caller",
  "command",
  "compgen",
  "complete",
  "compopt",
  "continue",
  "declare",
  "dirs",
  "disown",
  "enable",
  "eval",
  "exec",
  "exit",
  "export",
  "fc",
  "fg",
  "getopts",
  "hash",
  "help",
  "history",
  "jobs",
  "let",
  "local",
  "logout",
  "mapfile",
  "popd",
  "pushd",
  "read",
  "readarray",
  "readonly",
  "return",
  "set",
  "shift",
  "shopt",
  "source",
  "suspend",
  "times",
  "trap",
  "type",
  "typeset",
  "ulimit",
  "umask",
  "unalias",
  "unset",
  "wait",
  ".",
  ":",
]);

/** Builtins that change the shell's own state and run as builtins (their arguments are inert). */
export const SHELL_STATE_BUILTINS: ReadonlySet<string> = new Set(["cd", "pwd"]);

const RANK: Record<string, number> = {
  "unsupported-construct": 0,
  "redirect-to-file": 1,
  "dangerous-env": 2,
  "env-not-allowed": 3,
  "non-literal-program": 4,
  "run-time-expansion": 5,
};

interface Problem {
  rank: number;
  error: ToolError;
}

/** Options of {@link checkRestricted}. */
export interface RestrictOptions {
  alias: string;
  /** SSH_COMMAND_ENV_ALLOWLIST */
  envAllowlist: readonly string[];
}

function expansionError(e: Expansion, where: string, alias: string): ToolError {
  return commandNotAllowed(
    "run-time-expansion",
    `The command uses ${e.construct} (${
      JSON.stringify(e.text)
    }) in ${where}, whose meaning the remote ` +
      `shell would decide at run time; the restrictive command policy of ${alias} runs every word exactly ` +
      `as written. To fix: ${e.hint}.`,
    null,
    e.text,
  );
}

// deno-lint-ignore no-control-regex
const CONTROL = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/;

function controlCheck(w: WordInfo): void {
  const m = CONTROL.exec(w.value);
  if (m) {
    throw new ToolError(
      "ValueError",
      `the word ${JSON.stringify(w.text)} contains the control character 0x${
        m[0].charCodeAt(0).toString(16).padStart(2, "0")
      } (only tab, newline and carriage return are allowed).`,
    );
  }
}

function redirectProblems(r: RedirectInfo, alias: string, add: (p: Problem) => void): void {
  const refuse = (reason: DenyReason, message: string) =>
    add({ rank: RANK[reason] ?? 9, error: commandNotAllowed(reason, message, null, r.text) });
  if (r.fdVariable !== null) {
    refuse(
      "unsupported-construct",
      `The named file descriptor in ${JSON.stringify(r.text)} is bash-only; use a number (3>&1).`,
    );
    return;
  }
  if (r.kind === "heredoc") {
    if (r.bodyExpansion) {
      add({
        rank: RANK["run-time-expansion"]!,
        error: expansionError(r.bodyExpansion, "a here-document", alias),
      });
    }
    if (!r.closed) {
      refuse("unsupported-construct", "The here-document has no closing delimiter line.");
    }
    return;
  }
  const t = r.target;
  if (t?.expansion) {
    const out = r.kind === "redirect" && r.op !== "<" && r.op !== "<&";
    if (out && !/^(\d+-?|-)$/.test(t.value)) {
      refuse(
        "redirect-to-file",
        `Output redirection to a file (${r.text}) is not allowed; write files with ssh_upload.`,
      );
    } else {add({
        rank: RANK["run-time-expansion"]!,
        error: expansionError(t.expansion, "a redirection", alias),
      });}
    return;
  }
  if (t) controlCheck(t);
  if (r.kind === "herestring") return;
  const v = t?.value ?? "";
  const norm = normalisePath(v);
  switch (r.op) {
    case "<":
      if (/^\/dev\/(tcp|udp)(\/|$)/.test(norm)) {
        refuse(
          "unsupported-construct",
          `${
            JSON.stringify(v)
          } opens a network connection in bash (not in dash); it is not allowed.`,
        );
      }
      return;
    case "<&":
    case ">&":
      if (/^(\d+|-)$/.test(v)) return;
      if (/^\d+-$/.test(v)) {
        refuse(
          "unsupported-construct",
          `Moving a file descriptor (${r.text}) is bash-only; write ${r.fd ?? 1}>&${
            v.slice(0, -1)
          } and close the old one with ${v.slice(0, -1)}>&-.`,
        );
        return;
      }
      if (r.op === ">&" && norm === "/dev/null") return;
      refuse(
        "redirect-to-file",
        `Output redirection to a file (${r.text}) is not allowed; write files with ssh_upload. Redirecting to /dev/null and between descriptors (2>&1) is fine.`,
      );
      return;
    case "<>":
      refuse(
        "redirect-to-file",
        `Opening a file for reading and writing (${r.text}) is not allowed; write files with ssh_upload.`,
      );
      return;
    default:
      if (norm === "/dev/null") return;
      refuse(
        "redirect-to-file",
        `Output redirection to a file (${r.text}) is not allowed; write files with ssh_upload. Redirecting to /dev/null and between descriptors (2>&1) is fine.`,
      );
  }
}

function commandProblems(
  sc: SimpleCommand,
  opts: RestrictOptions,
  add: (p: Problem) => void,
): void {
  const { alias } = opts;
  for (const r of sc.redirects) redirectProblems(r, alias, add);
  for (const a of sc.assignments) {
    if (a.index || a.append || a.value === null) {
      const what = a.index
        ? "an array element assignment (bash sets an array element; dash runs it as a program name)"
        : a.append
        ? "an append assignment (+=)"
        : "an array assignment";
      add({
        rank: RANK["unsupported-construct"]!,
        error: commandNotAllowed(
          "unsupported-construct",
          `${
            JSON.stringify(a.text)
          } is ${what}, which the restrictive command policy does not allow. ` +
            "Set a plain NAME=value before the program instead.",
          null,
          a.text,
        ),
      });
      continue;
    }
    // an assignment-only command needs an allow first; its names are checked after it (checkAdmitted)
    const v = sc.program === null
      ? null
      : envVerdict(a.name, a.value.expansion ? a.value.text : a.value.value, opts.envAllowlist);
    if (v) {
      add({ rank: RANK[v.reason]!, error: commandNotAllowed(v.reason, v.message, null, a.name) });
      continue;
    }
    if (a.value.expansion) {
      add({
        rank: RANK["run-time-expansion"]!,
        error: expansionError(a.value.expansion, `the value of ${a.name}`, alias),
      });
    } else controlCheck(a.value);
  }
  const pw = sc.programWord;
  if (pw) {
    const p = pw.value;
    const bad = pw.expansion
      ? `is not a literal word (${pw.expansion.construct})`
      : pw.bashQuoting
      ? "uses bash-only quoting ($'...' or $\"...\")"
      : p === ""
      ? "is empty"
      : p.startsWith("-")
      ? "starts with '-'"
      : p.includes("=")
      ? "contains '='"
      : CONTROL.test(p) || /[\n\r\t]/.test(p)
      ? "contains a control character"
      : null;
    if (bad) {
      add({
        rank: RANK["non-literal-program"]!,
        error: commandNotAllowed(
          "non-literal-program",
          `The program name ${
            JSON.stringify(pw.text)
          } ${bad}; variables, globs, ~ and special quoting ` +
            "are not allowed in the program position. Write the program's plain name (ls) or its exact " +
            "allowlisted path.",
          null,
          pw.text,
        ),
      });
    }
  } else if (sc.assignments.length === 0) {
    add({
      rank: RANK["unsupported-construct"]!,
      error: commandNotAllowed(
        "unsupported-construct",
        `${JSON.stringify(sc.text)} has redirections but no program.`,
        null,
        sc.text,
      ),
    });
  }
  for (const w of sc.argWords) {
    if (w.expansion) {
      add({
        rank: RANK["run-time-expansion"]!,
        error: expansionError(w.expansion, `the argument ${JSON.stringify(w.text)}`, alias),
      });
    } else controlCheck(w);
  }
}

/**
 * EXEC-12..15, EXEC-22..35: throws the first problem of a command that a
 * restrictive policy cannot re-emit literally.
 */
export function checkRestricted(parsed: ParsedCommand, opts: RestrictOptions): void {
  if (parsed.construct) {
    throw commandNotAllowed(
      "unsupported-construct",
      `The command uses a ${parsed.construct}, which the command policy does not allow. Run separate, simple ` +
        "commands (joined with ;, &&, || or |) or ask the operator for an allow-any host.",
      null,
      parsed.construct,
    );
  }
  if (parsed.simple.length === 0) {
    throw commandNotAllowed("empty", "The command has no commands in it.");
  }
  let best: Problem | null = null;
  const add = (p: Problem) => {
    if (!best || p.rank < best.rank) best = p;
  };
  for (const st of parsed.statements) {
    for (const pl of st.pipelines) {
      if (pl.time) {
        add({
          rank: RANK["unsupported-construct"]!,
          error: commandNotAllowed(
            "unsupported-construct",
            "The `time` keyword means different things in bash and dash; it is not allowed. " +
              "Run /usr/bin/time as a program if the operator allowlists it.",
            null,
            "time",
          ),
        });
      }
      for (const sc of pl.commands) commandProblems(sc, opts, add);
    }
  }
  if (best) throw (best as Problem).error;
}

/**
 * After the allow stage: the names an allowed assignment-only command sets
 * pass the environment rules (EXEC-31), and an admitted name that exists only
 * inside the shell is refused with a hint (EXEC-34).
 */
export function checkAdmitted(parsed: ParsedCommand, opts: RestrictOptions): void {
  const alias = opts.alias;
  for (const sc of parsed.simple) {
    const p = sc.program;
    if (p === null) {
      for (const a of sc.assignments) {
        const v = envVerdict(a.name, a.value?.value ?? "", opts.envAllowlist);
        if (v) throw commandNotAllowed(v.reason, v.message, null, a.name);
      }
      continue;
    }
    if (SHELL_STATE_BUILTINS.has(p) && sc.assignments.length) {
      throw commandNotAllowed(
        "shell-builtin",
        `${p} is a shell builtin; environment settings before it are not allowed. Write it without them.`,
        null,
        sc.text,
      );
    }
    if (SHELL_ONLY_BUILTINS.has(p)) {
      throw commandNotAllowed(
        "shell-builtin",
        `${
          JSON.stringify(p)
        } is a shell builtin with no program file. Under the restrictive command policy of ` +
          `${alias} every program runs directly (through /usr/bin/env), never as a builtin, because builtins ` +
          "can evaluate their arguments as code (printf -v, read, declare, trap, ...). Only cd and pwd run as " +
          "builtins. Use the dedicated tools, or ask the operator for an allow-any host.",
        null,
        sc.text,
      );
    }
  }
}
