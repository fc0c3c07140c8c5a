/**
 * Secret redaction for `ssh_read_redacted` / `ssh_sudo_read_redacted`
 * (SECURITY.md §RED, RED-10..RED-17 and RED-18..RED-39 in
 * `docs/security/redact.md`; REFERENCE_GAPS.md #10).
 *
 * Runs on the MCP server before anything is returned (RED-17). The input is
 * decoded by its bytes (RED-30: byte-order marks, UTF-16/32 without one,
 * legacy single-byte files), or, when a caller already decoded UTF-16 as
 * UTF-8, repaired (RED-31). Then every layer proposes replacements and the
 * engine resolves them (RED-22: nothing proposed is dropped so that a
 * secret survives). Layers, in priority order (an earlier layer wins among
 * equal spans):
 *
 * 1. key blocks: PEM, SSH2, PuTTY (`redact_pem.ts`), always;
 * 2. JSON pairs and name/value records (`redact_json.ts`);
 * 3. XML attributes, records, secret elements, plist (`redact_xml.ts`);
 * 4. lines: assignments in every syntax, YAML structure, directives,
 *    `.pgpass`, `.netrc`, Redis ACL, strongSwan, HCL variables
 *    (`redact_lines.ts`, `redact_yaml.ts`);
 * 5. inline: URL userinfo, Authorization / Bearer, assignments inside other
 *    syntax, call arguments (`redact_inline.ts`);
 * 6. command lines: `curl -u`, `sshpass -p`, `mysql -p`, secret options
 *    (`redact_cli.ts`);
 * 7. known token shapes (`redact_tokens.ts`), always;
 * 8. with the file's path: rules chosen by name (`redact_names.ts`);
 * 9. with entropy detection on: random-looking base64/base64url and hex runs
 *    (`redact_entropy.ts`).
 *
 * RED-12: every parser runs on every file, so the `format` (explicit or
 * detected from the name) can only add, never take a parser away; it is
 * reported as `format_detected`.
 *
 * Key matching (RED-11, RED-18..RED-20) lives in `redact_patterns.ts`,
 * harmless values and randomness (RED-21, RED-28) in `redact_values.ts`,
 * the marker (RED-14) and resolution in `redact_engine.ts`.
 *
 * @module
 */

import path from "node:path";
import type { HostPolicy, Settings } from "../config/types.ts";
import { effectivePolicy } from "./effective.ts";
import { redactCommandLines } from "./redact_cli.ts";
import { decodeForRedaction, recoverMisdecoded, type TextEncodingName } from "./redact_decode.ts";
import { type Redaction, type RedactOptions, Redactor } from "./redact_engine.ts";
import { redactEntropyRuns } from "./redact_entropy.ts";
import { redactInlineSecrets } from "./redact_inline.ts";
import { redactJson } from "./redact_json.ts";
import { redactLines } from "./redact_lines.ts";
import { redactByName } from "./redact_names.ts";
import { BUILTIN_REDACT_KEYS } from "./redact_patterns.ts";
import { redactKeyBlocks } from "./redact_pem.ts";
import { redactTokens } from "./redact_tokens.ts";
import { redactXml } from "./redact_xml.ts";
import { yamlContext } from "./redact_yaml.ts";

export { marker } from "./redact_engine.ts";
export type { Redaction, RedactOptions } from "./redact_engine.ts";
export { BUILTIN_REDACT_KEYS, keyMatches } from "./redact_patterns.ts";
export { decodeForRedaction } from "./redact_decode.ts";
export type { TextEncodingName } from "./redact_decode.ts";

/** Format names (RED-12): reported, and never able to turn a parser off. */
export type RedactFormat = "env" | "yaml" | "json" | "ini" | "generic";

/** Every format name, for schemas. */
export const REDACT_FORMATS: readonly RedactFormat[] = ["env", "yaml", "json", "ini", "generic"];

/** What the caller knows about the file beyond its content. */
export interface RedactContext {
  /** the file's (canonical) path: enables the rules chosen by name (RED-39) */
  path?: string;
}

/** Result of {@link redact}. */
export interface RedactResult {
  content: string;
  redactions: Redaction[];
  warnings: string[];
  /** how the text was read (RED-30/31) */
  encoding: TextEncodingName;
}

/** Warning added when markers are plain SHA-256 (empty salt, RED-14). */
export const WEAK_MARKER_WARNING =
  "SSH_REDACT_SALT is empty: redaction markers are plain SHA-256 hashes, so a guessed secret " +
  "can be confirmed by hashing it; set SSH_REDACT_SALT (32+ characters) for keyed markers.";

/** Warning added when text decoded as UTF-8 turned out to be UTF-16/32 (RED-31). */
export const MISDECODED_WARNING =
  "the file is UTF-16/32 text that was decoded as UTF-8: NUL characters were removed before " +
  "redaction and characters outside ASCII are shown as U+FFFD";

/** RED-12: the format reported for a file, from its canonical path. */
export function detectFormat(canonicalPath: string): RedactFormat {
  const base = path.posix.basename(canonicalPath.replaceAll("\\", "/"));
  const lower = base.toLowerCase();
  if (lower.endsWith(".env") || lower.startsWith(".env.")) return "env";
  if (lower.endsWith(".yml") || lower.endsWith(".yaml")) return "yaml";
  if (lower.endsWith(".json")) return "json";
  if (lower.endsWith(".ini") || lower.endsWith(".cfg") || lower.endsWith(".conf")) return "ini";
  if (!base.includes(".")) return "env";
  return "generic";
}

/**
 * RED-10 precedence: host `redact_keys_replace` > env
 * `SSH_REDACT_KEYS_REPLACE` > built-ins ∪ env `_ADD` ∪ host `_add`; tokens
 * upper-cased. Scalars: host value over env value.
 */
export function redactionOptions(policy: HostPolicy, settings: Settings): RedactOptions {
  const tokens = policy.redact_keys_replace.length > 0
    ? policy.redact_keys_replace
    : settings.SSH_REDACT_KEYS_REPLACE.length > 0
    ? settings.SSH_REDACT_KEYS_REPLACE
    : [...BUILTIN_REDACT_KEYS, ...settings.SSH_REDACT_KEYS_ADD, ...policy.redact_keys_add];
  const keys = [...new Set(tokens.map((t) => t.trim().toUpperCase()).filter((t) => t !== ""))];
  const eff = effectivePolicy(policy, settings);
  return {
    keys,
    salt: settings.SSH_REDACT_SALT ?? "",
    entropy: eff.redact_entropy_detection,
    hintChars: eff.redact_hint_chars,
  };
}

/** The layers in priority order (RED-22: lower wins among equal spans). */
const LAYERS: readonly ((r: Redactor) => void)[] = [
  redactKeyBlocks,
  redactJson,
  redactXml,
  (r) => redactLines(r, yamlContext(r)),
  redactInlineSecrets,
  redactCommandLines,
  redactTokens,
];

/**
 * Redacts a file (RED-13..RED-16, RED-18..RED-39): `input` is the file's
 * bytes (decoded by RED-30) or text already decoded (repaired by RED-31).
 * `ctx.path` adds the rules chosen by file name (RED-39). Returns the
 * redacted text (line structure kept except PEM bodies, which become one
 * marker line; trailing newline preserved; empty in, empty out), one
 * record per marker, and warnings. `format` (RED-12) never removes a
 * parser: every layer runs for every format.
 */
export function redact(
  input: string | Uint8Array,
  format: RedactFormat,
  opts: RedactOptions,
  ctx: RedactContext = {},
): RedactResult {
  const warnings = opts.salt ? [] : [WEAK_MARKER_WARNING];
  let text: string;
  let encoding: TextEncodingName = "utf-8";
  if (typeof input === "string") {
    const fixed = recoverMisdecoded(input);
    text = fixed ?? input;
    if (fixed !== null) warnings.push(MISDECODED_WARNING);
  } else {
    const d = decodeForRedaction(input);
    text = d.text;
    encoding = d.encoding;
    if (encoding !== "utf-8") warnings.push(`the file was decoded as ${encoding} before redaction`);
  }
  if (text === "") return { content: "", redactions: [], warnings, encoding };
  void format; // RED-12: reported by the tools; no parser depends on it
  const r = new Redactor(text, opts);
  LAYERS.forEach((layer, i) => {
    r.layer = i;
    layer(r);
  });
  if (ctx.path) {
    r.layer = LAYERS.length;
    redactByName(r, ctx.path);
  }
  if (opts.entropy) {
    r.layer = LAYERS.length + 1;
    redactEntropyRuns(r);
  }
  const { content, redactions } = r.render();
  return { content, redactions, warnings, encoding };
}
