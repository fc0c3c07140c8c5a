/**
 * Resumable SSE event streams of the Streamable HTTP transport, in the
 * shared state: an `EventStore` of the MCP SDK (`eventStore` option of the
 * HTTP transport), so a client reconnecting with `Last-Event-ID` to any
 * replica gets the events it missed.
 *
 * - event ids are 128-bit random hex values (unguessable); an id only
 *   resolves within the store's `namespace` (give every session its own:
 *   the standalone GET stream has the same stream id in every session);
 * - every stream keeps its last {@link EventStoreOptions.maxEventsPerStream}
 *   events for {@link EventStoreOptions.ttlMs} after its last event; an event
 *   larger than `maxEventBytes` keeps its place but not its body (a replay skips it);
 * - works on both back ends ({@link MemoryState} for one process).
 *
 * The events hold JSON-RPC messages, i.e. tool results (bounded, expired by
 * TTL).
 *
 * @module
 */

import { createHash } from "node:crypto";
import type { EventId, EventStore, JSONRPCMessage, StreamId } from "@modelcontextprotocol/server";
import { randomHex } from "../util/random.ts";
import type { SharedState } from "./state.ts";

/** Bounds of {@link createEventStore}. */
export interface EventStoreOptions {
  /** separates sessions (hashed into the keys; default: one shared namespace) */
  namespace?: string;
  /** how long events are kept after a stream's last event (default 10 min) */
  ttlMs?: number;
  /** events kept per stream (default 1000) */
  maxEventsPerStream?: number;
  /** largest event kept, JSON characters (default 4 MiB) */
  maxEventBytes?: number;
}

function tag(s: string): string {
  return createHash("sha256").update(s).digest("hex").slice(0, 32);
}

/** An `EventStore` over `state` (see module docs). */
export function createEventStore(state: SharedState, opts: EventStoreOptions = {}): EventStore {
  const ns = tag(`sse\0${opts.namespace ?? ""}`);
  const ttl = opts.ttlMs ?? 10 * 60_000;
  const cap = opts.maxEventsPerStream ?? 1000;
  const maxBytes = opts.maxEventBytes ?? 4 * 1024 * 1024;
  const evKey = (id: string) => `sse:${ns}:ev:${id}`;
  const streamKey = (streamId: string) => `sse:${ns}:stream:${tag(streamId)}`;
  const validId = (id: string) => /^[0-9a-f]{32}$/.test(id);

  return {
    async storeEvent(streamId: StreamId, message: JSONRPCMessage): Promise<EventId> {
      const id = randomHex(16);
      const json = JSON.stringify(message);
      await state.set(evKey(id), streamId, ttl);
      // an oversized event keeps its place (so a replay after it is exact) without its body
      await state.push(
        streamKey(streamId),
        `${id} ${json.length <= maxBytes ? json : ""}`,
        cap,
        ttl,
      );
      return id;
    },

    async getStreamIdForEventId(eventId: EventId): Promise<StreamId | undefined> {
      if (!validId(eventId)) return undefined;
      return (await state.get(evKey(eventId))) ?? undefined;
    },

    async replayEventsAfter(
      lastEventId: EventId,
      { send }: { send: (eventId: EventId, message: JSONRPCMessage) => Promise<void> },
    ): Promise<StreamId> {
      const streamId = validId(lastEventId) ? await state.get(evKey(lastEventId)) : null;
      if (streamId === null) throw new Error(`unknown or expired event id`);
      const items = await state.list(streamKey(streamId));
      const at = items.findIndex((l) => l.startsWith(`${lastEventId} `));
      // the last event fell off the capped list: send everything still kept
      for (const l of items.slice(at + 1)) {
        const sp = l.indexOf(" ");
        if (sp < 0 || sp === l.length - 1) continue;
        await send(l.slice(0, sp), JSON.parse(l.slice(sp + 1)) as JSONRPCMessage);
      }
      return streamId;
    },
  };
}
