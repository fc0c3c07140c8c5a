/**
 * The `instructions` text of the `initialize` answer (issue 12 item 4). No
 * SDK and no zod: the stdio server's early answers (early.ts) build it before
 * the server's module graph has loaded, with the same function the server
 * uses (server.ts re-exports it).
 *
 * @module
 */

import type { Settings } from "../config/types.ts";
import { enabledTiers } from "../registry/listing.ts";

/** The settings {@link instructionsFor} reads. */
export type InstructionSettings = Pick<
  Settings,
  | "ALLOW_LOW_ACCESS_TOOLS"
  | "ALLOW_DANGEROUS_TOOLS"
  | "ALLOW_SUDO"
  | "SSH_ENABLE_BM25"
  | "SSH_ENABLE_RUNBOOKS"
>;

/** Options of {@link instructionsFor}. */
export interface InstructionOptions {
  settings?: InstructionSettings;
  /** groups of the visible tools (named when not in search mode) */
  groups?: readonly string[];
}

/** Upper bound of the `instructions` text (issue 12 item 4). */
export const INSTRUCTIONS_MAX_CHARS = 1200;

/**
 * The `instructions` text: which tiers are on, how to find tools, where the
 * skills and runbooks are, and what to do about the refusals met most often.
 * It names only tools that are visible in this configuration (TIER-14:
 * hidden means absent, also in free text); `search_tools`/`call_tool` are
 * named only in search mode.
 */
export function instructionsFor(
  visible: ReadonlySet<string>,
  opts: InstructionOptions = {},
): string {
  const has = (t: string) => visible.has(t);
  const s = opts.settings;
  const parts = ["ssh-mcp gives you audited SSH access to the hosts an operator configured."];
  if (s) parts.push(`Tool tiers on: ${enabledTiers(s as Settings).join(", ")}.`);
  const start = ["ssh_host_list", "ssh_describe_host"].filter(has);
  if (start.length) {
    parts.push(
      `Start with ${start.join(" (or ")}${
        start.length > 1 ? ")" : ""
      } to see hosts and what policy allows there.`,
    );
  }
  if (s?.SSH_ENABLE_BM25) {
    parts.push(
      "tools/list shows only a few tools: find the others with search_tools(query) (it returns " +
        "their schemas) and run them with call_tool(name, arguments).",
    );
  } else if (opts.groups?.length) {
    parts.push(`Tool groups on: ${[...new Set(opts.groups)].sort().join(", ")}.`);
  }
  if (has("ssh_host_ping")) {
    parts.push("ssh_host_ping checks reachability and shows operator notes you must respect.");
  }
  parts.push(
    "Each tool has a usage guide: resource skill://ssh-<tool-name-with-dashes>/SKILL.md" +
      (has("ssh_skill_read") ? " (or ssh_skill_read)." : "."),
    "Host keys are pinned; never try to bypass a host-key error.",
  );
  if (s?.SSH_ENABLE_RUNBOOKS !== false) {
    parts.push("Runbooks (step-by-step workflows) are skill:// resources in resources/list.");
  }
  // the refusals met most often, and what to do instead
  const fixes: string[] = [];
  if (has("ssh_describe_host")) {
    fixes.push("PathNotAllowed: stay inside the allowed paths that ssh_describe_host shows");
  } else fixes.push("PathNotAllowed: stay inside the host's path allowlist");
  fixes.push(
    "CommandNotAllowed or CommandIsCheatsheetMatch: use the dedicated tool the error names",
    "UnknownHost/HostKeyMismatch: only the operator can pin the host key",
    "a tool you expect is missing: its tier or group is off, only the operator can enable it",
  );
  parts.push(`If a call is refused: ${fixes.join("; ")}.`);
  return parts.join(" ");
}
