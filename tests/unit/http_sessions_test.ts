/**
 * 2025-era HTTP sessions (src/mcp/http.ts): the idle reaper closes a session
 * only when no request came for SESSION_IDLE_MS AND none of its SSE streams
 * is open; an open stream (the GET stream a client keeps for server
 * messages, or a long call streaming its result) holds the session, and its
 * end counts as the session's last use.
 */

import assert from "node:assert/strict";
import {
  holdWhileStreaming,
  idleSessions,
  type IdleState,
  SESSION_IDLE_MS,
} from "../../src/mcp/http.ts";

Deno.test("HTTP-6: the reaper takes sessions idle longer than SESSION_IDLE_MS with no stream open, never one holding a stream", () => {
  const now = 10 * SESSION_IDLE_MS;
  const sessions = new Map<string, IdleState>([
    ["idle", { lastUsed: now - SESSION_IDLE_MS - 1, streams: 0 }],
    ["streaming", { lastUsed: now - 5 * SESSION_IDLE_MS, streams: 1 }],
    ["recent", { lastUsed: now - 1_000, streams: 0 }],
    ["edge", { lastUsed: now - SESSION_IDLE_MS, streams: 0 }],
  ]);
  assert.deepEqual(idleSessions(sessions, now), ["idle"]);
  sessions.get("streaming")!.streams = 0;
  assert.deepEqual(idleSessions(sessions, now), ["idle", "streaming"]);
});

function sse(): {
  res: Response;
  ctl: ReadableStreamDefaultController<Uint8Array>;
  cancelled: () => unknown;
} {
  let ctl!: ReadableStreamDefaultController<Uint8Array>;
  let reason: unknown = undefined;
  const body = new ReadableStream<Uint8Array>({
    start: (c) => void (ctl = c),
    cancel: (r) => void (reason = r ?? "cancelled"),
  });
  const res = new Response(body, {
    status: 200,
    headers: { "content-type": "text/event-stream", "mcp-session-id": "abc" },
  });
  return { res, ctl, cancelled: () => reason };
}

function counter() {
  const c = { open: 0, end: 0, state: { lastUsed: 0, streams: 0 } as IdleState };
  return {
    c,
    onOpen: () => {
      c.open++;
      c.state.streams++;
    },
    onEnd: () => {
      c.end++;
      c.state.streams--;
    },
  };
}

Deno.test("HTTP-6: an SSE response holds its session until its body ends; bytes, status and headers pass unchanged", async () => {
  const { res, ctl } = sse();
  const k = counter();
  const out = holdWhileStreaming(res, k.onOpen, k.onEnd);
  assert.equal(k.c.open, 1);
  assert.equal(out.status, 200);
  assert.equal(out.headers.get("mcp-session-id"), "abc");
  // while it is open the session is never idle, however long ago the last request was
  const held = new Map([["s", k.c.state]]);
  assert.deepEqual(idleSessions(held, Date.now() + 10 * SESSION_IDLE_MS), []);
  const enc = new TextEncoder();
  ctl.enqueue(enc.encode("event: message\ndata: 1\n\n"));
  ctl.enqueue(enc.encode("data: 2\n\n"));
  ctl.close();
  assert.equal(await out.text(), "event: message\ndata: 1\n\ndata: 2\n\n");
  assert.equal(k.c.end, 1, "the end of the body releases the session once");
  assert.deepEqual(idleSessions(held, Date.now() + SESSION_IDLE_MS + 1), ["s"]);
});

Deno.test("HTTP-6: a client that goes away (body cancelled) releases the session once and cancels the source stream", async () => {
  const { res, ctl, cancelled } = sse();
  const k = counter();
  const out = holdWhileStreaming(res, k.onOpen, k.onEnd);
  ctl.enqueue(new TextEncoder().encode("data: x\n\n"));
  const reader = out.body!.getReader();
  assert.equal(new TextDecoder().decode((await reader.read()).value), "data: x\n\n");
  await reader.cancel("client gone");
  assert.equal(k.c.end, 1);
  assert.equal(k.c.state.streams, 0);
  assert.equal(cancelled(), "client gone");
});

Deno.test("HTTP-6: a stream that fails releases the session once and passes the error on", async () => {
  const { res, ctl } = sse();
  const k = counter();
  const out = holdWhileStreaming(res, k.onOpen, k.onEnd);
  ctl.error(new Error("transport closed"));
  await assert.rejects(out.text(), /transport closed/);
  assert.equal(k.c.end, 1);
  assert.equal(k.c.state.streams, 0);
});

Deno.test("HTTP-6: a JSON answer, a 202 or an error is no stream: returned as it is, the session not held", () => {
  const k = counter();
  for (
    const res of [
      Response.json({ jsonrpc: "2.0", id: 1, result: {} }),
      new Response(null, { status: 202 }),
      new Response("Session not found", { status: 404, headers: { "content-type": "text/plain" } }),
    ]
  ) {
    assert.equal(holdWhileStreaming(res, k.onOpen, k.onEnd), res);
  }
  assert.equal(k.c.open, 0);
  assert.equal(k.c.end, 0);
});
