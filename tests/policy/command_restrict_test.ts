/**
 * Issue 9 §1 at the checker: what a restrictive command policy refuses, with
 * which reason and message (EXEC-22..35), and what "allow any" keeps.
 * End-to-end proofs on bash and dash hosts: tests/e2e/command_attacks_test.ts.
 */

import assert from "node:assert/strict";
import { envHostPolicy } from "../../src/config/hosts.ts";
import { defaultSettings } from "../../src/config/settings.ts";
import type { CommandRule, HostPolicy, Settings } from "../../src/config/types.ts";
import { isToolError } from "../../src/errors.ts";
import { nullLogger } from "../../src/log.ts";
import { createCommandChecker, ENV_PROGRAM, SAFE_PATH } from "../../src/policy/commands.ts";

function setup(
  allowlist: string[],
  env: Partial<Settings> = {},
  rules: CommandRule[] = [],
) {
  const settings = { ...defaultSettings(), ...env } as Settings;
  const policy = {
    ...envHostPolicy("web01", settings),
    command_allowlist: allowlist,
    command_rules: rules,
  } as HostPolicy;
  const checker = createCommandChecker({ settings, logger: nullLogger });
  const admit = (command: string) =>
    checker.admit({ tool: "ssh_exec_run", policy, command, kind: "command" });
  /** The refusal (reason and message); fails when the command is admitted. */
  const refusal = (command: string): { reason: string; message: string } => {
    let out: { reason: string; message: string } | null = null;
    assert.throws(() => admit(command), (e) => {
      assert.ok(isToolError(e), String(e));
      out = {
        reason: e.code === "CommandNotAllowed" ? String(e.attributes.reason) : e.code,
        message: e.message,
      };
      return true;
    }, `admitted: ${command}`);
    return out!;
  };
  return { admit, refusal };
}

Deno.test("EXEC-22: allow-any runs the caller's text as given (the denylist still applies); a restrictive policy re-emits", () => {
  const any = setup(["*"]);
  assert.equal(any.admit("ls $HOME/*.log").command, "ls $HOME/*.log");
  assert.equal(any.refusal("x=reboot; sudo -i $x now; reboot").reason, "denylist");
  const r = setup(["ls"]);
  assert.equal(r.admit("ls /tmp").command, `'${ENV_PROGRAM}' 'PATH=${SAFE_PATH}' 'ls' '/tmp'`);
});

Deno.test("EXEC-27: run-time expansion is refused in every word, naming the construct and the literal way to write it", () => {
  const s = setup(["ls", "cat"], { SSH_COMMAND_ENV_ALLOWLIST: ["ACME_X"] });
  const cases: [string, RegExp][] = [
    ["ls $x", /parameter expansion/],
    ['ls "$x"', /parameter expansion/],
    ["ls ${x}", /parameter expansion/],
    ["ls ${x@P}", /prompt expansion/],
    ["ls ${x@Q}", /parameter transformation @Q/],
    ["ls ${!x}", /indirect expansion/],
    ["ls ${a[0]}", /array subscript/],
    ["ls $((x))", /arithmetic expansion/],
    ['ls "$((1+2))"', /arithmetic expansion/],
    ["ls *.log", /glob pattern/],
    ["ls a?", /glob pattern/],
    ["ls [ab]", /glob pattern/],
    ["ls @(a|b)", /extended glob/],
    ["ls {a,b}", /brace expansion/],
    ["ls {1..3}", /brace expansion/],
    ["ls ~", /tilde expansion/],
    ["ls ~root/x", /tilde expansion/],
    ["ls --dir=~/x", /tilde expansion/],
    ["ACME_X=~ ls", /tilde expansion/],
    ["ls < $f", /parameter expansion/],
    ["cat <<< $x", /parameter expansion/],
    ["cat <<EOF\n$HOME\nEOF", /expansion in a here-document/],
    ["cat <<EOF\na\\\nb\nEOF", /expansion in a here-document/],
  ];
  for (const [c, construct] of cases) {
    const r = s.refusal(c);
    assert.equal(r.reason, "run-time-expansion", c);
    assert.match(r.message, construct, c);
    assert.match(r.message, /To fix: /, c);
    assert.match(r.message, /web01/, c);
  }
  assert.match(s.refusal("ls *.log").message, /quote the word \('\*\.log'\)/);
  assert.match(s.refusal("cat <<EOF\n$HOME\nEOF").message, /quote the delimiter \(<<'EOF'\)/);
  // quoted, escaped or mid-word characters are literal and allowed
  for (
    const c of [
      "ls '*.log' \\* '$x' \"\\$x\" '~' \\~ a~ '{a,b}' {} '$((1))'",
      "cat <<'EOF'\n$HOME `id`\nEOF",
      "ls 'a[$(id)]'",
      "ls $'a\\nb'",
      "ls [",
    ]
  ) {
    assert.doesNotThrow(() => s.admit(c), c);
  }
});

Deno.test("EXEC-28/EXEC-29: the program word is a plain literal; control characters in words are ValueErrors", () => {
  const s = setup(["ls", "-x", "a=b"], { SSH_COMMAND_ENV_ALLOWLIST: ["ACME_X"] });
  for (const c of ["$x", "${x} a", "~/bin/ls", "l? x", "$'ls'", '$"ls"', "'' x", "-x y", "'a=b'"]) {
    assert.equal(s.refusal(c).reason, "non-literal-program", c);
  }
  assert.match(s.refusal("$'ls'").message, /bash-only quoting/);
  assert.equal(s.refusal("ls $'\\x01'").reason, "ValueError");
  assert.equal(s.refusal("ACME_X=$'\\x1b' ls").reason, "ValueError");
  // a word with '=' before the program that is no valid name is the program name
  assert.equal(s.refusal("BASH_FUNC_ls%%=x ls").reason, "non-literal-program");
});

Deno.test("EXEC-30/EXEC-31: environment prefixes: a safe list with value shapes, the operator's names, never a hook", () => {
  const s = setup(["ls"], {
    SSH_COMMAND_ENV_ALLOWLIST: ["MYAPP_MODE", "ACME_*", "PERL5OPT", "LD_PRELOAD"],
  });
  for (
    const c of [
      "LANG=C ls",
      "LC_ALL=en_US.UTF-8 LC_TIME=C ls",
      "TZ=Europe/Berlin ls",
      "TZ=EST5EDT,M3.2.0,M11.1.0 ls",
      "TERM=xterm-256color COLUMNS=200 LINES=50 NO_COLOR=1 ls",
      "MYAPP_MODE='a b' ls",
      "ACME_X=1 ls",
    ]
  ) {
    assert.doesNotThrow(() => s.admit(c), c);
  }
  for (
    const c of [
      "PATH=/tmp ls",
      "LD_PRELOAD=/tmp/x.so ls",
      "LD_LIBRARY_PATH=/tmp ls",
      "DYLD_INSERT_LIBRARIES=x ls",
      "BASH_ENV=/tmp/x ls",
      "ENV=/tmp/x ls",
      "IFS=x ls",
      "SHELLOPTS=xtrace ls",
      "BASHOPTS=x ls",
      "PS4='$(id)' ls",
      "PROMPT_COMMAND=id ls",
      "GCONV_PATH=/tmp ls",
      "PERL5OPT=-d ls",
      "PERL5LIB=/tmp ls",
      "PERLLIB=/tmp ls",
      "PYTHONPATH=/tmp ls",
      "PYTHONWARNINGS=x ls",
      "PYTHONSTARTUP=x ls",
      "RUBYOPT=-rx ls",
      "NODE_OPTIONS=--require=x ls",
      "BROWSER=id ls",
      "PAGER=id ls",
      "EDITOR=id ls",
      "VISUAL=id ls",
      "GIT_SSH_COMMAND=id ls",
      "GIT_EXEC_PATH=/tmp ls",
      "HOME=/tmp ls",
      "XDG_CONFIG_HOME=/tmp ls",
      "GLIBC_TUNABLES=x ls",
      "LESSOPEN='|id' ls",
      "JAVA_TOOL_OPTIONS=x ls",
      "SHELL=/tmp/x ls",
    ]
  ) {
    const r = s.refusal(c);
    assert.equal(r.reason, "dangerous-env", c);
    assert.match(r.message, /never allowed/, c);
  }
  assert.equal(s.refusal("FOO=1 ls").reason, "env-not-allowed");
  assert.match(s.refusal("FOO=1 ls").message, /SSH_COMMAND_ENV_ALLOWLIST/);
  assert.match(s.refusal("FOO=1 ls").message, /LANG/);
  for (
    const c of ["LANG='C;id' ls", "LC_ALL=../../tmp/x ls", "TZ=../../tmp/x ls", "COLUMNS=x ls"]
  ) {
    assert.equal(s.refusal(c).reason, "env-not-allowed", c);
  }
});

Deno.test("EXEC-32/EXEC-33: array and append assignments are refused; an assignment-only command needs an allow", () => {
  const s = setup(["ls"]);
  for (const c of ["a[0]=./evil", "BASH_CMDS[ls]=/usr/bin/id; ls", "x+=1 ls", "a=(1 2) ls"]) {
    assert.equal(s.refusal(c).reason, "unsupported-construct", c);
  }
  assert.match(s.refusal("a[0]=./evil").message, /dash runs it as a program name/);
  const empty = setup([]);
  assert.equal(empty.refusal("x=1").reason, "not-allowlisted");
  assert.match(setup(["ls"]).refusal("x=1").message, /assignment-only command/);
  assert.equal(empty.refusal("x='a[$(id >&2)]'; y=$((x))").reason, "run-time-expansion");
  // with an allow rule, the assignment runs; its name still passes the environment rules
  const rule = setup([], {}, [{ action: "allow", pattern: "LANG=*" }, {
    action: "allow",
    pattern: "PATH=*",
  }]);
  assert.equal(rule.admit("LANG=C").command, "LANG='C'");
  assert.equal(rule.refusal("PATH=/tmp").reason, "dangerous-env");
});

Deno.test("EXEC-34: shell-only builtins are refused once admitted; cd and pwd stay builtins; the rest run as programs", () => {
  const s = setup(["export", "read", "trap", "cd", "pwd", "printf", "echo", "test", "["]);
  for (const c of ["export X=1", "read x", "trap id EXIT"]) {
    const r = s.refusal(c);
    assert.equal(r.reason, "shell-builtin", c);
    assert.match(r.message, /Only cd and pwd run as builtins/);
  }
  assert.equal(s.admit("cd /tmp && pwd").command, "'cd' '/tmp' && 'pwd'");
  assert.equal(s.refusal("LANG=C cd /tmp").reason, "shell-builtin");
  assert.match(s.admit("printf -v 'a[$(id)]' x").command, /^'\/usr\/bin\/env' .* 'printf' '-v'/);
  assert.match(s.admit("[ -v 'a[$(id)]' ]").command, /'\[' '-v' 'a\[\$\(id\)\]' '\]'$/);
});

Deno.test("EXEC-35: bash-only redirections, the time keyword, network paths and program-less commands", () => {
  const s = setup(["ls", "cat"]);
  for (
    const c of [
      "ls {fd}>&1",
      "ls 2>&1-",
      "cat < /dev/tcp/127.0.0.1/80",
      "cat </dev//tcp/x/1",
      "time ls",
      "< /etc/hosts",
      "coproc ls",
    ]
  ) {
    assert.equal(s.refusal(c).reason, "unsupported-construct", c);
  }
  for (const c of ["ls <> f", "ls >&f", "ls > /tmp/x", "ls >> ~/.bashrc", "ls &>> /tmp/x"]) {
    assert.equal(s.refusal(c).reason, "redirect-to-file", c);
  }
  assert.equal(s.refusal("# only a comment").reason, "empty");
  for (const c of ["ls >&2", "ls 2>&-", "ls 3<&0", "ls >& /dev/null", "ls >| /dev/null"]) {
    assert.doesNotThrow(() => s.admit(c), c);
  }
});

Deno.test("EXEC-36: a bare entry admits only the bare name; a path-qualified program needs an identical entry (message says how)", () => {
  const s = setup(["ls", "/opt/tools/report"]);
  const r = s.refusal("/usr/bin/ls /");
  assert.equal(r.reason, "not-allowlisted");
  assert.match(r.message, /path-qualified/);
  assert.match(r.message, /Write "ls"/);
  assert.equal(s.refusal("/srv/app/bin/ls").reason, "not-allowlisted");
  assert.equal(s.refusal("./ls").reason, "not-allowlisted");
  assert.equal(s.refusal("/usr/bin/../bin/ls").reason, "not-allowlisted");
  assert.match(s.admit("/opt/tools/report x").command, /'\/opt\/tools\/report' 'x'$/);
  assert.equal(s.refusal("report x").reason, "not-allowlisted");
  // quotes do not change the program (EXEC-5)
  assert.doesNotThrow(() => s.admit("'ls' /"));
  assert.doesNotThrow(() => s.admit("\\ls /"));
});
