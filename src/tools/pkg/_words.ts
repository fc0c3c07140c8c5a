/**
 * The words of the pkg group (TOOLS.md §3: R_APT_PATTERN, R_PKG), validated in
 * the tools' `prepare` stage before any remote I/O (SECURITY.md INV-2,
 * INPUT-1..3). The argv builders take only these branded words.
 *
 * @module
 */

import { valueError } from "../../errors.ts";

declare const packageBrand: unique symbol;
declare const aptPatternBrand: unique symbol;

/** A Debian package name that passed R_PKG. */
export type PackageName = string & { readonly [packageBrand]: true };
/** A package pattern that passed R_APT_PATTERN. */
export type AptPattern = string & { readonly [aptPatternBrand]: true };

const R_PKG = /^[a-z0-9][a-z0-9.+-]{0,127}$/;
const R_APT_PATTERN = /^[A-Za-z0-9._*?+-]{1,128}$/;

/** Most packages one call may name. */
export const MAX_PACKAGES = 200;

function shown(v: string): string {
  const s = JSON.stringify(v);
  return s.length > 80 ? s.slice(0, 77) + '..."' : s;
}

/** R_PKG (lowercase Debian package name; never a leading `-` or `.`). */
export function packageName(value: string, field = "package"): PackageName {
  if (!R_PKG.test(value)) {
    throw valueError(
      `${field}: ${
        shown(value)
      } is not a Debian package name (^[a-z0-9][a-z0-9.+-]{0,127}$, R_PKG)`,
      { parameter: field },
    );
  }
  return value as PackageName;
}

/** A non-empty list of R_PKG names, duplicates removed in first order (AC-781, AC-782). */
export function packageNames(values: readonly string[], field = "packages"): PackageName[] {
  if (values.length === 0) {
    throw valueError(`${field}: name at least one package`, { parameter: field });
  }
  if (values.length > MAX_PACKAGES) {
    throw valueError(`${field}: at most ${MAX_PACKAGES} packages per call`, { parameter: field });
  }
  const out: PackageName[] = [];
  values.forEach((v, i) => {
    const p = packageName(v, `${field}[${i}]`);
    if (!out.includes(p)) out.push(p);
  });
  return out;
}

/** R_APT_PATTERN; a leading `-` is refused as well (INPUT-3). */
export function aptPattern(value: string, field = "pattern"): AptPattern {
  if (!R_APT_PATTERN.test(value) || value.startsWith("-")) {
    throw valueError(
      `${field}: ${
        shown(value)
      } is not a package pattern (^[A-Za-z0-9._*?+-]{1,128}$, R_APT_PATTERN, no leading "-")`,
      { parameter: field },
    );
  }
  return value as AptPattern;
}
