/**
 * Group `bridge` (TOOLS.md §15): the MCP-over-SSH client tools, dangerous
 * tier. Guidance lives in the skills.
 *
 * @module
 */

import type { Tool } from "../define.ts";
import ssh_remote_mcp_list from "./ssh_remote_mcp_list.ts";
import ssh_remote_mcp_call from "./ssh_remote_mcp_call.ts";

/** The group's tools in catalog order. */
export const TOOLS: readonly Tool[] = [ssh_remote_mcp_list, ssh_remote_mcp_call];
