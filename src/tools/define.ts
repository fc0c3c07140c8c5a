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
import type { Group, HostPolicy, Tier } from "../config/types.ts";
import type { Logger } from "../log.ts";
import type { CheckedCommand, CheckedPath, RemoteCommand } from "../checked.ts";
import type { ExecOptions, RawExecResult } from "../ssh/exec.ts";
import type { Connection } from "../ssh/connection.ts";
// @ts-types="npm:@types/ssh2@1.15.5"
import type ssh2 from "ssh2";
import type { AppServices } from "../services.ts";
import type { PathIo } from "../policy/paths.ts";

/** Tool groups (defined with the configuration vocabulary). */
export { GROUPS } from "../config/types.ts";
export type { Group } from "../config/types.ts";

/** Tiers in flag order. */
export const TIERS: readonly Tier[] = ["read", "low-access", "dangerous", "sudo"];

/** MCP tool annotations. */
export interface ToolAnnotations {
  readOnlyHint: boolean;
  destructiveHint: boolean;
  idempotentHint: boolean;
  openWorldHint: boolean;
}

/**
 * A remote path field of a tool's input. The registry canonicalizes it on the
 * host, applies allowlist, restricted zones, restricted globs and (unless
 * disabled) the redact-bypass gate, and hands the handler a {@link CheckedPath}.
 */
export interface PathDecl<F extends string = string> {
  field: F;
  /** PATH-20; a function when the tool's mode decides (e.g. copy direction) */
  mustExist: boolean | ((args: Record<string, unknown>) => boolean);
  /** the host input field this path lives on (default: the first host field) */
  hostField?: string;
  /** PATH-10 redact-bypass gate; false only for the redacted readers */
  redactGate?: boolean;
  /** audit key receiving the hash of the canonical path (default `path_hash`) */
  audit?: "path_hash" | "dst_path_hash";
  /**
   * name of a boolean input; when that input is false the parent directory is
   * canonicalized and the leaf kept, so the operation acts on a symlink itself
   * (PATH-24)
   */
  followField?: string;
}

/**
 * The caller-owned shell command field of an exec-family tool. The registry
 * runs the cheatsheet (when enabled) and the command policy (SECURITY.md §EXEC,
 * §CHEAT) and hands the handler a {@link CheckedCommand}.
 */
export interface CommandDecl<F extends string = string> {
  field: F;
  /** `command`: one command line; `script`: a script body (SECURITY.md §SCRIPT) */
  kind: "command" | "script";
  /** apply the cheatsheet before the policy (SECURITY.md §CHEAT scope) */
  cheatsheet: boolean;
}

/** Handler arguments: declared path fields become CheckedPath, the command field CheckedCommand. */
export type CheckedArgs<T, P extends string, C extends string> =
  & Omit<T, P | C>
  & {
    [K in P & keyof T]: null extends T[K] ? CheckedPath | null
      : undefined extends T[K] ? CheckedPath | undefined
      : CheckedPath;
  }
  & { [K in C & keyof T]: CheckedCommand };

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

/** Options of {@link ToolContext.checkPath}. */
export interface CheckPathOptions {
  mustExist: boolean;
  redactGate?: boolean;
  follow?: boolean;
  audit?: "path_hash" | "dst_path_hash";
  /**
   * check an absolute, already normalised path without canonicalizing it on
   * the host (symbolic-link targets, `ssh_plan` dry runs; PATH-22)
   */
  lexical?: boolean;
  /** remote I/O to canonicalize with (default: the SSH user; sudo tools pass an elevated one, SUDO-8) */
  io?: PathIo;
}

/** Options of {@link ToolContext.checkCommand}. */
export interface CheckCommandOptions {
  kind: "command" | "script";
  cheatsheet: boolean;
}

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
  /** every resolved host field of the input (`host`, `src_host`, ...) */
  readonly hosts: ReadonlyMap<string, ResolvedHost>;
  /** a pooled connection to {@link host}, opened on first use */
  connection(): Promise<Connection>;
  /** a pooled connection to any admitted host policy */
  connectionTo(policy: HostPolicy): Promise<Connection>;
  /** the shared SFTP channel of {@link host} */
  sftp(): Promise<ssh2.SFTPWrapper>;
  /** runs a command on {@link host} with the host's timeout and caps unless overridden */
  exec(cmd: RemoteCommand, opts?: CtxExecOptions): Promise<RawExecResult>;
  /** runs a command on another admitted host (fan-out tools) */
  execOn(policy: HostPolicy, cmd: RemoteCommand, opts?: CtxExecOptions): Promise<RawExecResult>;
  /** adds a warning to the result's `output_warnings` (first added comes first) */
  warn(message: string): void;
  /**
   * Runs the path policy for a path that is not a plain declared field (e.g.
   * per-target paths); same chain and audit effects as a declared field.
   */
  checkPath(policy: HostPolicy, raw: string, opts: CheckPathOptions): Promise<CheckedPath>;
  /**
   * Runs cheatsheet (optional) and command policy for one host, writing the
   * `policy_decision` audit line (fan-out tools call it per target).
   */
  checkCommand(policy: HostPolicy, raw: string, opts: CheckCommandOptions): Promise<CheckedCommand>;
  /**
   * The per-host gates a `host` input gets, for a target that is not a host
   * field (fan-out tools call it per target): the blocklist, the platform gate
   * of a `posixOnly` tool and the `timeout` ceiling. Throws the same errors.
   */
  checkTarget(policy: HostPolicy, timeout: number | null | undefined): void;
  /** adds fields to this call's audit line */
  audit(fields: AuditExtra): void;
  /** sends an MCP progress notification when the request asked for them */
  progress(message: string): Promise<void>;
}

/** The declaration of one tool. */
export interface ToolSpec<
  I extends z.ZodObject,
  O extends z.ZodObject,
  P extends string = never,
  C extends string = never,
> {
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
   * Derives the target host from other inputs (e.g. a shell session id): the
   * returned alias/hostname goes through the same resolution, platform gate,
   * timeout clamp and command policy as a `host` input. Throws for an unknown
   * reference (before any I/O).
   */
  hostFrom?: (args: z.output<I>, env: { app: AppServices; sessionKey: string }) => string;
  /**
   * Input fields whose values are hashed into the audit line
   * (`unit` -> `unit_hash`, etc.); never logged in clear.
   */
  auditHash?: Partial<Record<"unit_hash" | "package_hash" | "command_hash", string>>;
  /** remote path fields (SECURITY.md §PATH), checked by the registry */
  paths?: readonly PathDecl<P & keyof z.output<I> & string>[];
  /** MCP-native task support (`execution.taskSupport`), TOOLS.md §15 */
  taskSupport?: "optional";
  /** the shell command field (SECURITY.md §EXEC), checked by the registry */
  command?: CommandDecl<C & keyof z.output<I> & string>;
  handler(args: CheckedArgs<z.output<I>, P, C>, ctx: ToolContext): Promise<z.output<O>>;
}

/** A registered tool with derived metadata. */
export interface Tool extends Omit<ToolSpec<z.ZodObject, z.ZodObject, string, string>, "hostFrom"> {
  hostFrom?: (
    args: Record<string, unknown>,
    env: { app: AppServices; sessionKey: string },
  ) => string;
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

/** Declares a tool. Type parameters are inferred from the schemas and declarations. */
export function defineTool<
  I extends z.ZodObject,
  O extends z.ZodObject,
  P extends string = never,
  C extends string = never,
>(
  spec: ToolSpec<I, O, P, C>,
): Tool {
  const shape = spec.input.shape as Record<string, unknown>;
  const hostFieldNames = spec.hostFields ?? ("host" in shape ? ["host"] : []);
  if (spec.command && hostFieldNames.length === 0 && !spec.hostFrom) {
    throw new Error(`${spec.name} declares a command field but no host to check it against`);
  }
  return {
    ...(spec as unknown as ToolSpec<z.ZodObject, z.ZodObject, string, string>),
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
