/**
 * Text decoding before redaction (SECURITY.md §RED, RED-30..RED-31): a file
 * is turned into text the way its bytes say, never by guessing UTF-8 alone.
 *
 * - a byte-order mark wins: UTF-8, UTF-16 LE/BE, UTF-32 LE/BE;
 * - without one, the position of the zero bytes tells UTF-16 and UTF-32
 *   text (one zero byte in every pair or three in every quad);
 * - valid UTF-8 is UTF-8; bytes that are not UTF-8 and hold no valid
 *   multi-byte sequence at all are a legacy single-byte file (ISO-8859-1 /
 *   Windows-1252), decoded so every character of a secret stays visible to
 *   the parsers; a mostly-UTF-8 file with stray bytes keeps U+FFFD.
 *
 * {@link recoverMisdecoded} repairs text that a caller already decoded as
 * UTF-8 from UTF-16/32 bytes (every ASCII character followed or preceded by
 * NUL characters), so `p\0a\0s\0s\0` cannot slip past the key patterns.
 *
 * @module
 */

/** How the bytes were read. */
export type TextEncodingName =
  | "utf-8"
  | "utf-16le"
  | "utf-16be"
  | "utf-32le"
  | "utf-32be"
  | "windows-1252";

/** The decoded text and the encoding that was used. */
export interface DecodedText {
  text: string;
  encoding: TextEncodingName;
  /** a byte-order mark was present (and removed) */
  bom: boolean;
}

/** How many bytes the zero-byte census looks at. */
const SAMPLE = 64 * 1024;

/** Decodes a file's bytes for redaction (RED-30). */
export function decodeForRedaction(bytes: Uint8Array): DecodedText {
  const b = bytes;
  if (b.length >= 4 && b[0] === 0xff && b[1] === 0xfe && b[2] === 0 && b[3] === 0) {
    return { text: decodeUtf32(b.subarray(4), true), encoding: "utf-32le", bom: true };
  }
  if (b.length >= 4 && b[0] === 0 && b[1] === 0 && b[2] === 0xfe && b[3] === 0xff) {
    return { text: decodeUtf32(b.subarray(4), false), encoding: "utf-32be", bom: true };
  }
  if (b.length >= 3 && b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf) {
    return { text: utf8(b.subarray(3)), encoding: "utf-8", bom: true };
  }
  if (b.length >= 2 && b[0] === 0xff && b[1] === 0xfe) {
    return { text: utf16(b.subarray(2), "utf-16le"), encoding: "utf-16le", bom: true };
  }
  if (b.length >= 2 && b[0] === 0xfe && b[1] === 0xff) {
    return { text: utf16(b.subarray(2), "utf-16be"), encoding: "utf-16be", bom: true };
  }
  const wide = zeroPattern(b);
  if (wide === "utf-32le" || wide === "utf-32be") {
    return { text: decodeUtf32(b, wide === "utf-32le"), encoding: wide, bom: false };
  }
  if (wide === "utf-16le" || wide === "utf-16be") {
    return { text: utf16(b, wide), encoding: wide, bom: false };
  }
  try {
    return {
      text: new TextDecoder("utf-8", { fatal: true }).decode(b),
      encoding: "utf-8",
      bom: false,
    };
  } catch {
    const lossy = utf8(b);
    // a legacy single-byte file: no valid multi-byte sequence anywhere
    // deno-lint-ignore no-control-regex
    if (!/[^\u0000-\u007f\ufffd]/.test(lossy)) {
      return {
        text: new TextDecoder("windows-1252").decode(b),
        encoding: "windows-1252",
        bom: false,
      };
    }
    return { text: lossy, encoding: "utf-8", bom: false };
  }
}

function utf8(b: Uint8Array): string {
  return new TextDecoder("utf-8", { ignoreBOM: true }).decode(b);
}

function utf16(b: Uint8Array, enc: "utf-16le" | "utf-16be"): string {
  return new TextDecoder(enc, { ignoreBOM: true }).decode(b);
}

function decodeUtf32(b: Uint8Array, le: boolean): string {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const parts: string[] = [];
  let chunk: number[] = [];
  for (let i = 0; i + 4 <= b.length; i += 4) {
    const cp = dv.getUint32(i, le);
    chunk.push(cp <= 0x10ffff && (cp < 0xd800 || cp > 0xdfff) ? cp : 0xfffd);
    if (chunk.length === 8192) {
      parts.push(String.fromCodePoint(...chunk));
      chunk = [];
    }
  }
  if (b.length % 4 !== 0) chunk.push(0xfffd);
  parts.push(String.fromCodePoint(...chunk));
  return parts.join("");
}

/**
 * UTF-16/32 without a byte-order mark, told by where the zero bytes sit:
 * ASCII-range text in UTF-16 LE has a zero at every odd offset, UTF-32 LE
 * at three offsets of four. Null when the bytes do not look wide.
 */
function zeroPattern(b: Uint8Array): TextEncodingName | null {
  const n = Math.min(b.length, SAMPLE) & ~3;
  if (n < 4) {
    if (b.length === 2 && (b[0] === 0) !== (b[1] === 0)) {
      return b[1] === 0 ? "utf-16le" : "utf-16be";
    }
    return null;
  }
  const z = [0, 0, 0, 0];
  for (let i = 0; i < n; i++) if (b[i] === 0) z[i & 3]!++;
  const q = n / 4;
  if (z[1]! + z[2]! + z[3]! >= 2.7 * q && z[0]! <= 0.1 * q) return "utf-32le";
  if (z[0]! + z[1]! + z[2]! >= 2.7 * q && z[3]! <= 0.1 * q) return "utf-32be";
  const even = z[0]! + z[2]!;
  const odd = z[1]! + z[3]!;
  if (odd >= 0.6 * 2 * q && even <= 0.1 * 2 * q) return "utf-16le";
  if (even >= 0.6 * 2 * q && odd <= 0.1 * 2 * q) return "utf-16be";
  return null;
}

/**
 * Text a caller decoded as UTF-8 although the bytes were UTF-16 or UTF-32
 * (RED-31): at least a third of the characters are NUL. Returns the text
 * with the NUL characters and the mangled byte-order mark removed (line
 * structure kept; characters outside ASCII were already lost as U+FFFD),
 * or null when the text does not look like that.
 */
export function recoverMisdecoded(text: string): string | null {
  const n = Math.min(text.length, SAMPLE);
  if (n < 2 || text.indexOf("\0") < 0) return null;
  let nul = 0;
  for (let i = 0; i < n; i++) if (text.charCodeAt(i) === 0) nul++;
  if (nul * 3 < n) return null;
  let t = text.replaceAll("\0", "");
  if (t.startsWith("\ufffd\ufffd")) t = t.slice(2);
  return t;
}
