/**
 * Whole writes to a non-blocking stdout and stderr (`src/util/fd_write.ts`):
 * a child Deno process gets pipes whose write ends are set `O_NONBLOCK` (by
 * perl, before it execs Deno: the flag belongs to the shared file
 * description), writes while the parent is not reading, and the parent then
 * reads slowly in small pieces. Every byte must arrive once, in order.
 *
 * @module
 */

import assert from "node:assert/strict";
import { PIPE_ATOMIC, stdoutSlice } from "../../src/util/fd_write.ts";
import { SYNC_WRITE_MAX } from "../../src/mcp/stdio.ts";
import { concat } from "../../src/util/bytes.ts";
import { baseEnv, ROOT, START_PERMS } from "../_support/mcp.ts";

const PERL = "/usr/bin/perl";
/** A child still writing after this long is killed (its output then fails the checks). */
const DEADLINE_MS = 60_000;

/** Message sizes around every boundary of the cutting rule and of the sync/async split. */
const SIZES = [
  1,
  700,
  1023,
  1024,
  1025,
  3000,
  PIPE_ATOMIC - 1,
  PIPE_ATOMIC,
  PIPE_ATOMIC + 1,
  PIPE_ATOMIC + 1024,
  PIPE_ATOMIC + 1025,
  9_999,
  SYNC_WRITE_MAX,
  SYNC_WRITE_MAX + 1,
  70_001,
  300 * 1024 + 3,
  2,
];

/** The i-th message: `size - 1` bytes of one letter, then a newline. */
function message(i: number, size: number): Uint8Array {
  const m = new Uint8Array(size).fill(65 + (i % 26));
  m[size - 1] = 10;
  return m;
}

/** Runs `deno <args>` with stdout and stderr non-blocking pipes (stdin too, piped, if asked). */
function nonBlockingChild(
  args: string[],
  opts: { stdin?: "piped"; env?: Record<string, string> } = {},
): Deno.ChildProcess {
  const perl = [
    "use Fcntl;",
    `for my $fh (\\*STDOUT, \\*STDERR${opts.stdin ? ", \\*STDIN" : ""}) {`,
    "  my $f = fcntl($fh, F_GETFL, 0) or die $!;",
    "  fcntl($fh, F_SETFL, $f | O_NONBLOCK) or die $!;",
    "}",
    "exec @ARGV or die $!;",
  ].join(" ");
  const child = new Deno.Command(PERL, {
    args: ["-e", perl, Deno.execPath(), ...args],
    stdin: opts.stdin ?? "null",
    ...(opts.env ? { env: opts.env, clearEnv: true } : {}),
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  // a writer that repeats bytes forever must fail the test, not hang it
  const deadline = setTimeout(() => child.kill("SIGKILL"), DEADLINE_MS);
  child.status.finally(() => clearTimeout(deadline));
  return child;
}

/** Runs `code` with `deno eval` under {@link nonBlockingChild}. */
function evalChild(code: string): Deno.ChildProcess {
  return nonBlockingChild(["eval", "--quiet", code]);
}

/** Pieces of at most 3,000 bytes from `reader`, after `startAfterMs`, pausing 1 ms between reads. */
async function* slowPieces(
  reader: ReadableStreamBYOBReader,
  startAfterMs: number,
): AsyncGenerator<Uint8Array> {
  await new Promise((r) => setTimeout(r, startAfterMs)); // let the writer fill the pipe first
  for (;;) {
    const { value, done } = await reader.read(new Uint8Array(3000));
    if (done) return;
    yield value;
    await new Promise((r) => setTimeout(r, 1));
  }
}

/** Reads all of `stream` slowly ({@link slowPieces}, starting after 300 ms). */
async function readSlowly(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const p of slowPieces(stream.getReader({ mode: "byob" }), 300)) parts.push(p);
  return concat(parts);
}

/** Checks that `got` is exactly the messages of {@link SIZES}, `rounds` times over. */
function assertMessages(got: Uint8Array, rounds: number): void {
  const want: Uint8Array[] = [];
  for (let r = 0; r < rounds; r++) SIZES.forEach((n, i) => want.push(message(i, n)));
  const total = want.reduce((a, m) => a + m.length, 0);
  assert.equal(got.length, total, "bytes lost or repeated");
  let at = 0;
  for (const [k, m] of want.entries()) {
    const part = got.subarray(at, at + m.length);
    assert.ok(part.every((b, j) => b === m[j]), `message ${k} (${m.length} bytes) altered`);
    at += m.length;
  }
}

Deno.test("stdoutSlice: the slice holding the newline fits PIPE_ATOMIC, every other slice is at least 1 KiB", () => {
  for (const n of [...SIZES, 5_000, 8_192, 100_000]) {
    const m = message(0, n);
    for (const partial of [0, 1, 500, 1023, 3000]) {
      let off = 0;
      let first = true;
      while (off < n) {
        const s = stdoutSlice(m, off);
        assert.ok(s.length > 0);
        if (s[s.length - 1] === 10) {
          assert.ok(s.length <= PIPE_ATOMIC, `newline slice of ${s.length}`);
        } else assert.ok(s.length >= 1024, `slice of ${s.length} without the newline`);
        // a partial write of the first slice, then whole slices
        off += first ? Math.max(1, Math.min(partial, s.length)) : s.length;
        first = false;
      }
    }
  }
});

Deno.test("writeStdout: a non-blocking stdout the client reads slowly gets every message once, in order", async () => {
  const mod = new URL("../../src/mcp/stdio.ts", import.meta.url).href;
  const rounds = 3;
  const child = evalChild(`
    import { writeStdout } from ${JSON.stringify(mod)};
    const sizes = ${JSON.stringify(SIZES)};
    for (let r = 0; r < ${rounds}; r++) {
      for (const [i, n] of sizes.entries()) {
        const m = new Uint8Array(n).fill(65 + (i % 26));
        m[n - 1] = 10;
        await writeStdout(m);
      }
    }
  `);
  const [got, err, status] = await Promise.all([
    readSlowly(child.stdout),
    new Response(child.stderr).text(),
    child.status,
  ]);
  assert.equal(status.code, 0, err);
  assertMessages(got, rounds);
});

Deno.test("stderrSink and the stderr audit log: a non-blocking stderr read slowly gets every line whole", async () => {
  const log = new URL("../../src/log.ts", import.meta.url).href;
  const audit = new URL("../../src/audit/audit.ts", import.meta.url).href;
  const child = evalChild(`
    import { Logger, stderrSink } from ${JSON.stringify(log)};
    import { AuditLog } from ${JSON.stringify(audit)};
    const sizes = ${JSON.stringify(SIZES)};
    for (const [i, n] of sizes.entries()) stderrSink(String.fromCharCode(65 + (i % 26)).repeat(n - 1));
    const a = new AuditLog("stderr", new Logger({ level: "CRITICAL" }));
    const record = (i) => ({ event: "t", i, p: Array.from({ length: 8 }, (_, k) => "x".repeat(300 + (i % 100) + k)) });
    for (let i = 0; i < 200; i++) await a.write(record(i));
    Deno.stdout.writeSync(new TextEncoder().encode(String(a.dropped)));
  `);
  const [got, out, status] = await Promise.all([
    readSlowly(child.stderr),
    new Response(child.stdout).text(),
    child.status,
  ]);
  assert.equal(status.code, 0);
  assert.equal(out, "0", "audit lines dropped");
  const logged = SIZES.reduce((a, n) => a + n, 0);
  assertMessages(got.subarray(0, logged), 1);
  const lines = new TextDecoder().decode(got.subarray(logged)).split("\n");
  assert.equal(lines.pop(), "");
  assert.equal(lines.length, 200);
  for (const [i, l] of lines.entries()) {
    const p = Array.from({ length: 8 }, (_, k) => "x".repeat(300 + (i % 100) + k));
    assert.deepEqual(JSON.parse(l), { event: "t", i, p });
  }
});

Deno.test("the stdio server with non-blocking stdin, stdout and stderr: a client that reads late and slowly gets every answer, and the server stays up", async () => {
  const child = nonBlockingChild(["run", "--quiet", ...START_PERMS, `${ROOT}main.ts`, "serve"], {
    stdin: "piped",
    env: baseEnv({ LOG_LEVEL: "DEBUG" }),
  });
  const w = child.stdin.getWriter();
  const send = (o: unknown) => w.write(new TextEncoder().encode(JSON.stringify(o) + "\n"));
  await send({
    jsonrpc: "2.0",
    id: 0,
    method: "initialize",
    params: {
      protocolVersion: "2025-06-18",
      capabilities: {},
      clientInfo: { name: "t", version: "1" },
    },
  });
  await send({ jsonrpc: "2.0", method: "notifications/initialized" });
  // 40 tool listings (tens of KiB each) and pings: far more than a pipe holds
  const ids: number[] = [0];
  for (let i = 1; i <= 40; i++) {
    await send({ jsonrpc: "2.0", id: i, method: "tools/list" });
    await send({ jsonrpc: "2.0", id: 100 + i, method: "ping" });
    ids.push(i, 100 + i);
  }
  let exited = false;
  child.status.finally(() => (exited = true));
  const stderr = new Response(child.stderr).text();
  // after 1 s (the answers fill the pipe meanwhile), read slowly in small pieces until every
  // request has its answer (or stdout ends)
  const answered: number[] = [];
  const reader = child.stdout.getReader({ mode: "byob" });
  const dec = new TextDecoder();
  let pending = "";
  for await (const value of slowPieces(reader, 1000)) {
    pending += dec.decode(value, { stream: true });
    const lines = pending.split("\n");
    pending = lines.pop()!;
    for (const l of lines) answered.push((JSON.parse(l) as { id: number }).id);
    if (answered.length >= ids.length) break;
  }
  assert.equal(exited, false, "the server exited while answering");
  assert.equal(pending, "");
  assert.deepEqual(answered.sort((a, b) => a - b), ids.sort((a, b) => a - b));
  await w.close();
  const rest = await reader.read(new Uint8Array(1));
  assert.equal(rest.done, true);
  const status = await child.status;
  assert.equal(status.code, 0, (await stderr).slice(-2000));
});
