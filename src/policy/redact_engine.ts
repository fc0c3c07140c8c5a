/**
 * The redaction engine for one text (SECURITY.md §RED): the line table, the
 * candidate replacements every layer proposes, their resolution into
 * non-overlapping edits (RED-22), the marker (RED-14) and rendering of the
 * redacted text with one record per marker.
 *
 * Layers only propose; nothing a layer proposes is ever dropped so that a
 * secret survives. Resolution works on groups of overlapping candidates: a
 * candidate that covers its whole group replaces everything in it (the
 * earliest layer wins among equal spans, so JSON-aware markers keep JSON
 * valid); a group of partial overlaps becomes one marker over the union.
 *
 * @module
 */

import { MarkerHash } from "./redact_hash.ts";
import { KeyClassifier, type KeyStrength } from "./redact_patterns.ts";
import { isHarmless, type ValueContext } from "./redact_values.ts";

/** Resolved redaction policy of one host. */
export interface RedactOptions {
  /** upper-case key tokens */
  keys: string[];
  /** HMAC key; "" = plain SHA-256 */
  salt: string;
  /** base64/hex run detection */
  entropy: boolean;
  /** 0..4 characters of each end shown in the marker */
  hintChars: number;
}

/** One marker in the output. */
export interface Redaction {
  /** the key whose value was replaced (or the token shape); null for entropy and PEM hits */
  key: string | null;
  /** the 12 hex characters of the marker */
  hash: string;
  /** 1-based line of the input where the value starts; null for PEM blocks */
  line: number | null;
  kind: "key_match" | "entropy_base64" | "entropy_hex" | "pem_block";
}

/** One hasher per salt (a deployment has one salt). */
const hashers = new Map<string, MarkerHash>();

/** The marker text and its hash (RED-14). */
export function marker(value: string, opts: RedactOptions): { text: string; hash: string } {
  let h = hashers.get(opts.salt);
  if (!h) {
    if (hashers.size > 4) hashers.clear();
    h = new MarkerHash(opts.salt);
    hashers.set(opts.salt, h);
  }
  const hash = h.hex(value).slice(0, 12);
  const cps = [...value];
  const k = Math.max(0, Math.min(4, Math.trunc(opts.hintChars)));
  let hint = "";
  if (k > 0 && cps.length >= 2 * k) {
    // deno-lint-ignore no-control-regex
    const safe = (xs: string[]) => xs.join("").replace(/[\u0000-\u001f\u007f<>]/g, "?");
    hint = ` hint:${safe(cps.slice(0, k))}...${safe(cps.slice(-k))}`;
  }
  return { text: `<sha:${hash} len:${cps.length}${hint}>`, hash };
}

/** What a secret candidate replaces its span with. */
export interface SecretInfo {
  kind: Redaction["kind"];
  key: string | null;
  /** the value hashed (default: the span's text) */
  value?: string;
  /** JSON string context: escape the marker; `quote`: wrap it in quotes */
  json?: "inside" | "quote";
  /** text around the marker (PEM bodies keep their line layout) */
  wrap?: [string, string];
}

/** One proposed replacement of [start, end). */
interface Candidate {
  start: number;
  end: number;
  /** layer order: lower wins among equal spans */
  prio: number;
  seq: number;
  /** literal replacement (no record) */
  literal?: string;
  secret?: SecretInfo;
}

/** Line table of a text. */
export class Lines {
  /** offset of the first character of each line */
  readonly starts: number[] = [0];
  readonly #texts: string[];
  /** Indexes the lines of `text`. */
  constructor(readonly text: string) {
    for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n", i + 1)) {
      this.starts.push(i + 1);
    }
    this.#texts = text.split("\n");
  }
  /** number of lines */
  get count(): number {
    return this.starts.length;
  }
  /** [start, end) of line i (0-based), end excluding the newline and a CR before it */
  span(i: number): [number, number] {
    const s = this.starts[i]!;
    const next = this.starts[i + 1];
    let e = next === undefined ? this.text.length : next - 1;
    if (e > s && this.text.charCodeAt(e - 1) === 13) e--;
    return [s, e];
  }
  /** text of line i (0-based), without the line break */
  get(i: number): string {
    const t = this.#texts[i]!;
    return t.endsWith("\r") ? t.slice(0, -1) : t;
  }
  /** 0-based line of an offset */
  lineOf(pos: number): number {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid]! <= pos) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }
}

/** The redaction state of one text: the layers propose, {@link Redactor.render} resolves. */
export class Redactor {
  /** line table of {@link Redactor.text} */
  readonly lines: Lines;
  /** the layer now proposing (set by `redact()`; lower wins among equal spans) */
  layer = 0;
  readonly #cands: Candidate[] = [];
  readonly #keys: KeyClassifier;
  /** Starts redacting `text` with `opts`. */
  constructor(readonly text: string, readonly opts: RedactOptions) {
    this.lines = new Lines(text);
    this.#keys = new KeyClassifier(opts.keys);
  }

  /** RED-11/18/19/20: how strongly `key` names a secret. */
  keyStrength(key: string): KeyStrength {
    return this.#keys.strength(key);
  }

  /** True when `key` names a secret. */
  isSecretKey(key: string): boolean {
    return this.#keys.matches(key);
  }

  /** Proposes replacing [start, end) by a marker; false when the span is empty. */
  secret(start: number, end: number, info: SecretInfo): boolean {
    if (end <= start) return false;
    this.#cands.push({ start, end, prio: this.layer, seq: this.#cands.length, secret: info });
    return true;
  }

  /** Proposes replacing [start, end) by fixed text (no record). */
  literal(start: number, end: number, text: string): void {
    this.#cands.push({ start, end, prio: this.layer, seq: this.#cands.length, literal: text });
  }

  /**
   * The value [start, end) of `key`: proposed as a `key_match` when the key
   * names a secret and the value is not harmless (RED-21). Surrounding
   * whitespace is left out. True when proposed.
   */
  keyed(
    key: string,
    start: number,
    end: number,
    o: {
      ctx?: ValueContext;
      json?: "inside" | "quote";
      value?: string;
      recordKey?: string;
      /** treat the key as a strong match (Kubernetes Secret data, anchors) */
      force?: boolean;
    } = {},
  ): boolean {
    const strength = o.force ? "strong" : this.keyStrength(key);
    if (strength === "none") return false;
    while (start < end && /\s/.test(this.text[start]!)) start++;
    while (end > start && /\s/.test(this.text[end - 1]!)) end--;
    if (end <= start) return false;
    if (isHarmless(o.value ?? this.text.slice(start, end), strength, o.ctx ?? "assign", key)) {
      return false;
    }
    return this.secret(start, end, {
      kind: "key_match",
      key: o.recordKey ?? key,
      ...(o.json ? { json: o.json } : {}),
      ...(o.value !== undefined ? { value: o.value } : {}),
    });
  }

  /** Resolves the candidates (RED-22), then builds the output text and the records. */
  render(): { content: string; redactions: Redaction[] } {
    const edits = resolve(this.#cands);
    let out = "";
    let pos = 0;
    const redactions: Redaction[] = [];
    for (const e of edits) {
      out += this.text.slice(pos, e.start);
      if (e.secret) {
        const s = e.secret;
        const m = marker(s.value ?? this.text.slice(e.start, e.end), this.opts);
        redactions.push({
          key: s.key,
          hash: m.hash,
          line: s.kind === "pem_block" ? null : this.lines.lineOf(e.start) + 1,
          kind: s.kind,
        });
        const t = s.json === "inside"
          ? JSON.stringify(m.text).slice(1, -1)
          : s.json === "quote"
          ? JSON.stringify(m.text)
          : m.text;
        out += s.wrap ? s.wrap[0] + t + s.wrap[1] : t;
      } else {
        out += e.literal ?? "";
      }
      pos = e.end;
    }
    out += this.text.slice(pos);
    return { content: out, redactions };
  }
}

/** Orders candidates by start, longest first, then layer, then arrival. */
function byStart(a: Candidate, b: Candidate): number {
  return a.start - b.start || b.end - a.end || a.prio - b.prio || a.seq - b.seq;
}

/** RED-22: non-overlapping edits covering every proposed secret span. */
function resolve(cands: Candidate[]): Candidate[] {
  cands.sort(byStart);
  const out: Candidate[] = [];
  let i = 0;
  while (i < cands.length) {
    const first = cands[i]!;
    let end = first.end;
    let j = i + 1;
    while (j < cands.length && cands[j]!.start < end) {
      end = Math.max(end, cands[j]!.end);
      j++;
    }
    if (j === i + 1) out.push(first);
    else resolveGroup(cands.slice(i, j), first.start, end, out);
    i = j;
  }
  return out;
}

/**
 * One group of overlapping candidates spanning [start, end): a candidate
 * covering the whole group replaces it (earliest layer among equals);
 * otherwise (partial overlaps) the whole group becomes one marker, named
 * after the earliest layer's secret. Linear in the group's size.
 */
function resolveGroup(
  group: Candidate[],
  start: number,
  end: number,
  out: Candidate[],
): void {
  let cover: Candidate | null = null;
  let named: Candidate | null = null;
  for (const c of group) {
    if (c.start === start && c.end === end && (cover === null || c.prio < cover.prio)) cover = c;
    if (c.secret && (named === null || c.prio < named.prio)) named = c;
  }
  if (cover !== null) {
    out.push(cover);
    return;
  }
  if (named === null) {
    out.push(group[0]!); // literals only (never overlapping in practice): keep the first
    return;
  }
  const { kind, key } = named.secret!;
  out.push({ start, end, prio: named.prio, seq: named.seq, secret: { kind, key } });
}
