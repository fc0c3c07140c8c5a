/**
 * Zones hold for whole subtrees (SECURITY.md PATH-33..PATH-44): the policy
 * decisions for operations that act on everything below a path (move, copy,
 * transfer, recursive delete, a symbolic link to a directory), for trees that
 * land somewhere new (each name and each relative link checked at its new
 * place), and for listings (names inside restricted zones are hidden).
 *
 * Pure: the names come from a capped walk the caller does on the host
 * (`SubtreeListing`); restricted prefixes and built-in protected paths are
 * decided lexically, globs and redact globs on the walked names.
 *
 * @module
 */

import path from "node:path";
import type { HostPolicy, Settings } from "../config/types.ts";
import { ToolError } from "../errors.ts";
import { effectivePolicy } from "./effective.ts";
import { matchGlobs } from "./globs.ts";
import {
  isAbsoluteRemote,
  isInside,
  matchRestricted,
  matchRestrictedBelow,
  normalizeRemote,
  notAllowed,
} from "./path_syntax.ts";
import type { ProtectedZone } from "./protected_paths.ts";

/** Kind of a walked entry. */
export type SubtreeEntryKind = "file" | "dir" | "symlink" | "other";

/** One entry found below a subtree's root (the root itself has `rel` ""). */
export interface SubtreeEntry {
  /** path relative to the root, `/`-separated; "" for the root */
  rel: string;
  kind: SubtreeEntryKind;
  /** the text of a symbolic link (null for other kinds, or when not read) */
  link: string | null;
}

/** What a capped walk found. */
export interface SubtreeListing {
  entries: SubtreeEntry[];
  /** false: the walk stopped at the cap */
  complete: boolean;
  /** directories the walk could not read (their names are unknown) */
  unreadable: string[];
  /** the cap the walk used */
  cap: number;
}

/** What a subtree check needs from the host: nothing, the symbolic links, or every name. */
export type SubtreeNeeds = "none" | "links" | "all";

/** Outcome of an admitted subtree. */
export interface SubtreeResult {
  warnings: string[];
  redactBypass: boolean;
}

/** A lexical path check of the full chain (for relative link targets at their new place). */
export type LexicalCheck = (p: string) => Promise<{ warnings: string[]; redactBypass: boolean }>;

/** One subtree check (see {@link checkSubtree}). */
export interface SubtreeCheck {
  tool: string;
  policy: HostPolicy;
  /** canonical root: where the subtree is, or where it will land */
  root: string;
  redactGate: boolean;
  /** true: the listed tree lands at `root` (move, copy): names and relative links are checked there */
  lands: boolean;
  /** lists the subtree (the source's, when it lands here) */
  list(needs: SubtreeNeeds): Promise<SubtreeListing>;
}

/** `<root>/<rel>` (`rel` "" is the root). */
export function joinRel(root: string, rel: string): string {
  if (rel === "") return root;
  return root.endsWith("/") ? root + rel : `${root}/${rel}`;
}

/**
 * PATH-41: a symbolic link text whose `..` follows a name (`s/../x`) means
 * one thing lexically and another on the host when that name is (or later
 * becomes) a link; such texts are refused. Leading `..` components are exact
 * from the link's canonical directory. Returns the offending part, or null.
 */
export function linkTextProblem(text: string): string | null {
  let prev: string | null = null;
  for (const c of text.split("/")) {
    if (c === "" || c === ".") continue;
    if (c === ".." && prev !== null) return `${prev}/..`;
    if (c !== "..") prev = c;
  }
  return null;
}

function denyOpts(policy: HostPolicy): { ci: boolean; windows: boolean } {
  const windows = policy.platform === "windows";
  return { ci: policy.case_insensitive_paths || windows, windows };
}

/** The normalised restricted roots of a host. */
function restrictedRoots(policy: HostPolicy, settings: Settings): string[] {
  return effectivePolicy(policy, settings).restricted_paths.map((r) =>
    normalizeRemote(r, policy.platform)
  );
}

/**
 * PATH-37: why `p` must not appear in a listing (a restricted zone, a
 * built-in protected path, a restricted glob), or null.
 */
export function hiddenBy(
  policy: HostPolicy,
  settings: Settings,
  zones: readonly ProtectedZone[],
  p: string,
): string | null {
  const { ci, windows } = denyOpts(policy);
  const platform = policy.platform;
  const z = matchRestricted(p, restrictedRoots(policy, settings), platform, ci) ??
    matchRestricted(p, zones.map((x) => x.path), platform, ci);
  if (z !== null) return z;
  return matchGlobs(p, effectivePolicy(policy, settings).restricted_globs, {
    caseInsensitive: ci,
    windows,
  });
}

/** The `output_warnings` line of a listing that hid `n` names (PATH-37). */
export function hiddenWarning(n: number): string {
  return `${n} entr${n === 1 ? "y" : "ies"} hidden: inside restricted zones ` +
    `(restricted_paths, restricted_globs or the built-in protected paths)`;
}

/** What a subtree check has to list on the host. */
export function subtreeNeeds(
  policy: HostPolicy,
  settings: Settings,
  redactGate: boolean,
  lands: boolean,
): SubtreeNeeds {
  const eff = effectivePolicy(policy, settings);
  if (eff.restricted_globs.length > 0 || (redactGate && eff.redact_paths_globs.length > 0)) {
    return "all";
  }
  return lands ? "links" : "none";
}

/**
 * PATH-33..PATH-36, PATH-42: refuses an operation on a whole subtree when the
 * subtree contains (or, landing at `root`, would contain) a restricted zone,
 * a built-in protected path, a restricted-glob match or (with the redact
 * gate in `block` mode) a redact-listed path, or when a relative symbolic
 * link would point outside the policy at its new place. Never skips: too
 * many names, or a directory that cannot be read, refuse the operation.
 */
export async function checkSubtree(
  req: SubtreeCheck,
  deps: { settings: Settings; zones: readonly ProtectedZone[]; lexical: LexicalCheck },
): Promise<SubtreeResult> {
  const { policy, root, tool } = req;
  const alias = policy.alias;
  const platform = policy.platform;
  const { ci, windows } = denyOpts(policy);
  const where = req.lands ? `the tree ${tool} would put at ${root}` : `the subtree of ${root}`;
  const verb = req.lands ? "would contain" : "contains";
  const zone = matchRestrictedBelow(root, restrictedRoots(policy, deps.settings), platform, ci);
  if (zone !== null) {
    throw new ToolError(
      "PathRestricted",
      `${tool} acts on the whole subtree, and ${where} ${verb} the restricted zone ${zone} of ${alias} (restricted_paths / SSH_RESTRICTED_PATHS). ` +
        `Nothing was changed. Act on paths beside the zone instead; only the exec tier can touch it, if the operator allows the command.`,
      { stage: "subtree", rule: zone },
    );
  }
  const prot = deps.zones.find((z) => matchRestrictedBelow(root, [z.path], platform, ci) !== null);
  if (prot) {
    throw new ToolError(
      "PathRestricted",
      `${tool} acts on the whole subtree, and ${where} ${verb} the built-in protected path ${prot.path} of ${alias} (${prot.why}; a write there would run code). ` +
        `Nothing was changed. Act on paths beside it; the operator can switch these off with SSH_BUILTIN_PROTECTED_PATHS=false.`,
      { stage: "subtree", rule: prot.path },
    );
  }
  const needs = subtreeNeeds(policy, deps.settings, req.redactGate, req.lands);
  const out: SubtreeResult = { warnings: [], redactBypass: false };
  if (needs === "none") return out;
  const listing = await req.list(needs);
  if (listing.unreadable.length) {
    throw notAllowed(
      `${tool} acts on the whole subtree, but ${
        listing.unreadable[0]
      } inside it cannot be read by the SSH user, so its names cannot be checked against the policy of ${alias}. ` +
        `Nothing was changed; act on the readable parts one by one.`,
      { stage: "subtree" },
    );
  }
  if (!listing.complete) {
    throw notAllowed(
      `${tool} acts on the whole subtree, and ${where} has more than ${listing.cap} ${
        needs === "links" ? "symbolic links" : "entries"
      } (SSH_DELETE_FOLDER_MAX_ENTRIES), too many to check against restricted_globs, redact_paths_globs and link targets on ${alias}. ` +
        `Nothing was changed; act on smaller subdirectories, or ask the operator to raise the cap.`,
      { stage: "subtree" },
    );
  }
  const eff = effectivePolicy(policy, deps.settings);
  const gopts = { caseInsensitive: ci, windows };
  for (const e of listing.entries) {
    const p = joinRel(root, e.rel);
    if (needs === "all") {
      const glob = matchGlobs(p, eff.restricted_globs, gopts);
      if (glob !== null) {
        throw new ToolError(
          "PathRestricted",
          `${tool} acts on the whole subtree, and ${where} ${verb} ${p}, which matches the restricted glob ${glob} of ${alias} (restricted_globs / SSH_RESTRICTED_GLOBS). ` +
            `Nothing was changed; move or delete the other entries one by one.`,
          { stage: "subtree", rule: glob },
        );
      }
      if (req.redactGate) {
        const hit = matchGlobs(p, eff.redact_paths_globs, gopts);
        if (hit !== null) {
          if (eff.redact_bypass_policy === "block") {
            throw new ToolError(
              "RedactBypassBlocked",
              `${tool} acts on the whole subtree, and ${where} ${verb} ${p}, which matches the redact list of ${alias} (${hit}) while the redact bypass policy is block. ` +
                `Nothing was changed; leave redact-listed files where they are and read them with ssh_read_redacted.`,
              { stage: "subtree", rule: hit, suggested_tool: "ssh_read_redacted" },
            );
          }
          out.redactBypass = true;
          if (eff.redact_bypass_policy === "warn") {
            out.warnings.push(`${where} ${verb} the redact-listed path ${p}`);
          }
        }
      }
    }
    if (req.lands && e.kind === "symlink" && e.link !== null) {
      await checkMovedLink(req, deps, p, e.link);
    }
  }
  out.warnings = [...new Set(out.warnings)].slice(0, 5);
  return out;
}

/** PATH-42: a relative link's target is re-checked at the link's new place. */
async function checkMovedLink(
  req: SubtreeCheck,
  deps: { lexical: LexicalCheck },
  at: string,
  text: string,
): Promise<void> {
  const platform = req.policy.platform;
  if (isAbsoluteRemote(text, platform) && linkTextProblem(text) === null) return;
  const bad = linkTextProblem(text);
  if (bad !== null) {
    throw notAllowed(
      `${req.tool} would put the symbolic link ${at} (-> ${text}) in a new place; its target has "${bad}", whose meaning depends on other links, so it cannot be checked. ` +
        `Nothing was changed; replace the link with one whose target has no ".." after a name.`,
      { stage: "subtree" },
    );
  }
  const target = normalizeRemote(
    platform === "windows"
      ? path.win32.join(path.win32.dirname(at), text)
      : path.posix.join(path.posix.dirname(at), text),
    platform,
  );
  try {
    await deps.lexical(target);
  } catch (e) {
    if (e instanceof ToolError) {
      throw new ToolError(
        e.code,
        `${req.tool} would put the relative symbolic link ${at} (-> ${text}) in a new place, where it points to ${target}: ${e.message} Nothing was changed.`,
        { ...e.attributes, stage: "subtree" },
      );
    }
    throw e;
  }
}

/**
 * PATH-26 (and PATH-33 for moves): never act as a whole on `/`, a Windows
 * drive root, an effective allowlist root or an ancestor of one. Throws
 * `WriteError` naming the root; `verb` says what was refused.
 */
export function assertNotRoot(
  p: string,
  policy: HostPolicy,
  roots: readonly string[],
  verb: string,
): void {
  const platform = policy.platform;
  const n = normalizeRemote(p, platform);
  const isDrive = platform === "windows" && /^[A-Za-z]:[\\/]?$/.test(n);
  if (n === "/" || isDrive) {
    throw new ToolError("WriteError", `Refusing to ${verb} the filesystem root ${p}.`);
  }
  for (const root of roots) {
    if (root === "*" || root === "/") continue;
    const r = normalizeRemote(root, platform);
    if (isInside(r, n, platform)) {
      throw new ToolError(
        "WriteError",
        `Refusing to ${verb} ${p}: it is ${
          r === n ? "" : "an ancestor of "
        }the allowlisted root ${r} (path_allowlist / SSH_PATH_ALLOWLIST). Act on what is inside it instead.`,
      );
    }
  }
}
