/**
 * Which tools a configuration shows (SECURITY.md §TIER) and the `tools/list`
 * payload built from their declarations. A hidden tool is neither listed nor
 * callable; an unknown and a hidden name are indistinguishable (TIER-5). The
 * parts that need no zod live in listing.ts (re-exported here).
 *
 * @module
 */

import { z } from "zod";
import type { ToolMeta } from "../tools/define.ts";
import { generatedInputSchema, type ListedTool, listedToolsWith } from "./listing.ts";

export {
  ADVERTISED_OUTPUT_SCHEMA,
  advertisedAnnotations,
  catalogFor,
  type CatalogInfo,
  enabledTiers,
  isVisible,
  type ListedTool,
} from "./listing.ts";

/** JSON Schema of a zod object for `tools/list` (draft-7, like the SDK). */
export function jsonSchemaOf(schema: z.ZodObject, io: "input" | "output"): Record<string, unknown> {
  const js = z.toJSONSchema(schema, { target: "draft-7", io, unrepresentable: "any" }) as Record<
    string,
    unknown
  >;
  delete js.$schema;
  return compactSchema(js) as Record<string, unknown>;
}

/**
 * Drops what a JSON Schema says twice, keeping what it accepts unchanged:
 * integer bounds equal to the safe-integer limits zod emits for every
 * `.int()`, and `anyOf: [X, {type: "null"}]` (zod's `.nullable()`) folded
 * into X with `type: [X.type, "null"]` (keywords of other types do not apply
 * to null; an `enum`/`const` gains null).
 */
export function compactSchema(node: unknown, drop: ReadonlySet<string> = NO_KEYS): unknown {
  if (Array.isArray(node)) return node.map((n) => compactSchema(n, drop));
  if (!node || typeof node !== "object") return node;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node as Record<string, unknown>)) {
    if (drop.has(k)) continue;
    if (k === "minimum" && v === -Number.MAX_SAFE_INTEGER) continue;
    if (k === "maximum" && v === Number.MAX_SAFE_INTEGER) continue;
    out[k] = k === "properties" || k === "definitions" || k === "$defs"
      ? Object.fromEntries(
        Object.entries(v as object).map(([p, s]) => [p, compactSchema(s, drop)]),
      )
      : compactSchema(v, drop);
  }
  if (Array.isArray(out.anyOf)) out.anyOf = flattenAnyOf(out.anyOf);
  return foldNullable(out);
}

/** `anyOf: [{anyOf: [A, B]}, C]` is `anyOf: [A, B, C]`. */
function flattenAnyOf(members: unknown[]): unknown[] {
  return members.flatMap((m) => {
    const o = m as Record<string, unknown>;
    return o && typeof o === "object" && Object.keys(o).length === 1 && Array.isArray(o.anyOf)
      ? o.anyOf
      : [m];
  });
}

const NO_KEYS: ReadonlySet<string> = new Set();

/**
 * Keywords the advertised input schema leaves out: string length caps, the
 * top-level `additionalProperties: false` and regular expressions longer than
 * {@link MAX_ADVERTISED_PATTERN}. The server still enforces all of them with
 * the full zod schema (a bad value or an unknown key is refused with a message
 * naming it, INPUT-7); in `tools/list` they cost about 10 KB for what a caller
 * almost never hits or could not read.
 */
const UNADVERTISED: ReadonlySet<string> = new Set(["minLength", "maxLength"]);

/** The input schema `tools/list` advertises (validation still uses the zod schema). */
export function advertisedInputSchema(schema: z.ZodObject): Record<string, unknown> {
  const js = compactSchema(jsonSchemaOf(schema, "input"), UNADVERTISED) as Record<string, unknown>;
  if (js.additionalProperties === false) delete js.additionalProperties;
  const required = new Set(Array.isArray(js.required) ? js.required as string[] : []);
  const props = js.properties as Record<string, Record<string, unknown>> | undefined;
  if (props) {
    for (const [k, p] of Object.entries(props)) {
      if (!required.has(k)) props[k] = withoutNull(p);
      // an optional flag is off unless given: `default: false` says nothing more
      if (props[k]!.type === "boolean" && props[k]!.default === false) {
        const { default: _off, ...rest } = props[k]!;
        props[k] = rest;
      }
    }
  }
  return dropLongPatterns(js) as Record<string, unknown>;
}

/**
 * An optional property's `null` (zod `.nullish()`): leaving the key out says
 * the same, so the advertised type is the plain one (null is still accepted).
 */
function withoutNull(p: Record<string, unknown>): Record<string, unknown> {
  if (!Array.isArray(p.type) || p.type.length !== 2 || p.type[1] !== "null") return p;
  const out: Record<string, unknown> = { ...p, type: p.type[0] };
  if (Array.isArray(p.enum)) out.enum = p.enum.filter((v) => v !== null);
  return out;
}

/** Longest `pattern` worth advertising; longer ones (image references, times) are unreadable. */
const MAX_ADVERTISED_PATTERN = 80;

function dropLongPatterns(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(dropLongPatterns);
  if (!node || typeof node !== "object") return node;
  return Object.fromEntries(
    Object.entries(node as Record<string, unknown>).flatMap(([k, v]) =>
      k === "pattern" && typeof v === "string" && v.length > MAX_ADVERTISED_PATTERN ? [] : [[
        k,
        k === "properties"
          ? Object.fromEntries(
            Object.entries(v as object).map(([p, s]) => [p, dropLongPatterns(s)]),
          )
          : dropLongPatterns(v),
      ]]
    ),
  );
}

function foldNullable(s: Record<string, unknown>): Record<string, unknown> {
  const any = s.anyOf;
  if (!Array.isArray(any) || any.length !== 2) return s;
  const [x, n] = any as Record<string, unknown>[];
  if (JSON.stringify(n) !== '{"type":"null"}' || typeof x?.type !== "string") return s;
  if ("anyOf" in x || "oneOf" in x || "allOf" in x || "const" in x) return s;
  if (Object.keys(x).some((k) => k in s && k !== "anyOf" && k !== "description")) return s;
  const { anyOf: _drop, ...rest } = s;
  const folded: Record<string, unknown> = { ...x, ...rest, type: [x.type, "null"] };
  if (Array.isArray(x.enum)) folded.enum = [...x.enum, null];
  return folded;
}

/**
 * The advertised input schema of `tool`, a fresh copy each time (callers may
 * hand it to code that mutates): converted from the declaration when it is in
 * memory (test catalogs, the synthetic tools of search mode), else the
 * build-time one (listing.ts {@link generatedInputSchema}).
 */
export function inputSchemaOf(tool: ToolMeta): Record<string, unknown> {
  return tool.declared
    ? advertisedInputSchema(tool.declared.input)
    : generatedInputSchema(tool.name);
}

/** The `tools/list` entries of `tools`, in catalog order. */
export function listedTools(tools: readonly ToolMeta[]): ListedTool[] {
  return listedToolsWith(tools, inputSchemaOf);
}
