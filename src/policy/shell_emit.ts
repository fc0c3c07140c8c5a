/**
 * Re-emission of an admitted command under a restrictive policy (SECURITY.md
 * EXEC-22..29): the server sends its own text, built from the parse, never
 * the caller's text.
 *
 * - Every word is single-quoted (`shell_words.ts` {@link quoteWord}), so no
 *   login shell (bash, dash, zsh, busybox ash) expands anything, and all of
 *   them read the same argv.
 * - Every program runs through `/usr/bin/env` with a fixed
 *   `PATH=` {@link SAFE_PATH}: a bare name is found only in the standard
 *   system directories (never in a directory the caller controls, never the
 *   login shell's PATH), and never as a shell builtin, function or alias
 *   (builtins such as `printf -v 'a[$(id)]'` evaluate their arguments). Only
 *   `cd` and `pwd` stay builtins. Allowed environment prefixes become
 *   `env` arguments.
 * - Operators are re-emitted from the tree: `;` as newlines, `&&`, `||`,
 *   `|`, `&`, `!`; bash-only forms are rewritten portably (`|&` as
 *   `2>&1 |`, `&>/dev/null` as `>/dev/null 2>&1`, here-strings as
 *   here-documents). Here-documents always get a quoted delimiter that no
 *   body line equals.
 *
 * @module
 */

import type { ParsedCommand, RedirectInfo, SimpleCommand } from "./command_parse.ts";
import { SHELL_STATE_BUILTINS } from "./command_restrict.ts";
import { quoteWord } from "./shell_words.ts";

/** The standard system directories a bare program name resolves in (system before local). */
export const SAFE_PATH = "/usr/sbin:/usr/bin:/sbin:/bin:/usr/local/sbin:/usr/local/bin";

/** The program every re-emitted command runs through. */
export const ENV_PROGRAM = "/usr/bin/env";

/** Options of {@link emitRestricted} (tests substitute the vehicle to record argv). */
export interface EmitOptions {
  envProgram?: string;
  path?: string;
}

interface Body {
  text: string;
  delimiter: string;
}

function emitRedirect(
  r: RedirectInfo,
  bodies: Body[],
  pickDelimiter: (b: string) => string,
): string {
  const fd = r.fd === null ? "" : String(r.fd);
  if (r.kind === "heredoc" || r.kind === "herestring") {
    const text = r.kind === "heredoc" ? r.body : `${r.target?.value ?? ""}\n`;
    const body = text.endsWith("\n") || text === "" ? text : text + "\n";
    const delimiter = pickDelimiter(body);
    bodies.push({ text: body, delimiter });
    return `${fd}<<'${delimiter}'`;
  }
  const v = r.target?.value ?? "";
  switch (r.op) {
    case "<":
      return `${fd}<${quoteWord(v)}`;
    case "<&":
    case ">&":
      if (/^(\d+|-)$/.test(v)) return `${fd}${r.op}${v}`;
      return r.fd === null ? ">/dev/null 2>&1" : `${fd}>/dev/null`; // >&/dev/null
    case "&>":
      return ">/dev/null 2>&1";
    case "&>>":
      return ">>/dev/null 2>&1";
    case ">>":
      return `${fd}>>/dev/null`;
    default: // > and >| to /dev/null (anything else was refused)
      return `${fd}>/dev/null`;
  }
}

function emitSimple(
  sc: SimpleCommand,
  o: Required<EmitOptions>,
  bodies: Body[],
  pick: (b: string) => string,
  stderrToPipe: boolean,
): string {
  const words: string[] = [];
  if (sc.program === null) {
    for (const a of sc.assignments) words.push(`${a.name}=${quoteWord(a.value?.value ?? "")}`);
  } else if (SHELL_STATE_BUILTINS.has(sc.program)) {
    words.push(quoteWord(sc.program), ...sc.args.map(quoteWord));
  } else {
    words.push(
      quoteWord(o.envProgram),
      quoteWord(`PATH=${o.path}`),
      ...sc.assignments.map((a) => quoteWord(`${a.name}=${a.value?.value ?? ""}`)),
      quoteWord(sc.program),
      ...sc.args.map(quoteWord),
    );
  }
  for (const r of sc.redirects) words.push(emitRedirect(r, bodies, pick));
  if (stderrToPipe) words.push("2>&1");
  return words.join(" ");
}

/**
 * The text a restrictive policy sends for `parsed` (already checked; see
 * module docs). Throws when the top level holds a command the checks did not
 * see (defence in depth: the re-emitted text never contains an unchecked
 * command).
 */
export function emitRestricted(parsed: ParsedCommand, opts: EmitOptions = {}): string {
  const top = parsed.statements.flatMap((st) => st.pipelines.flatMap((pl) => pl.commands));
  if (top.length !== parsed.simple.length || top.some((c) => !parsed.simple.includes(c))) {
    throw new Error("emitRestricted: the statements and the checked simple commands differ");
  }
  const o: Required<EmitOptions> = {
    envProgram: opts.envProgram ?? ENV_PROGRAM,
    path: opts.path ?? SAFE_PATH,
  };
  const lines: string[] = [];
  let counter = 0;
  const pick = (body: string): string => {
    for (;;) {
      const d = `SSHMCP_EOF_${++counter}`;
      if (!body.split("\n").includes(d)) return d;
    }
  };
  let trailingBodies = false;
  for (const st of parsed.statements) {
    const bodies: Body[] = [];
    const pipes = st.pipelines.map((pl) => {
      const cmds = pl.commands.map((sc, i) =>
        emitSimple(sc, o, bodies, pick, pl.operators[i] === "|&")
      );
      return (pl.negated ? "! " : "") + cmds.join(" | ");
    });
    let line = pipes[0] ?? "";
    st.operators.forEach((op, i) => (line += ` ${op} ${pipes[i + 1] ?? ""}`));
    if (st.background) line += " &";
    for (const b of bodies) line += `\n${b.text}${b.delimiter}`;
    trailingBodies = bodies.length > 0;
    lines.push(line);
  }
  return lines.join("\n") + (trailingBodies ? "\n" : "");
}
