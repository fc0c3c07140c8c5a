/**
 * Generates `docs/REFERENCE.md`, the tool reference, from the live catalog
 * (`src/tools/catalog.ts`, the list the server registers) and the registry's
 * visibility rule (`src/registry/visibility.ts`): every tool by group with its
 * tier, annotations, description, parameters, output fields and skill, and the
 * totals per group and tier. Nothing in it is written by hand, so it cannot go
 * stale: `tests/structure/docs_test.ts` fails when the file on disk differs
 * from what this script renders now.
 *
 * Run: `deno run -A scripts/gen_docs.ts` (needs read, write and run: the text
 * is passed through `deno fmt` so `deno fmt --check` accepts the file).
 *
 * @module
 */

import { join, relative } from "node:path";
import type { z } from "zod";
import { parseSettings } from "../src/config/settings.ts";
import type { Settings } from "../src/config/types.ts";
import { META_TOOLS } from "../src/registry/search.ts";
import { catalogFor, jsonSchemaOf } from "../src/registry/visibility.ts";
import { ALL_TOOLS } from "../src/tools/catalog.ts";
import { GROUPS, TIERS, type Tool } from "../src/tools/define.ts";

const ROOT = new URL("..", import.meta.url).pathname;
/** Where the reference is written, relative to the repository root. */
export const REFERENCE_PATH = "docs/REFERENCE.md";
/** The command that regenerates it. */
export const GEN_COMMAND = "deno run -A scripts/gen_docs.ts";

type Json = Record<string, unknown>;

/** The tier configurations the reference (and the docs test) count tools for, as environments. */
export const TIER_CONFIGS: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  "default (read tier only)": {},
  "ALLOW_LOW_ACCESS_TOOLS": { ALLOW_LOW_ACCESS_TOOLS: "true" },
  "ALLOW_LOW_ACCESS_TOOLS + ALLOW_DANGEROUS_TOOLS": {
    ALLOW_LOW_ACCESS_TOOLS: "true",
    ALLOW_DANGEROUS_TOOLS: "true",
  },
  "all tier flags (+ ALLOW_SUDO)": {
    ALLOW_LOW_ACCESS_TOOLS: "true",
    ALLOW_DANGEROUS_TOOLS: "true",
    ALLOW_SUDO: "true",
  },
};

/** Settings exactly as the server parses them from an environment holding only `env`. */
export function settingsWith(env: Readonly<Record<string, string>>): Settings {
  return parseSettings({ ...env }, { defaultSecretsDir: "/nonexistent/ssh-mcp-gen-docs" }).settings;
}

/** Tool counts the docs may state, computed as the server computes visibility. */
export interface CatalogCounts {
  /** every registered tool (`ssh-mcp tools`: "N of <registered> tools visible") */
  registered: number;
  /** visible per tier configuration of {@link TIER_CONFIGS} */
  visible: Record<string, number>;
  /** visible with the default settings (read tier) */
  visibleDefault: number;
  /** visible with every tier flag on */
  visibleAll: number;
  byTier: Record<string, number>;
  byGroup: Record<string, number>;
  /** groups that hold at least one tool */
  groupsWithTools: string[];
  /** synthetic tools of tool search mode (`search_tools`, `call_tool`) */
  searchMode: number;
}

/** Counts of the live catalog. */
export function catalogCounts(tools: readonly Tool[] = ALL_TOOLS): CatalogCounts {
  const visible = Object.fromEntries(
    Object.entries(TIER_CONFIGS).map((
      [k, flags],
    ) => [k, catalogFor(tools, settingsWith(flags)).visible.length]),
  );
  const byTier = Object.fromEntries(
    TIERS.map((t) => [t, tools.filter((x) => x.tier === t).length]),
  );
  const byGroup = Object.fromEntries(
    GROUPS.map((g) => [g, tools.filter((x) => x.group === g).length]),
  );
  return {
    registered: tools.length,
    visible,
    visibleDefault: catalogFor(tools, settingsWith({})).visible.length,
    visibleAll: catalogFor(tools, settingsWith(TIER_CONFIGS["all tier flags (+ ALLOW_SUDO)"]!))
      .visible.length,
    byTier,
    byGroup,
    groupsWithTools: GROUPS.filter((g) => byGroup[g]! > 0),
    searchMode: META_TOOLS.length,
  };
}

// ---------------------------------------------------------------------------
// schema rendering

/** Text safe inside a markdown table cell, on one line. */
function cell(s: string): string {
  return s.replace(/\s+/g, " ").trim().replaceAll("\\", "\\\\").replaceAll("|", "\\|");
}

/** Inline code that survives a table cell (pipes escaped, backticks avoided). */
function code(s: string): string {
  const t = cell(s);
  return t.includes("`") ? `\`\` ${t} \`\`` : `\`${t}\``;
}

function literal(v: unknown): string {
  return JSON.stringify(v);
}

const MAX_ENUM = 12;
/** Objects with more fields than this are shown by their field count. */
const MAX_KEYS = 6;

/** A short, readable type of one JSON Schema node. */
export function typeOf(node: unknown): string {
  if (!node || typeof node !== "object") return "any";
  const s = node as Json;
  if ("const" in s) return literal(s.const);
  if (Array.isArray(s.enum)) {
    const vals = s.enum as unknown[];
    return vals.length > MAX_ENUM ? `one of ${vals.length} values` : vals.map(literal).join(" | ");
  }
  for (const k of ["anyOf", "oneOf"] as const) {
    if (Array.isArray(s[k])) return [...new Set((s[k] as unknown[]).map(typeOf))].join(" | ");
  }
  const types = Array.isArray(s.type) ? s.type as string[] : s.type ? [s.type as string] : [];
  if (!types.length) return "any";
  return types.map((t) => {
    if (t === "array") return `array of ${bracket(typeOf(s.items))}`;
    if (t === "object" && s.properties && typeof s.properties === "object") {
      const keys = Object.keys(s.properties as object);
      if (!keys.length) return "object";
      return keys.length > MAX_KEYS
        ? `object (${keys.length} fields)`
        : `object {${keys.join(", ")}}`;
    }
    if (t === "object" && s.additionalProperties && typeof s.additionalProperties === "object") {
      const v = typeOf(s.additionalProperties);
      return v === "any" ? "object" : `map of ${bracket(v)}`;
    }
    if (t === "integer" || t === "number") return t + range(s.minimum, s.maximum);
    return t;
  }).join(" | ");
}

function bracket(t: string): string {
  return t.includes(" | ") ? `(${t})` : t;
}

function range(min: unknown, max: unknown): string {
  const lo = typeof min === "number" && min !== -Number.MAX_SAFE_INTEGER ? min : undefined;
  const hi = typeof max === "number" && max !== Number.MAX_SAFE_INTEGER ? max : undefined;
  if (lo === undefined && hi === undefined) return "";
  if (hi === undefined) return ` >= ${lo}`;
  if (lo === undefined) return ` <= ${hi}`;
  return ` ${lo}..${hi}`;
}

interface Field {
  name: string;
  type: string;
  required: boolean;
  default?: unknown;
  description: string;
}

/** The top-level fields of a tool's input or output schema. */
export function fieldsOf(schema: z.ZodObject, io: "input" | "output"): Field[] {
  const js = jsonSchemaOf(schema, io);
  const props = (js.properties ?? {}) as Record<string, Json>;
  const required = new Set(Array.isArray(js.required) ? js.required as string[] : []);
  return Object.entries(props).map(([name, p]) => ({
    name,
    // an optional input's null means "left out" (as tools/list advertises it)
    type: io === "input" && !required.has(name) ? typeOf(p).replace(/ \| null$/, "") : typeOf(p),
    required: required.has(name) && !("default" in p),
    ...("default" in p ? { default: p.default } : {}),
    description: typeof p.description === "string" ? p.description : "",
  }));
}

/** The four hints as words. */
function hintsText(t: Tool): string {
  const a = t.annotations;
  return [
    a.readOnlyHint ? "read-only" : "writes",
    a.destructiveHint ? "destructive" : "non-destructive",
    a.idempotentHint ? "idempotent" : "not idempotent",
    a.openWorldHint ? "open world" : "closed world",
  ].join(", ");
}

/** GitHub's heading anchor of a tool heading (`### ssh_x` -> `#ssh_x`). */
export function anchorOf(name: string): string {
  return name.toLowerCase();
}

function skillLink(t: Tool): string {
  const path = `skills/${t.skillSlug}/SKILL.md`;
  return `[${path}](../${path})`;
}

function toolSection(t: Tool, heading = "###"): string[] {
  const out: string[] = [
    `${heading} ${t.name}`,
    "",
    cell(t.description),
    "",
    `- Tier: \`${t.tier}\`${
      t.tags?.length ? `; tags: ${t.tags.map((x) => `\`${x}\``).join(", ")}` : ""
    }`,
    `- Annotations: ${hintsText(t)}`,
  ];
  if (t.taskSupport) out.push(`- MCP tasks: \`${t.taskSupport}\``);
  out.push(`- Skill: ${skillLink(t)}`, "");
  const params = fieldsOf(t.input, "input");
  if (params.length) {
    out.push(
      "| Parameter | Type | Required | Default | Description |",
      "| --- | --- | --- | --- | --- |",
      ...params.map((f) =>
        `| ${code(f.name)} | ${cell(f.type)} | ${f.required ? "yes" : "no"} | ${
          "default" in f ? code(literal(f.default)) : ""
        } | ${cell(f.description)} |`
      ),
    );
  } else {
    out.push("No parameters.");
  }
  out.push("");
  const outputs = fieldsOf(t.output, "output");
  if (outputs.length) {
    const described = outputs.some((f) => f.description);
    out.push(
      described ? "| Output field | Type | Description |" : "| Output field | Type |",
      described ? "| --- | --- | --- |" : "| --- | --- |",
      ...outputs.map((f) =>
        `| ${code(f.name)}${f.required ? "" : " (optional)"} | ${cell(f.type)} |${
          described ? ` ${cell(f.description)} |` : ""
        }`
      ),
    );
  } else {
    out.push("Output: free-form (the called tool's result).");
  }
  out.push("");
  return out;
}

/** The reference text before formatting. */
export function renderRaw(tools: readonly Tool[] = ALL_TOOLS): string {
  const c = catalogCounts(tools);
  const present = c.groupsWithTools;
  const empty = GROUPS.filter((g) => !present.includes(g));
  const lines: string[] = [
    "# Tool reference",
    "",
    `<!-- Generated by scripts/gen_docs.ts from the tool catalog. Do not edit: run \`${GEN_COMMAND}\`. -->`,
    "",
    `This build registers ${c.registered} tools in ${present.length} groups. Which of them a ` +
    "client sees depends on the tier flags (see [Tier flags](CONFIGURATION.md#tier-flags)); a hidden " +
    "tool is neither listed nor callable. `ssh-mcp tools` prints the visible set of an environment. " +
    "How the tools behave in depth: [TOOLS.md](TOOLS.md); the usage guide of each tool is its skill, " +
    "also served as `skill://<name>/SKILL.md`.",
    "",
    "## Totals",
    "",
    `| Group | ${TIERS.map((t) => `\`${t}\``).join(" | ")} | Total |`,
    `| --- | ${TIERS.map(() => "---").join(" | ")} | --- |`,
    ...present.map((g) =>
      `| [\`${g}\`](#group-${g}) | ${
        TIERS.map((t) => String(tools.filter((x) => x.group === g && x.tier === t).length)).join(
          " | ",
        )
      } | ${c.byGroup[g]} |`
    ),
    `| **Total** | ${TIERS.map((t) => `**${c.byTier[t]}**`).join(" | ")} | **${c.registered}** |`,
    "",
  ];
  if (empty.length) {
    lines.push(
      `Groups without tools in this build: ${empty.map((g) => `\`${g}\``).join(", ")}.`,
      "",
    );
  }
  lines.push(
    "Visible tools per tier configuration (`ALLOW_PERSISTENT_SESSIONS` at its default, " +
      "`SSH_ENABLED_GROUPS` empty):",
    "",
    "| Configuration | Visible tools |",
    "| --- | --- |",
    ...Object.entries(c.visible).map(([k, n]) => `| ${k} | ${n} |`),
    "",
    `Tool search mode (\`SSH_ENABLE_BM25=true\`) lists ${c.searchMode} synthetic tools instead, ` +
      `${META_TOOLS.map((t) => `\`${t.name}\``).join(" and ")}, which front the same visible ` +
      "catalog ([below](#tool-search-mode)).",
    "",
    "Annotations are the four MCP hints the tool advertises (`readOnlyHint`, `destructiveHint`, " +
      "`idempotentHint`, `openWorldHint`); they are hints for the client, the tier flags decide " +
      "what may run. Types are those of the input and output JSON Schemas; a parameter that is " +
      "not required may be left out. Output fields are those of `structuredContent`.",
    "",
  );
  for (const g of present) {
    const inGroup = tools.filter((t) => t.group === g);
    const tiers = TIERS.filter((t) => inGroup.some((x) => x.tier === t))
      .map((t) => `${inGroup.filter((x) => x.tier === t).length} \`${t}\``);
    lines.push(
      `## Group ${g}`,
      "",
      `${inGroup.length} tools: ${tiers.join(", ")}.`,
      "",
      ...inGroup.map((t) => `- [${t.name}](#${anchorOf(t.name)}) (\`${t.tier}\`)`),
      "",
    );
    for (const t of inGroup) lines.push(...toolSection(t));
  }
  lines.push(
    "## Tool search mode",
    "",
    "With `SSH_ENABLE_BM25=true`, `tools/list` holds only these tools; `call_tool` runs a tool " +
      "of the visible catalog with the same checks and result as a direct call. Their " +
      "annotations shown here are the declaration's; `call_tool` advertises the combination of " +
      "the visible tools' hints.",
    "",
  );
  for (const t of META_TOOLS) lines.push(...toolSection(t));
  return lines.join("\n") + "\n";
}

/** Passes markdown through `deno fmt` with the repository's configuration. */
export async function formatMarkdown(text: string): Promise<string> {
  const cmd = new Deno.Command(Deno.execPath(), {
    args: ["fmt", "--ext", "md", "-"],
    cwd: ROOT,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  });
  const child = cmd.spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(text));
  await writer.close();
  const res = await child.output();
  if (!res.success) {
    throw new Error(`deno fmt failed on the reference: ${new TextDecoder().decode(res.stderr)}`);
  }
  return new TextDecoder().decode(res.stdout);
}

/** The reference as written to disk. */
export async function render(tools: readonly Tool[] = ALL_TOOLS): Promise<string> {
  return await formatMarkdown(renderRaw(tools));
}

if (import.meta.main) {
  const out = join(ROOT, REFERENCE_PATH);
  await Deno.writeTextFile(out, await render());
  // deno-lint-ignore no-console
  console.log(`wrote ${relative(ROOT, out)}`);
}
