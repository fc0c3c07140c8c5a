/**
 * Early answers (issue 17 item 1, src/mcp/early.ts): the real server process,
 * started as `deno task start` starts it, answers `initialize` and
 * `tools/list` before the MCP SDK loads, and those answers are the ones the
 * server itself gives: the server's own replay check (stdio.ts) confirms each
 * one, and a second `tools/list` (answered by the SDK) is byte-identical.
 * Everything that can refuse the start, and the start-up summary, comes
 * before the first answer. Requests the early reader must not answer reach
 * the SDK unchanged, in order; hostile ids, bad lines, SIGHUP and EOF in the
 * early window behave as they do later.
 *
 * @module
 */

import assert from "node:assert/strict";
import { baseEnv, ROOT, START_PERMS } from "../_support/mcp.ts";

const enc = new TextEncoder();

type Msg = Record<string, unknown>;

/** The server process driven line by line over its stdin/stdout. */
class Raw {
  readonly #child: Deno.ChildProcess;
  readonly #w: WritableStreamDefaultWriter<Uint8Array>;
  readonly #lines: string[] = [];
  #err = "";
  #wake: (() => void) | null = null;
  readonly #pumps: Promise<void>[];

  constructor(env: Record<string, string>) {
    this.#child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--quiet", ...START_PERMS, `${ROOT}main.ts`, "serve"],
      env: baseEnv({ LOG_LEVEL: "DEBUG", ...env }),
      clearEnv: true,
      cwd: ROOT,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#w = this.#child.stdin.getWriter();
    this.#pumps = [
      this.#pump(this.#child.stdout, (t) => {
        const parts = t.split("\n");
        for (const p of parts) if (p) this.#lines.push(p);
      }, true),
      this.#pump(this.#child.stderr, (t) => (this.#err += t), false),
    ];
  }

  async #pump(s: ReadableStream<Uint8Array>, sink: (t: string) => void, lines: boolean) {
    let buf = "";
    for await (const t of s.pipeThrough(new TextDecoderStream())) {
      if (!lines) {
        sink(t);
      } else {
        buf += t;
        const nl = buf.lastIndexOf("\n");
        if (nl >= 0) {
          sink(buf.slice(0, nl));
          buf = buf.slice(nl + 1);
        }
      }
      this.#wake?.();
    }
  }

  async send(...msgs: (Msg | string)[]): Promise<void> {
    const text = msgs.map((m) => (typeof m === "string" ? m : JSON.stringify(m)) + "\n").join("");
    await this.#w.write(enc.encode(text));
  }

  /** The answer line for `id` (raw text), waiting up to 30 s. */
  async answer(id: string | number): Promise<string> {
    const end = Date.now() + 30_000;
    for (;;) {
      const line = this.#lines.find((l) => (JSON.parse(l) as Msg).id === id);
      if (line) return line;
      if (Date.now() > end) {
        throw new Error(`no answer for ${id}; got ${this.#lines.join("\n")}\n${this.#err}`);
      }
      await new Promise<void>((r) => {
        this.#wake = r;
        setTimeout(r, 50);
      });
    }
  }

  get lines(): readonly string[] {
    return this.#lines;
  }

  stderr(): string {
    return this.#err;
  }

  /** Waits until stderr matches `re` (up to 30 s). */
  async logged(re: RegExp): Promise<void> {
    const end = Date.now() + 30_000;
    while (!re.test(this.#err)) {
      if (Date.now() > end) throw new Error(`stderr never matched ${re}:\n${this.#err}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  signal(sig: Deno.Signal): void {
    this.#child.kill(sig);
  }

  /** Closes stdin and returns the exit code (the server ends on EOF). */
  async close(): Promise<number> {
    await this.#w.close().catch(() => {});
    const code = (await this.#child.status).code;
    await Promise.all(this.#pumps).catch(() => {});
    return code;
  }
}

const init = (id: number | string, params: Msg = {}): Msg => ({
  jsonrpc: "2.0",
  id,
  method: "initialize",
  params: {
    protocolVersion: "2025-11-25",
    capabilities: {},
    clientInfo: { name: "early-test", version: "1" },
    ...params,
  },
});
const initialized = { jsonrpc: "2.0", method: "notifications/initialized" };
const list = (id: number | string): Msg => ({ jsonrpc: "2.0", id, method: "tools/list" });

/** The result text of an answer line, without its id. */
function resultOf(line: string): string {
  const m = JSON.parse(line) as Msg;
  assert.ok("result" in m, `not a result: ${line.slice(0, 300)}`);
  return JSON.stringify(m.result);
}

const EARLY = /answered before the MCP layer loaded/g;
const CONFIRMED = /early answer confirmed by the server/g;
const DIFFERED = /early answer differed/;

/** initialize + tools/list early, then a second tools/list from the SDK; returns both results. */
async function earlyRound(env: Record<string, string>, version: string) {
  const s = new Raw(env);
  try {
    await s.send(
      init(1, { protocolVersion: version, capabilities: { roots: { listChanged: true } } }),
      initialized,
      list(2),
    );
    const i = await s.answer(1);
    const l1 = await s.answer(2);
    await s.send(list(3)); // after the take-over: the SDK's own answer
    const l2 = await s.answer(3);
    await s.logged(/serving MCP on stdio/);
    await s.logged(/early answer confirmed[^\n]*tools\/list/);
    const err = s.stderr();
    assert.equal(err.match(EARLY)?.length, 2, err);
    assert.equal(err.match(CONFIRMED)?.length, 2, err);
    assert.doesNotMatch(err, DIFFERED);
    // the early answers came after the start-up summary, before the MCP layer had loaded
    const at = (t: string) => err.indexOf(t);
    assert.ok(at("tool catalog:") >= 0 && at("tool catalog:") < at("answered before"), err);
    assert.ok(at("answered before") < at("serving MCP on stdio"), err);
    assert.equal(resultOf(l1), resultOf(l2), "early tools/list differs from the SDK's");
    assert.equal((JSON.parse(i) as { result: Msg }).result.protocolVersion, version);
    return { init: resultOf(i), tools: resultOf(l1) };
  } finally {
    assert.equal(await s.close(), 0, s.stderr());
  }
}

Deno.test("early answers: initialize and tools/list before the server loads, confirmed by it, for each revision and configuration", async () => {
  const configs: Record<string, string>[] = [
    {},
    { ALLOW_LOW_ACCESS_TOOLS: "true", ALLOW_DANGEROUS_TOOLS: "true", ALLOW_SUDO: "true" },
    { ALLOW_LOW_ACCESS_TOOLS: "true", SSH_ENABLED_GROUPS: "host,exec" },
    { SSH_ENABLE_RUNBOOKS: "false", SSH_SKILLS_VISIBLE_ONLY: "true" },
    { ALLOW_DANGEROUS_TOOLS: "true", ALLOW_PERSISTENT_SESSIONS: "false" },
  ];
  const seen = new Set<string>();
  for (const [k, env] of configs.entries()) {
    const version = ["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05", "2024-10-07"][k]!;
    const r = await earlyRound(env, version);
    seen.add(r.init + r.tools);
    assert.match(r.init, /"serverInfo":\{"name":"ssh-mcp"/);
  }
  assert.equal(seen.size, configs.length, "each configuration answers differently");
});

Deno.test("early answers: the early reader's revisions and error codes are the SDK's", async () => {
  const sdk = await import("@modelcontextprotocol/server");
  const { EARLY_PROTOCOL_VERSIONS } = await import("../../src/mcp/early.ts");
  const { ErrorCode } = await import("../../src/mcp/stdio.ts");
  assert.deepEqual([...EARLY_PROTOCOL_VERSIONS], [...sdk.SUPPORTED_PROTOCOL_VERSIONS]);
  assert.equal(ErrorCode.ParseError, sdk.ProtocolErrorCode.ParseError);
  assert.equal(ErrorCode.InvalidRequest, sdk.ProtocolErrorCode.InvalidRequest);
  assert.equal(ErrorCode.InternalError, sdk.ProtocolErrorCode.InternalError);
});

Deno.test("early answers: what the SDK must judge is left to it (bad shapes, other revisions, _meta, search mode)", async () => {
  const cases: { env?: Record<string, string>; first: Msg[]; check: (a: Msg) => void }[] = [
    {
      // the SDK refuses a capability of the wrong type: the early reader must not accept it
      first: [init(1, { capabilities: { sampling: 5 } })],
      check: (a) => assert.ok("error" in a, JSON.stringify(a)),
    },
    {
      first: [init(1, { clientInfo: { name: "x" } })],
      check: (a) => assert.ok("error" in a, JSON.stringify(a)),
    },
    {
      // a revision the SDK does not speak on initialize: it answers with its latest
      first: [init(1, { protocolVersion: "1999-01-01" })],
      check: (a) => assert.equal((a.result as Msg).protocolVersion, "2025-11-25"),
    },
    {
      first: [init(1, { _meta: { progressToken: 7 } })],
      check: (a) => assert.equal((a.result as Msg).protocolVersion, "2025-11-25"),
    },
    {
      // search mode lists synthetic tools: the server answers both
      env: { SSH_ENABLE_BM25: "true" },
      first: [init(1)],
      check: (a) => assert.equal((a.result as Msg).protocolVersion, "2025-11-25"),
    },
    {
      // a request before initialize: everything from there on is the server's
      first: [{ jsonrpc: "2.0", id: 0, method: "ping" }, init(1)],
      check: (a) => assert.ok("result" in a, JSON.stringify(a)),
    },
  ];
  for (const c of cases) {
    const s = new Raw(c.env ?? {});
    try {
      await s.send(...c.first, initialized, list(2));
      c.check(JSON.parse(await s.answer(1)) as Msg);
      const l = JSON.parse(await s.answer(2)) as Msg;
      if (c.env?.SSH_ENABLE_BM25) {
        const names = ((l.result as Msg).tools as { name: string }[]).map((t) => t.name);
        assert.ok(names.includes("search_tools"), names.join());
      }
      await s.logged(/serving MCP on stdio/);
      assert.doesNotMatch(s.stderr(), EARLY, `answered early: ${JSON.stringify(c.first)}`);
    } finally {
      assert.equal(await s.close(), 0, s.stderr());
    }
  }
});

Deno.test("early answers: a guessed private id suppresses nothing; bad and oversized lines in the early window are answered", async () => {
  // built before the spawn: the early reader loads the server when the client stays silent
  const big = JSON.stringify({ jsonrpc: "2.0", id: 5, method: "x", pad: "a".repeat(17 << 20) });
  // a 16 MiB message limit (the minimum): small inline caps
  const s = new Raw({ SSH_UPLOAD_MAX_FILE_BYTES: "1000000", SSH_EDIT_MAX_FILE_BYTES: "1000000" });
  try {
    await s.send(
      init(1),
      initialized,
      list(2),
      '{"jsonrpc":"2.0","id":6,"method":"ping",',
      big,
      list("ssh-mcp:early:tools/list:00000000000000000000000000000000"),
      list("ssh-mcp:early:initialize:"),
    );
    assert.match(await s.answer(5), /Request too large/);
    assert.match(await s.answer(6), /"code":-32700/);
    const early = resultOf(await s.answer(2));
    assert.equal(resultOf(await s.answer("ssh-mcp:early:tools/list:" + "0".repeat(32))), early);
    assert.equal(resultOf(await s.answer("ssh-mcp:early:initialize:")), early);
    await s.logged(/early answer confirmed[^\n]*tools\/list/);
    assert.doesNotMatch(s.stderr(), DIFFERED);
  } finally {
    assert.equal(await s.close(), 0, s.stderr());
  }
});

Deno.test("early answers: a start refusal comes before any answer; SIGHUP right after the early answers reloads; EOF there ends cleanly", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sshmcp-early-" });
  try {
    // AUDIT-12: the audit sink cannot be opened: no answer at all, exit 3
    const r = new Raw({ SSH_AUDIT_LOG: `${dir}/missing-dir/audit.log` });
    await r.send(init(1), initialized, list(2));
    assert.equal(await r.close(), 3, r.stderr());
    assert.deepEqual(r.lines, [], "a server that refused to start answered");
    assert.match(r.stderr(), /audit/i);

    const hosts = `${dir}/hosts.toml`;
    await Deno.writeTextFile(hosts, `[hosts.a]\nhostname = "127.0.0.1"\nuser = "x"\n`);
    const s = new Raw({ SSH_HOSTS_FILE: hosts, LOG_LEVEL: "INFO" });
    await s.send(init(1), initialized, list(2));
    await s.answer(2);
    // the MCP layer loads after this answer; the server's own listener is already in place
    s.signal("SIGHUP");
    await s.logged(/serving MCP on stdio/);
    await s.logged(/hosts reloaded/);
    await s.send({ jsonrpc: "2.0", id: 3, method: "ping" });
    assert.match(await s.answer(3), /"result":\{\}/);
    assert.equal(await s.close(), 0, s.stderr());

    // stdin closed right after initialize: the server still starts, sees EOF, ends with 0
    const t = new Raw({ SSH_HOSTS_FILE: hosts });
    await t.send(init(1));
    await t.answer(1);
    assert.equal(await t.close(), 0, t.stderr());
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("early answers: the checkers and ipaddr.js load after them; the first calls are judged by the full policy", async () => {
  // App.loadCheckers() (the command and path checkers) and ipaddr.js load after the early answers
  // unless building the App checks an address (a blocklist entry, an address list): each of the
  // three ways must judge the first call as a server loaded in one piece would
  const cases: { env: Record<string, string>; host: string; code: string; text: RegExp }[] = [
    {
      // nothing checks an address at start: the host checks of the first call need ipaddr.js
      env: { SSH_HOSTS_ALLOWLIST: "127.0.0.1" },
      host: "127.0.0.1",
      code: "CommandNotAllowed",
      text: /allowlist is empty/,
    },
    {
      env: { SSH_HOSTS_ALLOWLIST: "DB.Internal.", SSH_HOSTS_BLOCKLIST: "db.internal" },
      host: "DB.Internal.",
      code: "HostBlocked",
      text: /SSH_HOSTS_BLOCKLIST/,
    },
    {
      env: {
        SSH_HOSTS_ALLOWLIST: "10.9.9.9",
        SSH_NETWORK_BLOCK_CIDRS: "10.0.0.0/8",
        ALLOW_ANY_COMMAND: "true",
      },
      host: "10.9.9.9",
      code: "HostBlocked",
      text: /network policy: 10\.9\.9\.9 is in SSH_NETWORK_BLOCK_CIDRS 10\.0\.0\.0\/8/,
    },
  ];
  for (const c of cases) {
    const s = new Raw({ ALLOW_LOW_ACCESS_TOOLS: "true", ALLOW_DANGEROUS_TOOLS: "true", ...c.env });
    try {
      await s.send(init(1), initialized, list(2));
      await s.answer(2);
      await s.send({
        jsonrpc: "2.0",
        id: 3,
        method: "tools/call",
        params: { name: "ssh_exec_run", arguments: { host: c.host, command: "uptime" } },
      });
      const line = await s.answer(3);
      const r = (JSON.parse(line) as { result?: Msg }).result;
      assert.ok(r, line);
      const text = JSON.stringify(r);
      assert.equal(r.isError, true, text);
      assert.match(text, new RegExp(`"${c.code}"`), text);
      assert.match(text, c.text);
      assert.doesNotMatch(s.stderr(), /used before|not loaded yet/, s.stderr());
    } finally {
      assert.equal(await s.close(), 0, s.stderr());
    }
  }
});
