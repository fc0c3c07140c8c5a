/**
 * Shell-like words of one line for the redaction layers, in linear time
 * (SECURITY.md §RED RED-36): `"..."` (backslash escapes), `'...'` and
 * `` `...` `` are one word each; a quote that is never closed on the line
 * is an ordinary character (remembered, so no quote is searched for twice),
 * which keeps a line of a million unclosed quotes linear.
 *
 * @module
 */

/** One word: its text (quotes included) and absolute start offset. */
export interface Word {
  text: string;
  start: number;
}

/** Remembers, per quote character, from where on no closing quote exists. */
export class QuoteMemo {
  readonly #none = new Map<string, number>();
  /** Offset in `s` of the quote closing the one at `at`, or -1 (never rescans a failed tail). */
  close(s: string, at: number): number {
    const q = s[at]!;
    const none = this.#none.get(q);
    if (none !== undefined && at >= none) return -1;
    for (let k = at + 1; k < s.length; k++) {
      const c = s[k];
      if (c === "\\" && q === '"') {
        k++;
        continue;
      }
      if (c === q) return k;
    }
    this.#none.set(q, at);
    return -1;
  }
}

const SPACE = /\s/;

/**
 * The words of `line` (at absolute offset `at`); `stop` characters end a
 * bare word and are not words themselves (e.g. `|;&()` for commands).
 * At most `max` words.
 */
export function words(line: string, at: number, stop = "", max = Infinity): Word[] {
  const out: Word[] = [];
  const memo = new QuoteMemo();
  let k = 0;
  const n = line.length;
  while (k < n && out.length < max) {
    const c = line[k]!;
    if (SPACE.test(c) || stop.includes(c)) {
      k++;
      continue;
    }
    const s = k;
    if (c === '"' || c === "'" || c === "`") {
      const e = memo.close(line, k);
      if (e >= 0) {
        out.push({ text: line.slice(s, e + 1), start: at + s });
        k = e + 1;
        continue;
      }
    }
    k++;
    while (k < n && !SPACE.test(line[k]!) && !stop.includes(line[k]!)) k++;
    out.push({ text: line.slice(s, k), start: at + s });
  }
  return out;
}

/** The inside of a quoted word as [start, end); the whole word when unquoted. */
export function inner(w: Word): [number, number] {
  const q = w.text[0];
  if ((q === '"' || q === "'" || q === "`") && w.text.length >= 2 && w.text.at(-1) === q) {
    return [w.start + 1, w.start + w.text.length - 1];
  }
  return [w.start, w.start + w.text.length];
}
