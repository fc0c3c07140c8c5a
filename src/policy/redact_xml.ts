/**
 * Redaction layer 3 (SECURITY.md §RED RED-25): XML and plist, in one pass
 * over the tags of the whole text (attributes may span lines).
 *
 * - an attribute named like a secret (`password="x"`, `validationKey="x"`,
 *   `connectionString="x"`);
 * - attribute records: a naming attribute (`key`, `name`, ...) whose value
 *   names a secret makes the value attributes (`value`, `default`, ...) and
 *   the element's text secret: `<add key="DbPassword" value="x"/>`,
 *   `<property name="secretKey"><value>x</value></property>`;
 * - an element named like a secret: every text node inside it, across lines
 *   (`<password>\n  x\n</password>`, `<privateKey>`), emitted when the
 *   element closes (a `List<Token>` in source code never closes);
 * - plist: `<key>APIToken</key>` makes the next element's text secret.
 *
 * @module
 */

import type { Redactor } from "./redact_engine.ts";
import { NAME_FIELDS, VALUE_FIELDS } from "./redact_json.ts";

const TAG = /<(\/?)([A-Za-z_][\w:.\-]*)((?:\s[^<>]*?)?)(\/?)>/g;
const ATTR = /(?<![\w:.\-])([A-Za-z_][\w:.\-]*)\s*=\s*(?:"([^"]*)"|'([^']*)')/g;

interface Frame {
  name: string;
  /** the key that makes this element's text secret */
  key: string | null;
  /** text spans waiting for the closing tag */
  pending: [number, number][];
  /** text of a plist `<key>` element */
  isPlistKey: boolean;
}

/** How far an end tag looks down the stack for its start tag. */
const MAX_UNWIND = 16;
/** Open elements tracked at most (deeper ones are ignored). */
const MAX_OPEN = 1024;

/** The open elements, with the secret ones on a second stack (O(1) owner lookup). */
class Open {
  readonly frames: Frame[] = [];
  readonly owners: Frame[] = [];
  push(f: Frame): void {
    // a million unclosed tags must not keep a million frames alive (RED-36)
    if (this.frames.length >= MAX_OPEN) return;
    this.frames.push(f);
    if (f.key !== null) this.owners.push(f);
  }
  /** The innermost element whose text is secret. */
  owner(): Frame | null {
    return this.owners.at(-1) ?? null;
  }
  /** Pops down to and including frames[k]; returns the popped frames. */
  popTo(k: number): Frame[] {
    const gone = this.frames.splice(k);
    // both stacks keep document order: the popped owners are the top ones
    for (let i = gone.length - 1; i >= 0; i--) {
      if (gone[i]!.key !== null && this.owners.at(-1) === gone[i]) this.owners.pop();
    }
    return gone;
  }
}

/** Layer 3: XML attributes, records and secret elements. */
export function redactXml(r: Redactor): void {
  const t = r.text;
  if (t.indexOf("<") < 0) return;
  const open = new Open();
  let textStart = 0;
  let plistNext: string | null = null;
  TAG.lastIndex = 0;
  for (let m = TAG.exec(t); m !== null; m = TAG.exec(t)) {
    const top = open.frames.at(-1);
    if (top && m.index > textStart) {
      if (top.isPlistKey) {
        const k = t.slice(textStart, m.index).trim();
        plistNext = k.length <= 256 && r.isSecretKey(k) ? k : null;
      } else {
        open.owner()?.pending.push([textStart, m.index]);
      }
    }
    textStart = m.index + m[0].length;
    const slash = m[1]!;
    const name = m[2]!;
    const attrs = m[3] ?? "";
    const selfClose = m[4]!;
    if (slash) {
      closeTag(r, open, name);
      continue;
    }
    const key = attributes(r, m.index + 1 + name.length, attrs);
    let frameKey = key;
    if (frameKey === null && plistNext !== null && name !== "key") frameKey = plistNext;
    if (name !== "key") plistNext = null;
    const lname = name.toLowerCase();
    if (frameKey === null && !NAME_FIELDS.has(lname) && r.isSecretKey(name)) frameKey = name;
    if (!selfClose) {
      open.push({ name, key: frameKey, pending: [], isPlistKey: lname === "key" && !attrs.trim() });
    }
  }
}

function closeTag(r: Redactor, open: Open, name: string): void {
  const st = open.frames;
  for (let k = st.length - 1; k >= 0 && st.length - k <= MAX_UNWIND; k--) {
    if (st[k]!.name !== name) continue;
    const f = st[k]!;
    const gone = open.popTo(k);
    // elements above f never closed: their text goes to the element that owns it
    const owner = f.key !== null ? f : open.owner();
    for (const g of gone) {
      if (g === f || g.key === null || !owner) continue;
      for (const x of g.pending) owner.pending.push(x);
    }
    if (f.key !== null) {
      for (const [s, e] of f.pending) r.keyed(f.key, s, e);
    }
    return;
  }
}

/**
 * The attributes of one start tag (`at`: offset of the attribute text):
 * secret-named ones and records. Returns the record's key when a naming
 * attribute names a secret.
 */
function attributes(r: Redactor, at: number, attrs: string): string | null {
  if (!attrs.includes("=")) return null;
  const list: { name: string; lname: string; start: number; end: number; value: string }[] = [];
  ATTR.lastIndex = 0;
  for (let a = ATTR.exec(attrs); a !== null; a = ATTR.exec(attrs)) {
    const value = a[2] ?? a[3] ?? "";
    const start = at + a.index + a[0].length - value.length - 1;
    list.push({ name: a[1]!, lname: a[1]!.toLowerCase(), start, end: start + value.length, value });
  }
  const hasValue = list.some((a) => VALUE_FIELDS.has(a.lname));
  let record: string | null = null;
  for (const a of list) {
    if (NAME_FIELDS.has(a.lname) && r.isSecretKey(a.value)) record = a.value;
  }
  for (const a of list) {
    if (NAME_FIELDS.has(a.lname) && hasValue) continue; // a name, not a secret
    if (record !== null && VALUE_FIELDS.has(a.lname)) r.keyed(record, a.start, a.end);
    else r.keyed(a.name, a.start, a.end);
  }
  return record;
}
