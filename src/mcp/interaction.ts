/**
 * The questions only a human may answer (issue 13): approval of a call in a
 * tier listed in `SSH_APPROVAL_TIERS`, and the first pin of an unknown host
 * key (`SSH_CONFIRM_NEW_HOST_KEYS`).
 *
 * Both use the protocol's multi round-trip flow: the `tools/call` handler
 * returns `input_required` with one form elicitation and a signed
 * `requestState`; a 2026-07-28 client asks its user and retries the call with
 * the answer and the state; on a 2025-era connection the SDK's shim sends a
 * real `elicitation/create` and re-enters the handler the same way.
 *
 * What makes the state safe to hand to the client:
 *
 * - it is sealed with an HMAC key that lives only in this process
 *   (`createRequestStateCodec`), expires after {@link STATE_TTL_S}, and is
 *   bound to the caller (another caller's state fails verification);
 * - it names the digest of the exact call (tool name + arguments): a state
 *   minted for one call is refused on any other;
 * - its nonce is accepted once: a replayed state is refused.
 *
 * Several replicas (`state` option, Redis; src/state/state.ts): the HMAC key
 * is the state's signing key (created once in Redis, the same on every
 * replica), used nonces and approval grants are keys with a TTL there
 * (`nonce:<nonce>` for the state's lifetime + 60 s, `grant:<digest of caller
 * and call>` for `SSH_APPROVAL_GRANT_S`), so a replay or a grant holds
 * across replicas. Use the async methods ({@link Interactions.consumeAsync},
 * {@link Interactions.grantAsync}, {@link Interactions.grantedAsync}) then;
 * the sync ones see this replica only.
 *
 * Only an explicit accept counts: the choice defaults to "no"/"deny", and a
 * decline, cancel, timeout, missing answer or a client without the
 * capability all refuse.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { Buffer } from "node:buffer";
import { createRequestStateCodec, type RequestStateCodec } from "@modelcontextprotocol/server";
import type { ClientCapabilities, InputRequiredResult, ServerContext } from "./sdk.ts";
import { inputRequired } from "./sdk.ts";
import { stableJson } from "../audit/audit.ts";
import { randomHex } from "../util/random.ts";
import type { ApprovalRequest } from "../registry/context.ts";
import type { SharedState } from "../state/state.ts";

/** Seconds a minted question stays answerable (and a state verifiable). */
export const STATE_TTL_S = 300;
/** How long a used nonce is remembered (the state's lifetime and a margin). */
const NONCE_TTL_MS = STATE_TTL_S * 1000 + 60_000;

/** The shared-state name of a nonce (bounded, whatever the client sent). */
function nonceKey(nonce: string): string {
  return createHash("sha256").update(`nonce\0${nonce}`).digest("hex").slice(0, 40);
}

/** The shared-state name of a grant: a digest, never the caller key itself. */
function grantKey(caller: string, digest: string): string {
  return createHash("sha256").update(`grant\0${caller}\0${digest}`).digest("hex");
}

/** Key of the one elicitation in `inputRequests`. */
export const ANSWER_KEY = "decision";
/** The most characters of arguments shown to the human. */
const SHOWN_ARGS_MAX = 1500;

/** A host key offered by a host that has no pinned key yet. */
export interface HostKeyOffer {
  alias: string;
  lookupKey: string;
  address: string;
  port: number;
  keyType: string;
  /** base64 of the key blob */
  key: string;
  fingerprint: string;
}

/** The sealed state of one question. */
export type QuestionState =
  | { kind: "approval"; call: string; nonce: string }
  | {
    kind: "host_key";
    call: string;
    nonce: string;
    offer: HostKeyOffer;
    /** the call was approved in an earlier round (approval tiers) */
    approved?: boolean;
  };

/** The human's answer, as read from the retried request. */
export type Answer = "accept" | "decline" | "cancel" | "none";

/** Digest of one call: tool name + canonical arguments. */
export function callDigest(name: string, args: unknown): string {
  const canonical = args && typeof args === "object" && !Array.isArray(args)
    ? stableJson(args as Record<string, unknown>)
    : JSON.stringify(args ?? {});
  return createHash("sha256").update(`${name}\0${canonical}`).digest("hex");
}

/**
 * The caller a handle or a question belongs to: the authenticated principal
 * when there is one (HTTP), else the transport session, else the single stdio
 * client.
 */
export function callerKey(ctx: ServerContext): string {
  const auth = ctx.http?.authInfo;
  if (auth?.clientId) return `principal:${auth.clientId}`;
  if (ctx.sessionId) return `session:${ctx.sessionId}`;
  return "stdio";
}

/** True when the client declared form elicitation (per request on 2026-07-28). */
export function canElicit(ctx: ServerContext, connected: ClientCapabilities | undefined): boolean {
  const env = ctx.mcpReq.envelope as Record<string, unknown> | undefined;
  const perRequest = env?.["io.modelcontextprotocol/clientCapabilities"] as
    | ClientCapabilities
    | undefined;
  const caps = perRequest ?? connected;
  const e = caps?.elicitation as Record<string, unknown> | undefined;
  if (!e) return false;
  // an empty object means form mode (the pre-mode rule); else form must be declared
  return Object.keys(e).length === 0 || e.form !== undefined;
}

/** Reads the answer to {@link ANSWER_KEY} from a retried request. */
export function readAnswer(
  responses: Record<string, unknown> | undefined,
  yes: string,
): Answer {
  const r = responses?.[ANSWER_KEY] as { action?: unknown; content?: unknown } | undefined;
  if (!r || typeof r !== "object") return "none";
  if (r.action === "decline") return "decline";
  if (r.action !== "accept") return "cancel";
  const content = r.content as Record<string, unknown> | undefined;
  return content?.[ANSWER_KEY] === yes ? "accept" : "decline";
}

/** Signed questions, one-time nonces and approval grants. */
export class Interactions {
  readonly codec: RequestStateCodec<QuestionState>;
  readonly #used = new Map<string, number>();
  readonly #grants = new Map<string, number>();
  readonly #grantMs: number;
  readonly #state: SharedState | null;

  /**
   * `key`: the HMAC key (tests); else the state's signing key (shared by the
   * replicas of one Redis); else 32 random bytes for this process.
   */
  constructor(opts: { grantSeconds: number; key?: Uint8Array; state?: SharedState }) {
    this.#grantMs = opts.grantSeconds * 1000;
    this.#state = opts.state?.shared ? opts.state : null;
    this.codec = createRequestStateCodec<QuestionState>({
      key: opts.key ?? opts.state?.signingKey ?? crypto.getRandomValues(new Uint8Array(32)),
      ttlSeconds: STATE_TTL_S,
      bind: (ctx) => `${ctx.mcpReq.method}\0${callerKey(ctx)}`,
    });
  }

  #sweep(now: number): void {
    for (const [k, exp] of this.#used) if (exp <= now) this.#used.delete(k);
    for (const [k, exp] of this.#grants) if (exp <= now) this.#grants.delete(k);
  }

  /**
   * Accepts a verified state once: false when its nonce was already used
   * (a replay) or when it was minted for another call.
   */
  consume(state: QuestionState, digest: string): boolean {
    const now = Date.now();
    this.#sweep(now);
    if (state.call !== digest) return false;
    if (this.#used.has(state.nonce)) return false;
    this.#used.set(state.nonce, now + NONCE_TTL_MS);
    // other replicas' consumeAsync sees it too (best effort from a sync call)
    this.#state?.set(`nonce:${nonceKey(state.nonce)}`, "1", NONCE_TTL_MS).catch(() => {});
    return true;
  }

  /**
   * {@link consume} across replicas: the nonce is claimed atomically in the
   * shared state (SET NX), so a state replayed on any replica is refused.
   * Without a shared state it is {@link consume}. Throws the "shared state
   * unavailable" ToolError when Redis is down (nothing runs then).
   */
  async consumeAsync(state: QuestionState, digest: string): Promise<boolean> {
    if (!this.#state) return this.consume(state, digest);
    const now = Date.now();
    this.#sweep(now);
    if (state.call !== digest || typeof state.nonce !== "string") return false;
    if (this.#used.has(state.nonce)) return false;
    const fresh = await this.#state.setIfAbsent(
      `nonce:${nonceKey(state.nonce)}`,
      "1",
      NONCE_TTL_MS,
    );
    if (!fresh) return false;
    this.#used.set(state.nonce, now + NONCE_TTL_MS);
    return true;
  }

  /** Records a grant for the identical call by the same caller (`SSH_APPROVAL_GRANT_S`). */
  grant(caller: string, digest: string): void {
    if (this.#grantMs <= 0) return;
    this.#grants.set(`${caller}\0${digest}`, Date.now() + this.#grantMs);
    this.#state?.set(`grant:${grantKey(caller, digest)}`, "1", this.#grantMs).catch(() => {});
  }

  /** {@link grant}, written to the shared state before it resolves. */
  async grantAsync(caller: string, digest: string): Promise<void> {
    if (this.#grantMs <= 0) return;
    this.#grants.set(`${caller}\0${digest}`, Date.now() + this.#grantMs);
    await this.#state?.set(`grant:${grantKey(caller, digest)}`, "1", this.#grantMs);
  }

  /** True while a grant for this call and caller is valid (this replica's grants). */
  granted(caller: string, digest: string): boolean {
    const now = Date.now();
    this.#sweep(now);
    const exp = this.#grants.get(`${caller}\0${digest}`);
    return exp !== undefined && exp > now;
  }

  /** {@link granted} on any replica (the shared state's grants too). */
  async grantedAsync(caller: string, digest: string): Promise<boolean> {
    if (this.granted(caller, digest)) return true;
    if (!this.#state || this.#grantMs <= 0) return false;
    return (await this.#state.get(`grant:${grantKey(caller, digest)}`)) !== null;
  }

  /** The approval question for one call. */
  async askApproval(
    req: ApprovalRequest,
    args: unknown,
    digest: string,
    ctx: ServerContext,
  ): Promise<InputRequiredResult> {
    const shown = JSON.stringify(args ?? {});
    const lines = [
      `ssh-mcp asks you to approve one call (tier "${req.tier}" needs a human's approval).`,
      `Tool: ${req.tool}`,
      `Host(s): ${req.hosts.length ? req.hosts.join(", ") : "(from the arguments below)"}`,
      ...(req.command !== null ? [`Command: ${req.command}`] : []),
      ...Object.entries(req.paths).map(([f, p]) => `Path (${f}): ${p}`),
      `Arguments: ${
        shown.length > SHOWN_ARGS_MAX ? `${shown.slice(0, SHOWN_ARGS_MAX)}...(truncated)` : shown
      }`,
      `Choose "approve" to run exactly this call once; anything else refuses it.`,
    ];
    const state = await this.codec.mint(
      { kind: "approval", call: digest, nonce: randomHex(16) },
      ctx,
    );
    return question(lines, "Run this call?", ["deny", "approve"], state);
  }

  /** The first-contact question for one unknown host key. */
  async askHostKey(
    offer: HostKeyOffer,
    digest: string,
    pinFile: string,
    ctx: ServerContext,
    approved = false,
  ): Promise<InputRequiredResult> {
    const lines = [
      `ssh-mcp connects to host "${offer.alias}" for the first time: ${offer.address} port ${offer.port}.`,
      `It presented a ${offer.keyType} host key with fingerprint ${offer.fingerprint}.`,
      `Check it OUT OF BAND before you answer: on the host's console (not through this connection) run ` +
      `"ssh-keygen -lf /etc/ssh/ssh_host_${keyFileStem(offer.keyType)}_key.pub" and compare the ` +
      `SHA256 fingerprint character by character.`,
      `Choose "yes" only if they are identical: the key is then pinned in ${pinFile} ` +
      `(known_hosts name "${offer.lookupKey}") and the call proceeds. Anything else refuses the ` +
      `connection and pins nothing.`,
    ];
    const state = await this.codec.mint(
      { kind: "host_key", call: digest, nonce: randomHex(16), offer, approved },
      ctx,
    );
    return question(lines, `Pin ${offer.fingerprint} for ${offer.alias}?`, ["no", "yes"], state);
  }
}

/**
 * One form question: `lines` as the message, a single choice field whose
 * default is the safe answer (`[safe, yes]`), and the sealed state.
 */
function question(
  lines: readonly string[],
  title: string,
  [safe, yes]: readonly [string, string],
  state: string,
): InputRequiredResult {
  return inputRequired({
    inputRequests: {
      [ANSWER_KEY]: inputRequired.elicit({
        mode: "form",
        message: lines.join("\n"),
        requestedSchema: {
          type: "object",
          properties: {
            [ANSWER_KEY]: { type: "string", title, enum: [safe, yes], default: safe },
          },
          required: [ANSWER_KEY],
        },
      }),
    },
    requestState: state,
  });
}

/** `ssh-ed25519` -> `ed25519`, `ecdsa-sha2-nistp256` -> `ecdsa`, `ssh-rsa` -> `rsa`. */
function keyFileStem(keyType: string): string {
  if (keyType.includes("ed25519")) return "ed25519";
  if (keyType.startsWith("ecdsa")) return "ecdsa";
  if (keyType.includes("rsa")) return "rsa";
  return keyType.replace(/^ssh-/, "");
}

/** Base64 of a key blob (the form stored in a question's state). */
export function keyToBase64(blob: Uint8Array): string {
  return Buffer.from(blob).toString("base64");
}

/** The key blob of a stored offer. */
export function keyFromBase64(b64: string): Uint8Array {
  return new Uint8Array(Buffer.from(b64, "base64"));
}
