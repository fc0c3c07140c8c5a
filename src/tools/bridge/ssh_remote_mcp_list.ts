import { z } from "zod";
import { ToolError } from "../../errors.ts";
import { mergeWarnings, sanitize } from "../../policy/sanitize.ts";
import { defineTool, HostArg } from "../define.ts";
import { OutputWarnings } from "../_schemas.ts";
import {
  capResult,
  R_REMOTE_TOOL,
  remoteConfig,
  remoteSession,
  requestOptions,
  requireAllowList,
  scanDeep,
  toolAllowed,
} from "./_remote.ts";

/** `tools/list` pages read at most. */
const MAX_PAGES = 20;
/** Tools read at most (all pages). */
const MAX_TOOLS = 1000;

interface Listed {
  name: string;
  description?: string;
  input_schema: Record<string, unknown>;
}

/** `tools/list` of the host's remote MCP server (TOOLS.md §15, SECURITY.md BRIDGE-5). */
export default defineTool({
  name: "ssh_remote_mcp_list",
  group: "bridge",
  tier: "dangerous",
  hints: { readOnlyHint: true, destructiveHint: false, idempotentHint: true },
  description: "Tools of the host's remote MCP server (allowed ones).",
  input: z.strictObject({ host: HostArg }),
  output: z.strictObject({
    host: z.string(),
    tools: z.array(z.object({
      name: z.string(),
      description: z.string().optional(),
      input_schema: z.record(z.string(), z.unknown()),
    })),
    hidden: z.number().int(),
    output_warnings: OutputWarnings,
  }),
  async handler(_args, ctx) {
    const cfg = remoteConfig(ctx.host);
    requireAllowList(ctx.host, cfg); // before any contact with the host
    const session = await remoteSession(ctx, cfg.endpoint);
    const tools: Listed[] = [];
    const warnings: string[][] = [];
    let hidden = 0;
    let seen = 0;
    let cursor: string | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      // pages depend on the previous cursor
      // deno-lint-ignore no-await-in-loop
      const r = await session.request(
        "tools/list",
        cursor === undefined ? {} : { cursor },
        requestOptions(ctx),
      );
      if (!Array.isArray(r.tools)) {
        throw new ToolError(
          "RuntimeError",
          `the remote MCP server on ${ctx.host.policy.alias} answered tools/list without a tools array`,
        );
      }
      for (const t of r.tools as unknown[]) {
        const at = `tool #${++seen}`;
        if (seen > MAX_TOOLS) break;
        const o = (typeof t === "object" && t !== null ? t : {}) as Record<string, unknown>;
        if (typeof o.name !== "string" || !R_REMOTE_TOOL.test(o.name)) {
          warnings.push([`${at}: dropped (its name is missing or not a plain tool name)`]);
          continue;
        }
        if (!toolAllowed(cfg.allow_tools, o.name)) {
          hidden++;
          continue;
        }
        const item: Listed = {
          name: o.name,
          input_schema: typeof o.inputSchema === "object" && o.inputSchema !== null &&
              !Array.isArray(o.inputSchema)
            ? o.inputSchema as Record<string, unknown>
            : { type: "object" },
        };
        if (typeof o.description === "string") {
          const s = sanitize(o.description);
          item.description = s.text;
          warnings.push(s.warnings.map((w) => `${at} (${o.name}) description: ${w}`));
        }
        warnings.push(scanDeep(item.input_schema, `${at} (${o.name}) input_schema`));
        tools.push(item);
      }
      if (seen > MAX_TOOLS) {
        warnings.push([`only the first ${MAX_TOOLS} remote tools were read`]);
        break;
      }
      cursor = typeof r.nextCursor === "string" ? r.nextCursor : undefined;
      if (cursor === undefined) break;
      if (page === MAX_PAGES - 1) warnings.push([`only ${MAX_PAGES} pages of tools were read`]);
    }
    capResult(ctx, tools, "tool list");
    return {
      host: ctx.host.policy.hostname,
      tools,
      hidden,
      output_warnings: mergeWarnings(...warnings),
    };
  },
});
