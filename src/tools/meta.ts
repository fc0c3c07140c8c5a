/**
 * {@link metaOf}: a declaration's metadata, apart from define.ts so that the
 * App's module graph (evaluated before the stdio server's early answers,
 * mcp/early.ts) does not load zod for it.
 *
 * @module
 */

import type { Tool, ToolMeta } from "./define.ts";

/** The metadata of a declared tool (the declaration itself is `declared`). */
export function metaOf(tool: Tool): ToolMeta {
  return {
    name: tool.name,
    group: tool.group,
    tier: tool.tier,
    description: tool.description,
    ...(tool.title !== undefined ? { title: tool.title } : {}),
    ...(tool.tags !== undefined ? { tags: tool.tags } : {}),
    annotations: tool.annotations,
    ...(tool.taskSupport !== undefined ? { taskSupport: tool.taskSupport } : {}),
    skillSlug: tool.skillSlug,
    ...(tool.posixOnly !== undefined ? { posixOnly: tool.posixOnly } : {}),
    commandKind: tool.command?.kind ?? null,
    pathRedactGates: (tool.paths ?? []).map((d) => d.redactGate !== false),
    declared: tool,
    load: () => Promise.resolve(tool),
  };
}
