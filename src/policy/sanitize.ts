/**
 * Output sanitizer for untrusted remote text (SECURITY.md §OUT).
 *
 * - {@link sanitize}: strips ANSI escape sequences and NUL bytes (with a
 *   warning) and flags, without modifying, bidi controls, zero-width
 *   characters, C1 controls, LLM protocol markers and fake conversation turns.
 * - {@link scan}: flags only, for content that must stay byte-exact; warnings
 *   say "(not stripped)".
 *
 * Both are idempotent on clean text and return de-duplicated warnings.
 *
 * @module
 */

const ANSI_RE = new RegExp(
  [
    "\\x1b\\[[\\x30-\\x3f]*[\\x20-\\x2f]*[\\x40-\\x7e]", // CSI
    "\\x1b\\][^\\x07\\x1b]*(?:\\x07|\\x1b\\\\)", // OSC
    "\\x1b[@-~]", // single-character escapes
  ].join("|"),
  "g",
);
// deno-lint-ignore no-control-regex
const NUL_RE = /\x00/g;
const BIDI_RE = /[\u202A-\u202E\u2066-\u2069\u200E\u200F]/;
const ZERO_WIDTH_RE = /[\u200B-\u200D\uFEFF]/;
const C1_RE = /[\u0080-\u009F]/;
const MARKERS = [
  "<|im_start|>",
  "<|im_end|>",
  "<|endoftext|>",
  "<|fim_prefix|>",
  "<|fim_middle|>",
  "<|fim_suffix|>",
  "<|tool_call|>",
  "<|tool_response|>",
  "</s>",
  "<s>",
  "[inst]",
  "[/inst]",
  "<|begin_of_text|>",
  "<|end_of_text|>",
  "<|start_header_id|>",
  "<|end_header_id|>",
];
const FAKE_TURN_RE =
  /(?:^|[\n\r\u2028\u2029\u0085])[ \t]*(?:user|assistant|system|human|ai)[ \t]*:/i;

/** Warning texts (stable: tests and skills refer to them). */
export const WARN = {
  ansi: "ANSI escape sequences stripped",
  nul: "NUL bytes stripped",
  bidi: "bidi control characters present",
  zeroWidth: "zero-width characters present",
  c1: "C1 control characters present",
  markers: "LLM protocol markers present",
  fakeTurn: "text resembling a conversation turn (user:/assistant:/system:) present",
} as const;

function flags(text: string, out: string[], suffix: string): void {
  if (BIDI_RE.test(text)) out.push(WARN.bidi + suffix);
  if (ZERO_WIDTH_RE.test(text)) out.push(WARN.zeroWidth + suffix);
  if (C1_RE.test(text)) out.push(WARN.c1 + suffix);
  const lower = text.toLowerCase();
  if (MARKERS.some((m) => lower.includes(m))) out.push(WARN.markers + suffix);
  if (FAKE_TURN_RE.test(text)) out.push(WARN.fakeTurn + suffix);
}

/** Result of {@link sanitize}. */
export interface Sanitized {
  text: string;
  warnings: string[];
}

/** Strips ANSI/NUL and flags the rest (OUT-3/OUT-4). */
export function sanitize(text: string): Sanitized {
  const warnings: string[] = [];
  let t = text;
  if (t.includes("\x1b")) {
    const stripped = t.replace(ANSI_RE, "");
    if (stripped !== t) warnings.push(WARN.ansi);
    t = stripped;
  }
  if (t.includes("\x00")) {
    t = t.replace(NUL_RE, "");
    warnings.push(WARN.nul);
  }
  flags(t, warnings, "");
  return { text: t, warnings };
}

/** Flags only; the text is not modified (OUT-5). */
export function scan(text: string): string[] {
  const warnings: string[] = [];
  if (text.includes("\x1b") && new RegExp(ANSI_RE.source).test(text)) {
    warnings.push("ANSI escape sequences present (not stripped)");
  }
  if (text.includes("\x00")) warnings.push("NUL bytes present (not stripped)");
  flags(text, warnings, " (not stripped)");
  return warnings;
}

/** Concatenates warning lists keeping the first occurrence of each. */
export function mergeWarnings(...lists: readonly (readonly string[])[]): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const l of lists) {
    for (const w of l) {
      if (!seen.has(w)) {
        seen.add(w);
        out.push(w);
      }
    }
  }
  return out;
}
