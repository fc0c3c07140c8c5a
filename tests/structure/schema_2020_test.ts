/**
 * MCP protocol revision 2026-07-28: every tool a real MCP client can list has
 *
 * - a name of 1 to 128 characters from `[A-Za-z0-9_.-]`, unique in its
 *   `tools/list` answer;
 * - an `inputSchema` (and `outputSchema` when present) that is a valid JSON
 *   Schema 2020-12 document with an `object` root: each compiles with Ajv2020
 *   in strict mode, and `$schema`, when present, is the 2020-12 URI;
 * - an input validator that is usable: `{}` either validates or fails only
 *   for missing `required` arguments.
 *
 * The catalog is listed through the real in-process server (no SSH) for every
 * tier configuration and for search mode (`SSH_ENABLE_BM25`, the synthetic
 * `search_tools` / `call_tool`), so every tool is checked. Each check makes
 * one assertion that names every offender with ajv's error text; a self-test
 * feeds deliberately broken tools through the same checkers.
 *
 * @module
 */

import assert from "node:assert/strict";
import { Ajv2020, type ErrorObject, type ValidateFunction } from "ajv/dist/2020.js";
import { baseEnv, type Client, startInProcess } from "../_support/mcp.ts";

/** The only `$schema` a tool schema may declare. */
const SCHEMA_2020 = "https://json-schema.org/draft/2020-12/schema";
/** MCP 2026-07-28 tool-name rule. */
const TOOL_NAME = /^[A-Za-z0-9_.-]{1,128}$/;

/**
 * The formats JSON Schema 2020-12 defines (Validation §7.3). Format is an
 * annotation there; Ajv's strict mode rejects a format it does not know, so the
 * standard ones are registered as accept-all and a non-standard one still fails.
 */
const STANDARD_FORMATS = [
  "date-time",
  "date",
  "time",
  "duration",
  "email",
  "idn-email",
  "hostname",
  "idn-hostname",
  "ipv4",
  "ipv6",
  "uri",
  "uri-reference",
  "iri",
  "iri-reference",
  "uuid",
  "uri-template",
  "json-pointer",
  "relative-json-pointer",
  "regex",
] as const;

const ALL_ON: Record<string, string> = {
  ALLOW_LOW_ACCESS_TOOLS: "true",
  ALLOW_DANGEROUS_TOOLS: "true",
  ALLOW_SUDO: "true",
  ALLOW_PERSISTENT_SESSIONS: "true",
};

/** Tier configurations (as in tools_list_snapshot_test.ts) plus search mode. */
const CONFIGS: Readonly<Record<string, Record<string, string>>> = {
  "read": {},
  "low-access": { ALLOW_LOW_ACCESS_TOOLS: "true" },
  "dangerous": { ALLOW_LOW_ACCESS_TOOLS: "true", ALLOW_DANGEROUS_TOOLS: "true" },
  "all": ALL_ON,
  "search": { ...ALL_ON, SSH_ENABLE_BM25: "true" },
};

/** Env-only mode: no hosts file is read, whatever the working directory holds. */
const NO_HOSTS_FILE = "/nonexistent/ssh-mcp-schema-2020/hosts.toml";

type ListedTool = Awaited<ReturnType<Client["listTools"]>>["tools"][number];

/** The fields checked here; a structural subset of a listed tool. */
interface ToolShape {
  name: string;
  inputSchema?: unknown;
  outputSchema?: unknown;
}

/** Every page of `tools/list` for one configuration. */
async function listAllTools(env: Record<string, string>): Promise<ListedTool[]> {
  const server = await startInProcess(baseEnv({ SSH_HOSTS_FILE: NO_HOSTS_FILE, ...env }));
  try {
    const tools: ListedTool[] = [];
    let cursor: string | undefined;
    do {
      const page = await server.client.listTools(cursor ? { cursor } : {});
      tools.push(...page.tools);
      cursor = page.nextCursor;
    } while (cursor);
    return tools;
  } finally {
    await server.close();
  }
}

let catalogs: Promise<Map<string, ListedTool[]>> | null = null;

/** `tools/list` of every configuration, by configuration name (listed once per run). */
function allCatalogs(): Promise<Map<string, ListedTool[]>> {
  catalogs ??= (async () => {
    const out = new Map<string, ListedTool[]>();
    for (const [config, env] of Object.entries(CONFIGS)) {
      try {
        out.set(config, await listAllTools(env));
      } catch (e) {
        // e.g. the SDK client's own check of tools/list (a root type other than "object")
        throw new Error(`tools/list (${config}) failed in the MCP client: ${e}`, { cause: e });
      }
    }
    return out;
  })();
  return catalogs;
}

/** The distinct tool entries over all configurations, each labelled with the first that lists it. */
async function distinctTools(): Promise<{ config: string; tool: ToolShape }[]> {
  const seen = new Set<string>();
  const out: { config: string; tool: ToolShape }[] = [];
  for (const [config, tools] of await allCatalogs()) {
    for (const tool of tools) {
      const key = JSON.stringify([tool.name, tool.inputSchema, tool.outputSchema ?? null]);
      if (seen.has(key)) continue;
      seen.add(key);
      out.push({ config, tool });
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// checkers (pure; the self-test feeds them broken input)

/** Problems with the names of one `tools/list` answer: the rule, and uniqueness. */
export function nameProblems(tools: readonly ToolShape[]): string[] {
  const problems: string[] = [];
  const count = new Map<string, number>();
  for (const { name } of tools) {
    count.set(name, (count.get(name) ?? 0) + 1);
    if (typeof name !== "string" || !TOOL_NAME.test(name)) {
      const why = typeof name !== "string"
        ? `not a string (${typeof name})`
        : name.length === 0
        ? "empty"
        : name.length > 128
        ? `${name.length} characters (max 128)`
        : `characters outside [A-Za-z0-9_.-]: ${
          JSON.stringify([...new Set(name.replace(/[A-Za-z0-9_.-]/g, ""))].join(""))
        }`;
      problems.push(`${JSON.stringify(name)}: ${why}`);
    }
  }
  for (const [name, n] of count) {
    if (n > 1) problems.push(`${JSON.stringify(name)}: listed ${n} times`);
  }
  return problems;
}

/** A fresh strict Ajv2020 (fresh per schema: `$id`s cannot collide between tools). */
function strictAjv(): Ajv2020 {
  const ajv = new Ajv2020({ strict: true, validateSchema: true, allErrors: true });
  for (const f of STANDARD_FORMATS) ajv.addFormat(f, true);
  return ajv;
}

/** Ajv's errors as one line of text. */
function errorsText(errors: ErrorObject[] | null | undefined): string {
  return (errors ?? []).map((e) => `${e.instancePath || "/"} ${e.message ?? e.keyword}`)
    .join("; ");
}

interface Compiled {
  problems: string[];
  validate: ValidateFunction | null;
}

/** Compiled schemas by schema object (each listed schema is compiled once per run). */
const compiled = new WeakMap<object, Compiled>();

/** Compiles one schema; problems found, and the validator when it compiled. */
function compileSchema(schema: unknown): Compiled {
  const cached = typeof schema === "object" && schema !== null ? compiled.get(schema) : undefined;
  if (cached) return cached;
  const result = compileUncached(schema);
  if (typeof schema === "object" && schema !== null) compiled.set(schema, result);
  return result;
}

function compileUncached(schema: unknown): Compiled {
  const problems: string[] = [];
  if (typeof schema !== "object" || schema === null || Array.isArray(schema)) {
    return { problems: [`not a JSON object: ${JSON.stringify(schema)}`], validate: null };
  }
  const s = schema as Record<string, unknown>;
  if (s.type !== "object") problems.push(`root type is ${JSON.stringify(s.type)}, not "object"`);
  if ("$schema" in s && s.$schema !== SCHEMA_2020) {
    problems.push(`$schema is ${JSON.stringify(s.$schema)}, not ${JSON.stringify(SCHEMA_2020)}`);
  }
  let validate: ValidateFunction | null = null;
  try {
    validate = strictAjv().compile(s);
  } catch (e) {
    problems.push(`ajv: ${e instanceof Error ? e.message : String(e)}`);
  }
  return { problems, validate };
}

/** Problems with a tool's `inputSchema` and `outputSchema`, each prefixed with the schema. */
export function schemaProblems(tool: ToolShape): string[] {
  const input = compileSchema(tool.inputSchema).problems.map((p) => `inputSchema: ${p}`);
  const output = tool.outputSchema === undefined
    ? []
    : compileSchema(tool.outputSchema).problems.map((p) => `outputSchema: ${p}`);
  return [...input, ...output];
}

/**
 * Problems validating sample arguments against a tool's input schema: `{}`
 * must validate or fail only with `required` errors. Empty when the schema
 * does not compile (that is {@link schemaProblems}' report).
 */
export function sampleProblems(tool: ToolShape): string[] {
  const { validate } = compileSchema(tool.inputSchema);
  if (!validate) return [];
  if (validate({})) return [];
  const other = (validate.errors ?? []).filter((e) => e.keyword !== "required");
  return other.length ? [`{} rejected for more than missing arguments: ${errorsText(other)}`] : [];
}

/** One assertion naming every offender. */
function assertNone(what: string, offenders: string[]): void {
  assert.ok(
    offenders.length === 0,
    `${offenders.length} ${what}:\n${offenders.map((o) => `  ${o}`).join("\n")}`,
  );
}

// ---------------------------------------------------------------------------
// tests

Deno.test("MCP-2026: every configuration lists its tools, search mode its synthetic tools", async () => {
  const all = await allCatalogs();
  const names = (config: string) => new Set(all.get(config)?.map((t) => t.name));
  assert.ok(names("all").size >= 100, `expected the full catalog, got ${names("all").size} tools`);
  for (const config of Object.keys(CONFIGS)) {
    assert.ok(names(config).size > 0, `${config}: tools/list is empty`);
  }
  for (const meta of ["search_tools", "call_tool"]) {
    assert.ok(names("search").has(meta), `search mode does not list ${meta}`);
  }
});

Deno.test("MCP-2026: tool names follow the name rule", async () => {
  const configsOf = new Map<string, string[]>(); // problem -> configurations listing it
  for (const [config, tools] of await allCatalogs()) {
    for (const p of nameProblems(tools)) configsOf.set(p, [...configsOf.get(p) ?? [], config]);
  }
  const offenders = [...configsOf].map(([p, configs]) => `${p} (${configs.join(", ")})`);
  assertNone("tool name(s) break the MCP 2026-07-28 rule [A-Za-z0-9_.-]{1,128}", offenders);
});

Deno.test("MCP-2026: input and output schemas are valid JSON Schema 2020-12", async () => {
  const offenders: string[] = [];
  for (const { config, tool } of await distinctTools()) {
    offenders.push(...schemaProblems(tool).map((p) => `${tool.name} (${config}): ${p}`));
  }
  assertNone("schema problem(s) (Ajv2020, strict)", offenders);
});

Deno.test("MCP-2026: {} fails an input schema only for missing required arguments", async () => {
  const offenders: string[] = [];
  for (const { config, tool } of await distinctTools()) {
    offenders.push(...sampleProblems(tool).map((p) => `${tool.name} (${config}): ${p}`));
  }
  assertNone("input schema(s) that reject {} for another reason", offenders);
});

Deno.test("MCP-2026: the checkers report broken names and schemas (self-test)", () => {
  const ok = { type: "object", properties: { host: { type: "string" } }, required: ["host"] };
  // the real shape of a good tool passes every checker
  const good: ToolShape = { name: "ssh.run_cmd-2", inputSchema: { $schema: SCHEMA_2020, ...ok } };
  assert.deepEqual(nameProblems([good]), []);
  assert.deepEqual(schemaProblems(good), []);
  assert.deepEqual(sampleProblems(good), []);

  // names: characters, length, emptiness, uniqueness
  const names = nameProblems([
    { name: "has space" },
    { name: "ümlaut" },
    { name: "" },
    { name: "x".repeat(129) },
    { name: "x".repeat(128) },
    { name: "dup" },
    { name: "dup" },
    { name: "Case" },
    { name: "case" },
  ]).join("\n");
  for (
    const expected of [
      `"has space": characters outside`,
      `"ümlaut": characters outside`,
      `"": empty`,
      "129 characters (max 128)",
      `"dup": listed 2 times`,
    ]
  ) assert.ok(names.includes(expected), `name checker missed ${expected}:\n${names}`);
  assert.ok(!names.includes(`"${"x".repeat(128)}"`), "128 characters is allowed");
  assert.ok(!/"[Cc]ase"/.test(names), "names are case-sensitive: Case and case are distinct");

  // schemas: a misspelt type is reported with ajv's error text
  const typo = schemaProblems({ name: "typo", inputSchema: { type: "objec" } }).join("\n");
  assert.match(typo, /inputSchema: root type is "objec", not "object"/);
  assert.match(typo, /inputSchema: ajv: schema is invalid: .*type/);

  // non-object root, foreign $schema, strict-mode violations, broken outputSchema
  const cases: [unknown, RegExp][] = [
    [{ type: "string" }, /root type is "string"/],
    [
      { $schema: "http://json-schema.org/draft-07/schema#", ...ok },
      /\$schema is "http:\/\/json-schema.org\/draft-07\/schema#"/,
    ],
    [{ type: "object", properties: { a: { type: "string", nope: 1 } } }, /ajv: strict mode/],
    [
      { type: "object", properties: { a: { type: "string", format: "colour" } } },
      /ajv: unknown format/,
    ],
    [{ type: "object", required: ["missing"] }, /ajv: strict mode/],
    [[], /not a JSON object/],
    [undefined, /not a JSON object/],
  ];
  for (const [inputSchema, expected] of cases) {
    const found = schemaProblems({ name: "bad", inputSchema }).join("\n");
    assert.match(found, expected, `for ${JSON.stringify(inputSchema)}`);
  }
  const out = schemaProblems({ name: "out", inputSchema: ok, outputSchema: { type: "objec" } });
  assert.ok(out.length > 0 && out.every((p) => p.startsWith("outputSchema: ")), out.join("\n"));

  // samples: a schema that rejects every {} for a reason other than `required`
  const unusable = sampleProblems({
    name: "unusable",
    inputSchema: { type: "object", minProperties: 1, required: [] },
  }).join("\n");
  assert.match(unusable, /\{\} rejected for more than missing arguments: \/ must NOT have fewer/);
  assert.equal(sampleProblems({ name: "n", inputSchema: { type: "object", not: {} } }).length, 1);
});
