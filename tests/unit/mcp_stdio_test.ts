/**
 * The server's stdio line transport (src/mcp/stdio.ts, TRANS-7/TRANS-10) on
 * in-memory streams: framing across chunk boundaries, the streaming id
 * scanner on hostile shapes, answers for over-limit and broken lines, and
 * over-limit results. The end-to-end proof with the real `deno task start`
 * process is tests/e2e/robustness_test.ts.
 */

import assert from "node:assert/strict";
import { LineTransport, SYNC_WRITE_MAX, TopLevelScanner } from "../../src/mcp/stdio.ts";
import { parseJSONRPCMessage } from "../../src/mcp/sdk.ts";
import { Logger } from "../../src/log.ts";
import { waitFor } from "../_support/procs.ts";

const enc = new TextEncoder();

function scan(text: string, chunk = 3): TopLevelScanner {
  const sc = new TopLevelScanner();
  const b = enc.encode(text);
  for (let i = 0; i < b.length; i += chunk) sc.feed(b.subarray(i, i + chunk));
  return sc;
}

Deno.test("TRANS-7: the streaming scanner finds the top-level id and method whatever the key order, nesting or string content", () => {
  const cases: [string, string | number | undefined, string | undefined][] = [
    [`{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{}}`, 7, "tools/call"],
    [`{"params":{"id":999,"method":"x"},"method":"m","id":"late"}`, "late", "m"],
    [`{"params":{"s":"\\"id\\": 5, }{"},"id":  -3 ,"method":"m"}`, -3, "m"],
    [`{"method":"m","params":["id",{"id":1}],"id":"a\\"b"}`, 'a"b', "m"],
    [`{"method":"m","id":{"nested":1}}`, undefined, "m"],
    [`{"method":"notifications/x","params":{}}`, undefined, "notifications/x"],
    [`[{"id":1,"method":"m"}]`, undefined, undefined],
    [`{"id":1,"id":2,"method":"m"}`, 1, "m"],
    [`{"id":1e999,"method":"m"}`, undefined, "m"],
  ];
  for (const [text, id, method] of cases) {
    for (const chunk of [1, 3, 1000]) {
      const sc = scan(text, chunk);
      assert.equal(sc.id(), id, `${text} / ${chunk}`);
      assert.equal(sc.method(), method, `${text} / ${chunk}`);
    }
  }
});

async function run(
  input: string[],
  max: number,
  send: (t: LineTransport) => Promise<void> = async () => {},
): Promise<{ out: Record<string, unknown>[]; got: unknown[]; logs: string[] }> {
  const written: string[] = [];
  const logs: string[] = [];
  const got: unknown[] = [];
  let ctl!: ReadableStreamDefaultController<Uint8Array>;
  const input$ = new ReadableStream<Uint8Array>({
    start(c) {
      ctl = c;
      for (const piece of input) c.enqueue(enc.encode(piece));
    },
  });
  const closed = Promise.withResolvers<void>();
  const t = new LineTransport({
    input: input$,
    write: (b) => {
      written.push(new TextDecoder().decode(b));
      return Promise.resolve();
    },
    maxMessageBytes: max,
    logger: new Logger({ level: "DEBUG", sink: (l) => logs.push(l) }),
    parse: parseJSONRPCMessage,
  });
  t.onmessage = (m) => got.push(m);
  t.onclose = () => closed.resolve();
  await t.start();
  await send(t);
  ctl.close(); // stdin EOF
  await closed.promise;
  const out = written.join("").split("\n").filter(Boolean).map((l) => JSON.parse(l));
  return { out, got, logs };
}

Deno.test("TRANS-7: lines split across chunks and CRLF are framed; over-limit and broken lines are answered or dropped; EOF closes", async () => {
  const big = `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"x":"${"y".repeat(300)}"}}`;
  const r = await run(
    [
      `{"jsonrpc":"2.0","id":0,"meth`,
      `od":"ping"}\r\n{"jsonrpc":"2.0","method":"notifications/initialized"}\n`,
      big.slice(0, 100),
      big.slice(100) + "\n",
      `{"jsonrpc":"2.0","method":"n","params":{"x":"${"z".repeat(300)}"}}\n`,
      `{"jsonrpc":"2.0","id":2,"method":"m",\n`,
      `\n   \n`,
      `{"jsonrpc":"2.0","id":3,"method":"ping"}`, // no newline before EOF: not a message
    ],
    200,
  );
  assert.deepEqual(r.got, [
    { jsonrpc: "2.0", id: 0, method: "ping" },
    { jsonrpc: "2.0", method: "notifications/initialized" },
  ]);
  assert.deepEqual(r.out.map((m) => [m.id, (m.error as { code: number }).code]), [
    [1, -32600],
    [2, -32700],
  ]);
  assert.match(
    String((r.out[0]!.error as { message: string }).message),
    /^Request too large: the message is 3\d\d bytes, over this server's limit of 200 bytes/,
  );
  assert.equal(r.logs.filter((l) => l.includes("without a request id")).length, 1);
});

Deno.test("TRANS-10: an outgoing result over the limit becomes an error for its id; an over-limit notification is dropped", async () => {
  const r = await run([], 200, async (t) => {
    await t.send({ jsonrpc: "2.0", id: 9, result: { text: "r".repeat(500) } });
    await t.send({
      jsonrpc: "2.0",
      method: "notifications/progress",
      params: { m: "p".repeat(500) },
    });
    await t.send({ jsonrpc: "2.0", id: 10, result: {} });
  });
  assert.deepEqual(r.out.map((m) => m.id), [9, 10]);
  const e = r.out[0]!.error as { code: number; message: string };
  assert.equal(e.code, -32603);
  assert.match(e.message, /^The result is 5\d\d bytes, over this server's limit of 200 bytes/);
  assert.ok(r.logs.some((l) => l.includes("dropped an outgoing MCP message")));
});

Deno.test("early reading: the hook answers first; the server gets every message in arrival order at start(), replays under their private ids, and its answers to them are compared, never sent", async () => {
  const written: Record<string, unknown>[] = [];
  const logs: string[] = [];
  let ctl!: ReadableStreamDefaultController<Uint8Array>;
  const input = new ReadableStream<Uint8Array>({ start: (c) => void (ctl = c) });
  const t = new LineTransport({
    input,
    write: (b) => {
      for (const l of new TextDecoder().decode(b).split("\n")) if (l) written.push(JSON.parse(l));
      return Promise.resolve();
    },
    maxMessageBytes: 1000,
    logger: new Logger({ level: "DEBUG", sink: (l) => logs.push(l) }),
  });
  const seen: unknown[] = [];
  t.listenEarly((v) => {
    seen.push(v);
    const m = v as { id?: unknown; method?: string };
    if (m.method !== "a" && m.method !== "b") return null;
    void t.send({ jsonrpc: "2.0", id: m.id, result: { early: m.method } } as never);
    const id = `ssh-mcp:early:${m.method}:r`;
    return { replay: { ...m, id }, id, result: JSON.stringify({ early: m.method }) };
  });
  ctl.enqueue(enc.encode(
    [
      `{"jsonrpc":"2.0","id":1,"method":"a"}`,
      `{"jsonrpc":"2.0","method":"n"}`,
      `{"jsonrpc":"2.0","id":2,"method":"b"}`,
      `{"jsonrpc":"2.0","id":3,"method":"c"}`,
      `{"broken`,
      `{"jsonrpc":"1.0","id":4,"method":"d"}`,
    ].join("\n") + "\n",
  ));
  for (let i = 0; i < 50 && seen.length < 4; i++) await new Promise((r) => setTimeout(r, 5));
  // answered early: 1 and 2; nothing reached a server yet (there is none)
  assert.deepEqual(written.map((w) => w.id), [1, 2]);
  assert.throws(() => t.start(), /no JSON-RPC parser/);
  const got: unknown[] = [];
  t.onmessage = (m) => got.push(m);
  t.setParser(parseJSONRPCMessage);
  await t.start();
  // in arrival order; the early-answered ones under their private ids; the invalid one answered
  assert.deepEqual(got, [
    { jsonrpc: "2.0", id: "ssh-mcp:early:a:r", method: "a" },
    { jsonrpc: "2.0", method: "n" },
    { jsonrpc: "2.0", id: "ssh-mcp:early:b:r", method: "b" },
    { jsonrpc: "2.0", id: 3, method: "c" },
  ]);
  assert.deepEqual(written.map((w) => w.id), [1, 2, 4]);
  // after start() the hook is out of the way
  ctl.enqueue(enc.encode(`{"jsonrpc":"2.0","id":5,"method":"a"}\n`));
  for (let i = 0; i < 50 && got.length < 5; i++) await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual(got.at(-1), { jsonrpc: "2.0", id: 5, method: "a" });
  assert.equal(seen.length, 5); // 4 JSON lines before start (the broken one never parsed)
  // the server's answers to the replays: not sent; a match is confirmed, a difference an ERROR
  await t.send({ jsonrpc: "2.0", id: "ssh-mcp:early:a:r", result: { early: "a" } } as never);
  await t.send({ jsonrpc: "2.0", id: "ssh-mcp:early:b:r", result: { early: "B!" } } as never);
  // each private id is used once: a second answer with it is an ordinary message
  await t.send({ jsonrpc: "2.0", id: "ssh-mcp:early:a:r", result: {} } as never);
  await t.send({ jsonrpc: "2.0", id: 3, result: {} } as never);
  assert.deepEqual(written.map((w) => w.id), [1, 2, 4, "ssh-mcp:early:a:r", 3]);
  assert.ok(
    logs.some((l) => /DEBUG early answer confirmed by the server method=a/.test(l)),
    logs.join("\n"),
  );
  assert.ok(
    logs.some((l) => /ERROR an early answer differed from the server's method=b/.test(l)),
    logs.join("\n"),
  );
  ctl.close();
  await t.ended;
});

Deno.test("early reading: after pauseEarly() nothing more is read (it waits in the pipe) until start(); close() ends a paused reader", async () => {
  let ctl!: ReadableStreamDefaultController<Uint8Array>;
  const t = new LineTransport({
    input: new ReadableStream<Uint8Array>({ start: (c) => void (ctl = c) }),
    write: () => Promise.resolve(),
    maxMessageBytes: 1000,
    logger: new Logger({ level: "CRITICAL" }),
    parse: parseJSONRPCMessage,
  });
  const seen: unknown[] = [];
  t.listenEarly((v) => {
    seen.push(v);
    t.pauseEarly();
    return null;
  });
  ctl.enqueue(enc.encode(`{"jsonrpc":"2.0","id":1,"method":"a"}\n`));
  for (let i = 0; i < 50 && seen.length < 1; i++) await new Promise((r) => setTimeout(r, 5));
  ctl.enqueue(enc.encode(`{"jsonrpc":"2.0","id":2,"method":"b"}\n`));
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(seen.length, 1, "read on while paused");
  const got: unknown[] = [];
  t.onmessage = (m) => got.push(m);
  await t.start();
  for (let i = 0; i < 50 && got.length < 2; i++) await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual(got.map((m) => (m as { id: number }).id), [1, 2]);
  // a paused transport that is closed instead of started ends its reader
  let ctl2!: ReadableStreamDefaultController<Uint8Array>;
  const t2 = new LineTransport({
    input: new ReadableStream<Uint8Array>({ start: (c) => void (ctl2 = c) }),
    write: () => Promise.resolve(),
    maxMessageBytes: 1000,
    logger: new Logger({ level: "CRITICAL" }),
  });
  t2.listenEarly(() => null);
  t2.pauseEarly();
  ctl2.enqueue(enc.encode(`{"jsonrpc":"2.0","id":1,"method":"a"}\n`));
  await t2.close();
  await t2.ended;
  ctl.close();
  await t.ended;
});

/** Runs `body` in a child Deno process that has `writeStdout` in scope. */
function writerChild(body: string): Deno.ChildProcess {
  const mod = new URL("../../src/mcp/stdio.ts", import.meta.url).href;
  const code = `import { writeStdout } from ${JSON.stringify(mod)};\n${body}`;
  return new Deno.Command(Deno.execPath(), {
    args: ["eval", "--quiet", code],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

Deno.test("writeStdout: messages at, below and above the synchronous limit reach the pipe whole and in order", async () => {
  const sizes = [1, 100, SYNC_WRITE_MAX, SYNC_WRITE_MAX + 1, 300 * 1024, 7, SYNC_WRITE_MAX - 1];
  const child = writerChild(`
    for (const [i, n] of ${JSON.stringify(sizes)}.entries()) {
      await writeStdout(new Uint8Array(n).fill(65 + i));
    }
  `);
  const out = await child.output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const want = new Uint8Array(sizes.reduce((a, b) => a + b, 0));
  let at = 0;
  for (const [i, n] of sizes.entries()) {
    want.fill(65 + i, at, at + n);
    at += n;
  }
  assert.equal(out.stdout.length, want.length);
  assert.ok(out.stdout.every((b, i) => b === want[i]), "bytes out of order or altered");
});

Deno.test("writeStdout: a message over the synchronous limit does not hold the event loop while the client is not reading", async () => {
  // the child starts a 1 MiB write (the pipe holds 64 KiB), then a timer reports on stderr;
  // stdout is only read once the report came, so a blocking write would never let it come
  const child = writerChild(`
    const big = writeStdout(new Uint8Array(1024 * 1024).fill(66));
    setTimeout(() => Deno.stderr.writeSync(new TextEncoder().encode("tick\\n")), 50);
    await big;
  `);
  let stderr = "";
  const drained = (async () => {
    for await (const c of child.stderr) stderr += new TextDecoder().decode(c);
  })();
  // what stderr held before anything read stdout
  const seen = await waitFor(() => Promise.resolve(stderr.includes("tick")), 20_000, "tick")
    .then(() => stderr, () => stderr);
  const out = new Uint8Array(await new Response(child.stdout).arrayBuffer());
  await drained;
  await child.status;
  assert.match(seen, /tick/, "the timer did not run while stdout was full");
  assert.equal(out.length, 1024 * 1024);
  assert.ok(out.every((b) => b === 66));
});
