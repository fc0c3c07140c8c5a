/**
 * Which tools a configuration shows (SECURITY.md §TIER) and the `tools/list`
 * payload built from their declarations. A hidden tool is neither listed nor
 * callable; an unknown and a hidden name are indistinguishable (TIER-5).
 *
 * @module
 */

import { z } from "zod";
import type { Settings, Tier } from "../config/types.ts";
import { GROUPS, type Tool } from "../tools/define.ts";

/** Registered vs visible tools for this configuration. */
export interface CatalogInfo {
  registered: readonly Tool[];
  visible: readonly Tool[];
  enabledTiers: Tier[];
  enabledGroups: string[];
}

/** True when `tool` is callable in this configuration (tier flags, tags, groups). */
export function isVisible(tool: Tool, settings: Settings): boolean {
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
export function catalogFor(all: readonly Tool[], settings: Settings): CatalogInfo {
  return {
    registered: all,
    visible: all.filter((t) => isVisible(t, settings)),
    enabledTiers: enabledTiers(settings),
    enabledGroups: [...settings.SSH_ENABLED_GROUPS],
  };
}

/** JSON Schema of a zod object for `tools/list` (draft-7, like the SDK). */
export function jsonSchemaOf(schema: z.ZodObject, io: "input" | "output"): Record<string, unknown> {
  const js = z.toJSONSchema(schema, { target: "draft-7", io, unrepresentable: "any" }) as Record<
    string,
    unknown
  >;
  delete js.$schema;
  return js;
}

/** One entry of `tools/list`. */
export interface ListedTool {
  name: string;
  title?: string;
  description: string;
  inputSchema: Record<string, unknown>;
  outputSchema: Record<string, unknown>;
  annotations: Tool["annotations"];
  execution?: { taskSupport: "optional" };
}

/** The `tools/list` entries of `tools`, in catalog order. */
export function listedTools(tools: readonly Tool[]): ListedTool[] {
  return tools.map((t) => ({
    name: t.name,
    ...(t.title ? { title: t.title } : {}),
    description: t.description,
    inputSchema: jsonSchemaOf(t.input, "input"),
    outputSchema: jsonSchemaOf(t.output, "output"),
    annotations: t.annotations,
    ...(t.taskSupport ? { execution: { taskSupport: t.taskSupport } } : {}),
  }));
}
