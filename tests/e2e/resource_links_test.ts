/**
 * Large outputs as resource links (issue 12 item 3) end to end: a real MCP
 * client, the real server, real sshd hosts. Output over the inline cap keeps
 * head/tail inline and adds a `resource_link`; `resources/read` pages through
 * the full output and the pages reassemble exactly; unknown, expired, evicted
 * and foreign ids are refused clearly; old protocol revisions get no links.
 */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { Client } from "@modelcontextprotocol/sdk/client";
// @ts-types="../../node_modules/@modelcontextprotocol/sdk/dist/esm/inMemory.d.ts"
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { App } from "../../src/app.ts";
import { loadConfig } from "../../src/config/load.ts";
import { Logger } from "../../src/log.ts";
import { buildMcpServer } from "../../src/mcp/server.ts";
import { ToolRegistry } from "../../src/registry/pipeline.ts";
import type { OutputStoreOptions } from "../../src/mcp/outputs.ts";
import { type Fleet, startFleet } from "../_support/fleet.ts";
import { removeContainers, uniqueName, withDockerFleet } from "../_support/containers.ts";
import {
  createUnit,
  eventually,
  localSystemctl,
  run,
  withServicesServer,
} from "../_support/services.ts";

type R = Record<string, unknown>;
interface Link {
  type: "resource_link";
  uri: string;
  name: string;
  mimeType: string;
  size: number;
}
interface Page {
  uri: string;
  mimeType?: string;
  text?: string;
  blob?: string;
  _meta?: { "ssh-mcp/page"?: { next_offset: number | null; total: number; length: number } };
}

interface Srv {
  fleet: Fleet;
  app: App;
  client: Client;
  logs: string[];
  /** a second MCP server instance (another session) on the same app */
  other(): Promise<Client>;
  call(name: string, args: R): Promise<{ structured: R; links: Link[]; text: string }>;
  read(uri: string): Promise<Page>;
}

const ANY = { ALLOW_DANGEROUS_TOOLS: "true", ALLOW_ANY_COMMAND: "true" };

async function withServer(
  env: Record<string, string>,
  store: OutputStoreOptions,
  fn: (s: Srv) => Promise<void>,
  perHost?: (alias: string) => string,
): Promise<void> {
  const fleet = await startFleet(1, perHost ? { perHost } : {});
  const logs: string[] = [];
  const cfg = await loadConfig({ env: fleet.env(env), cwd: Deno.cwd() });
  const app = await App.create(cfg, {
    logger: new Logger({ level: "DEBUG", format: "json", sink: (l) => logs.push(l) }),
  });
  await app.startHooks();
  const registry = new ToolRegistry(app);
  const closers: (() => Promise<void>)[] = [];
  const connect = async () => {
    const server = buildMcpServer(app, registry, { outputs: store });
    const [ct, st] = InMemoryTransport.createLinkedPair();
    await server.connect(st);
    const client = new Client({ name: "links-test", version: "1.0.0" });
    await client.connect(ct);
    closers.push(async () => {
      await client.close();
      await server.close();
    });
    return client;
  };
  try {
    const client = await connect();
    await fn({
      fleet,
      app,
      client,
      logs,
      other: connect,
      async call(name, args) {
        const r = await client.callTool({ name, arguments: args });
        const content = r.content as { type: string; text?: string }[];
        if (r.isError) throw new Error(`${name} failed: ${content[0]?.text}`);
        return {
          structured: r.structuredContent as R,
          links: content.filter((c) => c.type === "resource_link") as unknown as Link[],
          text: content.find((c) => c.type === "text")?.text ?? "",
        };
      },
      async read(uri) {
        const r = await client.readResource({ uri });
        assert.equal(r.contents.length, 1);
        return r.contents[0] as Page;
      },
    });
  } finally {
    for (const c of closers.reverse()) await c();
    await app.close();
    await fleet.stop();
  }
}

/** Reads a stored output page by page (`length` units per page). */
async function readAll(
  s: Srv,
  uri: string,
  length: number,
): Promise<{ text: string; pages: number }> {
  let offset = 0;
  let text = "";
  let pages = 0;
  for (;;) {
    const p = await s.read(`${uri}?offset=${offset}&length=${length}`);
    pages++;
    const meta = p._meta?.["ssh-mcp/page"];
    assert.ok(meta, "every page names its position");
    text += p.text ?? "";
    if (meta.next_offset === null) break;
    assert.ok(meta.next_offset > offset);
    offset = meta.next_offset;
  }
  return { text, pages };
}

async function readAllBytes(s: Srv, uri: string, length: number): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let offset: number | null = 0;
  while (offset !== null) {
    const p = await s.read(`${uri}?offset=${offset}&length=${length}`);
    assert.ok(p.blob !== undefined, "binary pages come as blob");
    parts.push(Buffer.from(p.blob, "base64"));
    offset = p._meta!["ssh-mcp/page"]!.next_offset;
  }
  return Buffer.concat(parts);
}

const seqText = (n: number) => Array.from({ length: n }, (_, i) => `${i + 1}\n`).join("");

async function refused(s: Srv, uri: string): Promise<string> {
  try {
    await s.client.readResource({ uri });
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error(`reading ${uri} unexpectedly succeeded`);
}

Deno.test("ssh_exec_run: over the cap -> inline head/tail + resource_link; pages reassemble exactly", async () => {
  await withServer({ ...ANY, SSH_STDOUT_CAP_BYTES: "4096" }, {}, async (s) => {
    const want = seqText(40000);
    const r = await s.call("ssh_exec_run", { host: "h1", command: "seq 1 40000" });
    // the inline fields are as before
    assert.equal(r.structured.stdout_truncated, true);
    assert.equal(r.structured.stdout_bytes, want.length);
    const inline = String(r.structured.stdout);
    assert.ok(inline.startsWith("1\n2\n3\n"), "head kept");
    assert.ok(inline.endsWith("39999\n40000\n"), "tail kept");
    assert.ok(inline.length < 5000);
    // plus one link to the full stdout
    assert.equal(r.links.length, 1);
    const link = r.links[0]!;
    assert.match(link.uri, /^ssh-mcp:\/\/output\/[0-9a-f]{32}$/);
    assert.equal(link.name, "stdout");
    assert.equal(link.mimeType, "text/plain; charset=utf-8");
    assert.equal(link.size, want.length);
    assert.ok(
      (r.structured.output_warnings as string[]).some((w) => w.includes(link.uri)),
      "the structured result names the link too",
    );
    const all = await readAll(s, link.uri, 10_000);
    assert.equal(all.text, want);
    assert.equal(all.pages, Math.ceil(want.length / 10_000));
    // a bare read is the first (default-sized) page
    const first = await s.read(link.uri);
    assert.equal(first.text, want.slice(0, first.text!.length));
    // the read is logged at debug, the id (a capability) shortened
    const reads = s.logs.filter((l) => l.includes('"resource read"'));
    assert.ok(reads.length >= all.pages + 1);
    assert.ok(!s.logs.some((l) => l.includes(link.uri.slice(-24))), "full id in the log");
    // under the cap: no link
    const small = await s.call("ssh_exec_run", { host: "h1", command: "seq 1 10" });
    assert.equal(small.links.length, 0);
    assert.equal(small.structured.stdout, seqText(10));
    // outputs are never listed
    const listed = await s.client.listResources();
    assert.ok(!listed.resources.some((x) => x.uri.startsWith("ssh-mcp://output/")));
    const templates = await s.client.listResourceTemplates();
    assert.ok(
      templates.resourceTemplates.some((t) => t.uriTemplate.startsWith("ssh-mcp://output/")),
    );
  });
});

Deno.test("ssh_exec_script: stderr link; multi-byte text pages never split a character; sanitized like inline", async () => {
  await withServer({ ...ANY, SSH_STDERR_CAP_BYTES: "2048" }, {}, async (s) => {
    const line = "\u{1F600}é\x1b[31mred\x1b[0m\n";
    const shown = "\u{1F600}éred\n";
    const script =
      `i=0; while [ $i -lt 5000 ]; do printf '\\360\\237\\230\\200\\303\\251\\033[31mred\\033[0m\\n' >&2; i=$((i+1)); done\n`;
    const r = await s.call("ssh_exec_script", { host: "h1", script });
    assert.equal(r.structured.stderr_truncated, true);
    assert.equal(r.structured.stderr_bytes, Buffer.byteLength(line) * 5000);
    assert.equal(r.links.length, 1);
    const link = r.links[0]!;
    assert.equal(link.name, "stderr");
    const want = shown.repeat(5000);
    assert.equal(link.size, Buffer.byteLength(want), "the stored text is the sanitized text");
    // odd page lengths would split the emoji's surrogate pair: pages end before it
    const all = await readAll(s, link.uri, 7);
    assert.equal(all.text, want);
    // a page shorter than one surrogate pair still makes progress
    const p = await s.read(`${link.uri}?offset=0&length=1`);
    assert.equal(p.text, "\u{1F600}");
    assert.equal(p._meta!["ssh-mcp/page"]!.next_offset, 2);
  });
});

Deno.test("resources/read: unknown, malformed, expired and foreign ids are refused clearly", async () => {
  await withServer({ ...ANY, SSH_STDOUT_CAP_BYTES: "4096" }, { ttlMs: 1500 }, async (s) => {
    const unknown = await refused(s, `ssh-mcp://output/${"0".repeat(32)}`);
    assert.match(unknown, /not found: it expired .* or never existed in this session/);
    assert.match(await refused(s, "ssh-mcp://output/../../etc/passwd"), /not found/);
    const r = await s.call("ssh_exec_run", { host: "h1", command: "seq 1 20000" });
    const uri = r.links[0]!.uri;
    assert.match(await refused(s, `${uri}?offset=-1`), /offset must be a non-negative integer/);
    assert.match(await refused(s, `${uri}?length=0`), /length must be at least 1/);
    assert.match(await refused(s, `${uri}?offset=99999999`), /past the end/);
    assert.match(await refused(s, `${uri}?secret=1`), /unknown query parameter/);
    // another session (another server instance) cannot read it
    const other = await s.other();
    await assert.rejects(() => other.readResource({ uri }), /not found/);
    assert.equal((await s.read(uri)).text!.slice(0, 4), "1\n2\n");
    await new Promise((r) => setTimeout(r, 1700));
    assert.match(await refused(s, uri), /not found: it expired/);
  });
});

Deno.test("budget: LRU eviction over the total cap; an output over the per-item cap gets no link", async () => {
  const store = { itemMaxBytes: 200_000, totalMaxBytes: 300_000 };
  await withServer({ ...ANY, SSH_STDOUT_CAP_BYTES: "4096" }, store, async (s) => {
    const run = async (n: number) =>
      await s.call("ssh_exec_run", { host: "h1", command: `seq 1 ${n}` });
    const a = (await run(25_000)).links[0]!; // 138,894 bytes
    const b = (await run(25_000)).links[0]!;
    assert.ok(a.size + b.size <= 300_000);
    await s.read(a.uri); // a is now more recently used than b
    const c = (await run(25_000)).links[0]!;
    assert.match(await refused(s, b.uri), /evicted for space/);
    assert.equal((await readAll(s, a.uri, 100_000)).text, seqText(25_000));
    assert.equal((await readAll(s, c.uri, 100_000)).text, seqText(25_000));
    // over the per-item cap: inline head/tail only, and a warning says why
    const big = await run(40_000); // 228,894 bytes
    assert.equal(big.links.length, 0);
    assert.equal(big.structured.stdout_truncated, true);
    assert.ok(
      (big.structured.output_warnings as string[]).some((w) =>
        /larger than the 200000 bytes kept for resource links/.test(w)
      ),
    );
  });
});

Deno.test("ssh_sftp_download: over the inline cap -> blob resource link that reassembles byte for byte", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sshmcp-links-" });
  await Deno.chmod(dir, 0o755);
  await withServer({ SSH_UPLOAD_MAX_FILE_BYTES: "4096" }, {}, async (s) => {
    const data = crypto.getRandomValues(new Uint8Array(50_000));
    const path = `${dir}/blob.bin`;
    await Deno.writeFile(path, data, { mode: 0o644 });
    const r = await s.call("ssh_sftp_download", { host: "h1", path });
    assert.equal(r.structured.truncated, true);
    assert.equal(r.structured.content_base64, "");
    assert.equal(r.structured.size, data.length);
    assert.equal(r.links.length, 1);
    const link = r.links[0]!;
    assert.equal(link.name, "blob.bin");
    assert.equal(link.mimeType, "application/octet-stream");
    assert.equal(link.size, data.length);
    const back = await readAllBytes(s, link.uri, 16_384);
    assert.deepEqual(new Uint8Array(back), data);
    // small files stay inline, no link
    await Deno.writeTextFile(`${dir}/small.txt`, "hi\n", { mode: 0o644 });
    const small = await s.call("ssh_sftp_download", { host: "h1", path: `${dir}/small.txt` });
    assert.equal(small.links.length, 0);
    assert.equal(Buffer.from(String(small.structured.content_base64), "base64").toString(), "hi\n");
  }, () => `path_allowlist = ["${dir}"]`).finally(() => Deno.remove(dir, { recursive: true }));
});

Deno.test("clients before protocol 2025-06-18 get no resource links (same result as before)", async () => {
  await withServer({ ...ANY, SSH_STDOUT_CAP_BYTES: "4096" }, {}, async (s) => {
    const registry = new ToolRegistry(s.app);
    const server = buildMcpServer(s.app, registry);
    const [ct, st] = InMemoryTransport.createLinkedPair();
    await server.connect(st);
    const answers = new Map<number, R>();
    ct.onmessage = (m) => {
      const msg = m as R;
      if (typeof msg.id === "number") answers.set(msg.id, msg);
    };
    await ct.start();
    const ask = async (id: number, method: string, params: R) => {
      await ct.send({ jsonrpc: "2.0", id, method, params });
      for (let i = 0; i < 500 && !answers.has(id); i++) await new Promise((r) => setTimeout(r, 20));
      const a = answers.get(id);
      assert.ok(a, `no answer to ${method}`);
      return a;
    };
    const init = await ask(1, "initialize", {
      protocolVersion: "2025-03-26",
      capabilities: {},
      clientInfo: { name: "old-client", version: "0.1" },
    });
    assert.equal((init.result as R).protocolVersion, "2025-03-26");
    assert.match(String((init.result as R).instructions), /ssh-mcp/);
    await ct.send({ jsonrpc: "2.0", method: "notifications/initialized" });
    const r = await ask(2, "tools/call", {
      name: "ssh_exec_run",
      arguments: { host: "h1", command: "seq 1 40000" },
    });
    const result = r.result as { content: { type: string }[]; structuredContent: R };
    assert.deepEqual(result.content.map((c) => c.type), ["text"]);
    assert.equal(result.structuredContent.stdout_truncated, true);
    assert.ok(
      !(result.structuredContent.output_warnings as string[]).some((w) => w.includes("ssh-mcp://")),
    );
    await ct.close();
    await server.close();
  });
});

Deno.test("ssh_journalctl: a journal over the stdout cap comes with a link to the whole (chronological) text", async () => {
  const ticker = await createUnit("ticker", { prefix: "lk", interval: 0.05 });
  try {
    assert.equal((await localSystemctl("start", "--", ticker.name)).code, 0);
    const base = ticker.name.replace(/\.service$/, "");
    await eventually("40 ticks in the journal", async () => {
      const r = await run("journalctl", [`--unit=${ticker.name}`, "--no-pager", "-q", "-o", "cat"]);
      return r.stdout.includes(`${base}: tick 40`);
    });
    await withServicesServer(async (s) => {
      const r = await s.call("ssh_journalctl", { host: "svc", unit: ticker.name, lines: 30 });
      if (r.isError) throw new Error(JSON.stringify(r.content));
      const st = r.structuredContent as R;
      const links = (r.content as { type: string }[]).filter((c) =>
        c.type === "resource_link"
      ) as unknown as Link[];
      assert.ok(
        (st.output_warnings as string[]).includes(
          "stdout exceeded the output cap and was truncated",
        ),
      );
      assert.equal(links.length, 1);
      const page = (await s.client.readResource({ uri: links[0]!.uri })).contents[0] as Page;
      const full = page.text!;
      assert.equal(page._meta!["ssh-mcp/page"]!.next_offset, null);
      assert.ok(full.length > 1024);
      const ticks = [...full.matchAll(/tick (\d+)/g)].map((m) => Number(m[1]));
      assert.equal(ticks.length, 30, "the full text has every requested entry");
      assert.deepEqual(ticks, [...ticks].sort((a, b) => a - b), "oldest first, like inline");
      const inline = String(st.stdout).trimEnd().split("\n");
      assert.ok(full.trimEnd().endsWith(inline.at(-1)!), "same newest entry as inline");
    }, { env: { SSH_STDOUT_CAP_BYTES: "1024" } });
  } finally {
    await ticker.remove();
  }
});

Deno.test("ssh_docker_logs: logs over max_bytes keep head/tail inline and link the whole log", async () => {
  await withDockerFleet(async ({ bed, s }) => {
    const name = uniqueName("sshmcp-links");
    try {
      const started = await bed.docker([
        "run",
        "--name",
        name,
        "--network",
        "none",
        bed.image,
        "sh",
        "-c",
        "seq 1 5000",
      ]);
      assert.equal(started.code, 0, started.stderr);
      const r = await s.call("ssh_docker_logs", {
        host: "h1",
        container: name,
        tail: 10_000,
        max_bytes: 1024,
      });
      assert.ok(!r.isError, JSON.stringify(r.content));
      const st = r.structuredContent as R;
      assert.equal(st.stdout_truncated, true);
      assert.ok(String(st.stdout).startsWith("1\n2\n"));
      assert.ok(String(st.stdout).endsWith("4999\n5000\n"));
      const links = (r.content as { type: string }[]).filter((c) =>
        c.type === "resource_link"
      ) as unknown as Link[];
      assert.equal(links.length, 1);
      assert.equal(links[0]!.size, st.stdout_bytes);
      const page = (await s.client.readResource({ uri: `${links[0]!.uri}?length=1000000` }))
        .contents[0] as Page;
      // the same tool with a cap above the log's size returns exactly the linked
      // text (Docker 28 CLI on the Podman bed splits a line at the engine's 8 KiB
      // log chunk, so the reference is the tool's own uncapped output, not seq's)
      const whole = await s.ok<R>("ssh_docker_logs", {
        host: "h1",
        container: name,
        tail: 10_000,
        max_bytes: 1_048_576,
      });
      assert.equal(whole.stdout_truncated, false);
      assert.equal(page.text, whole.stdout);
      assert.equal(page.text!.replaceAll("\n", ""), seqText(5000).replaceAll("\n", ""));
    } finally {
      await removeContainers(bed, [name]).catch(() => {});
    }
  });
});
