/**
 * A tool is one declarative value: name, tier, group, zod input and output
 * schemas, which input fields are hosts (and later paths / commands), and a
 * handler. The registry (`registry.ts`) turns the declaration into policy:
 * visibility, validation, host resolution, platform gate, audit, error mapping.
 * Handlers never call those checks themselves.
 *
 * @module
 */

import { z } from "zod";
import type { HostPolicy, Tier } from "../config/types.ts";
import type { Logger } from "../log.ts";
import type { RemoteCommand } from "../ssh/command.ts";
import type { ExecOptions, RawExecResult } from "../ssh/exec.ts";
import type { Connection } from "../ssh/connection.ts";
import type { AppServices } from "../services.ts";

/** Tool groups (CONFIG.md §3.2; `keys` is reserved and empty). */
export const GROUPS = [
  "host",
  "session",
  "sftp-read",
  "file-ops",
  "exec",
  "sudo",
  "keys",
  "docker",
  "shell",
  "systemctl",
  "pkg",
  "bridge",
] as const;
/** One tool group. */
export type Group = typeof GROUPS[number];

/** Tiers in flag order. */
export const TIERS: readonly Tier[] = ["read", "low-access", "dangerous", "sudo"];

/** MCP tool annotations. */
export interface ToolAnnotations {
  readOnlyHint: boolean;
  destructiveHint: boolean;
  idempotentHint: boolean;
  openWorldHint: boolean;
}

/** Extra visibility tags beyond tier and group. */
export type ToolTag = "persistent-session";

/** Fields that may be added to the audit line by a handler (SECURITY.md AUDIT-2). */
export interface AuditExtra {
  exit_code?: number;
  timed_out?: boolean;
  cancelled?: boolean;
  bytes_out?: number;
  bytes_err?: number;
  target_ip?: string;
  path_hash?: string;
  dst_path_hash?: string;
  command_hash?: string;
  unit_hash?: string;
  package_hash?: string;
  script_len?: number;
  script_hash?: string;
  task_id?: string;
  remote_tool_hash?: string;
  cheatsheet_pattern_id?: string;
  redact_bypass?: true;
}

/** The host a call targets, resolved by the registry (CONFIG.md §6). */
export interface ResolvedHost {
  /** the raw `host` argument as the caller typed it */
  requested: string;
  policy: HostPolicy;
}

/** Options of {@link ToolContext.exec}; timeout defaults to the host's command timeout. */
export type CtxExecOptions = Partial<ExecOptions>;

/** Everything a handler may use. */
export interface ToolContext {
  readonly app: AppServices;
  readonly correlationId: string;
  /** aborted when the client cancels the request */
  readonly signal: AbortSignal;
  readonly logger: Logger;
  /** identifies the MCP session (owner of shells and tasks) */
  readonly sessionKey: string;
  /** the target of a tool with a `host` input (throws for tools without one) */
  readonly host: ResolvedHost;
  /** a pooled connection to {@link host}, opened on first use */
  connection(): Promise<Connection>;
  /** runs a command on {@link host} with the host's timeout and caps unless overridden */
  exec(cmd: RemoteCommand, opts?: CtxExecOptions): Promise<RawExecResult>;
  /** adds fields to this call's audit line */
  audit(fields: AuditExtra): void;
  /** sends an MCP progress notification when the request asked for them */
  progress(message: string): Promise<void>;
}

/** The declaration of one tool. */
export interface ToolSpec<I extends z.ZodObject, O extends z.ZodObject> {
  /** `ssh_*`, byte-compatible with the reference */
  name: string;
  group: Group;
  tier: Tier;
  /** short; long guidance lives in `skills/ssh-<tool>/SKILL.md` */
  description: string;
  title?: string;
  input: I;
  output: O;
  tags?: readonly ToolTag[];
  /** low-access tools that overwrite or remove data (TOOLS.md §1 NEW) */
  destructive?: boolean;
  /** false only for `ssh_server_info` (SECURITY.md AUDIT-1) */
  audited?: boolean;
  /** POSIX-only tools raise PlatformNotSupported on windows hosts before I/O */
  posixOnly?: boolean;
  /**
   * Input fields holding a host alias/hostname that the registry resolves.
   * Default: `["host"]` when the input has a `host` field, else none.
   */
  hostFields?: readonly string[];
  /**
   * Input fields whose values are hashed into the audit line
   * (`unit` -> `unit_hash`, etc.); never logged in clear.
   */
  auditHash?: Partial<Record<"unit_hash" | "package_hash" | "command_hash", string>>;
  handler(args: z.output<I>, ctx: ToolContext): Promise<z.output<O>>;
}

/** A registered tool with derived metadata. */
export interface Tool extends ToolSpec<z.ZodObject, z.ZodObject> {
  readonly annotations: ToolAnnotations;
  readonly hostFieldNames: readonly string[];
  readonly skillSlug: string;
}

/** Annotations derived from the tier (TOOLS.md §1, SECURITY.md TIER-9). */
export function annotationsFor(
  name: string,
  tier: Tier,
  destructive: boolean | undefined,
): ToolAnnotations {
  switch (tier) {
    case "read":
      return {
        readOnlyHint: true,
        destructiveHint: false,
        idempotentHint: true,
        openWorldHint: true,
      };
    case "low-access":
      return {
        readOnlyHint: false,
        destructiveHint: destructive === true || name.startsWith("ssh_delete"),
        idempotentHint: false,
        openWorldHint: true,
      };
    case "dangerous":
    case "sudo":
      return {
        readOnlyHint: false,
        destructiveHint: true,
        idempotentHint: false,
        openWorldHint: true,
      };
  }
}

/** Declares a tool. Type parameters are inferred from the schemas. */
export function defineTool<I extends z.ZodObject, O extends z.ZodObject>(
  spec: ToolSpec<I, O>,
): Tool {
  const shape = spec.input.shape as Record<string, unknown>;
  const hostFieldNames = spec.hostFields ?? ("host" in shape ? ["host"] : []);
  return {
    ...(spec as unknown as ToolSpec<z.ZodObject, z.ZodObject>),
    annotations: annotationsFor(spec.name, spec.tier, spec.destructive),
    hostFieldNames,
    skillSlug: spec.name.replaceAll("_", "-"),
  };
}

/** The `host` parameter shared by every host tool. */
export const HostArg = z.string().min(1).max(100).describe(
  "Host alias from hosts.toml, a hostname of one of its entries, or an SSH_HOSTS_ALLOWLIST entry",
);

/** Per-call timeout in seconds (clamped by SSH_MAX_COMMAND_TIMEOUT). */
export const TimeoutArg = z.number().int().min(1).nullish().describe(
  "Seconds before the remote command is killed (default SSH_COMMAND_TIMEOUT)",
);
