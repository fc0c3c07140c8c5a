/**
 * Guards the public surface: the exact `tools/list` answer (names, titles,
 * descriptions, input and output JSON schemas, annotations, task support) a
 * real MCP client receives from the real server, per tier configuration,
 * against committed snapshots in `tests/structure/snapshots/`.
 *
 * A change to any tool's contract shows up here as a reviewed snapshot diff.
 * To accept an intended change, regenerate the files:
 *
 * ```sh
 * UPDATE_SNAPSHOTS=1 deno test --allow-all tests/structure/tools_list_snapshot_test.ts
 * ```
 *
 * @module
 */

import assert from "node:assert/strict";
import { baseEnv, type Client, startInProcess } from "../_support/mcp.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const SNAPSHOT_DIR = new URL("./snapshots/", import.meta.url);
const UPDATE_COMMAND =
  "UPDATE_SNAPSHOTS=1 deno test --allow-all tests/structure/tools_list_snapshot_test.ts";
const UPDATE = Deno.env.get("UPDATE_SNAPSHOTS") === "1";

/** The tier configurations with a committed snapshot, as environment settings. */
const CONFIGS: Readonly<Record<string, Record<string, string>>> = {
  "read": {},
  "low-access": { ALLOW_LOW_ACCESS_TOOLS: "true" },
  "dangerous": { ALLOW_LOW_ACCESS_TOOLS: "true", ALLOW_DANGEROUS_TOOLS: "true" },
  "all": {
    ALLOW_LOW_ACCESS_TOOLS: "true",
    ALLOW_DANGEROUS_TOOLS: "true",
    ALLOW_SUDO: "true",
    ALLOW_PERSISTENT_SESSIONS: "true",
  },
};

/** Env-only mode: no hosts file is read, whatever the working directory holds. */
const NO_HOSTS_FILE = "/nonexistent/ssh-mcp-tools-list-snapshot/hosts.toml";

type ListedTool = Awaited<ReturnType<Client["listTools"]>>["tools"][number];

/** Every page of `tools/list`. */
async function listAllTools(client: Client): Promise<ListedTool[]> {
  const tools: ListedTool[] = [];
  let cursor: string | undefined;
  do {
    const page = await client.listTools(cursor ? { cursor } : {});
    tools.push(...page.tools);
    cursor = page.nextCursor;
  } while (cursor);
  return tools;
}

function render(tools: readonly unknown[]): string {
  return JSON.stringify(tools, null, 2) + "\n";
}

/** The top-level fields of each tool, by tool name. */
function toolsByName(text: string): Map<string, Record<string, unknown>> {
  try {
    const list = JSON.parse(text) as Record<string, unknown>[];
    return new Map(list.map((t) => [String(t.name), t]));
  } catch {
    return new Map(); // a snapshot that is not JSON: the line diff still says where
  }
}

/** Short, reviewable account of how `actual` differs from `expected`. */
function diffSummary(expected: string, actual: string): string {
  const before = toolsByName(expected);
  const after = toolsByName(actual);
  const added = [...after.keys()].filter((n) => !before.has(n));
  const removed = [...before.keys()].filter((n) => !after.has(n));
  const changed = [...after].flatMap(([name, tool]) => {
    const old = before.get(name);
    if (!old) return [];
    const keys = [...new Set([...Object.keys(old), ...Object.keys(tool)])]
      .filter((k) => JSON.stringify(old[k]) !== JSON.stringify(tool[k]));
    return keys.length ? [`${name} (${keys.join(", ")})`] : [];
  });
  const common = (m: Map<string, unknown>, o: Map<string, unknown>) =>
    [...m.keys()].filter((n) => o.has(n)).join();
  const el = expected.split("\n");
  const al = actual.split("\n");
  let i = 0;
  while (i < el.length && i < al.length && el[i] === al[i]) i++;
  return [
    `  added:   ${added.join(", ") || "-"}`,
    `  removed: ${removed.join(", ") || "-"}`,
    `  changed: ${changed.join(", ") || "-"}`,
    ...(common(before, after) !== common(after, before) ? ["  the order of tools changed"] : []),
    `  first difference at line ${i + 1}:`,
    `    snapshot: ${el[i] ?? "<end of file>"}`,
    `    actual:   ${al[i] ?? "<end of file>"}`,
  ].join("\n");
}

for (const [config, env] of Object.entries(CONFIGS)) {
  Deno.test(`tools/list matches snapshot: ${config}`, async () => {
    const file = new URL(`tools_list.${config}.json`, SNAPSHOT_DIR);
    const shown = file.pathname.slice(ROOT.length);
    const server = await startInProcess(baseEnv({ SSH_HOSTS_FILE: NO_HOSTS_FILE, ...env }));
    let actual: string;
    try {
      actual = render(await listAllTools(server.client));
    } finally {
      await server.close();
    }
    if (UPDATE) {
      await Deno.mkdir(SNAPSHOT_DIR, { recursive: true });
      await Deno.writeTextFile(file, actual);
      return;
    }
    let expected: string;
    try {
      expected = await Deno.readTextFile(file);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
      assert.fail(`no snapshot ${shown}; create it with:\n  ${UPDATE_COMMAND}`);
    }
    if (actual !== expected) {
      assert.fail(
        `tools/list (${config}) differs from ${shown}\n${
          diffSummary(expected, actual)
        }\nIf the change is intended, update the snapshots with:\n  ${UPDATE_COMMAND}`,
      );
    }
  });
}
