/**
 * ssh-agent access (SECURITY.md AUTH-5, AUTH-6): socket resolution, listing
 * identities, and an agent wrapper that offers exactly one pinned key.
 *
 * The wrappers here never implement `getStream`, so ssh2 cannot forward the
 * agent even if a caller asked for it (agent forwarding is never enabled).
 *
 * @module
 */

// @ts-types="npm:@types/ssh2@1.15.5"
import type ssh2 from "ssh2";
import { loadSsh2, ssh2Lib } from "../util/ssh2_lib.ts";
// @ts-types="npm:@types/ssh2@1.15.5"
import type { BaseAgent, ParsedKey, SignCallback, SigningRequestOptions } from "ssh2";
import type { Buffer } from "node:buffer";
import type { Duplex } from "node:stream";
import { ToolError } from "../errors.ts";
import { expandPath } from "../config/env.ts";
import { fingerprintSha256 } from "./key_blob.ts";

/** One key held by an agent. */
export interface AgentIdentity {
  /** `SHA256:<unpadded base64>`, equal to `ssh-add -l -E sha256` */
  fingerprint: string;
  /** SSH key type, e.g. `ssh-ed25519` */
  type: string;
  /** the comment the key was added with */
  comment: string;
}

/** Default agent of Windows' OpenSSH port. */
export const WINDOWS_AGENT_PIPE = "\\\\.\\pipe\\openssh-ssh-agent";

/** Default timeout of {@link listAgentIdentities}. */
export const AGENT_TIMEOUT_MS = 5_000;

/** Normalises a fingerprint for comparison (padding is optional in configs). */
export function normaliseFingerprint(fp: string): string {
  return fp.trim().replace(/=+$/, "");
}

/**
 * Agent socket resolution (AUTH-6): `identity_agent` (with `~` and `${VAR}`
 * expanded; `none` disables the agent; `SSH_AUTH_SOCK` / `$SSH_AUTH_SOCK`
 * means the environment variable) → `SSH_AUTH_SOCK` → on Windows the OpenSSH
 * default pipe `\\.\pipe\openssh-ssh-agent` → null (no agent).
 *
 * @param os platform to resolve for (default: the running one); for tests
 */
export function resolveAgentSocket(
  identityAgent: string | null,
  env: Record<string, string | undefined>,
  os: string = Deno.build.os,
): string | null {
  const configured = identityAgent?.trim();
  if (configured) {
    if (configured.toLowerCase() === "none") return null;
    if (configured === "SSH_AUTH_SOCK" || configured === "$SSH_AUTH_SOCK") {
      return env.SSH_AUTH_SOCK?.trim() || null;
    }
    const bare = /^\$([A-Za-z_][A-Za-z0-9_]*)$/.exec(configured);
    if (bare) return env[bare[1]!]?.trim() || null;
    return expandPath(configured, env);
  }
  const sock = env.SSH_AUTH_SOCK?.trim();
  if (sock) return sock;
  if (os === "windows") return WINDOWS_AGENT_PIPE;
  return null;
}

type StreamAgent = BaseAgent & {
  getStream?: (cb: (err: Error | undefined, s?: Duplex) => void) => void;
};

/** Asks the agent for its keys; rejects on timeout (the socket is destroyed). */
function fetchKeys(
  lib: typeof ssh2,
  socketPath: string,
  timeoutMs: number,
): Promise<ParsedKey[]> {
  const agent = lib.createAgent(socketPath) as StreamAgent;
  return new Promise<ParsedKey[]>((resolve, reject) => {
    let done = false;
    let stream: Duplex | undefined;
    const timer = setTimeout(
      () => settle(new Error(`no answer within ${timeoutMs} ms`)),
      timeoutMs,
    );
    function settle(err: Error | null, keys?: ParsedKey[]) {
      if (done) return;
      done = true;
      clearTimeout(timer);
      try {
        stream?.destroy();
      } catch {
        // ignore
      }
      if (err) reject(err);
      else resolve(keys ?? []);
    }
    if (typeof agent.getStream !== "function") {
      // e.g. Pageant: no stream access, use the agent's own listing
      agent.getIdentities((err, keys) => {
        if (err) settle(err);
        else settle(null, (keys ?? []).filter((k): k is ParsedKey => typeof k === "object"));
      });
      return;
    }
    agent.getStream((err, s) => {
      if (err || !s) return settle(err ?? new Error("cannot connect"));
      if (done) {
        s.destroy();
        return;
      }
      stream = s;
      const protocol = new lib.AgentProtocol(true);
      const onFail = (e?: Error) => settle(e ?? new Error("connection closed by the agent"));
      protocol.on("error", onFail);
      s.on("error", onFail).on("close", () => onFail()).on("end", () => onFail());
      protocol.pipe(s).pipe(protocol);
      protocol.getIdentities((e, keys) => {
        if (e) settle(e);
        else settle(null, keys ?? []);
      });
    });
  });
}

/**
 * Lists the keys of the agent at `socketPath`; fingerprints equal
 * `ssh-add -l -E sha256`. Keys ssh2 cannot use (certificates, security-key
 * types) are not listed.
 *
 * @throws ToolError("AgentFingerprintNotFound") when the agent is unreachable
 *   or does not answer within `timeoutMs`.
 */
export async function listAgentIdentities(
  socketPath: string,
  timeoutMs: number = AGENT_TIMEOUT_MS,
): Promise<AgentIdentity[]> {
  let keys: ParsedKey[];
  try {
    keys = await fetchKeys(await loadSsh2(), socketPath, timeoutMs);
  } catch (e) {
    throw new ToolError(
      "AgentFingerprintNotFound",
      `ssh-agent at ${socketPath} is not reachable (${
        e instanceof Error ? e.message : "error"
      }); start the agent or fix identity_agent / SSH_AUTH_SOCK`,
      { agent: socketPath },
    );
  }
  return keys.map((k) => ({
    fingerprint: fingerprintSha256(k.getPublicSSH()),
    type: k.type,
    comment: k.comment ?? "",
  }));
}

/**
 * An agent that talks to the agent at `socketPath` and offers only the keys
 * `accept` selects. It has no `getStream`, so it cannot be forwarded.
 */
function makeFilteringAgent(lib: typeof ssh2) {
  return class FilteringAgent extends lib.BaseAgent<ParsedKey> {
    #inner: BaseAgent;
    #accept: (fingerprint: string) => boolean;
    #missing: string | null;

    constructor(socketPath: string, accept: (fp: string) => boolean, missing: string | null) {
      super();
      this.#inner = lib.createAgent(socketPath);
      this.#accept = accept;
      this.#missing = missing;
    }

    getIdentities(cb: (err: Error | undefined, keys?: ParsedKey[]) => void): void {
      this.#inner.getIdentities((err, keys) => {
        if (err) return cb(err);
        const parsed = (keys ?? []).filter((k): k is ParsedKey => typeof k === "object");
        const offered = parsed.filter((k) => this.#accept(fingerprintSha256(k.getPublicSSH())));
        if (offered.length === 0 && this.#missing) return cb(new Error(this.#missing));
        cb(undefined, offered);
      });
    }

    sign(
      pubKey: ParsedKey,
      data: Buffer,
      options: SigningRequestOptions | SignCallback,
      cb?: SignCallback,
    ): void {
      const callback = typeof options === "function" ? options : cb;
      // defence in depth: ssh2 only signs with offered keys, but never sign with another
      if (!this.#accept(fingerprintSha256(pubKey.getPublicSSH()))) {
        callback?.(new Error("key not offered by this agent"));
        return;
      }
      if (typeof options === "function") {
        this.#inner.sign(pubKey, data, options);
      } else {
        this.#inner.sign(pubKey, data, options, cb);
      }
    }
  };
}

type FilteringAgentClass = ReturnType<typeof makeFilteringAgent>;
let filteringAgent: FilteringAgentClass | null = null;

/** The class, defined once ssh2 is loaded (it must extend ssh2's own BaseAgent). */
function FilteringAgent(): FilteringAgentClass {
  return filteringAgent ??= makeFilteringAgent(ssh2Lib());
}

/**
 * An ssh2 agent object that offers only the key with `fingerprint`
 * (identity_fingerprint pinning, AUTH-5). If the key has left the agent by the
 * time ssh2 asks, the agent method fails instead of offering other keys.
 */
export function pinnedAgent(socketPath: string, fingerprint: string): BaseAgent {
  const want = normaliseFingerprint(fingerprint);
  return new (FilteringAgent())(
    socketPath,
    (fp) => fp === want,
    `pinned key ${want} is no longer in the agent at ${socketPath}`,
  );
}

/**
 * An ssh2 agent object offering every key of the agent at `socketPath`, without
 * forwarding support.
 */
export function unpinnedAgent(socketPath: string): BaseAgent {
  return new (FilteringAgent())(socketPath, () => true, null);
}
