/**
 * Guards the layering behind the "one door" (docs/ARCHITECTURE.md): which
 * `src/` module may import which, computed from the REAL module graph that
 * `deno info --json` reports (value and type-only imports alike), plus one
 * text rule the graph cannot express: no cast to a brand type outside the
 * module that mints it, and no cast-around (`as never`, `as unknown as`) in
 * tool code.
 *
 * Each rule is its own test, named after the rule; a failure lists every
 * offending edge `a -> b` (or `file:line`).
 *
 * @module
 */

import assert from "node:assert/strict";
import { normalize } from "node:path";
import { GROUPS } from "../../src/tools/define.ts";
import { ALL_TOOLS } from "../../src/tools/catalog.ts";

const ROOT_URL = new URL("../../", import.meta.url);
const ROOT = ROOT_URL.pathname;
const SRC_URL = new URL("src/", ROOT_URL).href;

// ---------------------------------------------------------------------------
// the rules, as data

/** A layering rule: no module matching `from` imports a module matching `to`. */
interface ImportRule {
  name: string;
  /** importers the rule applies to (globs over repo-relative paths) */
  from: readonly string[];
  /** modules they must not import */
  to: readonly string[];
  /** an edge the rule nevertheless permits */
  allow?: (from: string, to: string) => boolean;
}

const LOWER_LAYERS = ["src/config/**", "src/policy/**", "src/ssh/**"];
const UPPER_LAYERS = [
  "src/tools/**",
  "src/mcp/**",
  "src/registry/**",
  "src/app.ts",
  "src/services.ts",
  "src/cli.ts",
];

const IMPORT_RULES: readonly ImportRule[] = [
  {
    name: "config/, policy/ and ssh/ never import tools/, mcp/, registry/, app, services, cli",
    from: LOWER_LAYERS,
    to: UPPER_LAYERS,
  },
  {
    name: "policy/ never imports ssh/ (the ssh layer applies policy, not the other way round)",
    from: ["src/policy/**"],
    to: ["src/ssh/**"],
  },
  {
    name: "src/checked.ts imports nothing from the project (leaf)",
    from: ["src/checked.ts"],
    to: ["src/**"],
  },
  {
    name: "a tool file (src/tools/<group>/ssh_*.ts) is imported only by its group's mod.ts",
    from: ["src/**"],
    to: ["src/tools/*/ssh_*.ts"],
    allow: (a, b) => a === `${dirname(b)}/mod.ts`,
  },
  {
    name: "tool code never imports the registry, the MCP layer, the app, the minter or raw ssh",
    from: ["src/tools/**"],
    to: [
      "src/registry/**",
      "src/mcp/**",
      "src/app.ts",
      "src/services.ts",
      "src/cli.ts",
      "src/policy/mint.ts",
      "src/ssh/pool.ts",
      "src/ssh/connection.ts",
      "src/ssh/handshake.ts",
      "src/ssh/sftp_channel.ts",
      "src/ssh/transfer.ts",
    ],
  },
  {
    name: "src/policy/mint.ts is imported only by policy/paths.ts and policy/commands.ts",
    from: ["src/**"],
    to: ["src/policy/mint.ts"],
    allow: (a) => a === "src/policy/paths.ts" || a === "src/policy/commands.ts",
  },
];

/** Brand types and the only module allowed to cast to each. */
const BRAND_MINTERS: Readonly<Record<string, string | null>> = {
  CheckedPath: "src/policy/mint.ts",
  CheckedCommand: "src/policy/mint.ts",
  ShellCommand: "src/checked.ts",
  AdmittedHost: "src/registry/gates.ts",
  EntryPath: "src/ssh/fs.ts",
  TempPath: "src/ssh/sftp_channel.ts",
  // a union of two brands: nothing may cast to it
  RemoteCommand: null,
};
const BRAND_CAST =
  /\bas\s+(?:unknown\s+as\s+)?(CheckedPath|EntryPath|CheckedCommand|ShellCommand|RemoteCommand|AdmittedHost|TempPath)\b/g;
const TOOL_CAST_AROUND = /\bas\s+never\b|\bas\s+unknown\s+as\b/g;

// ---------------------------------------------------------------------------
// helpers: paths, globs, the module graph, cycles

function dirname(p: string): string {
  return p.slice(0, p.lastIndexOf("/"));
}

/** Glob over `/`-separated paths: `**` any depth, `*` within one segment. */
function globToRegExp(glob: string): RegExp {
  let re = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === "*" && glob[i + 1] === "*") {
      re += glob[i + 2] === "/" ? "(?:.*/)?" : ".*";
      i += glob[i + 2] === "/" ? 2 : 1;
    } else if (c === "*") {
      re += "[^/]*";
    } else {
      re += c.replace(/[.+?^${}()|[\]\\]/g, "\\$&");
    }
  }
  return new RegExp(`^${re}$`);
}

function matchesAny(path: string, globs: readonly string[]): boolean {
  return globs.some((g) => globToRegExp(g).test(path));
}

/** Every `.ts` file below `dir` (repo-relative), sorted. */
async function tsFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(`${ROOT}${dir}`)) {
    const rel = `${dir}/${e.name}`;
    if (e.isDirectory) out.push(...await tsFiles(rel));
    else if (e.isFile && e.name.endsWith(".ts")) out.push(rel);
  }
  return out.sort();
}

/** The project's import graph restricted to `src/`: module -> imported modules. */
type Graph = Map<string, Set<string>>;

interface InfoDependency {
  code?: { specifier?: string };
  type?: { specifier?: string };
}
interface InfoModule {
  specifier: string;
  dependencies?: InfoDependency[];
}

function srcRelative(specifier: string | undefined): string | null {
  if (!specifier?.startsWith(SRC_URL)) return null;
  return "src/" + decodeURIComponent(specifier.slice(SRC_URL.length));
}

async function denoInfo(entry: string): Promise<InfoModule[]> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", entry],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const err = new TextDecoder().decode(out.stderr);
  assert.ok(out.success, `deno info --json ${entry} failed:\n${err}`);
  return JSON.parse(new TextDecoder().decode(out.stdout)).modules;
}

function addModules(graph: Graph, modules: readonly InfoModule[]): void {
  for (const m of modules) {
    const from = srcRelative(m.specifier);
    if (!from) continue;
    const deps = graph.get(from) ?? new Set<string>();
    graph.set(from, deps);
    for (const d of m.dependencies ?? []) {
      for (const spec of [d.code?.specifier, d.type?.specifier]) {
        const to = srcRelative(spec);
        if (to) deps.add(to);
      }
    }
  }
}

/** `main.ts`'s graph, plus the graph of every `src/` file main.ts does not reach. */
async function buildGraph(): Promise<Graph> {
  const graph: Graph = new Map();
  addModules(graph, await denoInfo("main.ts"));
  for (const f of await tsFiles("src")) {
    if (!graph.has(f)) addModules(graph, await denoInfo(f));
  }
  return graph;
}

let graphPromise: Promise<Graph> | null = null;
function srcGraph(): Promise<Graph> {
  return graphPromise ??= buildGraph();
}

function edges(graph: Graph): [string, string][] {
  const out: [string, string][] = [];
  for (const [a, deps] of graph) for (const b of deps) out.push([a, b]);
  return out.sort(([a1, b1], [a2, b2]) => a1.localeCompare(a2) || b1.localeCompare(b2));
}

function violations(graph: Graph, rule: ImportRule): string[] {
  return edges(graph)
    .filter(([a, b]) => matchesAny(a, rule.from) && matchesAny(b, rule.to))
    .filter(([a, b]) => !rule.allow?.(a, b))
    .map(([a, b]) => `${a} -> ${b}`);
}

/** Strongly connected components (Tarjan), each sorted. */
function stronglyConnected(graph: Graph): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      out.push(scc.sort());
    }
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v);
  return out;
}

/** A shortest cycle through `start` inside `scc`, as `a -> b -> ... -> a`. */
function cycleThrough(graph: Graph, scc: readonly string[], start: string): string {
  const members = new Set(scc);
  const prev = new Map<string, string>();
  const queue = [start];
  while (queue.length) {
    const v = queue.shift()!;
    for (const w of graph.get(v) ?? []) {
      if (!members.has(w)) continue;
      if (w === start) {
        const path = [start];
        for (let u = v; u !== start; u = prev.get(u)!) path.splice(1, 0, u);
        return [...path, start].join(" -> ");
      }
      if (!prev.has(w)) {
        prev.set(w, v);
        queue.push(w);
      }
    }
  }
  return `${start} (no cycle found)`;
}

function cycles(graph: Graph): string[] {
  return stronglyConnected(graph)
    .filter((scc) => scc.length > 1 || graph.get(scc[0]!)?.has(scc[0]!))
    .map((scc) =>
      `cycle: ${cycleThrough(graph, scc, scc[0]!)}` +
      (scc.length > 2 ? `\n    (strongly connected: ${scc.join(", ")})` : "")
    );
}

/** Fails with every finding listed, one per line. */
function assertNone(what: string, found: readonly string[]): void {
  if (found.length) assert.fail(`${found.length} ${what}:\n  ${found.join("\n  ")}`);
}

// ---------------------------------------------------------------------------
// the tests

Deno.test("the module graph covers every src/ module", async () => {
  const graph = await srcGraph();
  const missing = (await tsFiles("src")).filter((f) => !graph.has(f));
  assertNone("src modules missing from the graph", missing);
  assert.ok(graph.size > 100, `suspiciously small graph: ${graph.size} modules`);
});

for (const rule of IMPORT_RULES) {
  Deno.test(rule.name, async () => {
    const found = violations(await srcGraph(), rule);
    assertNone(`forbidden import(s) (${rule.name})`, found);
  });
}

Deno.test("no import cycle in src/", async () => {
  const found = cycles(await srcGraph());
  assertNone("import cycle(s) in src/", found);
});

Deno.test("folders under src/tools/ are group names and every tool lives in its group's folder", async () => {
  const groups: readonly string[] = GROUPS;
  const problems: string[] = [];
  for await (const e of Deno.readDir(`${ROOT}src/tools`)) {
    if (e.isDirectory && !groups.includes(e.name)) {
      problems.push(`src/tools/${e.name}/ is not a group (GROUPS: ${groups.join(", ")})`);
    }
  }
  for (const tool of ALL_TOOLS) {
    const homes: string[] = [];
    for (const g of groups) {
      const rel = `src/tools/${g}/${tool.name}.ts`;
      try {
        if ((await Deno.stat(`${ROOT}${rel}`)).isFile) homes.push(g);
      } catch (e) {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
      }
    }
    if (homes.length !== 1) {
      problems.push(
        `${tool.name}: expected exactly one src/tools/*/${tool.name}.ts, found ${
          homes.length ? homes.map((g) => `src/tools/${g}/`).join(", ") : "none"
        }`,
      );
    } else if (homes[0] !== tool.group) {
      problems.push(`${tool.name}: group "${tool.group}" but file in src/tools/${homes[0]}/`);
    }
  }
  assertNone("tool folder/group mismatch(es)", problems);
});

Deno.test("no cast to a brand type outside its minting module; no cast-around in tool code", async () => {
  const found: string[] = [];
  for (const file of await tsFiles("src")) {
    const text = await Deno.readTextFile(`${ROOT}${file}`);
    // whole-text matching, so a cast split over lines is caught too
    const where = (i: number) => {
      const line = text.slice(0, i).split("\n").length;
      return `${file}:${line}: ${text.split("\n")[line - 1]!.trim()}`;
    };
    for (const m of text.matchAll(BRAND_CAST)) {
      const minter = BRAND_MINTERS[m[1]!] ?? null;
      if (minter !== file) {
        found.push(
          `${where(m.index)}  [cast to ${m[1]}; allowed only in ${minter ?? "no module"}]`,
        );
      }
    }
    // handler code lives in the group folders (define.ts erases the declaration's type
    // parameters on purpose: that is the one cast of the tool layer)
    if (/^src\/tools\/[^/]+\//.test(file)) {
      for (const m of text.matchAll(TOOL_CAST_AROUND)) {
        found.push(`${where(m.index)}  ["${m[0]}" in tool code]`);
      }
    }
  }
  assertNone("forbidden cast(s)", found);
});

/** Modules outside src/mcp/ that may use the SDK (its HTTP auth types, its task and event-store shapes). */
const SDK_USERS = ["src/http/", "src/state/events.ts", "src/tasks/mcp_store.ts"];

Deno.test("src/ speaks MCP only through the v2 SDK, and only from src/mcp/ (and the gateway's auth, the task and event stores)", async () => {
  const found: string[] = [];
  for (const f of await tsFiles("src")) {
    const text = await Deno.readTextFile(`${ROOT}${f}`);
    for (const m of text.matchAll(/from\s+"(@modelcontextprotocol\/[^"]+)"/g)) {
      const spec = m[1]!;
      if (spec.startsWith("@modelcontextprotocol/sdk")) found.push(`${f}: ${spec} (the v1 SDK)`);
      else if (!f.startsWith("src/mcp/") && !SDK_USERS.some((u) => f.startsWith(u))) {
        found.push(`${f}: ${spec} (outside src/mcp/)`);
      }
    }
  }
  assertNone("SDK import(s) out of place", found);
});

interface InfoDependencyFull extends InfoDependency {
  isDynamic?: boolean;
}

/**
 * The static (non-dynamic) module graph from `entries` (default: the serving
 * path, what is evaluated before the first tool call: `src/worker_entry.ts`,
 * which answers `initialize` and `tools/list` early, and the MCP layer
 * `cli.ts` imports by URL right after: `mcp/server.ts`, `mcp/sdk.ts`,
 * `registry/pipeline.ts`), also following the dynamic imports made by the
 * modules in `followDynamicIn` (repo-relative). Returns each reached
 * specifier with its import chain back to an entry.
 */
async function servingGraph(
  entries: readonly string[] = [
    "src/worker_entry.ts",
    "src/mcp/server.ts",
    "src/mcp/sdk.ts",
    "src/registry/pipeline.ts",
  ],
  followDynamicIn: ReadonlySet<string> = new Set(),
  minModules = 100,
): Promise<Map<string, string>> {
  const modules = (await Promise.all(entries.map((e) => denoInfo(e)))).flat();
  const byId = new Map(modules.map((m) => [m.specifier, m]));
  const from = new Map<string, string>();
  const queue = entries.map((e) => new URL(e, ROOT_URL).href);
  const seen = new Set(queue);
  while (queue.length) {
    const at = queue.shift()!;
    const dynamicOk = followDynamicIn.has(srcRelative(at) ?? "");
    for (const d of (byId.get(at)?.dependencies ?? []) as InfoDependencyFull[]) {
      const to = d.code?.specifier;
      if (!to || (d.isDynamic && !dynamicOk) || seen.has(to)) continue;
      seen.add(to);
      from.set(to, at);
      queue.push(to);
    }
  }
  assert.ok(
    seen.size > minModules,
    `the walk reached only ${seen.size} modules: is the graph read right?`,
  );
  const chains = new Map<string, string>();
  for (const s of seen) {
    const chain = [srcRelative(s) ?? s];
    for (let x = from.get(s); x; x = from.get(x)) chain.push(srcRelative(x) ?? x);
    chains.set(s, chain.join(" <- "));
  }
  return chains;
}

Deno.test("start-up: serving evaluates no ssh2 before the first connection (static graph of the Worker entry)", async () => {
  // issue 17: ssh2 (and its protocol constants, which probe the runtime's crypto) is loaded by
  // util/ssh2_lib.ts on first use; a static value import anywhere on the serving path undoes that
  const graph = await servingGraph();
  const found = [...graph].filter(([s]) => /^npm:\/?ssh2@/.test(s)).map(([, c]) => c);
  assertNone("static import chain(s) of ssh2 on the serving path", found);
});

Deno.test("start-up: serving evaluates no tool group module before the tool's first call", async () => {
  // issue 17: tools/list, visibility, search and ssh_plan read catalog_gen.ts; a group's module
  // (and everything only its tools need) is imported by catalog_lazy.ts on its first call
  const graph = await servingGraph();
  const found = [...graph]
    .filter(([s]) => /^src\/tools\/[^/]+\//.test(srcRelative(s) ?? ""))
    .map(([, c]) => c);
  assertNone("static import chain(s) of tool group modules on the serving path", found);
});

Deno.test("start-up: serving evaluates no connection, exec, SFTP or sudo machinery before the first call", async () => {
  // issue 17: ssh/pool.ts imports connection.ts and auth.ts on the first connection, and the call
  // context imports ssh/fs.ts and sudo/elevation.ts on first use; a static value import of any of
  // them on the serving path loads the whole layer (handshake, keys, KDF, SFTP, transfers) again
  const layer = new Set([
    "src/ssh/connection.ts",
    "src/ssh/auth.ts",
    "src/ssh/handshake.ts",
    "src/ssh/exec.ts",
    "src/ssh/keys.ts",
    "src/ssh/kdf.ts",
    "src/ssh/fs.ts",
    "src/ssh/fs_core.ts",
    "src/ssh/sftp_channel.ts",
    "src/ssh/transfer.ts",
    "src/ssh/pinned.ts",
    "src/ssh/sudo.ts",
    "src/sudo/elevation.ts",
    "src/sudo/password.ts",
  ]);
  const graph = await servingGraph();
  const found = [...graph].filter(([s]) => layer.has(srcRelative(s) ?? "")).map(([, c]) => c);
  assertNone("static import chain(s) of the connection layer on the serving path", found);
});

Deno.test("start-up: neither the MCP SDK, zod, the shell parser, the glob matcher nor ipaddr.js is evaluated before the early answers", async () => {
  // issue 17: the Worker answers initialize and tools/list (src/mcp/early.ts) before it imports
  // the MCP layer; the SDK (which builds its zod protocol schemas at import) and zod must not be
  // in the static graph of the Worker entry, or they are evaluated before the first answer.
  // Likewise the command and path checkers (App.loadCheckers): unbash and picomatch cost ~14 and
  // ~9 ms in the Worker, with the 28 policy modules behind them ~30 ms of the start; and ipaddr.js
  // (CommonJS: its loader starts with the first such package, 20-30 ms), read through ip_slot.ts
  const graph = await servingGraph(["src/worker_entry.ts"], new Set(), 50);
  assert.ok(graph.has(new URL("src/mcp/early.ts", ROOT_URL).href), "walk misses early.ts");
  assert.ok(graph.has(new URL("src/app.ts", ROOT_URL).href), "walk misses app.ts");
  const found = [...graph]
    .filter(([s]) =>
      /^npm:\/?(@modelcontextprotocol\/|zod@|unbash@|picomatch@|ipaddr\.js@)/.test(s)
    )
    .map(([, c]) => c);
  const checkers = ["src/policy/commands.ts", "src/policy/paths.ts"];
  found.push(
    ...[...graph].filter(([s]) => checkers.includes(srcRelative(s) ?? "")).map(([, c]) => c),
  );
  assertNone(
    "static import chain(s) of the MCP SDK, zod, unbash, picomatch, ipaddr.js or the checkers before the early answers",
    found,
  );
});

Deno.test("start-up: no Node built-in is evaluated by the launcher or before the early answers", async () => {
  // issue 17: the first `node:` import of an isolate evaluates part of Deno's Node layer: node:path
  // alone cost the launcher ~14 ms and the Worker ~18 ms, node:crypto ~19 ms more in the Worker.
  // Local paths come from util/local_path.ts, small hashes from util/digest.ts (@noble/hashes),
  // byte strings from util/bytes.ts, whole-file hashes from util/file_digest.ts (tool modules
  // only); DNS lookups import node:dns/promises on first use
  const worker = await servingGraph(["src/worker_entry.ts"], new Set(), 50);
  const launcher = await servingGraph(["main.ts"], new Set(["src/launcher.ts"]), 10);
  assert.ok(launcher.has(new URL("src/config/load.ts", ROOT_URL).href), "walk misses load.ts");
  const found = [...worker, ...launcher].filter(([s]) => s.startsWith("node:")).map(([, c]) => c);
  assertNone("static import chain(s) of Node built-ins at start", found);
});

Deno.test("start-up: the launcher evaluates no ipaddr.js before the Worker starts (unless an address needs it)", async () => {
  // issue 17: ipaddr.js is CommonJS, and the first CommonJS package an isolate evaluates sets up
  // Deno's CommonJS loader (~20 ms); the launcher loads the configuration (its own dynamic
  // imports, followed here) only for the plan, and config/ip_slot.ts keeps the package out of it
  // unless a value needs it (tests/config/ip_lazy_test.ts checks that path)
  const graph = await servingGraph(["main.ts"], new Set(["src/launcher.ts"]), 10);
  assert.ok(graph.has(new URL("src/config/settings.ts", ROOT_URL).href), "walk misses settings.ts");
  const found = [...graph].filter(([s]) => /^npm:\/?ipaddr\.js@/.test(s)).map(([, c]) => c);
  assertNone("static import chain(s) of ipaddr.js in the launcher", found);
});

Deno.test("every module imported by a computed URL is packed by deno compile (LAZY_MODULES), and exists", async () => {
  const { LAZY_MODULES } = await import("../../src/util/lazy_import.ts");
  const packed = new Set(LAZY_MODULES);
  const problems: string[] = [];
  for (const m of LAZY_MODULES) {
    try {
      await Deno.stat(`${ROOT}${m}`);
    } catch {
      problems.push(`${m} is listed but does not exist`);
    }
  }
  // every `new URL("<relative>", import.meta.url)` handed to importLazy, a Worker or a group loader
  const urlRe = /new URL\(\s*["'](\.{1,2}\/[^"']+\.ts)["'],\s*import\.meta\.url\s*\)/g;
  for (const file of await tsFiles("src")) {
    const text = await Deno.readTextFile(`${ROOT}${file}`);
    for (const m of text.matchAll(urlRe)) {
      const target = normalize(`${dirname(file)}/${m[1]!}`);
      if (!packed.has(target)) {
        problems.push(`${file} loads ${target} by URL; add it to LAZY_MODULES`);
      }
    }
    // catalog_lazy.ts hands relative paths to its group() helper
    if (file === "src/tools/catalog_lazy.ts") {
      for (const m of text.matchAll(/group\("(\.\/[^"]+\/mod\.ts)"\)/g)) {
        const target = normalize(`${dirname(file)}/${m[1]!}`);
        if (!packed.has(target)) problems.push(`${file} loads ${target}; add it to LAZY_MODULES`);
      }
    }
  }
  // every group module is reachable through the lazy catalog
  for (const g of GROUPS) {
    const mod = `src/tools/${g}/mod.ts`;
    try {
      await Deno.stat(`${ROOT}${mod}`);
    } catch {
      continue; // a group without tools yet
    }
    if (!packed.has(mod)) problems.push(`${mod} is not in LAZY_MODULES`);
  }
  assertNone("module(s) loaded by URL but not packed", problems);
});
