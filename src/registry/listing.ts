/**
 * The part of visibility.ts that needs neither zod nor the tool modules:
 * which tools a configuration shows (SECURITY.md §TIER) and the `tools/list`
 * entries built from their generated metadata and schemas. The stdio
 * server's early answers (mcp/early.ts) list tools with this before the
 * server's own module graph has loaded; the server lists with the same code
 * (visibility.ts re-exports it).
 *
 * @module
 */

import { GROUPS, type Settings, type Tier } from "../config/types.ts";
import type { Tool, ToolMeta } from "../tools/define.ts";
import { ADVERTISED_INPUT_SCHEMAS } from "./listed_gen.ts";

/** What visibility reads of a tool (a declaration, its metadata, or the generated metadata). */
export type VisibilityFields = Pick<ToolMeta, "name" | "group" | "tier" | "tags">;

/** What a `tools/list` entry is built from. */
export type ListingFields = Pick<
  ToolMeta,
  "name" | "title" | "description" | "annotations" | "taskSupport"
>;

/** Registered vs visible tools for this configuration. */
export interface CatalogInfo<T extends VisibilityFields = ToolMeta> {
  registered: readonly T[];
  visible: readonly T[];
  enabledTiers: Tier[];
  enabledGroups: string[];
}

/** True when `tool` is callable in this configuration (tier flags, tags, groups). */
export function isVisible(tool: VisibilityFields, settings: Settings): boolean {
  const tierOk = tool.tier === "read" ||
    (tool.tier === "low-access" && settings.ALLOW_LOW_ACCESS_TOOLS) ||
    (tool.tier === "dangerous" && settings.ALLOW_DANGEROUS_TOOLS) ||
    (tool.tier === "sudo" && settings.ALLOW_DANGEROUS_TOOLS && settings.ALLOW_SUDO);
  if (!tierOk) return false;
  if (tool.tags?.includes("persistent-session") && !settings.ALLOW_PERSISTENT_SESSIONS) {
    return false;
  }
  const groups = settings.SSH_ENABLED_GROUPS.filter((g) =>
    (GROUPS as readonly string[]).includes(g)
  );
  if (groups.length && !groups.includes(tool.group)) return false;
  return true;
}

/** Enabled tiers in flag order (TOOLS.md §4 ssh_server_info). */
export function enabledTiers(settings: Settings): Tier[] {
  const t: Tier[] = ["read"];
  if (settings.ALLOW_LOW_ACCESS_TOOLS) t.push("low-access");
  if (settings.ALLOW_DANGEROUS_TOOLS) t.push("dangerous");
  if (settings.ALLOW_DANGEROUS_TOOLS && settings.ALLOW_SUDO) t.push("sudo");
  return t;
}

/** Builds the catalog view for a configuration. */
export function catalogFor<T extends VisibilityFields>(
  all: readonly T[],
  settings: Settings,
): CatalogInfo<T> {
  return {
    registered: all,
    visible: all.filter((t) => isVisible(t, settings)),
    enabledTiers: enabledTiers(settings),
    enabledGroups: [...settings.SSH_ENABLED_GROUPS],
  };
}

/** MCP's defaults for the four hints (a hint left out means this value). */
const HINT_DEFAULTS: Readonly<Record<keyof Tool["annotations"], boolean>> = {
  readOnlyHint: false,
  destructiveHint: true,
  idempotentHint: false,
  openWorldHint: true,
};

/**
 * The annotations `tools/list` advertises: the four hints minus those equal
 * to the protocol's default (MCP `ToolAnnotations`), so every client reads
 * the same four values.
 */
export function advertisedAnnotations(a: Tool["annotations"]): Partial<Tool["annotations"]> {
  return Object.fromEntries(
    Object.entries(a).filter(([k, v]) => HINT_DEFAULTS[k as keyof typeof HINT_DEFAULTS] !== v),
  ) as Partial<Tool["annotations"]>;
}

/**
 * The output schema `tools/list` advertises: the shape of `structuredContent`
 * (an object; field-level shapes and their meaning are in the tool's skill and
 * in the full schema). The complete output schema would be about two thirds
 * of the catalog's bytes (issue 12: the catalog budget); the result itself is
 * still validated against the full zod schema by the server.
 */
export const ADVERTISED_OUTPUT_SCHEMA: Readonly<Record<string, unknown>> = Object.freeze({
  type: "object",
});

/** One entry of `tools/list`. */
export interface ListedTool {
  name: string;
  title?: string;
  description: string;
  inputSchema: Record<string, unknown>;
  outputSchema: Record<string, unknown>;
  annotations: Partial<Tool["annotations"]>;
  execution?: { taskSupport: "optional" };
}

/**
 * The build-time input schema of catalog tool `name` (`listed_gen.ts`,
 * `deno task gen`), a fresh copy each time (callers may hand it to code that
 * mutates); a stale entry is caught by tests/structure/listed_gen_test.ts.
 */
export function generatedInputSchema(name: string): Record<string, unknown> {
  const js = ADVERTISED_INPUT_SCHEMAS[name];
  if (!js) {
    throw new Error(`internal error: no generated input schema for ${name} (deno task gen)`);
  }
  return structuredClone(js);
}

/**
 * The `tools/list` entries of `tools`, in catalog order, each input schema
 * from `inputSchemaOf` (visibility.ts `listedTools` converts in-memory
 * declarations; the early answers use {@link generatedInputSchema}).
 */
export function listedToolsWith<T extends ListingFields>(
  tools: readonly T[],
  inputSchemaOf: (tool: T) => Record<string, unknown>,
): ListedTool[] {
  return tools.map((t) => ({
    name: t.name,
    ...(t.title ? { title: t.title } : {}),
    description: t.description,
    inputSchema: inputSchemaOf(t),
    outputSchema: { ...ADVERTISED_OUTPUT_SCHEMA },
    annotations: advertisedAnnotations(t.annotations),
    ...(t.taskSupport ? { execution: { taskSupport: t.taskSupport } } : {}),
  }));
}
