/**
 * The SharedState contract (src/state/state.ts), one table run against both
 * back ends: MemoryState and RedisState on a real redis-server.
 */

import * as a from "node:assert/strict";

const assert: (c: unknown, msg?: string) => asserts c = a.ok;
import { Logger } from "../../src/log.ts";
import { ToolError } from "../../src/errors.ts";
import {
  MemoryState,
  openState,
  ownerTag,
  RedisState,
  type SharedState,
} from "../../src/state/state.ts";
import { createEventStore } from "../../src/state/events.ts";
import { startRedis } from "../_support/redis.ts";

const logger = new Logger({ level: "CRITICAL" });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Case = [string, (s: SharedState, uniq: string) => Promise<void>];

const CASES: Case[] = [
  ["get/set with TTL; missing is null", async (s, u) => {
    a.equal(await s.get(`${u}:missing`), null);
    await s.set(`${u}:k`, "v1", 60_000);
    a.equal(await s.get(`${u}:k`), "v1");
    const ttl = await s.ttl(`${u}:k`);
    assert(ttl > 50_000 && ttl <= 60_000, `ttl ${ttl}`);
    a.equal(await s.ttl(`${u}:missing`), -2);
    await s.set(`${u}:short`, "x", 120);
    await sleep(250);
    a.equal(await s.get(`${u}:short`), null);
    await s.del(`${u}:k`);
    a.equal(await s.get(`${u}:k`), null);
  }],
  ["every write needs a TTL", async (s, u) => {
    await a.rejects(async () => await s.set(`${u}:k`, "v", 0), RangeError);
    await a.rejects(async () => await s.setIfAbsent(`${u}:k`, "v", -1), RangeError);
    await a.rejects(async () => await s.push(`${u}:k`, "v", 10, Number.NaN), RangeError);
  }],
  ["setIfAbsent is atomic: one winner", async (s, u) => {
    const r = await Promise.all(
      Array.from({ length: 20 }, (_, i) => s.setIfAbsent(`${u}:once`, String(i), 60_000)),
    );
    a.equal(r.filter(Boolean).length, 1);
    a.equal(await s.setIfAbsent(`${u}:once`, "again", 60_000), false);
  }],
  ["getMany keeps order and nulls", async (s, u) => {
    await s.set(`${u}:a`, "1", 60_000);
    await s.set(`${u}:c`, "3", 60_000);
    a.deepEqual(await s.getMany([`${u}:a`, `${u}:b`, `${u}:c`]), ["1", null, "3"]);
    a.deepEqual(await s.getMany([]), []);
  }],
  ["push caps the list and sets its TTL", async (s, u) => {
    for (let i = 0; i < 7; i++) await s.push(`${u}:l`, `i${i}`, 5, 60_000);
    a.deepEqual(await s.list(`${u}:l`), ["i2", "i3", "i4", "i5", "i6"]);
    assert((await s.ttl(`${u}:l`)) > 0);
    a.deepEqual(await s.list(`${u}:none`), []);
  }],
  ["publish reaches every subscriber until it unsubscribes", async (s, u) => {
    const got1: string[] = [];
    const got2: string[] = [];
    const un1 = await s.subscribe(`${u}:ch`, (m) => got1.push(m));
    const un2 = await s.subscribe(`${u}:ch`, (m) => got2.push(m));
    await s.publish(`${u}:ch`, "one");
    await waitUntil(() => got1.length === 1 && got2.length === 1);
    await un1();
    await s.publish(`${u}:ch`, "two");
    await waitUntil(() => got2.length === 2);
    a.deepEqual(got1, ["one"]);
    a.deepEqual(got2, ["one", "two"]);
    await un2();
  }],
  ["event store: unguessable ids, replay after an id, per-stream cap", async (s, u) => {
    const es = createEventStore(s, { namespace: u, maxEventsPerStream: 3 });
    const msg = (n: number) => ({ jsonrpc: "2.0" as const, method: "m", params: { n } });
    const ids = [];
    for (let i = 0; i < 5; i++) ids.push(await es.storeEvent("stream-1", msg(i)));
    await es.storeEvent("stream-2", msg(99));
    for (const id of ids) assert(/^[0-9a-f]{32}$/.test(id));
    a.equal(await es.getStreamIdForEventId!(ids[3]!), "stream-1");
    const sent: number[] = [];
    const sid = await es.replayEventsAfter(ids[2]!, {
      send: (
        _id,
        m,
      ) => (sent.push((m as unknown as { params: { n: number } }).params.n), Promise.resolve()),
    });
    a.equal(sid, "stream-1");
    a.deepEqual(sent, [3, 4]);
    await a.rejects(() => es.replayEventsAfter("0".repeat(32), { send: () => Promise.resolve() }));
    // another namespace does not resolve this one's ids
    const other = createEventStore(s, { namespace: `${u}-other` });
    a.equal(await other.getStreamIdForEventId!(ids[4]!), undefined);
  }],
  ["replica id and signing key", (s) => {
    assert(/^[0-9a-f]{16}$/.test(s.replicaId));
    a.equal(s.signingKey.length, 32);
    a.equal(ownerTag("session:x"), ownerTag("session:x"));
    a.notEqual(ownerTag("session:x"), ownerTag("session:y"));
    return Promise.resolve();
  }],
];

async function waitUntil(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("timed out");
    await sleep(10);
  }
}

for (const [name, fn] of CASES) {
  Deno.test(`SharedState memory: ${name}`, async () => {
    const s = new MemoryState();
    try {
      await fn(s, crypto.randomUUID());
    } finally {
      await s.close();
    }
  });
}

Deno.test("SharedState redis: the same contract on a real redis-server", async (t) => {
  const redis = await startRedis();
  const s = await openState({ SSH_STATE_URL: redis.url }, logger);
  try {
    a.equal(s.kind, "redis");
    a.equal(s.shared, true);
    for (const [name, fn] of CASES) await t.step(name, () => fn(s, crypto.randomUUID()));
  } finally {
    await s.close();
    await redis.stop();
  }
});

Deno.test("SharedState redis: replicas share the signing key, not the replica id; keys are prefixed", async () => {
  const redis = await startRedis();
  const s1 = await RedisState.connect(redis.url, logger);
  const s2 = await RedisState.connect(redis.url, logger);
  const { createClient } = await import("redis");
  const raw = createClient({ url: redis.url });
  await raw.connect();
  try {
    a.deepEqual(s1.signingKey, s2.signingKey);
    a.notEqual(s1.replicaId, s2.replicaId);
    await s1.set("probe", "v", 60_000);
    a.equal(await raw.get("ssh-mcp:probe"), "v");
    a.equal(await raw.pTTL("ssh-mcp:signing-key"), -1);
    // every key but the signing key has a TTL
    for (const k of await raw.keys("ssh-mcp:*")) {
      if (k !== "ssh-mcp:signing-key") assert(Number(await raw.pTTL(k)) > 0, k);
    }
  } finally {
    await raw.close();
    await s1.close();
    await s2.close();
    await redis.stop();
  }
});

Deno.test("SharedState redis: an unreachable or lost server is a ToolError without the URL", async () => {
  const redis = await startRedis();
  const url = `redis://:hunter2secret@127.0.0.1:${redis.port}/0`;
  const s = await RedisState.connect(url.replace(":hunter2secret@", ""), logger, {
    commandTimeoutMs: 1500,
  });
  await redis.stop();
  try {
    const e = await s.get("k").then(() => null, (e) => e);
    assert(e instanceof ToolError, String(e));
    a.equal(e.code, "RuntimeError");
    assert(e.message.startsWith("shared state (Redis) unavailable: "), e.message);
  } finally {
    await s.close();
  }
  // nobody listening: connecting fails, and the password never shows
  const e2 = await RedisState.connect(url, logger, { connectTimeoutMs: 1500 }).then(
    (s) => (s.close(), null),
    (e) => e,
  );
  assert(e2 instanceof ToolError, String(e2));
  assert(!e2.message.includes("hunter2secret"), e2.message);
  assert(e2.message.startsWith("shared state (Redis) unavailable: "), e2.message);
});

Deno.test("SharedState: openState without a URL is in memory", async () => {
  const s = await openState({ SSH_STATE_URL: null }, logger);
  a.equal(s.kind, "memory");
  a.equal(s.shared, false);
  await s.close();
});
