/**
 * The prompt handshake state machine and the elevated command line
 * (SECURITY.md SUDO-3..5, AC-600..602, AC-606..609), driven with a scripted
 * fake exec so every ordering is exercised deterministically. The real
 * sudo/doas runs are in tests/e2e/sudo_test.ts.
 */

import assert from "node:assert/strict";
import { sh } from "../../src/checked.ts";
import type { ExecOptions, RawExecResult } from "../../src/ssh/exec.ts";
import {
  AUTH_FAILED_STDERR,
  buildElevatedCommand,
  elevationTokens,
  runElevated,
  type RunFn,
} from "../../src/ssh/sudo.ts";

const enc = new TextEncoder();

function result(stdout: string, stderr: string, exitCode = 0, extra: Partial<RawExecResult> = {}) {
  return {
    exitCode,
    signal: null,
    stdout,
    stderr,
    stdoutRaw: enc.encode(stdout),
    stderrRaw: enc.encode(stderr),
    stdoutBytes: enc.encode(stdout).length,
    stderrBytes: enc.encode(stderr).length,
    stdoutTruncated: false,
    stderrTruncated: false,
    timedOut: false,
    cancelled: false,
    durationMs: 1,
    ...extra,
  } satisfies RawExecResult;
}

/** What a fake remote did and received. */
interface Trace {
  command: string;
  stdin: string[];
  aborted: boolean;
}

/**
 * A fake remote: `script` gets the prompt/ready tokens parsed from the command
 * line, emits output through `emit`, reads stdin lines with `read`.
 */
function fakeRemote(
  script: (io: {
    prompt: string | null;
    ready: string;
    err: (s: string) => void;
    out: (s: string) => void;
    read: () => Promise<string | null>;
    aborted: () => boolean;
  }) => Promise<{ stdout?: string; stderr?: string; exit?: number }>,
): { run: RunFn; trace: Trace } {
  const trace: Trace = { command: "", stdin: [], aborted: false };
  const run: RunFn = async (cmd, opts: Partial<ExecOptions>) => {
    trace.command = cmd;
    const prompt = /-p '?(\[ssh-mcp-sudo:[0-9a-f]{16}\])/.exec(cmd)?.[1] ?? null;
    const ready = /(\[ssh-mcp-sudo-ready:[0-9a-f]{16}\])/.exec(cmd)?.[1] ?? "";
    let out = "";
    let err = "";
    const queue: string[] = [];
    const w: { fn: (() => void) | null } = { fn: null };
    let eof = false;
    opts.signal?.addEventListener("abort", () => {
      trace.aborted = true;
      w.fn?.();
    });
    const iter = (opts.stdin as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
    void (async () => {
      for (;;) {
        const n = await iter.next();
        if (n.done) break;
        const t = new TextDecoder().decode(n.value);
        trace.stdin.push(t);
        queue.push(t);
        w.fn?.();
      }
      eof = true;
      w.fn?.();
    })();
    const r = await script({
      prompt,
      ready,
      err: (s) => {
        err += s;
        opts.onOutput?.("stderr", enc.encode(s));
      },
      out: (s) => {
        out += s;
        opts.onOutput?.("stdout", enc.encode(s));
      },
      async read() {
        while (!queue.length && !eof && !trace.aborted) {
          await new Promise<void>((r) => (w.fn = r));
        }
        return queue.shift() ?? null;
      },
      aborted: () => trace.aborted,
    });
    if (trace.aborted) {
      return result(out, err, -1, { cancelled: true });
    }
    return result(out + (r.stdout ?? ""), err + (r.stderr ?? ""), r.exit ?? 0);
  };
  return { run, trace };
}

Deno.test("AC-600/AC-601/AC-602: sudo -S -p <prompt> / sudo -n / doas -n, inner as ONE single-quoted argument", () => {
  const t = elevationTokens();
  assert.match(t.prompt, /^\[ssh-mcp-sudo:[0-9a-f]{16}\]$/);
  const inner = sh`echo ${"it's"}; id | cat; echo $(id -u)`;
  const withPw = buildElevatedCommand("sudo", { kind: "shell", inner }, t, true);
  assert.ok(withPw.startsWith(`sudo -S -p '${t.prompt}' -- sh -c '`), withPw);
  const noPw = buildElevatedCommand("sudo", { kind: "shell", inner }, t, false);
  assert.ok(noPw.startsWith("sudo -n -- sh -c '"), noPw);
  assert.ok(
    buildElevatedCommand("doas", { kind: "shell", inner }, t, true).startsWith(
      "doas -n -- sh -c '",
    ),
  );
  // the whole inner is one word: sh -c gets exactly one script argument
  const arg = noPw.slice("sudo -n -- sh -c ".length);
  assert.ok(arg.startsWith("'") && arg.endsWith("'"));
  assert.ok(arg.includes(`'"'"'`), "single quotes written as '\"'\"'");
  assert.equal(buildElevatedCommand("sudo", { kind: "list" }, t, false), "sudo -n -l");
});

Deno.test("SUDO-4: password written once, only after the exact prompt; payload only after the ready marker", async () => {
  const { run, trace } = fakeRemote(async (io) => {
    io.err(io.prompt!.slice(0, 5)); // prompt split across chunks
    io.err(io.prompt!.slice(5));
    const pw = await io.read();
    assert.equal(pw, "s3cret\n");
    io.err(io.ready + "\n");
    const body = await io.read();
    io.out(`got:${body}`);
    return {};
  });
  const r = await runElevated(run, {
    method: "sudo",
    target: { kind: "shell", inner: sh`sh -s --` },
    password: "s3cret",
    payload: "echo hi\n",
  });
  assert.deepEqual(trace.stdin, ["s3cret\n", "echo hi\n"]);
  assert.equal(r.stdout, "got:echo hi\n");
  assert.equal(r.stderr, "", "prompt and ready marker removed");
  assert.deepEqual([r.prompted, r.passwordSent, r.started, r.authFailed], [
    true,
    true,
    true,
    false,
  ]);
});

Deno.test("AC-606/AC-607: no prompt (NOPASSWD): the password is never written, the payload is", async () => {
  const { run, trace } = fakeRemote(async (io) => {
    io.err(io.ready + "\n");
    const body = await io.read();
    io.out(body ?? "");
    return {};
  });
  const r = await runElevated(run, {
    method: "sudo",
    target: { kind: "shell", inner: sh`cat` },
    password: "s3cret",
    payload: "data",
  });
  assert.deepEqual(trace.stdin, ["data"]);
  assert.equal(r.stdout, "data");
  assert.equal(r.passwordSent, false);
});

Deno.test("SUDO-4: stdout data (sudo -l) or exit before any prompt -> nothing written", async () => {
  const a = fakeRemote((io) => {
    io.out("User x may run the following commands on h:\n");
    io.err(io.prompt ?? "");
    return Promise.resolve({});
  });
  const r = await runElevated(a.run, {
    method: "sudo",
    target: { kind: "list" },
    password: "s3cret",
  });
  assert.deepEqual(a.trace.stdin, []);
  assert.equal(r.handshake, "stdout");
  const b = fakeRemote(() =>
    Promise.resolve({ stderr: "sudo: a password is required\n", exit: 1 })
  );
  const r2 = await runElevated(b.run, {
    method: "sudo",
    target: { kind: "shell", inner: sh`true` },
    password: null,
    payload: "never",
  });
  assert.deepEqual(b.trace.stdin, []);
  assert.equal(r2.exitCode, 1);
  assert.match(r2.hint ?? "", /no sudo password source/);
});

Deno.test("SUDO-4: command stdout overtaking the ready marker (or PAM info on stdout) never sends the payload early", async () => {
  const { run, trace } = fakeRemote(async (io) => {
    io.out("Your password will expire in 3 days\n");
    io.err(io.prompt!);
    const pw = await io.read();
    assert.equal(pw, "s3cret\n");
    io.out("early output of the command\n");
    io.err(io.ready + "\n");
    return { stdout: (await io.read()) ?? "" };
  });
  const r = await runElevated(run, {
    method: "sudo",
    target: { kind: "shell", inner: sh`cat` },
    password: "s3cret",
    payload: "BODY",
  });
  assert.deepEqual(trace.stdin, ["s3cret\n", "BODY"]);
  assert.equal(r.started, true);
  assert.ok(r.stdout.endsWith("BODY"));
});

Deno.test("SUDO-4: no prompt within the deadline -> nothing written, stdin closed", async () => {
  const { run, trace } = fakeRemote(async (io) => {
    const got = await io.read(); // EOF after the deadline
    assert.equal(got, null);
    return { stderr: "sudo: no password was provided\n", exit: 1 };
  });
  const r = await runElevated(run, {
    method: "sudo",
    target: { kind: "shell", inner: sh`true` },
    password: "s3cret",
    promptTimeoutMs: 50,
  });
  assert.deepEqual(trace.stdin, []);
  assert.equal(r.handshake, "timeout");
});

Deno.test("SUDO-5/AC-608: a second prompt -> stdin closed, process killed, exit 1 'sudo: authentication failed', payload never sent", async () => {
  const { run, trace } = fakeRemote(async (io) => {
    io.err(io.prompt!);
    await io.read();
    io.err("Sorry, try again.\n" + io.prompt!);
    await io.read(); // returns once aborted / EOF
    return {};
  });
  const r = await runElevated(run, {
    method: "sudo",
    target: { kind: "shell", inner: sh`cat > /x` },
    password: "wrong",
    payload: "PAYLOAD",
  });
  assert.deepEqual(trace.stdin, ["wrong\n"]);
  assert.equal(trace.aborted, true);
  assert.equal(r.exitCode, 1);
  assert.equal(r.stderr, AUTH_FAILED_STDERR);
  assert.equal(r.authFailed, true);
  assert.equal(r.cancelled, false);
  assert.ok(r.hint);
});

Deno.test("AC-609: prompt imitations (stdout, wrong nonce, after the ready marker) are ignored", async () => {
  const { run, trace } = fakeRemote((io) => {
    io.out("[ssh-mcp-sudo:0123456789abcdef]");
    return Promise.resolve({});
  });
  await runElevated(run, {
    method: "sudo",
    target: { kind: "shell", inner: sh`true` },
    password: "s3cret",
  });
  assert.deepEqual(trace.stdin, []);
  const b = fakeRemote(async (io) => {
    io.err("[ssh-mcp-sudo:0123456789abcdef]\n" + io.ready + "\n" + io.prompt!);
    const x = await io.read();
    return { stdout: x ?? "" };
  });
  const r = await runElevated(b.run, {
    method: "sudo",
    target: { kind: "shell", inner: sh`cat` },
    password: "s3cret",
  });
  assert.deepEqual(b.trace.stdin, []);
  assert.equal(r.passwordSent, false);
});

Deno.test("doas: never writes a password (no prompt option; reads only from a terminal)", async () => {
  const { run, trace } = fakeRemote((io) => {
    assert.equal(io.prompt, null);
    return Promise.resolve({ stderr: "doas: Authentication required\n", exit: 1 });
  });
  const r = await runElevated(run, {
    method: "doas",
    target: { kind: "shell", inner: sh`id` },
    password: "s3cret",
  });
  assert.ok(trace.command.startsWith("doas -n -- sh -c "));
  assert.deepEqual(trace.stdin, []);
  assert.match(r.hint ?? "", /nopass/);
});

Deno.test("SUDO-13/AC-019: sudo requiring a TTY fails as data with a requiretty hint (no PTY is allocated)", async () => {
  const { run, trace } = fakeRemote(() =>
    Promise.resolve({ stderr: "sudo: sorry, you must have a tty to run sudo\n", exit: 1 })
  );
  const r = await runElevated(run, {
    method: "sudo",
    target: { kind: "shell", inner: sh`id` },
    password: "s3cret",
  });
  assert.deepEqual(trace.stdin, []);
  assert.equal(r.exitCode, 1);
  assert.match(r.hint ?? "", /requiretty/);
});
