/**
 * Client authentication material for one connection attempt (SECURITY.md
 * §AUTH, CONFIG.md §4.4).
 *
 * {@link prepareAuth} turns a host's `[auth]` table into the array form of
 * ssh2's `authHandler`, containing only the methods the operator configured.
 * Secrets (passwords, passphrases) are fetched per call, asynchronously, and
 * never logged or put into error text. Agent forwarding is never enabled: the
 * agent objects handed out cannot produce a forwarding stream.
 *
 * @module
 */

// @ts-types="npm:@types/ssh2@1.15.5"
import type { AnyAuthMethod } from "ssh2";
import { ToolError } from "../errors.ts";
import { type Logger, nullLogger } from "../log.ts";
import type { AuthConfig, HostPolicy, Settings } from "../config/types.ts";
import { expandPath } from "../config/env.ts";
import { readSecret, runSecretCommand } from "../config/secrets.ts";
import { isEncryptedKey, keyFingerprint, type ParsedKey, parsePrivateKey } from "./keys.ts";
import { loadSsh2 } from "../util/ssh2_lib.ts";
import { decryptKeyOffThread, scrub } from "./kdf.ts";
import { fingerprintSha256 } from "./key_blob.ts";
import {
  type AgentIdentity,
  listAgentIdentities,
  normaliseFingerprint,
  pinnedAgent,
  resolveAgentSocket,
  unpinnedAgent,
} from "./agent.ts";

/** Largest private key file we read (real keys are a few KiB). */
const MAX_KEY_FILE_BYTES = 1024 * 1024;

/** Credentials for one connection attempt. */
export interface PreparedAuth {
  /** login user */
  username: string;
  /**
   * What to hand to ssh2's `authHandler` (array form), in order — only the
   * methods the operator configured. Contains secrets (password, decrypted
   * key): use for one connect, do not store or log.
   */
  methods: AnyAuthMethod[];
  /** e.g. "agent (pinned SHA256:abc...)", "key file /path", "password (password_cmd)" — no secrets */
  description: string;
}

/** Inputs of {@link prepareAuth}. */
export interface PrepareAuthOptions {
  policy: HostPolicy;
  settings: Settings;
  env: Record<string, string | undefined>;
  /** `IdentityFile` entries from ssh_config (agent method without a pinned fingerprint only) */
  extraIdentityFiles?: string[];
  /** ssh_config `IdentitiesOnly yes`: offer only the `extraIdentityFiles` keys (agent included) */
  identitiesOnly?: boolean;
  logger?: Logger;
}

interface Ctx {
  alias: string;
  auth: AuthConfig;
  settings: Settings;
  env: Record<string, string | undefined>;
  logger: Logger;
}

function authFailed(message: string, attributes: Record<string, string> = {}): ToolError {
  return new ToolError("AuthenticationFailed", message, attributes);
}

/**
 * The host's `<kind>_cmd` or else `<kind>_secret` (undefined: neither is
 * configured); an empty value is refused. `via` names the source for logs.
 */
async function fetchSecret(
  ctx: Ctx,
  kind: "passphrase" | "password",
): Promise<{ value: string; via: string } | undefined> {
  const cmd = ctx.auth[`${kind}_cmd`];
  const secret = ctx.auth[`${kind}_secret`];
  let value: string;
  let what: string;
  let via: string;
  if (cmd) {
    what = `${kind}_cmd for host ${ctx.alias}`;
    value = await runSecretCommand(cmd, { what });
    via = `${kind}_cmd`;
  } else if (secret) {
    what = `${kind}_secret for host ${ctx.alias}`;
    value = await readSecret(secret, {
      dir: ctx.settings.SSH_SECRETS_DIR,
      allowEnv: ctx.settings.ALLOW_ENV_SECRETS,
      env: ctx.env,
      what,
      logger: ctx.logger,
    });
    via = `${kind}_secret ${secret}`;
  } else {
    return undefined;
  }
  if (value === "") throw authFailed(`${what}: returned an empty ${kind}`);
  return { value, via };
}

/**
 * Key loads in flight, per server environment: connects that start while a
 * load of the same file with the same passphrase source is running share it,
 * so a fan-out to N hosts with one encrypted key runs `passphrase_cmd` and
 * the bcrypt KDF (~0.25 s of CPU, in a worker: kdf.ts) once instead of N times. Nothing is
 * kept once the load settles (AUTH-4: no process-wide secret cache); a
 * failed shared load is retried by each joiner on its own, so every host
 * gets an error that names it.
 */
const keyLoads = new WeakMap<object, Map<string, Promise<ParsedKey>>>();

async function loadKeyShared(file: string, ctx: Ctx): Promise<ParsedKey> {
  let loads = keyLoads.get(ctx.env);
  if (!loads) keyLoads.set(ctx.env, loads = new Map());
  const id = JSON.stringify([
    expandPath(file, ctx.env),
    ctx.auth.passphrase_cmd,
    ctx.auth.passphrase_secret,
    ctx.settings.SSH_SECRETS_DIR,
    ctx.settings.ALLOW_ENV_SECRETS,
  ]);
  const running = loads.get(id);
  if (running) {
    try {
      return await running;
    } catch {
      return await loadKeyFile(file, ctx);
    }
  }
  const load = loadKeyFile(file, ctx).finally(() => loads.delete(id));
  loads.set(id, load);
  return await load;
}

/** Reads and parses a private key file, fetching the passphrase only when it is encrypted. */
async function loadKeyFile(file: string, ctx: Ctx): Promise<ParsedKey> {
  await loadSsh2(); // parsePrivateKey uses ssh2's key parser
  const p = expandPath(file, ctx.env);
  let data: Uint8Array;
  try {
    const st = await Deno.stat(p);
    if (!st.isFile) throw authFailed(`private key ${p} is not a regular file`, { key: p });
    if (st.size > MAX_KEY_FILE_BYTES) {
      throw authFailed(`private key ${p} is too large to be a key file`, { key: p });
    }
    data = await Deno.readFile(p);
  } catch (e) {
    if (e instanceof ToolError) throw e;
    const why = e instanceof Deno.errors.NotFound
      ? "not found"
      : e instanceof Deno.errors.PermissionDenied
      ? "permission denied"
      : e instanceof Error
      ? e.name
      : "error";
    throw authFailed(`cannot read private key ${p} (${why}) for host ${ctx.alias}`, { key: p });
  }
  try {
    if (!isEncryptedKey(data)) return parsePrivateKey(data, undefined, p);
    const passphrase = (await fetchSecret(ctx, "passphrase"))?.value;
    // no passphrase source: parsePrivateKey says which setting is missing
    if (passphrase === undefined) return parsePrivateKey(data, undefined, p);
    // the KDF runs in a worker; `data` is transferred there and zeroed
    return await decryptKeyOffThread(data, passphrase, p);
  } finally {
    scrub(data);
  }
}

async function prepareKey(ctx: Ctx, username: string): Promise<PreparedAuth> {
  const keyPath = ctx.auth.key;
  if (!keyPath) {
    throw authFailed(
      `host ${ctx.alias} uses method = "key" but no key file is configured (set auth.key)`,
    );
  }
  const key = await loadKeyShared(keyPath, ctx);
  const p = expandPath(keyPath, ctx.env);
  return {
    username,
    methods: [{ type: "publickey", username, key }],
    description: `key file ${p} (${keyFingerprint(key)})`,
  };
}

async function preparePassword(ctx: Ctx, username: string): Promise<PreparedAuth> {
  if (!ctx.settings.ALLOW_PASSWORD_AUTH) {
    throw authFailed(
      `password authentication is disabled (host ${ctx.alias}): set ALLOW_PASSWORD_AUTH=true ` +
        `or switch the host to method = "agent" / "key"`,
    );
  }
  const secret = await fetchSecret(ctx, "password");
  if (!secret) {
    throw authFailed(
      `host ${ctx.alias} uses method = "password" but neither password_cmd nor ` +
        `password_secret is configured`,
    );
  }
  return {
    username,
    methods: [{ type: "password", username, password: secret.value }],
    description: `password (${secret.via})`,
  };
}

/** Fingerprint of `<file>.pub` (works for encrypted private keys), or null. */
async function publicFingerprint(privatePath: string): Promise<string | null> {
  try {
    const line = (await Deno.readTextFile(`${privatePath}.pub`)).trim();
    const b64 = line.split(/\s+/)[1];
    if (!b64) return null;
    return fingerprintSha256(Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)));
  } catch {
    return null;
  }
}

async function prepareAgent(
  ctx: Ctx,
  username: string,
  extraIdentityFiles: string[],
  identitiesOnly: boolean,
): Promise<PreparedAuth> {
  await loadSsh2(); // pinnedAgent / unpinnedAgent extend ssh2's BaseAgent
  const { auth } = ctx;
  const socket = resolveAgentSocket(auth.identity_agent, ctx.env);

  if (auth.identity_fingerprint) {
    // AUTH-5: exactly the pinned key, no fallback to other keys or files
    const fp = normaliseFingerprint(auth.identity_fingerprint);
    if (!socket) {
      throw new ToolError(
        "AgentFingerprintNotFound",
        `host ${ctx.alias} pins agent key ${fp} but no ssh-agent is configured: set ` +
          `SSH_AUTH_SOCK or auth.identity_agent`,
        { fingerprint: fp },
      );
    }
    let ids: AgentIdentity[];
    try {
      ids = await listAgentIdentities(socket);
    } catch (e) {
      const why = e instanceof ToolError ? e.message : "agent not reachable";
      throw new ToolError(
        "AgentFingerprintNotFound",
        `host ${ctx.alias} pins agent key ${fp}: ${why}`,
        { fingerprint: fp, agent: socket },
      );
    }
    if (!ids.some((i) => i.fingerprint === fp)) {
      throw new ToolError(
        "AgentFingerprintNotFound",
        `host ${ctx.alias} pins agent key ${fp}, which is not in the ssh-agent at ${socket} ` +
          `(it holds ${ids.length} key${ids.length === 1 ? "" : "s"}); add it with ssh-add ` +
          `or fix identity_fingerprint`,
        { fingerprint: fp, agent: socket },
      );
    }
    return {
      username,
      methods: [{ type: "agent", username, agent: pinnedAgent(socket, fp) }],
      description: `agent (pinned ${fp})`,
    };
  }

  if (auth.identities_only) {
    throw authFailed(
      `host ${ctx.alias} sets identities_only = true without identity_fingerprint: pin the agent ` +
        `key to offer (ssh-add -l -E sha256 lists the fingerprints)`,
    );
  }

  // AUTH-6: agent keys plus ssh_config IdentityFile, never ~/.ssh/id_* by default
  const methods: AnyAuthMethod[] = [];
  const parts: string[] = [];
  let agentProblem: string;
  let agentFps = new Set<string>();
  if (!socket) {
    agentProblem = "no ssh-agent socket (set SSH_AUTH_SOCK or auth.identity_agent)";
  } else {
    try {
      const ids = await listAgentIdentities(socket);
      agentFps = new Set(ids.map((i) => i.fingerprint));
      if (identitiesOnly) {
        // ssh_config IdentitiesOnly: agent keys only when an IdentityFile names them (below)
        agentProblem = "ssh_config IdentitiesOnly=yes allows only the IdentityFile keys";
      } else if (ids.length > 0) {
        methods.push({ type: "agent", username, agent: unpinnedAgent(socket) });
        parts.push(`agent ${socket} (${ids.length} key${ids.length === 1 ? "" : "s"})`);
        agentProblem = "";
      } else {
        agentProblem = `the ssh-agent at ${socket} holds no keys (add one with ssh-add)`;
      }
    } catch (e) {
      agentProblem = e instanceof ToolError ? e.message : `ssh-agent at ${socket} not reachable`;
      ctx.logger.debug("agent not usable", { host: ctx.alias, agent: socket });
    }
  }

  const loaded = await Promise.all(extraIdentityFiles.map(async (file) => {
    try {
      return { file, key: await loadKeyShared(file, ctx) };
    } catch (e) {
      const p = expandPath(file, ctx.env);
      const msg = e instanceof ToolError ? e.message : "cannot be loaded";
      if (e instanceof ToolError && /\(not found\)/.test(msg)) {
        ctx.logger.debug("IdentityFile not found, skipped", { host: ctx.alias, file: p });
      } else {
        ctx.logger.warn("IdentityFile skipped", { host: ctx.alias, file: p, reason: msg });
      }
      return null;
    }
  }));
  const files: string[] = [];
  const viaAgent = new Set<string>();
  if (identitiesOnly && socket) {
    // keys named by IdentityFile that the agent holds are offered through the agent (OpenSSH does the same)
    for (const file of extraIdentityFiles) {
      const fp = await publicFingerprint(expandPath(file, ctx.env));
      if (fp && agentFps.has(fp) && !viaAgent.has(fp)) {
        viaAgent.add(fp);
        methods.push({ type: "agent", username, agent: pinnedAgent(socket, fp) });
        parts.push(`agent key ${fp} (IdentitiesOnly)`);
      }
    }
  }
  for (const entry of loaded) {
    if (!entry) continue;
    const fp = keyFingerprint(entry.key);
    if (viaAgent.has(fp)) continue;
    if (!identitiesOnly && agentFps.has(fp)) continue; // the unpinned agent offers it already
    methods.push({ type: "publickey", username, key: entry.key });
    files.push(expandPath(entry.file, ctx.env));
  }
  if (files.length > 0) {
    parts.push(`identity file${files.length > 1 ? "s" : ""} ${files.join(", ")}`);
  }

  if (methods.length === 0) {
    const fileNote = extraIdentityFiles.length > 0
      ? "; none of the ssh_config IdentityFile entries could be used"
      : "";
    throw authFailed(`host ${ctx.alias} uses agent authentication but ${agentProblem}${fileNote}`);
  }
  return { username, methods, description: parts.join(" + ") };
}

/**
 * Prepares credentials for one connection attempt, per SECURITY.md §AUTH:
 *
 * - `agent` (default): socket via {@link resolveAgentSocket}.
 *   `identity_fingerprint` pins one key — it must be in the agent, else
 *   `AgentFingerprintNotFound` (also when no agent is reachable at all);
 *   `identities_only = true` without a fingerprint → `AuthenticationFailed`.
 *   Without a pinned fingerprint: all agent keys plus `extraIdentityFiles`
 *   (ssh_config `IdentityFile`), never `~/.ssh/id_*`; nothing usable →
 *   `AuthenticationFailed` naming the reason (e.g. no agent socket: set
 *   SSH_AUTH_SOCK or identity_agent).
 * - `key`: `auth.key` is required; the file is read (`~` expanded), the
 *   passphrase fetched from passphrase_cmd / passphrase_secret only when the
 *   key is encrypted, then parsed with {@link parsePrivateKey}.
 * - `password`: requires `ALLOW_PASSWORD_AUTH` (defensive re-check) and
 *   password_cmd or password_secret.
 *
 * Secrets are fetched per call, asynchronously, never logged, never in error
 * text. Agent forwarding is never enabled.
 *
 * @throws ToolError("AuthenticationFailed" | "AgentFingerprintNotFound")
 */
export function prepareAuth(opts: PrepareAuthOptions): Promise<PreparedAuth> {
  const ctx: Ctx = {
    alias: opts.policy.alias,
    auth: opts.policy.auth,
    settings: opts.settings,
    env: opts.env,
    logger: opts.logger ?? nullLogger,
  };
  const username = opts.policy.user;
  switch (opts.policy.auth.method) {
    case "key":
      return prepareKey(ctx, username);
    case "password":
      return preparePassword(ctx, username);
    case "agent":
      return prepareAgent(
        ctx,
        username,
        opts.extraIdentityFiles ?? [],
        opts.identitiesOnly === true,
      );
    default:
      return Promise.reject(
        authFailed(`host ${ctx.alias}: unknown auth method ${String(opts.policy.auth.method)}`),
      );
  }
}
