/**
 * Issue 12 item 1: the catalog budget. With every tier and group on, the
 * `tools/list` answer a real MCP client receives is at most 60 KB of JSON and
 * no single tool is above 2 KB. The failure message lists the ten largest
 * tools so the offender is obvious.
 *
 * @module
 */

import assert from "node:assert/strict";
import { baseEnv, type Client, startInProcess } from "../_support/mcp.ts";

/** Whole `tools/list` result, bytes of JSON (UTF-8). */
export const CATALOG_BUDGET = 60 * 1024;
/** One tool entry, bytes of JSON (UTF-8). */
export const TOOL_BUDGET = 2 * 1024;

/** Every tier, every tag and every group on. */
const ALL_ON: Record<string, string> = {
  ALLOW_LOW_ACCESS_TOOLS: "true",
  ALLOW_DANGEROUS_TOOLS: "true",
  ALLOW_SUDO: "true",
  ALLOW_PERSISTENT_SESSIONS: "true",
};

/** Env-only mode: no hosts file is read, whatever the working directory holds. */
const NO_HOSTS_FILE = "/nonexistent/ssh-mcp-catalog-budget/hosts.toml";

type ListResult = Awaited<ReturnType<Client["listTools"]>>;

const bytes = (v: unknown): number => new TextEncoder().encode(JSON.stringify(v)).length;

/** Every page of `tools/list`, as the client received them. */
async function listPages(env: Record<string, string>): Promise<ListResult[]> {
  const server = await startInProcess(baseEnv({ SSH_HOSTS_FILE: NO_HOSTS_FILE, ...env }));
  try {
    const pages: ListResult[] = [];
    let cursor: string | undefined;
    do {
      const page = await server.client.listTools(cursor ? { cursor } : {});
      pages.push(page);
      cursor = page.nextCursor;
    } while (cursor);
    return pages;
  } finally {
    await server.close();
  }
}

/** Size report: total bytes of the result(s), and per-tool bytes, largest first. */
async function measure(env: Record<string, string>) {
  const pages = await listPages(env);
  const total = pages.reduce((n, p) => n + bytes(p), 0);
  const tools = pages.flatMap((p) => p.tools)
    .map((t) => ({ name: t.name, size: bytes(t) }))
    .sort((a, b) => b.size - a.size);
  return { total, tools };
}

function topTen(tools: { name: string; size: number }[]): string {
  return tools.slice(0, 10).map((t) => `  ${String(t.size).padStart(6)}  ${t.name}`).join("\n");
}

Deno.test("catalog budget: tools/list with every tier on is at most 60 KB, each tool at most 2 KB", async () => {
  const { total, tools } = await measure(ALL_ON);
  const report = `tools/list (all tiers): ${tools.length} tools, ${total} bytes ` +
    `(budget ${CATALOG_BUDGET}); largest tools (budget ${TOOL_BUDGET} each):\n${topTen(tools)}`;
  if (Deno.env.get("CATALOG_BUDGET_REPORT") === "1") {
    const dflt = await measure({});
    // deno-lint-ignore no-console -- opt-in measurement report
    console.log(
      `${report}\ntools/list (default tiers): ${dflt.tools.length} tools, ${dflt.total} bytes`,
    );
  }
  assert.ok(tools.length >= 100, `expected the full catalog, got ${tools.length} tools`);
  assert.ok(total <= CATALOG_BUDGET, `over the catalog budget\n${report}`);
  const over = tools.filter((t) => t.size > TOOL_BUDGET);
  assert.ok(
    over.length === 0,
    `${over.length} tool(s) over ${TOOL_BUDGET} bytes: ${
      over.map((t) => t.name).join(", ")
    }\n${report}`,
  );
});
