/**
 * Issue 13: the server on the v2 SDK speaks 2026-07-28 and the 2025 era
 * from one entry point. Real clients of both revisions drive the real
 * server process (`deno task start`'s command) over stdio against a real sshd
 * host: listing, calls over SSH, resources, the Skills extension, cache
 * hints, deterministic `tools/list` order, and log notifications.
 *
 * @module
 */

import assert from "node:assert/strict";
// @ts-types="../../node_modules/@modelcontextprotocol/sdk/dist/esm/types.d.ts"
import { LoggingMessageNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import { SkillsClient } from "@modelcontextprotocol/client/ext/skills";
import { startFleet } from "../_support/fleet.ts";
import { startInProcess, startStdio, startStdio2 } from "../_support/mcp.ts";

Deno.test("MCP-2026: a 2026-07-28 client and a 1.32 client get the same catalog and results over stdio", async () => {
  const fleet = await startFleet(1);
  const env = fleet.env({ ALLOW_LOW_ACCESS_TOOLS: "true" });
  const modern = await startStdio2(env);
  const legacy = await startStdio(env);
  try {
    assert.equal(modern.client.getNegotiatedProtocolVersion(), "2026-07-28");
    assert.equal(legacy.client.getServerVersion()?.name, "ssh-mcp");
    const a = (await modern.client.listTools()).tools.map((t) => t.name);
    const b = (await legacy.client.listTools()).tools.map((t) => t.name);
    const a2 = (await modern.client.listTools()).tools.map((t) => t.name);
    assert.ok(a.length > 40, `only ${a.length} tools`);
    assert.deepEqual(a, b, "tools/list differs between the revisions");
    assert.deepEqual(a, a2, "tools/list order is not deterministic");
    // a call over SSH, structured output on both
    const u1 = await modern.ok<{ username: string }>("ssh_user_info", { host: "h1" });
    const u2 = await legacy.ok<{ username: string }>("ssh_user_info", { host: "h1" });
    assert.equal(u1.username, fleet.hosts[0]!.sshd.user.name);
    assert.deepEqual(u1, u2);
    // an error keeps its class and machine-readable form
    const e = await modern.err("ssh_user_info", { host: "nope" });
    assert.equal(e.code, "HostNotAllowed");
    assert.equal(e.meta.error, "HostNotAllowed");
    // resources on the modern revision
    const res = await modern.client.listResources();
    assert.ok(res.resources.some((r) => r.uri === "mcp://ssh-mcp/server-info"));
    assert.ok(res.resources.some((r) => r.uri === "skill://ssh-host-ping/SKILL.md"));
    const info = await modern.client.readResource({ uri: "mcp://ssh-mcp/server-info" });
    const text = (info.contents[0] as { text: string }).text;
    assert.equal(JSON.parse(text).name ?? "ssh-mcp", "ssh-mcp");
    const skill = await modern.client.readResource({ uri: "skill://ssh-host-ping/SKILL.md" });
    assert.match((skill.contents[0] as { text: string }).text, /^---\nname: ssh-host-ping\n/);
    // the Skills extension (SEP-2640) on the same connection, verified by the SDK's own client
    const skills = new SkillsClient(modern.client);
    const listed = await skills.list();
    assert.ok(listed.skills.some((s) => s.frontmatter.name === "ssh-host-ping"));
    assert.ok(!listed.skills.some((s) => s.frontmatter.name === "ssh-sudo-exec"), "hidden tier");
    const read = await skills.read(
      listed.skills.find((s) => s.frontmatter.name === "ssh-host-ping")!,
    );
    assert.ok(read, "the SDK could not verify a skill file");
  } finally {
    await modern.close();
    await legacy.close();
    await fleet.stop();
  }
});

Deno.test("MCP-2026: list results carry cache hints; calls are stamped with the server's identity", async () => {
  const seen: Record<string, unknown>[] = [];
  const s = await startStdio2(
    { ...startEnv() },
    {
      tap: (m) => seen.push(m as Record<string, unknown>),
    },
  );
  try {
    await s.client.listTools();
    await s.call("ssh_host_list");
    const lists = seen.filter((m) =>
      (m.result as Record<string, unknown> | undefined)?.tools !== undefined
    );
    assert.ok(lists.length > 0, "no tools/list result seen");
    const r = lists.at(-1)!.result as Record<string, unknown>;
    assert.equal(r.ttlMs, 300_000);
    assert.equal(r.cacheScope, "private");
    assert.equal(r.resultType, "complete");
    const call = seen.filter((m) =>
      (m.result as Record<string, unknown> | undefined)?.content !== undefined
    ).at(-1)!.result as { _meta?: Record<string, { name?: string }> };
    assert.equal(call._meta?.["io.modelcontextprotocol/serverInfo"]?.name, "ssh-mcp");
  } finally {
    await s.close();
  }
});

function startEnv(): Record<string, string> {
  return {
    SSH_MCP_DISABLE_DOTENV: "1",
    HOME: Deno.env.get("HOME") ?? "/root",
    PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
    SSH_AUDIT_LOG: "off",
    LOG_LEVEL: "ERROR",
    SSH_HOST_NOTES_DIR: "",
    SSH_HOSTS_FILE: "/nonexistent/hosts.toml",
    SSH_KNOWN_HOSTS: "/nonexistent/known_hosts",
    SSH_PINNED_KNOWN_HOSTS: "/nonexistent/pins",
  };
}

Deno.test("TELEM-10: WARNING/ERROR lines reach a client that asked, never command text or paths", async () => {
  const got: { level: string; data: Record<string, unknown> }[] = [];
  const asked = await startInProcess(startEnv(), {
    setup: (c) =>
      c.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
        got.push(n.params as never);
      }),
  });
  const quiet: unknown[] = [];
  const other = await startInProcess(startEnv(), {
    setup: (c) =>
      c.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
        quiet.push(n.params);
      }),
  });
  try {
    const caps = asked.client.getServerCapabilities();
    assert.ok(caps?.logging, "logging capability not declared");
    await asked.client.setLoggingLevel("warning");
    asked.app.logger.info("an info line");
    asked.app.logger.warn("a warning line", {
      host: "h1",
      command: "echo SECRET-COMMAND",
      path: "/etc/SECRET-PATH",
      password: "hunter2",
      count: 3,
    });
    asked.app.logger.error("an error line", { error: "ConnectError" });
    other.app.logger.warn("other server warning");
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(got.map((g) => g.level), ["warning", "error"]);
    assert.equal(got[0]!.data.message, "a warning line");
    assert.equal(got[0]!.data.host, "h1");
    assert.equal(got[0]!.data.count, 3);
    const all = JSON.stringify(got);
    assert.ok(!/SECRET|hunter2/.test(all), all);
    assert.equal(quiet.length, 0, "a client that never asked got log notifications");
    // raising the level filters
    await asked.client.setLoggingLevel("error");
    asked.app.logger.warn("filtered");
    asked.app.logger.error("kept");
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(got.slice(2).map((g) => g.data.message), ["kept"]);
  } finally {
    await asked.close();
    await other.close();
  }
});
