/**
 * `ssh-mcp bridge`: a stdio MCP endpoint relayed to an MCP server on another
 * host over SSH (TOOLS.md §15, "Bridge (client) contract"; issue 15 item 1).
 *
 * - `args.ts`: the command line;
 * - `connect.ts`: host policy (flags or hosts.toml alias), strict host keys,
 *   credentials and the remote channel, through the project's connection pool;
 * - `keygen.ts`: the default client key, generated on first use;
 * - `keyserver.ts`: the optional key-server exchange (--key-server), run
 *   before the first SSH connection;
 * - `relay.ts` + `lines.ts`: the message relay (size cap, errors for requests
 *   in flight, lazy reconnect with backoff).
 *
 * @module
 */

import * as os from "node:os";
import { ConfigError } from "../errors.ts";
import { LOG_LEVELS, Logger, type LogLevel } from "../log.ts";
import { writeStdout } from "../mcp/stdio.ts";
import { BRIDGE_USAGE, parseBridgeArgs, UsageError } from "./args.ts";
import { classifyConnectError, openRemote, planBridge } from "./connect.ts";
import { exists, generateClientKey } from "./keygen.ts";
import { KeyServerError, runKeyExchange } from "./keyserver.ts";
import { Relay } from "./relay.ts";

/** Exit codes (as the rest of the CLI). */
const EXIT = { ok: 0, failure: 1, usage: 2, config: 3 } as const;

/** Options mainly for tests: the environment, stdin / stdout, and a stop signal. */
export interface BridgeRunOptions {
  env?: Record<string, string | undefined>;
  stdin?: ReadableStream<Uint8Array>;
  stdout?: (bytes: Uint8Array) => Promise<void>;
  signal?: AbortSignal;
}

/** Runs `ssh-mcp bridge ARGS`; returns the exit code. */
export async function runBridge(
  args: readonly string[],
  io: { out: (text: string) => void; err: (text: string) => void },
  opts?: BridgeRunOptions,
): Promise<number> {
  const env = opts?.env ?? Deno.env.toObject();
  let parsed;
  try {
    parsed = parseBridgeArgs(args);
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`ssh-mcp bridge: ${e.message}\n\n${BRIDGE_USAGE}`);
      return EXIT.usage;
    }
    throw e;
  }
  if (parsed.help) {
    io.out(BRIDGE_USAGE);
    return EXIT.ok;
  }
  const levelEnv = (env.LOG_LEVEL ?? "").toUpperCase();
  const level: LogLevel = (LOG_LEVELS as readonly string[]).includes(levelEnv)
    ? levelEnv as LogLevel
    : "WARNING";
  const logger = new Logger({ level, sink: io.err, fields: { component: "bridge" } });

  let plan;
  try {
    plan = await planBridge(parsed, env, Deno.cwd(), logger);
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`ssh-mcp bridge: ${e.message}`);
      return EXIT.usage;
    }
    if (e instanceof ConfigError) {
      io.err(`ssh-mcp bridge: configuration error: ${e.message}`);
      return EXIT.config;
    }
    throw e;
  }

  if (plan.defaultKey !== null && !(await exists(plan.defaultKey))) {
    try {
      const k = await generateClientKey(plan.defaultKey, `ssh-mcp-bridge@${os.hostname()}`);
      io.err(
        `ssh-mcp bridge: generated a new client key ${k.privatePath} (${k.fingerprint}).\n` +
          (plan.keyServer?.clientKey
            ? `It is registered with the key server ${plan.keyServer.url}; its public key:\n`
            : `Authorize it on ${plan.policy.hostname} by appending this line to ` +
              `~${plan.policy.user}/.ssh/authorized_keys there:\n`) +
          k.publicLine,
      );
    } catch (e) {
      if (!(e instanceof Deno.errors.AlreadyExists)) {
        io.err(
          `ssh-mcp bridge: cannot create the client key ${plan.defaultKey}: ${
            e instanceof Error ? e.message : String(e)
          }`,
        );
        return EXIT.failure;
      }
    }
  }

  if (plan.keyServer !== null) {
    const t = plan.pool.knownHostsLookup(plan.policy);
    try {
      await runKeyExchange(
        plan.keyServer,
        { host: t.name, port: t.port, hostKeyAlias: t.hostKeyAlias },
        logger,
      );
    } catch (e) {
      plan.pool.closeAll();
      if (e instanceof KeyServerError) {
        io.err(`ssh-mcp bridge: key-server exchange refused: ${e.message}`);
        return EXIT.failure;
      }
      throw e;
    }
  }

  const relay = new Relay({
    connect: () => openRemote(plan),
    classify: classifyConnectError,
    input: opts?.stdin ?? Deno.stdin.readable,
    writeLocal: opts?.stdout ?? writeStdout,
    log: io.err,
    label: plan.label,
    ...(opts?.signal ? { signal: opts.signal } : {}),
  });
  try {
    return await relay.run();
  } finally {
    plan.pool.closeAll();
  }
}
