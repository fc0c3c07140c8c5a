/**
 * Remote path confinement (SECURITY.md §PATH, PATH-1..PATH-14, PATH-22,
 * PATH-24): the resolution chain every path-bearing tool goes through.
 *
 * Order (PATH-11): characters -> canonicalize on the host -> allowlist ->
 * restricted prefixes -> built-in protected paths (PATH-45) -> restricted
 * globs -> redact-bypass gate. The first failure wins. Every decision is taken on the canonical path (INV-5), and the
 * deny side is matched on normalised forms (NFC, case-folded when the host is
 * case-insensitive, Windows hardening) while the allow side is never widened.
 *
 * Canonicalization on the host lives in `canonicalize.ts`, the lexical rules
 * in `path_syntax.ts`, the built-in protected paths in `protected_paths.ts`,
 * whole-subtree checks and listing filters in `subtree.ts`.
 *
 * No remote I/O happens for a path rejected by the character check, and no
 * path ever reaches a shell unquoted.
 *
 * @module
 */

import type { HostPolicy, Settings } from "../config/types.ts";
import { ToolError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { CheckedPath } from "../checked.ts";
import { Canonicalizer, type PathIo } from "./canonicalize.ts";
import { mintPath } from "./mint.ts";
import { ProtectedPaths, type ProtectedZone } from "./protected_paths.ts";
import { checkSubtree, hiddenBy, type SubtreeCheck, type SubtreeResult } from "./subtree.ts";
import { effectivePolicy } from "./effective.ts";
import { matchGlobs } from "./globs.ts";
import {
  assertPathChars,
  assertWindowsSafe,
  isAbsoluteRemote,
  isInside,
  matchRestricted,
  normalizeRemote,
  notAllowed,
} from "./path_syntax.ts";

export type { PathIo, PathIoResult, PathSftp, PathStats } from "./canonicalize.ts";
export {
  PROTECTED_HOME_ENTRIES,
  PROTECTED_SYSTEM_PATHS,
  PROTECTED_WINDOWS_HOME_ENTRIES,
  type ProtectedZone,
} from "./protected_paths.ts";
export {
  assertNotRoot,
  hiddenWarning,
  joinRel,
  linkTextProblem,
  type SubtreeEntry,
  type SubtreeEntryKind,
  type SubtreeListing,
  type SubtreeNeeds,
  type SubtreeResult,
} from "./subtree.ts";
export {
  assertPathChars,
  assertWindowsSafe,
  isAbsoluteRemote,
  isInside,
  matchRestricted,
  MAX_PATH_BYTES,
  normalizeRemote,
} from "./path_syntax.ts";

/** One path check (SECURITY.md §PATH resolution chain). */
export interface PathCheckRequest {
  tool: string;
  policy: HostPolicy;
  raw: string;
  mustExist: boolean;
  /** PATH-10 redact-bypass gate */
  redactGate: boolean;
  /** false: canonicalize the parent and keep the leaf (act on a symlink itself) */
  follow: boolean;
  /** true: `raw` is an absolute normalised path checked without remote canonicalization (PATH-22) */
  lexical: boolean;
  io: PathIo;
}

/** Outcome of an admitted path. */
export interface PathCheckResult {
  path: CheckedPath;
  /** e.g. the redact `warn` text; added to the result's output_warnings */
  warnings: string[];
  /** the path is redact-listed and the policy let it through (audit flag) */
  redactBypass: boolean;
}

/** One whole-subtree check (PATH-33..PATH-36, PATH-42); see `subtree.ts`. */
export interface SubtreeCheckRequest extends SubtreeCheck {
  /** I/O on the root's host (built-in protected paths, relative link targets) */
  io: PathIo;
}

/** The remote path policy (implemented in `src/policy/paths.ts`). */
export interface PathChecker {
  /** Throws PathNotAllowed / PathRestricted / RedactBypassBlocked; never widens access. */
  check(req: PathCheckRequest): Promise<PathCheckResult>;
  /**
   * PATH-33..PATH-36, PATH-42: an admitted root whose whole subtree the
   * operation acts on (or where a listed tree lands). Throws like `check`.
   */
  checkSubtree(req: SubtreeCheckRequest): Promise<SubtreeResult>;
  /**
   * PATH-37: a predicate that is true for the paths a listing must hide
   * (restricted zones, built-in protected paths, restricted globs).
   */
  listingFilter(policy: HostPolicy, io: PathIo): Promise<(p: string) => boolean>;
  /** PATH-45: the built-in protected zones of a host (learned once per host). */
  protectedZones(policy: HostPolicy, io: PathIo, lexical: boolean): Promise<ProtectedZone[]>;
}

/** The warning added by the `warn` redact-bypass policy (RED-3, byte-exact). */
export const REDACT_WARN_TEXT =
  "redact-list path: prefer ssh_read_redacted (this delivered raw secrets to the LLM)";

/** The tool a `RedactBypassBlocked` error points to (PATH-10). */
export const SUGGESTED_REDACTED_TOOL = "ssh_read_redacted";

/**
 * The effective allowlist roots of a host, normalised (`*` -> `/`). Used by
 * PATH-26 (never delete an allowlist root or one of its ancestors).
 */
export function allowlistRoots(policy: HostPolicy, settings: Settings): string[] {
  const out = effectivePolicy(policy, settings).path_allowlist.map((e) =>
    e === "*" || e === "/" ? "/" : normalizeRemote(e, policy.platform)
  );
  return [...new Set(out.filter((e) => e !== ""))];
}

/** Implements {@link PathChecker} (app.paths). */
class RemotePathChecker implements PathChecker {
  readonly #settings: Settings;
  readonly #canon: Canonicalizer;
  readonly #protected: ProtectedPaths;

  constructor(settings: Settings, logger: Logger) {
    this.#settings = settings;
    this.#canon = new Canonicalizer(logger);
    this.#protected = new ProtectedPaths(settings, logger);
  }

  protectedZones(policy: HostPolicy, io: PathIo, lexical: boolean): Promise<ProtectedZone[]> {
    return this.#protected.zones(policy, io, { lexical });
  }

  async checkSubtree(req: SubtreeCheckRequest): Promise<SubtreeResult> {
    const zones = await this.protectedZones(req.policy, req.io, false);
    return await checkSubtree(req, {
      settings: this.#settings,
      zones,
      lexical: (p) =>
        this.check({
          tool: req.tool,
          policy: req.policy,
          raw: p,
          mustExist: false,
          redactGate: req.redactGate,
          follow: true,
          lexical: true,
          io: req.io,
        }),
    });
  }

  async listingFilter(policy: HostPolicy, io: PathIo): Promise<(p: string) => boolean> {
    const zones = await this.protectedZones(policy, io, false);
    return (p) => hiddenBy(policy, this.#settings, zones, p) !== null;
  }

  async check(req: PathCheckRequest): Promise<PathCheckResult> {
    const { policy } = req;
    const platform = policy.platform;
    const alias = policy.alias;
    // 1. characters (no I/O on rejection)
    assertPathChars(req.raw);
    if (platform === "windows") assertWindowsSafe(req.raw);
    const eff = effectivePolicy(policy, this.#settings);
    if (eff.path_allowlist.length === 0) {
      // default deny needs no remote I/O either (INV-1, INV-2)
      throw notAllowed(
        `No remote path is allowed on ${alias}: its path_allowlist and SSH_PATH_ALLOWLIST are both empty. ` +
          `Ask the operator to add an allowlist root (path_allowlist in hosts.toml or SSH_PATH_ALLOWLIST).`,
        { stage: "allowlist" },
      );
    }
    // 2. canonicalize
    let canonical: string;
    if (req.lexical) {
      if (!isAbsoluteRemote(req.raw, platform)) {
        throw notAllowed(
          `The path ${req.raw} is not absolute; this check needs an absolute path on ${alias}.`,
          { stage: "canonicalize" },
        );
      }
      canonical = normalizeRemote(req.raw, platform);
    } else if (!req.follow) {
      canonical = await this.#canon.leaf(req);
    } else {
      canonical = await this.#canon.resolved(req);
    }
    assertPathChars(canonical, "resolved path");
    if (platform === "windows") assertWindowsSafe(canonical, "resolved path");
    const shown = canonical === req.raw ? canonical : `${req.raw} (resolved to ${canonical})`;
    // 3. allowlist (allow side: exact, never widened by normalisation)
    const roots = allowlistRoots(policy, this.#settings);
    if (!roots.some((r) => isInside(canonical, r, platform))) {
      throw notAllowed(
        `Path ${shown} is outside the allowlist of ${alias} (${roots.join(", ")}). ` +
          `Use a path inside it; ssh_describe_host shows the policy.`,
        { stage: "allowlist" },
      );
    }
    const ci = policy.case_insensitive_paths || platform === "windows";
    // 4. restricted prefixes
    const restrictedRoots = eff.restricted_paths.map((r) => normalizeRemote(r, platform));
    const zone = matchRestricted(canonical, restrictedRoots, platform, ci);
    if (zone !== null) {
      throw new ToolError(
        "PathRestricted",
        `Path ${shown} is in the restricted zone ${zone} of ${alias} (restricted_paths / SSH_RESTRICTED_PATHS). ` +
          `File tools never touch restricted zones; only the exec tier can, if the operator allows the command.`,
        { stage: "restricted", rule: zone },
      );
    }
    // 4b. built-in protected paths (PATH-45)
    const prot = await this.#protected.zones(policy, req.io, { lexical: req.lexical });
    const pz = prot.find((z) => matchRestricted(canonical, [z.path], platform, ci) !== null);
    if (pz) {
      throw new ToolError(
        "PathRestricted",
        `Path ${shown} is inside the built-in protected path ${pz.path} of ${alias} (${pz.why}): ` +
          `a write there would run code on the host, so file tools never touch it. ` +
          `Use another path; the operator can switch these protections off with SSH_BUILTIN_PROTECTED_PATHS=false.`,
        { stage: "protected", rule: pz.path },
      );
    }
    // 5. restricted globs
    const glob = matchGlobs(canonical, eff.restricted_globs, {
      caseInsensitive: ci,
      windows: platform === "windows",
    });
    if (glob !== null) {
      throw new ToolError(
        "PathRestricted",
        `Path ${shown} matches the restricted glob ${glob} of ${alias} (restricted_globs / SSH_RESTRICTED_GLOBS). ` +
          `File tools never touch it; only the exec tier can, if the operator allows the command.`,
        { stage: "restricted_glob", rule: glob },
      );
    }
    // 6. redact-bypass gate
    const warnings: string[] = [];
    let redactBypass = false;
    if (req.redactGate) {
      const hit = matchGlobs(canonical, eff.redact_paths_globs, {
        caseInsensitive: ci,
        windows: platform === "windows",
      });
      if (hit !== null) {
        const mode = eff.redact_bypass_policy;
        if (mode === "block") {
          const sudo = req.tool.startsWith("ssh_sudo_");
          throw new ToolError(
            "RedactBypassBlocked",
            `Path ${shown} matches the redact list of ${alias} (${hit}) and the redact bypass policy is block: ` +
              `${req.tool} would hand raw secrets to the LLM. Read the file with ` +
              (sudo ? "ssh_sudo_read_redacted (or ssh_read_redacted)" : SUGGESTED_REDACTED_TOOL) +
              `, which masks secret values.`,
            { stage: "redact", rule: hit, suggested_tool: SUGGESTED_REDACTED_TOOL },
          );
        }
        redactBypass = true;
        if (mode === "warn") warnings.push(REDACT_WARN_TEXT);
      }
    }
    return { path: mintPath(canonical), warnings, redactBypass };
  }
}

/** The remote path policy of a running server (`app.paths`). */
export function createPathChecker(deps: { settings: Settings; logger: Logger }): PathChecker {
  return new RemotePathChecker(deps.settings, deps.logger);
}
