/**
 * Early answers of the stdio server (issue 17 item 1): `initialize` and
 * `tools/list` answered before the MCP SDK has loaded.
 *
 * The SDK is the largest single cost of a cold start (it builds its zod
 * protocol schemas at import), and a client's first two requests need none of
 * it: the `initialize` result is the server's identity, its capabilities and
 * the `instructions` text, and `tools/list` the visible catalog. `cli.ts`
 * loads the configuration and builds the App first (so every refusal to
 * start, and the whole start-up summary on stderr, still comes before the
 * first answer), then starts this reader on stdin, which answers exactly
 * those two from the same functions the server uses (registry/listing.ts,
 * instructions.ts) and leaves everything else waiting while the SDK and the
 * MCP layer load; then the server takes the transport over.
 *
 * Nothing is skipped on the server's side: each early-answered request is
 * replayed to the SDK, in arrival order with the rest, under a private id; the
 * SDK's answer to the replay is not sent but compared with what was (stdio.ts),
 * and a difference is logged as an error. `initialize` is answered early only
 * when it is one the SDK accepts as sent (a supported revision, the plain
 * shapes of client info and capabilities, no `_meta`), `tools/list` only
 * without parameters after an early `initialize`; anything else, and anything
 * after the first message left waiting (bar `notifications/initialized`), is
 * the server's to answer. Search mode (SSH_ENABLE_BM25) lists tools the
 * registry builds and is not answered early.
 *
 * The early answers grant nothing: every tool call, and every other request,
 * goes through the full server.
 *
 * @module
 */

import type { Settings } from "../config/types.ts";
import type { ToolMeta } from "../tools/define.ts";
import { generatedInputSchema, listedToolsWith } from "../registry/listing.ts";
import { mark } from "../startup.ts";
import { randomHex } from "../util/random.ts";
import { afterMs } from "../util/timer.ts";
import { VERSION } from "../version.ts";
import { instructionsFor } from "./instructions.ts";
import type { Logger } from "../log.ts";
import type { EarlyVerdict, LineTransport } from "./stdio.ts";

/**
 * Protocol revisions an early `initialize` may name: the SDK's
 * `SUPPORTED_PROTOCOL_VERSIONS` (tests/e2e/early_answers_test.ts keeps them equal).
 * The SDK answers another requested revision with its latest; that answer is
 * left to it.
 */
export const EARLY_PROTOCOL_VERSIONS: readonly string[] = [
  "2025-11-25",
  "2025-06-18",
  "2025-03-26",
  "2024-11-05",
  "2024-10-07",
];

/**
 * The capabilities every stdio server instance announces (McpService.create:
 * logging, tasks, tools, the resources of skills and server info, the skills
 * extension); tests/e2e/early_answers_test.ts compares the whole early answer with the
 * SDK's for several configurations.
 */
const CAPABILITIES = {
  logging: {},
  tasks: { list: {}, cancel: {}, requests: { tools: { call: {} } } },
  tools: {},
  resources: { listChanged: true },
  extensions: { "io.modelcontextprotocol/skills": {} },
} as const;

/**
 * How long the reader waits for the client's first message, and then for the
 * next request it could answer, before the server loads anyway (a client
 * writes `initialize` as soon as it has spawned the server, and `tools/list`
 * right after the answer).
 */
export const EARLY_FIRST_MS = 250;
/** See {@link EARLY_FIRST_MS}. */
export const EARLY_IDLE_MS = 50;

/** The two early answers of a configuration (results only). */
export interface EarlyAnswers {
  /** `initialize` result for a revision of {@link EARLY_PROTOCOL_VERSIONS} */
  initialize(protocolVersion: string): Record<string, unknown>;
  /** `tools/list` result */
  toolsList: Record<string, unknown>;
}

/**
 * The early answers of a stdio server showing `visible` (the App's catalog,
 * in catalog order) under `settings`, or null when they are not given early
 * (search mode: the registry lists its synthetic tools).
 */
export function earlyAnswersFor(
  settings: Settings,
  visible: readonly ToolMeta[],
): EarlyAnswers | null {
  // a declaration in memory (test catalogs) has its schema converted with zod, which is not
  // loaded yet: the server answers
  if (settings.SSH_ENABLE_BM25 || visible.some((t) => t.declared)) return null;
  // what McpService.create answers for a stdio connection (no tier narrowing), with the
  // build-time schemas ToolRegistry.list() uses for the served catalog
  const tools = listedToolsWith(visible, (t) => generatedInputSchema(t.name));
  const instructions = instructionsFor(new Set(visible.map((t) => t.name)), {
    settings,
    groups: visible.map((t) => t.group),
  });
  return {
    initialize: (protocolVersion) => ({
      protocolVersion,
      capabilities: CAPABILITIES,
      serverInfo: { name: "ssh-mcp", version: VERSION },
      instructions,
    }),
    toolsList: { tools },
  };
}

type Obj = Record<string, unknown>;

function isPlain(v: unknown): v is Obj {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function keysWithin(o: Obj, allowed: readonly string[]): boolean {
  return Object.keys(o).every((k) => allowed.includes(k));
}

function isEmptyObject(v: unknown): boolean {
  return isPlain(v) && Object.keys(v).length === 0;
}

/** A request id the SDK accepts unchanged: a string or a safe integer. */
function plainId(v: unknown): v is string | number {
  return typeof v === "string" || (typeof v === "number" && Number.isSafeInteger(v));
}

/**
 * Client capabilities in the shapes answered early (what clients send in
 * practice): `roots` with an optional boolean `listChanged`, empty `sampling`
 * and `elicitation`. Anything else is the SDK's to validate.
 */
function plainCapabilities(c: unknown): boolean {
  if (!isPlain(c) || !keysWithin(c, ["roots", "sampling", "elicitation"])) return false;
  if ("roots" in c) {
    const r = c.roots;
    if (!isPlain(r) || !keysWithin(r, ["listChanged"])) return false;
    if ("listChanged" in r && typeof r.listChanged !== "boolean") return false;
  }
  return (!("sampling" in c) || isEmptyObject(c.sampling)) &&
    (!("elicitation" in c) || isEmptyObject(c.elicitation));
}

/** The protocol revision of an `initialize` request answered early, else null. */
export function earlyInitialize(m: Obj): string | null {
  const p = m.params;
  if (!isPlain(p) || !keysWithin(p, ["protocolVersion", "capabilities", "clientInfo"])) return null;
  const v = p.protocolVersion;
  if (typeof v !== "string" || !EARLY_PROTOCOL_VERSIONS.includes(v)) return null;
  const ci = p.clientInfo;
  if (!isPlain(ci) || !keysWithin(ci, ["name", "version", "title"])) return null;
  if (typeof ci.name !== "string" || typeof ci.version !== "string") return null;
  if ("title" in ci && typeof ci.title !== "string") return null;
  return plainCapabilities(p.capabilities) ? v : null;
}

/** Options of {@link startEarlyStdio}. */
export interface EarlyStdioOptions {
  /** wait for the client's first message (default {@link EARLY_FIRST_MS}) */
  firstMs?: number;
  /** wait for the next answerable request (default {@link EARLY_IDLE_MS}) */
  idleMs?: number;
}

/**
 * Starts `transport` (not started yet) reading in early mode, answering from
 * `answers`; resolves when the MCP layer should load: `tools/list` was
 * answered (and written), a message was left for the server, stdin ended, or
 * the client stayed silent ({@link EARLY_FIRST_MS}, {@link EARLY_IDLE_MS}).
 * Reading then pauses until the server starts the transport.
 */
export function startEarlyStdio(
  transport: LineTransport,
  answers: EarlyAnswers,
  logger: Logger,
  opts: EarlyStdioOptions = {},
): Promise<void> {
  const load = Promise.withResolvers<void>();
  const idleMs = opts.idleMs ?? EARLY_IDLE_MS;
  const firstMs = opts.firstMs ?? EARLY_FIRST_MS;
  // not setTimeout: its first use evaluates Deno's Node timers (util/timer.ts)
  let cancelTimer: (() => void) | undefined;
  let initialized = false;
  let done = false;
  const loadNow = () => {
    cancelTimer?.();
    done = true;
    transport.pauseEarly(); // the rest waits in the pipe until the server reads it
    load.resolve();
  };
  const idle = (ms: number) => {
    cancelTimer?.();
    cancelTimer = afterMs(ms, loadNow);
  };

  /** Sends `result` for request `m`; the verdict replays `m` under a private id. */
  const answer = (m: Obj, method: string, result: Obj): [EarlyVerdict, Promise<void>] => {
    const sent = transport.send({ result, jsonrpc: "2.0", id: m.id } as never);
    logger.debug("answered before the MCP layer loaded", { method });
    const id = `ssh-mcp:early:${method}:${randomHex(16)}`;
    return [{ replay: { ...m, id }, id, result: JSON.stringify(result) }, sent];
  };

  transport.listenEarly((value: unknown): EarlyVerdict => {
    if (done) return null;
    const m = isPlain(value) ? value : null;
    const plain = m !== null && m.jsonrpc === "2.0" && typeof m.method === "string" &&
      keysWithin(m, ["jsonrpc", "id", "method", "params"]);
    if (plain && !("id" in m) && m.method === "notifications/initialized" && initialized) {
      return null; // waits for the server, which needs it; more may be answered early
    }
    if (plain && plainId(m.id)) {
      if (m.method === "initialize" && !initialized) {
        const v = earlyInitialize(m);
        if (v !== null) {
          initialized = true;
          idle(idleMs);
          return answer(m, "initialize", answers.initialize(v))[0];
        }
      } else if (
        m.method === "tools/list" && initialized && (!("params" in m) || isEmptyObject(m.params))
      ) {
        const [verdict, sent] = answer(m, "tools/list", answers.toolsList);
        // the MCP layer loads once this answer is out (evaluating it blocks the thread)
        done = true;
        void sent.finally(loadNow);
        return verdict;
      }
    }
    loadNow(); // the server answers this one and everything after it
    return null;
  });
  void transport.ended.then(loadNow);
  idle(firstMs);
  mark("early");
  return load.promise;
}
