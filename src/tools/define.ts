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
import type { CheckedCommand, CheckedPath } from "../checked.ts";
import type { Group, Settings, Tier } from "../config/types.ts";
import type { ShellStore } from "../shell/store.ts";
import type { Host, ToolContext } from "./context.ts";

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
 * disabled) the redact-bypass gate, and hands the handler a `CheckedPath`.
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
  /**
   * `elevated`: canonicalize inside a root shell of the call's elevation
   * (sudo tools, SUDO-8); default: as the SSH user
   */
  canonicalize?: "elevated";
  /**
   * The operation acts on the whole subtree below this path (SECURITY.md
   * PATH-33..PATH-36, PATH-42): `true` for the subtree as it is (a recursive
   * delete, the source of a move or copy); `{ receives: "<field>" }` when
   * the subtree of another declared path field lands here (the destination
   * of a move, copy or transfer: every name and relative link is checked at
   * its new place). The registry refuses the call when the subtree contains
   * a restricted zone, a built-in protected path, a restricted-glob match or
   * (with the redact gate in block mode) a redact-listed path. Every tool
   * that acts on a directory declares it.
   */
  subtree?: true | { receives: F };
  /**
   * PATH-26: the operation may never act on `/`, a drive root, an allowlist
   * root or an ancestor of one (refused before the subtree check); the verb
   * names it in the error ("delete", "move").
   */
  notRoot?: string;
}

/**
 * The caller-owned shell command field of an exec-family tool. The registry
 * runs the cheatsheet (when enabled) and the command policy (SECURITY.md §EXEC,
 * §CHEAT) and hands the handler a `CheckedCommand`.
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

/**
 * What the validation stage may use: settings, the local environment and the
 * admitted hosts' policies. It gets no file system and no exec: nothing in it
 * can reach a host.
 */
export interface PrepareContext {
  readonly settings: Readonly<Settings>;
  readonly env: Readonly<Record<string, string>>;
  readonly signal: AbortSignal;
  readonly hosts: ReadonlyMap<string, Host>;
}

/** What `hostFrom` may consult to derive the target host. */
export interface HostFromContext {
  readonly sessionKey: string;
  readonly shells: ShellStore;
}

/** The declaration of one tool. */
export interface ToolSpec<
  I extends z.ZodObject,
  O extends z.ZodObject,
  P extends string = never,
  C extends string = never,
  V = undefined,
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
  /**
   * Hints that differ from the tier's defaults ({@link annotationsFor}): what
   * the tool actually does (e.g. a dangerous-tier poller that only reads the
   * server's task table is read-only and closed-world).
   */
  hints?: Partial<ToolAnnotations>;
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
  hostFrom?: (args: z.output<I>, env: HostFromContext) => string;
  /**
   * Fan-out tools admit further targets per call with `ctx.admitTarget`
   * (blocklist, platform gate, timeout ceiling per target).
   */
  fanOut?: true;
  /**
   * `host-opt-in`: a dangerous-tier tool that may run through the host's sudo
   * path (`ctx.elevation()`) when the host lists the tool's group in
   * `sudo_tool_groups` and the sudo tier is on (ALLOW_DANGEROUS_TOOLS and
   * ALLOW_SUDO). Sudo-tier tools always may.
   */
  elevation?: "host-opt-in";
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
  /**
   * The validation stage: runs after parsing and host resolution and BEFORE
   * the path stage, with no access to any host (INV-2: payload and local file
   * checks come before remote canonicalization). Its result is the handler's
   * third argument; when it has a `Symbol.dispose` method the registry calls
   * it once the call ends, whatever happened.
   */
  prepare?: (args: z.output<I>, ctx: PrepareContext) => Promise<V> | V;
  handler(
    args: CheckedArgs<z.output<I>, P, C>,
    ctx: ToolContext,
    prepared: V,
  ): Promise<z.output<O>>;
}

/** A registered tool with derived metadata. */
export interface Tool
  extends Omit<ToolSpec<z.ZodObject, z.ZodObject, string, string, unknown>, "hostFrom"> {
  hostFrom?: (args: Record<string, unknown>, env: HostFromContext) => string;
  readonly annotations: ToolAnnotations;
  readonly hostFieldNames: readonly string[];
  readonly skillSlug: string;
}

/**
 * What the registry knows about a tool without evaluating its module: enough
 * for visibility, `tools/list`, search, `ssh_plan` and the start-up summary.
 * The catalog the server serves (`catalog_lazy.ts`) is made of these, built
 * from the generated `catalog_gen.ts`; a tool's group module is imported on
 * the first call of one of its tools ({@link ToolMeta.load}), so start-up
 * does not pay for 100+ declarations and their dependencies (issue 17).
 */
export interface ToolMeta {
  readonly name: string;
  readonly group: Group;
  readonly tier: Tier;
  readonly description: string;
  readonly title?: string;
  readonly tags?: readonly ToolTag[];
  readonly annotations: ToolAnnotations;
  readonly taskSupport?: "optional";
  readonly skillSlug: string;
  readonly posixOnly?: boolean;
  /** the kind of the declared command field, or null (`ssh_plan`) */
  readonly commandKind: CommandDecl["kind"] | null;
  /** per declared path field: whether the redact-bypass gate applies (`ssh_plan`) */
  readonly pathRedactGates: readonly boolean[];
  /** the declaration itself when it is already in memory (test catalogs, synthetic tools) */
  readonly declared?: Tool;
  /** the full declaration (its group module imported on first use, then cached) */
  load(): Promise<Tool>;
}

/**
 * Annotations derived from the tier (TOOLS.md §1, SECURITY.md TIER-9), then
 * corrected by the tool's own `hints` (issue 12: annotations tell the truth).
 */
export function annotationsFor(
  name: string,
  tier: Tier,
  destructive: boolean | undefined,
  hints?: Partial<ToolAnnotations>,
): ToolAnnotations {
  return { ...tierAnnotations(name, tier, destructive), ...hints };
}

function tierAnnotations(
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
  V = undefined,
>(
  spec: ToolSpec<I, O, P, C, V>,
): Tool {
  const shape = spec.input.shape as Record<string, unknown>;
  const hostFieldNames = spec.hostFields ?? ("host" in shape ? ["host"] : []);
  if (spec.command && hostFieldNames.length === 0 && !spec.hostFrom) {
    throw new Error(`${spec.name} declares a command field but no host to check it against`);
  }
  const pathFields = (spec.paths ?? []).map((d) => d.field as string);
  (spec.paths ?? []).forEach((d, i) => {
    const st = d.subtree;
    if (st && st !== true && !pathFields.slice(0, i).includes(st.receives)) {
      throw new Error(
        `${spec.name}: path ${d.field} receives ${st.receives}, which must be a path field declared before it`,
      );
    }
  });
  return {
    ...(spec as unknown as ToolSpec<z.ZodObject, z.ZodObject, string, string, unknown>),
    annotations: annotationsFor(spec.name, spec.tier, spec.destructive, spec.hints),
    hostFieldNames,
    skillSlug: spec.name.replaceAll("_", "-"),
  };
}

/** The `host` parameter shared by every host tool. */
export const HostArg = z.string().min(1).max(100).describe(
  "Host alias",
);

/** Per-call timeout in seconds (clamped by SSH_MAX_COMMAND_TIMEOUT). */
export const TimeoutArg = z.number().int().min(1).nullish().describe(
  "Seconds",
);
