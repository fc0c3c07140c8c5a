/**
 * Issue 12 item 2: tool search mode (CONFIG.md §3.10, SECURITY.md TIER-7,
 * AC-153), through a real MCP client against the in-process server. No sshd:
 * every call here is refused or answered before any connection.
 *
 * - `tools/list` in search mode is `search_tools`, `call_tool` and the visible
 *   pinned tools, at most 3 KB of JSON;
 * - search quality: tests/fixtures/search_tasks.json, the expected tool in the
 *   top 3 for at least 90% of the tasks (misses and rates printed);
 * - hidden tools are never found and `call_tool` answers for them exactly as
 *   for a name that does not exist; visible tools run through the same
 *   pipeline (same result, audited) with `call_tool` or directly.
 *
 * @module
 */

import assert from "node:assert/strict";
import { ErrorCode } from "../_support/mcp.ts";
import { baseEnv, type InProcess, startInProcess } from "../_support/mcp.ts";

/** tools/list budget in search mode, bytes of JSON (UTF-8). */
const SEARCH_LIST_BUDGET = 3 * 1024;
/** Share of tasks whose expected tool must be in the top 3. */
const TOP3_FLOOR = 0.9;

const NO_HOSTS_FILE = "/nonexistent/ssh-mcp-tool-search/hosts.toml";
const ALL_ON: Record<string, string> = {
  ALLOW_LOW_ACCESS_TOOLS: "true",
  ALLOW_DANGEROUS_TOOLS: "true",
  ALLOW_SUDO: "true",
  ALLOW_PERSISTENT_SESSIONS: "true",
};

const bytes = (v: unknown): number => new TextEncoder().encode(JSON.stringify(v)).length;

function start(env: Record<string, string> = {}): Promise<InProcess> {
  return startInProcess(
    baseEnv({ SSH_HOSTS_FILE: NO_HOSTS_FILE, SSH_ENABLE_BM25: "true", ...env }),
  );
}

interface Listed {
  name: string;
  description?: string;
  inputSchema?: unknown;
  outputSchema?: unknown;
  annotations?: unknown;
}

async function search(s: InProcess, query: string): Promise<Listed[]> {
  return (await s.ok<{ tools: Listed[] }>("search_tools", { query })).tools;
}

/** What the client gets for a call: the result, or the protocol error (code and message). */
async function outcome(s: InProcess, name: string, args: Record<string, unknown>) {
  try {
    const r = await s.call(name, args);
    return { result: { isError: r.isError ?? false, content: r.content, meta: r._meta ?? null } };
  } catch (e) {
    const err = e as { code?: number; message?: string };
    return { error: { code: err.code, message: err.message } };
  }
}

Deno.test("issue 12 §2: search-mode tools/list is search_tools, call_tool and the visible pinned tools, at most 3 KB", async () => {
  for (const [label, env] of [["default tiers", {}], ["all tiers", ALL_ON]] as const) {
    const s = await start(env);
    try {
      const list = await s.client.listTools();
      const size = bytes(list);
      const names = list.tools.map((t) => t.name);
      // deno-lint-ignore no-console
      console.log(`search-mode tools/list (${label}): ${size} bytes, tools ${names.join(", ")}`);
      assert.ok(
        size <= SEARCH_LIST_BUDGET,
        `search-mode tools/list (${label}) is ${size} bytes > ${SEARCH_LIST_BUDGET}: ${
          list.tools.map((t) => `${t.name} ${bytes(t)}`).join(", ")
        }`,
      );
      assert.deepEqual(names.slice(0, 2), ["search_tools", "call_tool"]);
      const visible = new Set(s.app.catalog.visible.map((t) => t.name));
      const pinned = s.app.settings.SSH_BM25_ALWAYS_VISIBLE.filter((n) => visible.has(n));
      assert.deepEqual(names.slice(2).sort(), [...pinned].sort());
      // the pinned tools are listed exactly as in the full catalog
      const call = list.tools.find((t) => t.name === "call_tool")!;
      assert.equal(call.outputSchema, undefined, "call_tool proxies any tool's result");
      assert.deepEqual(Object.keys(call.inputSchema.properties ?? {}).sort(), [
        "arguments",
        "name",
      ]);
      const searchTool = list.tools.find((t) => t.name === "search_tools")!;
      assert.deepEqual(Object.keys(searchTool.inputSchema.properties ?? {}), ["query"]);
    } finally {
      await s.close();
    }
  }
  // a pinned tool hidden by the tier flags stays hidden
  const s = await start({ SSH_BM25_ALWAYS_VISIBLE: "ssh_shell_open,ssh_sudo_exec,ssh_host_ping" });
  try {
    const names = (await s.client.listTools()).tools.map((t) => t.name);
    assert.deepEqual(names, ["search_tools", "call_tool", "ssh_host_ping"]);
  } finally {
    await s.close();
  }
});

Deno.test("issue 12 §2: search quality, the expected tool in the top 3 for at least 90% of the tasks", async () => {
  const fixture = JSON.parse(
    await Deno.readTextFile(new URL("../fixtures/search_tasks.json", import.meta.url)),
  ) as { tasks: { query: string; tool: string }[] };
  assert.ok(fixture.tasks.length >= 45, "at least 45 tasks");
  const s = await start(ALL_ON);
  try {
    const visible = new Set(s.app.catalog.visible.map((t) => t.name));
    const groups = new Set<string>();
    let top1 = 0;
    let top3 = 0;
    const misses: string[] = [];
    for (const { query, tool } of fixture.tasks) {
      assert.ok(visible.has(tool), `fixture names an unknown tool ${tool}`);
      groups.add(s.app.catalog.visible.find((t) => t.name === tool)!.group);
      const names = (await search(s, query)).map((t) => t.name);
      if (names[0] === tool) top1++;
      if (names.slice(0, 3).includes(tool)) top3++;
      else {
        const at = names.indexOf(tool);
        misses.push(
          `  "${query}" -> want ${tool} (${at < 0 ? "not in results" : `#${at + 1}`}), got ${
            names.slice(0, 3).join(", ")
          }`,
        );
      }
    }
    const n = fixture.tasks.length;
    const report = `search quality: ${n} tasks, top-1 ${top1}/${n} (${
      (100 * top1 / n).toFixed(1)
    }%), top-3 ${top3}/${n} (${(100 * top3 / n).toFixed(1)}%)\nmisses (not in top 3):\n${
      misses.join("\n") || "  none"
    }`;
    // deno-lint-ignore no-console
    console.log(report);
    for (const g of ["host", "session", "sftp-read", "file-ops", "exec", "sudo", "shell"]) {
      assert.ok(groups.has(g), `no task for group ${g}`);
    }
    for (const g of ["docker", "systemctl", "pkg"]) assert.ok(groups.has(g), `no task for ${g}`);
    assert.ok(top3 / n >= TOP3_FLOOR, report);
  } finally {
    await s.close();
  }
});

Deno.test("issue 12 §2: results carry the full listed schema and honour SSH_BM25_MAX_RESULTS", async () => {
  const full = await startInProcess(baseEnv({ SSH_HOSTS_FILE: NO_HOSTS_FILE, ...ALL_ON }));
  const listed = new Map((await full.client.listTools()).tools.map((t) => [t.name, t]));
  await full.close();
  const s = await start(ALL_ON);
  try {
    const hits = await search(s, "docker container logs");
    assert.ok(hits.length > 0 && hits.length <= 8, `${hits.length} results`);
    for (const h of hits) assert.deepEqual(h, JSON.parse(JSON.stringify(listed.get(h.name))));
  } finally {
    await s.close();
  }
  const two = await start({ ...ALL_ON, SSH_BM25_MAX_RESULTS: "2" });
  try {
    assert.equal((await search(two, "restart a service")).length, 2);
    assert.deepEqual(await search(two, "zzzqqq"), []);
  } finally {
    await two.close();
  }
});

Deno.test("TIER-7/AC-153: hidden tools are never found, and call_tool answers for them as for an unknown name", async () => {
  const s = await start(); // read tier only
  try {
    const visible = new Set(s.app.catalog.visible.map((t) => t.name));
    for (
      const q of [
        "sudo password",
        "run a command as root",
        "restart nginx",
        "delete a file",
        "upgrade all packages",
        "open a shell",
      ]
    ) {
      for (const t of await search(s, q)) {
        assert.ok(visible.has(t.name), `${q}: hidden tool ${t.name} in the results`);
      }
    }
    const args = { host: "anything", command: "id" };
    const direct = await outcome(s, "ssh_sudo_exec", args);
    const proxied = await outcome(s, "call_tool", { name: "ssh_sudo_exec", arguments: args });
    assert.deepEqual(proxied, direct);
    assert.equal(direct.error?.code, ErrorCode.InvalidParams);
    const norm = (o: unknown, n: string) => JSON.stringify(o).replaceAll(n, "<NAME>");
    const unknown = await outcome(s, "call_tool", { name: "ssh_no_such_tool", arguments: args });
    assert.equal(
      norm(unknown, "ssh_no_such_tool"),
      norm(proxied, "ssh_sudo_exec"),
      "hidden and unknown differ",
    );
    // the synthetic tools are not callable through call_tool (no recursion)
    const meta = await outcome(s, "call_tool", { name: "call_tool", arguments: {} });
    assert.equal(norm(meta, "call_tool"), norm(proxied, "ssh_sudo_exec"));
  } finally {
    await s.close();
  }
});

Deno.test("issue 12 §2: call_tool runs a visible tool through the same pipeline as a direct call; direct calls still work", async () => {
  const dir = await Deno.makeTempDir();
  const log = `${dir}/audit.log`;
  const s = await start({ SSH_AUDIT_LOG: log });
  try {
    // a direct call to a visible tool that is not listed in search mode
    const info = await s.ok<{ version: string }>("ssh_server_info");
    const viaProxy = await s.ok<{ version: string }>("call_tool", {
      name: "ssh_server_info",
      arguments: {},
    });
    assert.deepEqual(viaProxy, info);
    // the same refusal, byte for byte (parse stage of ssh_host_ping)
    const bad = { host: "" };
    const direct = await outcome(s, "ssh_host_ping", bad);
    const proxied = await outcome(s, "call_tool", { name: "ssh_host_ping", arguments: bad });
    assert.deepEqual(proxied, direct);
    assert.equal(direct.result?.isError, true);
    // the host policy too
    const notAllowed = await s.err("call_tool", {
      name: "ssh_host_info",
      arguments: { host: "not-configured.example" },
    });
    assert.equal(notAllowed.code, "HostNotAllowed");
    // call_tool's own arguments are validated like any tool's
    const e = await s.err("call_tool", { arguments: {} });
    assert.equal(e.code, "ValueError");
    assert.match(e.message, /call_tool: name/);
    await search(s, "disk usage");
    const lines = (await Deno.readTextFile(log)).trim().split("\n").map((l) => JSON.parse(l))
      .filter((l) => l.type === "audit");
    const tools = lines.map((l) => l.tool);
    for (const t of ["search_tools", "call_tool", "ssh_host_ping", "ssh_host_info"]) {
      assert.ok(tools.includes(t), `no audit line for ${t}: ${tools.join(", ")}`);
    }
    // one line for the proxy and one for the tool it ran, per call_tool call
    assert.equal(tools.filter((t) => t === "call_tool").length, 4);
  } finally {
    await s.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("issue 12 §2: without SSH_ENABLE_BM25 there is no search mode", async () => {
  const s = await startInProcess(baseEnv({ SSH_HOSTS_FILE: NO_HOSTS_FILE }));
  try {
    const names = (await s.client.listTools()).tools.map((t) => t.name);
    assert.ok(!names.includes("search_tools") && !names.includes("call_tool"));
    assert.ok(names.includes("ssh_host_list"));
    const r = await outcome(s, "search_tools", { query: "disk" });
    assert.equal(r.error?.code, ErrorCode.InvalidParams);
    // TIER-12: the skills of the (absent) search-mode tools are not served either
    const uris = (await s.client.listResources()).resources.map((x) => x.uri);
    assert.ok(uris.includes("skill://ssh-host-list/SKILL.md"), uris.join());
    assert.ok(!uris.some((u) => /ssh-(search-tools|call-tool)/.test(u)), uris.join());
  } finally {
    await s.close();
  }
  // in search mode they are, also with SSH_SKILLS_VISIBLE_ONLY
  const on = await start({ SSH_SKILLS_VISIBLE_ONLY: "true" });
  try {
    const uris = (await on.client.listResources()).resources.map((x) => x.uri);
    assert.ok(uris.includes("skill://ssh-search-tools/SKILL.md"), uris.join());
    assert.ok(uris.includes("skill://ssh-call-tool/SKILL.md"), uris.join());
  } finally {
    await on.close();
  }
});
