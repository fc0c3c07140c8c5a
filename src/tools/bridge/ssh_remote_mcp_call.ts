import { z } from "zod";
import { auditHash } from "../../audit/audit.ts";
import { ToolError } from "../../errors.ts";
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

/** `tools/call` on the host's remote MCP server (TOOLS.md §15, SECURITY.md BRIDGE-5, AC-945). */
export default defineTool({
  name: "ssh_remote_mcp_call",
  group: "bridge",
  tier: "dangerous",
  description: "Call a tool of the host's remote MCP server.",
  input: z.strictObject({
    host: HostArg,
    tool: z.string().regex(R_REMOTE_TOOL).describe("Remote tool name"),
    arguments: z.record(z.string(), z.unknown()).default({}).describe("Its arguments"),
  }),
  output: z.strictObject({
    host: z.string(),
    tool: z.string(),
    result: z.record(z.string(), z.unknown()),
    output_warnings: OutputWarnings,
  }),
  async handler({ tool, arguments: args }, ctx) {
    ctx.audit({ remote_tool_hash: auditHash(tool) });
    const cfg = remoteConfig(ctx.host);
    // AC-945: decided here, before any contact with the host
    requireAllowList(ctx.host, cfg);
    if (!toolAllowed(cfg.allow_tools, tool)) {
      const a = ctx.host.policy.alias;
      throw new ToolError(
        "ValueError",
        `remote tool ${tool} is not allowed on ${a}: it matches no glob of [hosts.${a}.remote_mcp] ` +
          `allow_tools; ssh_remote_mcp_list shows the allowed tools (ask the operator to add it)`,
      );
    }
    const session = await remoteSession(ctx, cfg.endpoint);
    const result = await session.request(
      "tools/call",
      { name: tool, arguments: args },
      requestOptions(ctx),
    );
    capResult(ctx, result, "result");
    const warnings = scanDeep(result, "result");
    if (result.isError === true) {
      warnings.push("the remote tool reported an error (result.isError)");
    }
    return { host: ctx.host.policy.hostname, tool, result, output_warnings: warnings };
  },
});
