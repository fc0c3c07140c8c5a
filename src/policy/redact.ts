/**
 * Secret redaction for `ssh_read_redacted` / `ssh_sudo_read_redacted`
 * (SECURITY.md §RED, RED-10..RED-17; REFERENCE_GAPS.md #10).
 *
 * Runs on the MCP server before anything is returned (RED-17). Layers, in
 * order; a later layer never touches text an earlier one already replaced:
 *
 * 1. PEM blocks (`-----BEGIN X-----` ... `-----END X-----`), always, even
 *    with entropy detection off: header kept, body replaced by one marker,
 *    closing line `-----END (redacted)-----`; an unterminated block is
 *    redacted to the end of the text (fail closed);
 * 2. key/value lines by format: env/ini assignments (`export` and commented
 *    `# KEY=old` lines included) and `key: value` lines (so an
 *    `Authorization:` header in an env file is caught); YAML `key: value`
 *    with block scalars (`key: |`, `key: >`) and nested blocks under a secret
 *    key; generic = env else YAML; every format: JSON pairs, where a secret
 *    key's non-string value (number, array, object) is replaced whole;
 * 3. URL userinfo passwords (`scheme://user:pass@host`), `Authorization:`
 *    header credentials and `Bearer <token>` anywhere;
 * 4. with entropy detection on, outside comment lines: base64-like runs of
 *    20+ characters, then hex runs of 32+ (a run of hex digits is reported as
 *    `entropy_hex`).
 *
 * Key matching (RED-11): tokens are upper-case; `^X$` exact, `^X` prefix, `X$`
 * suffix, otherwise substring; a key with any non-ASCII character matches
 * (fail closed against homoglyph keys such as `PАSSWORD` with a Cyrillic А).
 *
 * Marker (RED-14): `<sha:<12 hex> len:<N>>` (+ ` hint:<first k>...<last k>`),
 * HMAC-SHA256 keyed with `SSH_REDACT_SALT`, or plain SHA-256 (with a warning)
 * when the salt is empty. `len` counts code points.
 *
 * Files: this module (formats, per-host options, the layer order),
 * `redact_patterns.ts` (key tokens, key matching, regular expressions),
 * `redact_engine.ts` (edit list, line table, marker, rendering),
 * `redact_structured.ts` (layers 1-2: PEM, env/ini, YAML, JSON),
 * `redact_inline.ts` (layer 3) and `redact_entropy.ts` (layer 4).
 *
 * @module
 */

import path from "node:path";
import type { HostPolicy, Settings } from "../config/types.ts";
import { effectivePolicy } from "./effective.ts";
import { type Redaction, type RedactOptions, Redactor } from "./redact_engine.ts";
import { redactEntropyRuns } from "./redact_entropy.ts";
import { redactInlineSecrets } from "./redact_inline.ts";
import { BUILTIN_REDACT_KEYS, COLON_LINE } from "./redact_patterns.ts";
import {
  redactColonLine,
  redactEnvLine,
  redactJsonPairs,
  redactPemBlocks,
} from "./redact_structured.ts";

export { marker } from "./redact_engine.ts";
export type { Redaction, RedactOptions } from "./redact_engine.ts";
export { BUILTIN_REDACT_KEYS, keyMatches } from "./redact_patterns.ts";

/** Parser selection (RED-12). */
export type RedactFormat = "env" | "yaml" | "json" | "ini" | "generic";

/** Every format name, for schemas. */
export const REDACT_FORMATS: readonly RedactFormat[] = ["env", "yaml", "json", "ini", "generic"];

/** Result of {@link redact}. */
export interface RedactResult {
  content: string;
  redactions: Redaction[];
  warnings: string[];
}

/** Warning added when markers are plain SHA-256 (empty salt, RED-14). */
export const WEAK_MARKER_WARNING =
  "SSH_REDACT_SALT is empty: redaction markers are plain SHA-256 hashes, so a guessed secret " +
  "can be confirmed by hashing it; set SSH_REDACT_SALT (32+ characters) for keyed markers.";

/** RED-12: the parser for a file, from its canonical path. */
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

/**
 * Redacts `text` parsed as `format` (RED-13..RED-16). Returns the redacted
 * text (line structure kept except PEM bodies, which become one marker line;
 * trailing newline preserved; empty in, empty out), one record per marker,
 * and warnings (plain SHA-256 markers when the salt is empty).
 */
export function redact(text: string, format: RedactFormat, opts: RedactOptions): RedactResult {
  const warnings = opts.salt ? [] : [WEAK_MARKER_WARNING];
  if (text === "") return { content: "", redactions: [], warnings };
  const r = new Redactor(text, opts);
  redactPemBlocks(r);
  r.edits.commit();
  const L = r.lines;
  for (let i = 0; i < L.count; i++) {
    switch (format) {
      case "env":
      case "ini":
        i = redactEnvLine(r, i) ?? redactColonLine(r, i, false);
        break;
      case "yaml":
        // a KEY=value line is not YAML syntax but may still hold a secret
        i = COLON_LINE.test(L.get(i)) ? redactColonLine(r, i, true) : (redactEnvLine(r, i) ?? i);
        break;
      case "generic":
        i = redactEnvLine(r, i) ?? redactColonLine(r, i, true);
        break;
      case "json":
        break;
    }
  }
  r.edits.commit();
  redactJsonPairs(r);
  r.edits.commit();
  redactInlineSecrets(r);
  r.edits.commit();
  if (opts.entropy) redactEntropyRuns(r);
  r.edits.commit();
  const { content, redactions } = r.render();
  return { content, redactions, warnings };
}
