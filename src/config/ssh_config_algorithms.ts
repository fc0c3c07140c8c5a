/**
 * Algorithm lists: the ssh2 defaults and supported names
 * ({@link ssh2Algorithms}), OpenSSH's `+` / `-` / `^` list modifiers
 * ({@link applyAlgorithmModifiers}) and the mapping of resolved lists onto
 * ssh2's `algorithms` option ({@link toSsh2Algorithms}).
 *
 * @module
 */

import { ssh2Constants } from "../util/ssh2_lib.ts";
import { wildcardMatch } from "./ssh_config_match.ts";
import type { AlgorithmDefaults, SshConfigResult } from "./ssh_config_types.ts";

function stringList(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
}

/** ssh2's default and supported algorithm lists. */
export interface Ssh2AlgorithmLists {
  defaults: AlgorithmDefaults;
  supported: AlgorithmDefaults;
}

let lists: Ssh2AlgorithmLists | null = null;

/**
 * The algorithm names of the bundled ssh2 (default and supported lists, as
 * computed by ssh2 for this runtime's crypto). Needs `loadSsh2Constants()`
 * first: `SshConfig.parse` awaits it, so every resolved configuration has it.
 */
export function ssh2Algorithms(): Ssh2AlgorithmLists {
  if (lists) return lists;
  const C = ssh2Constants();
  lists = {
    defaults: {
      ciphers: stringList(C.DEFAULT_CIPHER),
      macs: stringList(C.DEFAULT_MAC),
      kexAlgorithms: stringList(C.DEFAULT_KEX),
      hostKeyAlgorithms: stringList(C.DEFAULT_SERVER_HOST_KEY),
    },
    supported: {
      ciphers: stringList(C.SUPPORTED_CIPHER),
      macs: stringList(C.SUPPORTED_MAC),
      kexAlgorithms: stringList(C.SUPPORTED_KEX),
      hostKeyAlgorithms: stringList(C.SUPPORTED_SERVER_HOST_KEY),
    },
  };
  return lists;
}

function dedupe(list: string[]): string[] {
  return [...new Set(list)];
}

/**
 * Applies an OpenSSH algorithm list value to `defaults`: `+a,b` appends,
 * `-a,b*` removes (wildcards allowed), `^a,b` puts first, a plain list
 * replaces. Duplicates are removed.
 */
export function applyAlgorithmModifiers(value: string, defaults: string[]): string[] {
  const mod = value[0];
  const names = (mod === "+" || mod === "-" || mod === "^" ? value.slice(1) : value)
    .split(",")
    .filter((n) => n !== "");
  switch (mod) {
    case "+":
      return dedupe([...defaults, ...names]);
    case "^":
      return dedupe([...names, ...defaults]);
    case "-":
      return defaults.filter((d) => !names.some((n) => wildcardMatch(d, n)));
    default:
      return dedupe(names);
  }
}

/** Result of {@link toSsh2Algorithms}. */
export interface Ssh2Algorithms {
  cipher?: string[];
  hmac?: string[];
  kex?: string[];
  serverHostKey?: string[];
  warnings: string[];
  error?: string;
}

/**
 * ssh2 `algorithms` option (`cipher` / `hmac` / `kex` / `serverHostKey`) for
 * the algorithm lists of `r`, dropping names ssh2 does not support (with a
 * warning). When nothing usable is left of a list the result is fail-closed:
 * the list keeps the unsupported names (ssh2 then refuses to connect with
 * "Unsupported algorithm") and `error` says why — an empty list would make
 * ssh2 silently use its defaults, which the operator ruled out.
 */
export function toSsh2Algorithms(r: SshConfigResult): Ssh2Algorithms {
  const out: Ssh2Algorithms = { warnings: [] };
  const map: [keyof AlgorithmDefaults, "cipher" | "hmac" | "kex" | "serverHostKey", string][] = [
    ["ciphers", "cipher", "Ciphers"],
    ["macs", "hmac", "MACs"],
    ["kexAlgorithms", "kex", "KexAlgorithms"],
    ["hostKeyAlgorithms", "serverHostKey", "HostKeyAlgorithms"],
  ];
  for (const [field, key, keyword] of map) {
    const list = r[field];
    if (list === null) continue;
    const supported = ssh2Algorithms().supported[field];
    const kept = list.filter((n) => supported.includes(n));
    const dropped = list.filter((n) => !supported.includes(n));
    if (dropped.length > 0) {
      out.warnings.push(
        `ssh_config ${keyword}: not supported by ssh2, ignored: ${dropped.join(",")}`,
      );
    }
    if (kept.length === 0) {
      const e = `ssh_config ${keyword} lists no algorithm ssh2 supports (${
        list.join(",") || "empty list"
      }); the connection will be refused`;
      out.error = out.error === undefined ? e : `${out.error}; ${e}`;
      out.warnings.push(e);
      out[key] = list.length > 0 ? list : ["none"];
    } else {
      out[key] = kept;
    }
  }
  return out;
}
