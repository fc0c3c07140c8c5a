/**
 * Text helpers: the strict UTF-8 check that names the first bad byte
 * (AC-010) and the edit rules of TOOLS.md §7 (`ssh_edit`, `ssh_sudo_edit`),
 * shared by the file and sudo tools, and the locale-free string order of
 * listings.
 *
 * @module
 */

/**
 * Orders strings by UTF-16 code units: the same order on every machine (no
 * locale), and no ICU collator to set up on the first comparison, as
 * `localeCompare` does (about 9 ms of a cold start, issue 17).
 */
export function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Byte offset of the first invalid UTF-8 sequence, or -1. */
export function invalidUtf8Offset(b: Uint8Array): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i]!;
    let n = 0;
    let min = 0;
    if (c < 0x80) {
      i++;
      continue;
    } else if (c >= 0xc2 && c <= 0xdf) (n = 1, min = 0x80);
    else if (c >= 0xe0 && c <= 0xef) (n = 2, min = 0x800);
    else if (c >= 0xf0 && c <= 0xf4) (n = 3, min = 0x10000);
    else return i;
    let cp = c & (0x3f >> n);
    for (let k = 1; k <= n; k++) {
      const x = b[i + k];
      if (x === undefined || (x & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (x & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += n + 1;
  }
  return -1;
}

/** Counts non-overlapping occurrences (Python `str.count`). */
export function countOccurrences(text: string, needle: string): number {
  return text.split(needle).length - 1;
}

/** An edit rule failure; callers map it to their error class (WriteError / SudoFileOpError). */
export class EditRuleError extends Error {
  constructor(message: string, readonly occurrences: number) {
    super(message);
    this.name = "EditRuleError";
  }
}

/**
 * Applies the edit rules (TOOLS.md §7) to `text`: `old_string` must occur, and
 * exactly once unless `occurrence` is `all`. Replacement is literal
 * (split/join), so `$&`-style patterns in `newString` stay as written.
 */
export function applyEdit(
  text: string,
  oldString: string,
  newString: string,
  occurrence: "single" | "all",
): { text: string; count: number } {
  const n = countOccurrences(text, oldString);
  if (n === 0) {
    throw new EditRuleError(
      "old_string was not found in the file; nothing was changed. Re-read the file: the text must match exactly, including whitespace and line breaks.",
      0,
    );
  }
  if (occurrence === "single" && n > 1) {
    throw new EditRuleError(
      `old_string occurs ${n} times; with occurrence="single" it must occur exactly once. Add surrounding context to old_string, or pass occurrence="all".`,
      n,
    );
  }
  const parts = text.split(oldString);
  if (occurrence === "all") return { text: parts.join(newString), count: n };
  return { text: parts[0] + newString + parts.slice(1).join(oldString), count: 1 };
}
