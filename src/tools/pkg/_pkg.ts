/**
 * Argument schemas and `prepare` helpers shared by the pkg group's tools.
 *
 * @module
 */

import { z } from "zod";
import { aptPattern, MAX_PACKAGES, packageNames } from "./_words.ts";
import type { AptPattern, PackageName } from "./_words.ts";

/** The `packages` parameter (each R_PKG, at least one; checked in `prepare`). */
export const PackagesArg = z.array(z.string().max(128)).max(MAX_PACKAGES).describe(
  "Debian package names",
);

/** The `pattern` parameter (R_APT_PATTERN, checked in `prepare`). */
export const PatternArg = z.string().max(128).describe(
  "Package glob",
);

/** The `check` parameter of every apt mutation. */
export const CheckArg = z.boolean().default(false).describe(
  "Dry run (apt -s)",
);

/** `prepare` of tools with a `packages` input. */
export function preparePackages({ packages }: { packages: readonly string[] }): {
  packages: PackageName[];
} {
  return { packages: packageNames(packages) };
}

/** `prepare` of tools with an optional `pattern` input. */
export function preparePattern({ pattern }: { pattern?: string | null }): {
  pattern: AptPattern | null;
} {
  return { pattern: pattern === null || pattern === undefined ? null : aptPattern(pattern) };
}
