/**
 * The redaction engine for one text (SECURITY.md §RED): the line table, the
 * sorted list of non-overlapping edits the layers add (earlier layers win),
 * the marker (RED-14) and rendering of the redacted text with one record per
 * marker. The layers themselves live in `redact_structured.ts`,
 * `redact_inline.ts` and `redact_entropy.ts`; `redact.ts` runs them in order.
 *
 * @module
 */

import { createHash, createHmac } from "node:crypto";

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
  /** the key whose value was replaced; null for entropy and PEM hits */
  key: string | null;
  /** the 12 hex characters of the marker */
  hash: string;
  /** 1-based line of the input where the value starts; null for PEM blocks */
  line: number | null;
  kind: "key_match" | "entropy_base64" | "entropy_hex" | "pem_block";
}

/** The marker text and its hash (RED-14). */
export function marker(value: string, opts: RedactOptions): { text: string; hash: string } {
  const hash =
    (opts.salt
      ? createHmac("sha256", opts.salt).update(value, "utf8")
      : createHash("sha256").update(value, "utf8")).digest("hex").slice(0, 12);
  const cps = [...value];
  const k = Math.max(0, Math.min(4, Math.trunc(opts.hintChars)));
  let hint = "";
  if (k > 0 && cps.length >= 2 * k) {
    // deno-lint-ignore no-control-regex
    const safe = (xs: string[]) => xs.join("").replace(/[\u0000-\u001f\u007f]/g, "?");
    hint = ` hint:${safe(cps.slice(0, k))}...${safe(cps.slice(-k))}`;
  }
  return { text: `<sha:${hash} len:${cps.length}${hint}>`, hash };
}

/** One replacement on the input text. */
export interface Edit {
  /** offset of the first replaced character */
  start: number;
  /** offset after the last replaced character */
  end: number;
  /** literal replacement (no record) */
  literal?: string;
  /** secret replacement */
  secret?: {
    value: string;
    kind: Redaction["kind"];
    key: string | null;
    line: number | null;
    /** JSON string context: escape the marker; `quote`: wrap it in quotes */
    json?: "inside" | "quote";
  };
}

/**
 * Sorted, non-overlapping edits; a new edit overlapping an accepted one is
 * dropped (earlier layers win). Edits of the current layer are kept apart and
 * merged by {@link Edits.commit}, so large inputs stay linear: within a layer
 * edits arrive almost in text order.
 */
export class Edits {
  /** the accepted edits, sorted by start */
  list: Edit[] = [];
  #pending: Edit[] = [];

  static #overlapsSorted(xs: readonly Edit[], start: number, end: number): boolean {
    let lo = 0;
    let hi = xs.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (xs[mid]!.start < start) lo = mid + 1;
      else hi = mid;
    }
    const prev = xs[lo - 1];
    const next = xs[lo];
    return (prev !== undefined && prev.end > start) || (next !== undefined && next.start < end);
  }

  /** Adds an edit to the current layer; false when it overlaps one already taken. */
  add(e: Edit): boolean {
    if (e.end < e.start || Edits.#overlapsSorted(this.list, e.start, e.end)) return false;
    const p = this.#pending;
    let i = p.length;
    while (i > 0 && p[i - 1]!.start > e.start) i--;
    if ((i > 0 && p[i - 1]!.end > e.start) || (i < p.length && p[i]!.start < e.end)) return false;
    p.splice(i, 0, e);
    return true;
  }

  /** Merges the current layer into the accepted edits. */
  commit(): void {
    const a = this.list;
    const b = this.#pending;
    if (b.length === 0) return;
    const out: Edit[] = [];
    let i = 0;
    let j = 0;
    while (i < a.length || j < b.length) {
      if (j >= b.length || (i < a.length && a[i]!.start <= b[j]!.start)) out.push(a[i++]!);
      else out.push(b[j++]!);
    }
    this.list = out;
    this.#pending = [];
  }
}

/** Line table of a text. */
export class Lines {
  /** offset of the first character of each line */
  readonly starts: number[] = [0];
  /** Indexes the lines of `text`. */
  constructor(readonly text: string) {
    for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n", i + 1)) {
      this.starts.push(i + 1);
    }
  }
  /** number of lines */
  get count(): number {
    return this.starts.length;
  }
  /** [start, end) of line i (0-based), end excluding the newline */
  span(i: number): [number, number] {
    const s = this.starts[i]!;
    const next = this.starts[i + 1];
    return [s, next === undefined ? this.text.length : next - 1];
  }
  /** text of line i (0-based), without the newline */
  get(i: number): string {
    const [s, e] = this.span(i);
    return this.text.slice(s, e);
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

/** The redaction state of one text: the layers add edits, {@link Redactor.render} applies them. */
export class Redactor {
  /** line table of {@link Redactor.text} */
  readonly lines: Lines;
  /** the edits taken so far */
  readonly edits: Edits = new Edits();
  /** Starts redacting `text` with `opts`. */
  constructor(readonly text: string, readonly opts: RedactOptions) {
    this.lines = new Lines(text);
  }

  /**
   * Replaces [start, end) by a marker of kind `kind` for `key` (`json`:
   * inside a JSON string, or a JSON non-string to quote); false when empty or
   * overlapping an earlier edit.
   */
  secret(
    start: number,
    end: number,
    kind: Redaction["kind"],
    key: string | null,
    json?: "inside" | "quote",
  ): boolean {
    if (end <= start) return false;
    const value = this.text.slice(start, end);
    if (json === "inside") {
      // hash the decoded string so the same secret gives the same marker in every format
      let decoded = value;
      try {
        decoded = JSON.parse(`"${value}"`);
      } catch {
        // keep the raw text
      }
      return this.edits.add({
        start,
        end,
        secret: { value: decoded, kind, key, line: this.#line(start, kind), json },
      });
    }
    return this.edits.add({
      start,
      end,
      secret: { value, kind, key, line: this.#line(start, kind), ...(json ? { json } : {}) },
    });
  }

  #line(pos: number, kind: Redaction["kind"]): number | null {
    return kind === "pem_block" ? null : this.lines.lineOf(pos) + 1;
  }

  /** Builds the output text and the records (in text order). */
  render(): { content: string; redactions: Redaction[] } {
    let out = "";
    let pos = 0;
    const redactions: Redaction[] = [];
    for (const e of this.edits.list) {
      out += this.text.slice(pos, e.start);
      if (e.secret) {
        const m = marker(e.secret.value, this.opts);
        redactions.push({
          key: e.secret.key,
          hash: m.hash,
          line: e.secret.line,
          kind: e.secret.kind,
        });
        if (e.literal !== undefined) out += e.literal;
        else if (e.secret.json === "inside") out += JSON.stringify(m.text).slice(1, -1);
        else if (e.secret.json === "quote") out += JSON.stringify(m.text);
        else out += m.text;
      } else {
        out += e.literal ?? "";
      }
      pos = e.end;
    }
    out += this.text.slice(pos);
    return { content: out, redactions };
  }
}
