/**
 * Large outputs as MCP resource links (issue 12 item 3).
 *
 * A tool whose output exceeds its inline cap (exec stdout/stderr, logs, the
 * journal, an inline download) keeps head and tail inline as before and, when
 * the client can follow a `resource_link` (MCP 2025-06-18 and later), adds a
 * link to the full output held here: `ssh-mcp://output/<id>`, readable with
 * `resources/read` and paged with `?offset=N&length=M`.
 *
 * Bounds (constants, per MCP server instance):
 * - {@link OUTPUT_TTL_MS}: 15 minutes after it was stored an output is gone;
 * - {@link OUTPUT_ITEM_MAX_BYTES}: 16 MiB per output; a larger one is not
 *   stored at all (the inline head/tail and a warning remain);
 * - {@link OUTPUT_TOTAL_MAX_BYTES}: 64 MiB in all; storing more evicts the
 *   least recently used outputs (a read counts as use);
 * - pages: {@link OUTPUT_PAGE_DEFAULT} units when no `length` is given, at most
 *   {@link OUTPUT_PAGE_MAX}. Text is paged in UTF-16 code units (JavaScript
 *   string indices; a page never ends inside a surrogate pair: it ends before
 *   it, or after it when the pair alone is longer than the page), binary in bytes
 *   (`blob`). Each page's content carries `_meta["ssh-mcp/page"]` with
 *   `offset`, `length`, `total` and `next_offset` (null on the last page).
 *
 * Secrecy: ids are 128-bit CSPRNG values; outputs are never listed by
 * `resources/list`; each is bound to the session that produced it and reads
 * from another session get the same "not found" as an unknown id. Tools store
 * exactly the text they would return inline (after their sanitizing), never
 * raw bytes they would not show.
 *
 * Several replicas (`OutputStoreOptions.state`, Redis; src/state/state.ts):
 * every stored output is also written to the shared state (key TTL = the
 * output's TTL; the owner is kept as a digest), so {@link OutputStore.fetch}
 * pages it on any replica with the same ownership check. The size budget
 * stays per replica: evicting an output here deletes it there too, so the
 * state holds at most replicas x {@link OUTPUT_TOTAL_MAX_BYTES}. The state
 * then holds tool output (bounded, expired by TTL).
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { randomHex } from "../util/random.ts";
import type { LargeOutputs, OutputLink, OutputOffer } from "../tools/context.ts";
import { getJson, ownerTag, type SharedState } from "../state/state.ts";

export type { LargeOutputs, OutputLink, OutputOffer };

/** Lifetime of a stored output. */
export const OUTPUT_TTL_MS = 15 * 60 * 1000;
/** Largest single output kept (bytes; text counted as UTF-8). */
export const OUTPUT_ITEM_MAX_BYTES = 16 * 1024 * 1024;
/** All outputs of one server instance (bytes); LRU eviction beyond it. */
export const OUTPUT_TOTAL_MAX_BYTES = 64 * 1024 * 1024;
/** Page length when the URI has no `length`. */
export const OUTPUT_PAGE_DEFAULT = 256 * 1024;
/** Largest page. */
export const OUTPUT_PAGE_MAX = 1024 * 1024;
/** URI prefix of stored outputs. */
export const OUTPUT_URI_PREFIX = "ssh-mcp://output/";
/** The resource template of stored outputs (listed with resources/templates/list). */
export const OUTPUT_URI_TEMPLATE = `${OUTPUT_URI_PREFIX}{id}{?offset,length}`;
/** First protocol revision with `resource_link` content. */
export const RESOURCE_LINK_MIN_PROTOCOL = "2025-06-18";

/** Bounds of an {@link OutputStore} (tests shrink them). */
export interface OutputStoreOptions {
  ttlMs?: number;
  itemMaxBytes?: number;
  totalMaxBytes?: number;
  now?: () => number;
  /** shared state of several replicas (only a state with `shared` set changes anything) */
  state?: SharedState;
}

/** An output as written to the shared state. */
interface OutputDoc {
  v: 1;
  owner: string;
  name: string;
  mimeType: string;
  text?: string;
  b64?: string;
  size: number;
  expires: number;
}

interface Entry {
  owner: string;
  name: string;
  mimeType: string;
  text?: string;
  bytes?: Uint8Array;
  size: number;
  expires: number;
}

/** One page of a stored output as `resources/read` contents. */
export interface OutputPage {
  uri: string;
  mimeType: string;
  text?: string;
  blob?: string;
  _meta: Record<string, unknown>;
}

/** Why a read failed. */
export class OutputNotFound extends Error {}

/** True when `version` (YYYY-MM-DD) is at least {@link RESOURCE_LINK_MIN_PROTOCOL}. */
export function protocolHasResourceLinks(version: string | undefined): boolean {
  return typeof version === "string" && /^\d{4}-\d{2}-\d{2}$/.test(version) &&
    version >= RESOURCE_LINK_MIN_PROTOCOL;
}

/** The id and query of an output URI. */
function parseUri(uri: string): { id: string; params: URLSearchParams } {
  const rest = uri.slice(OUTPUT_URI_PREFIX.length);
  const q = rest.indexOf("?");
  return {
    id: q < 0 ? rest : rest.slice(0, q),
    params: new URLSearchParams(q < 0 ? "" : rest.slice(q + 1)),
  };
}

/** One page of an entry (RangeError for a malformed query). */
function pageOf(uri: string, id: string, params: URLSearchParams, e: Entry): OutputPage {
  for (const k of params.keys()) {
    if (k !== "offset" && k !== "length") {
      throw new RangeError(`unknown query parameter ${JSON.stringify(k)} (offset, length)`);
    }
  }
  const num = (k: string, dflt: number): number => {
    const v = params.get(k);
    if (v === null) return dflt;
    if (!/^\d{1,15}$/.test(v)) throw new RangeError(`${k} must be a non-negative integer`);
    return Number(v);
  };
  const offset = num("offset", 0);
  const length = Math.min(num("length", OUTPUT_PAGE_DEFAULT), OUTPUT_PAGE_MAX);
  if (length < 1) throw new RangeError("length must be at least 1");
  const total = e.text !== undefined ? e.text.length : e.bytes!.byteLength;
  if (offset > total) throw new RangeError(`offset ${offset} is past the end (${total})`);
  let end = Math.min(total, offset + length);
  const base = `${OUTPUT_URI_PREFIX}${id}`;
  const page: OutputPage = { uri, mimeType: e.mimeType, _meta: {} };
  if (e.text !== undefined) {
    // never split a surrogate pair (the last page ends at `total`)
    if (end < total) {
      const c = e.text.charCodeAt(end - 1);
      if (c >= 0xd800 && c <= 0xdbff) end += end - 1 > offset ? -1 : 1;
    }
    page.text = e.text.slice(offset, end);
  } else {
    const b = e.bytes!.subarray(offset, end);
    page.blob = Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("base64");
  }
  page._meta["ssh-mcp/page"] = {
    offset,
    length: end - offset,
    total,
    unit: e.text !== undefined ? "utf16" : "bytes",
    next_offset: end < total ? end : null,
    next_uri: end < total ? `${base}?offset=${end}&length=${length}` : null,
  };
  return page;
}

/** The outputs of one MCP server instance, bounded by time and size. */
export class OutputStore {
  readonly ttlMs: number;
  readonly itemMaxBytes: number;
  readonly totalMaxBytes: number;
  readonly #now: () => number;
  /** insertion order = LRU order (a read re-inserts) */
  readonly #entries = new Map<string, Entry>();
  #total = 0;
  /** outputs evicted for the size budget (for tests and server-info) */
  evicted = 0;
  readonly #state: SharedState | null;
  readonly #writes = new Set<Promise<void>>();

  constructor(opts: OutputStoreOptions = {}) {
    this.ttlMs = opts.ttlMs ?? OUTPUT_TTL_MS;
    this.totalMaxBytes = opts.totalMaxBytes ?? OUTPUT_TOTAL_MAX_BYTES;
    this.itemMaxBytes = Math.min(opts.itemMaxBytes ?? OUTPUT_ITEM_MAX_BYTES, this.totalMaxBytes);
    this.#now = opts.now ?? Date.now;
    this.#state = opts.state?.shared ? opts.state : null;
  }

  #track(p: Promise<void>): void {
    const q = p.catch(() => {});
    this.#writes.add(q);
    void q.finally(() => this.#writes.delete(q));
  }

  /** Resolves when the outputs stored so far are written to the shared state. */
  async flush(): Promise<void> {
    await Promise.allSettled([...this.#writes]);
  }

  /** Bytes held. */
  get bytes(): number {
    this.#expire();
    return this.#total;
  }

  /** Outputs held. */
  get size(): number {
    this.#expire();
    return this.#entries.size;
  }

  /** Stores an output of session `owner`; null when it is over the per-item cap. */
  put(owner: string, offer: OutputOffer): OutputLink | null {
    this.#expire();
    const isText = typeof offer.data === "string";
    const size = isText
      ? Buffer.byteLength(offer.data as string, "utf8")
      : (offer.data as Uint8Array).byteLength;
    if (size > this.itemMaxBytes) return null;
    while (this.#total + size > this.totalMaxBytes && this.#entries.size) {
      const [oldest] = this.#entries.keys();
      this.#drop(oldest!, true);
      this.evicted++;
    }
    const id = randomHex(16);
    const mimeType = offer.mimeType ??
      (isText ? "text/plain; charset=utf-8" : "application/octet-stream");
    const entry: Entry = {
      owner,
      name: offer.name,
      mimeType,
      ...(isText ? { text: offer.data as string } : { bytes: offer.data as Uint8Array }),
      size,
      expires: this.#now() + this.ttlMs,
    };
    this.#entries.set(id, entry);
    this.#total += size;
    if (this.#state) {
      const doc: OutputDoc = {
        v: 1,
        owner: ownerTag(owner),
        name: entry.name,
        mimeType,
        ...(entry.text !== undefined ? { text: entry.text } : {
          b64: Buffer.from(entry.bytes!.buffer, entry.bytes!.byteOffset, entry.bytes!.byteLength)
            .toString("base64"),
        }),
        size,
        expires: entry.expires,
      };
      this.#track(this.#state.set(`output:${id}`, JSON.stringify(doc), this.ttlMs));
    }
    return {
      type: "resource_link",
      uri: `${OUTPUT_URI_PREFIX}${id}`,
      name: offer.name,
      ...(offer.description ? { description: offer.description } : {}),
      mimeType,
      size,
    };
  }

  /** True when `uri` is in this store's scheme (whether or not the id exists). */
  static owns(uri: string): boolean {
    return uri.startsWith(OUTPUT_URI_PREFIX);
  }

  /**
   * One page of an output read by session `owner`. Throws
   * {@link OutputNotFound} for an unknown, expired, evicted or foreign id and
   * RangeError for a malformed query.
   */
  read(owner: string, uri: string): OutputPage {
    this.#expire();
    const { id, params } = parseUri(uri);
    const e = this.#entries.get(id);
    if (!/^[0-9a-f]{32}$/.test(id) || !e || e.owner !== owner) throw this.#notFound(id);
    // LRU: a read is a use
    this.#entries.delete(id);
    this.#entries.set(id, e);
    return pageOf(uri, id, params, e);
  }

  /**
   * {@link read} on any replica: an output of this replica is read here,
   * another one from the shared state (same ownership check, same errors).
   * Without a shared state it is {@link read}.
   */
  async fetch(owner: string, uri: string): Promise<OutputPage> {
    this.#expire();
    const { id, params } = parseUri(uri);
    if (!this.#state || this.#entries.has(id) || !/^[0-9a-f]{32}$/.test(id)) {
      return this.read(owner, uri);
    }
    const d = await getJson<OutputDoc>(this.#state, `output:${id}`);
    if (!d || d.v !== 1 || d.owner !== ownerTag(owner) || d.expires <= this.#now()) {
      throw this.#notFound(id);
    }
    const e: Entry = {
      owner,
      name: d.name,
      mimeType: d.mimeType,
      ...(d.text !== undefined
        ? { text: d.text }
        : { bytes: new Uint8Array(Buffer.from(d.b64 ?? "", "base64")) }),
      size: d.size,
      expires: d.expires,
    };
    return pageOf(uri, id, params, e);
  }

  #notFound(id: string): OutputNotFound {
    return new OutputNotFound(
      `Output ${
        id.length > 64 ? id.slice(0, 64) + "..." : id
      } not found: it expired (outputs are kept ${
        Math.round(this.ttlMs / 60000)
      } min), was evicted for space, or never existed in this session. Run the tool again.`,
    );
  }

  /** A sink for one call of session `owner` that records the links it hands out. */
  sink(owner: string, links: OutputLink[]): LargeOutputs {
    return {
      maxBytes: this.itemMaxBytes,
      offer: (o) => {
        const link = this.put(owner, o);
        if (link) links.push(link);
        return link;
      },
    };
  }

  /** Drops everything (server shutdown). */
  clear(): void {
    this.#entries.clear();
    this.#total = 0;
  }

  #drop(id: string, shared = false): void {
    const e = this.#entries.get(id);
    if (!e) return;
    this.#entries.delete(id);
    this.#total -= e.size;
    // evicted for space: gone on every replica (an expired one expires there by TTL)
    if (shared && this.#state) this.#track(this.#state.del(`output:${id}`));
  }

  #expire(): void {
    const now = this.#now();
    for (const [id, e] of this.#entries) {
      if (e.expires <= now) this.#drop(id);
    }
  }
}
