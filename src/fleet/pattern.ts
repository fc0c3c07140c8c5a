/**
 * Fleet target patterns (Ansible style) over the hosts of hosts.toml.
 *
 * A pattern is a list of terms separated by `:` or `,`:
 *
 * - `web01` an alias; `web` a tag (every host whose `tags` contain it); a
 *   name that is both selects the union;
 * - `web*`, `db-0[1-3]` a glob (picomatch) over aliases and tags;
 * - `all` or `*` every host of hosts.toml;
 * - `&term` intersection, `!term` exclusion.
 *
 * Evaluation follows Ansible: the union of the plain terms (every host when
 * there is none), then each `&` term intersected, then each `!` term removed.
 * So `web:&prod:!db01` = hosts tagged `web` that are also `prod`, minus
 * `db01`. A plain name that is neither an alias nor a tag may still be a
 * hostname of an entry or an `SSH_HOSTS_ALLOWLIST` name; anything else is an
 * error (a typo must not silently shrink a rollout). Globs that match nothing
 * are fine.
 *
 * The result keeps hosts.toml order (then explicitly named extra hosts in the
 * order given). Blocked hosts are returned too; callers report them per host.
 *
 * @module
 */

// @ts-types="npm:@types/picomatch@4.0.3"
import picomatch from "picomatch";
import type { HostPolicy } from "../config/types.ts";
import { ToolError } from "../errors.ts";

/** The host lookups a pattern needs (implemented by `HostRegistry`). */
export interface PatternHosts {
  /** hosts.toml entries in file order */
  list(): HostPolicy[];
  /** alias -> hostname -> allowlist resolution, without the blocklist */
  lookup(name: string): HostPolicy | undefined;
}

/** One parsed term. */
export interface PatternTerm {
  op: "union" | "intersect" | "exclude";
  /** the term without its operator */
  text: string;
  glob: boolean;
}

/** Longest pattern accepted. */
export const MAX_PATTERN_LENGTH = 2000;

const TERM_RE = /^[A-Za-z0-9._@*?[\]-]+$/;
const GLOB_CHARS = /[*?[\]]/;

/** Splits a pattern into terms; throws ValueError on bad syntax. */
export function parsePattern(pattern: string): PatternTerm[] {
  if (pattern.length > MAX_PATTERN_LENGTH) {
    throw new ToolError("ValueError", `pattern is longer than ${MAX_PATTERN_LENGTH} characters.`);
  }
  const terms: PatternTerm[] = [];
  for (const rawTerm of pattern.split(/[:,]/)) {
    const t = rawTerm.trim();
    if (!t) continue;
    let op: PatternTerm["op"] = "union";
    let text = t;
    if (t.startsWith("&")) {
      op = "intersect";
      text = t.slice(1).trim();
    } else if (t.startsWith("!")) {
      op = "exclude";
      text = t.slice(1).trim();
    }
    if (text.startsWith("~")) {
      throw new ToolError(
        "ValueError",
        `pattern term ${
          JSON.stringify(t)
        }: regular-expression terms (~) are not supported; use globs (*, ?, [...]).`,
      );
    }
    if (!text || !TERM_RE.test(text)) {
      throw new ToolError(
        "ValueError",
        `pattern term ${
          JSON.stringify(t)
        } is invalid: terms are aliases, tags or globs made of [A-Za-z0-9._@-] and * ? [ ], optionally prefixed by & (and) or ! (not), separated by : or ,.`,
      );
    }
    terms.push({ op, text, glob: text === "all" || GLOB_CHARS.test(text) });
  }
  if (!terms.length) throw new ToolError("ValueError", "pattern is empty.");
  return terms;
}

/** Hosts selected by one term (aliases as a set, plus extra non-file hosts). */
function selectTerm(term: PatternTerm, hosts: PatternHosts, all: HostPolicy[]): HostPolicy[] {
  if (term.text === "all" || term.text === "*") return all;
  if (term.glob) {
    const m = picomatch(term.text, { dot: true, nonegate: true, noextglob: true });
    return all.filter((p) => m(p.alias) || p.tags.some((t) => m(t)));
  }
  const byAliasOrTag = all.filter((p) => p.alias === term.text || p.tags.includes(term.text));
  if (byAliasOrTag.length) return byAliasOrTag;
  const other = hosts.lookup(term.text);
  if (other) return [other];
  throw new ToolError(
    "ValueError",
    `pattern term ${
      JSON.stringify(term.text)
    } matches no alias, tag, hostname or SSH_HOSTS_ALLOWLIST name (see ssh_host_list).`,
  );
}

/** Resolves a pattern to host policies (see module docs). */
export function resolvePattern(pattern: string, hosts: PatternHosts): HostPolicy[] {
  const terms = parsePattern(pattern);
  const all = hosts.list();
  const order = new Map<string, number>();
  all.forEach((p, i) => order.set(p.alias, i));
  const byAlias = new Map<string, HostPolicy>();
  const extraOrder: string[] = [];
  const note = (ps: HostPolicy[]) => {
    for (const p of ps) {
      if (!byAlias.has(p.alias)) {
        byAlias.set(p.alias, p);
        if (!order.has(p.alias)) extraOrder.push(p.alias);
      }
    }
    return new Set(ps.map((p) => p.alias));
  };
  const unions = terms.filter((t) => t.op === "union");
  let selected: Set<string>;
  if (unions.length) {
    selected = new Set();
    for (const t of unions) for (const a of note(selectTerm(t, hosts, all))) selected.add(a);
  } else {
    selected = note(all);
  }
  for (const t of terms.filter((x) => x.op === "intersect")) {
    const s = note(selectTerm(t, hosts, all));
    selected = new Set([...selected].filter((a) => s.has(a)));
  }
  for (const t of terms.filter((x) => x.op === "exclude")) {
    for (const a of note(selectTerm(t, hosts, all))) selected.delete(a);
  }
  const rank = (a: string) => order.get(a) ?? all.length + extraOrder.indexOf(a);
  return [...selected].sort((a, b) => rank(a) - rank(b)).map((a) => byAlias.get(a)!);
}

/** Hosts of hosts.toml whose tags contain `tag` (exact), in file order. */
export function hostsWithTag(tag: string, hosts: PatternHosts): HostPolicy[] {
  return hosts.list().filter((p) => p.tags.includes(tag));
}
