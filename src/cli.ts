/**
 * Command line: `ssh-mcp [serve]`, `tools`, `doctor [alias...]`, `--version`,
 * `--help`.
 *
 * Exit codes: 0 success; 1 doctor found a failing host / runtime failure;
 * 2 usage error; 3 invalid configuration.
 *
 * stdout belongs to the MCP protocol in `serve`; the other commands print
 * their report on stdout and logs on stderr.
 *
 * @module
 */

import { App } from "./app.ts";
import { loadConfig, type LoadedConfig } from "./config/load.ts";
import { ConfigError, FIX_HINTS, isToolError } from "./errors.ts";
import { Logger, stderrSink } from "./log.ts";
import { checkInlineCaps, messageLimit } from "./mcp/limits.ts";
import type { McpService } from "./mcp/server.ts";
import { earlyAnswersFor, startEarlyStdio } from "./mcp/early.ts";
import { initTelemetry } from "./telemetry/otel.ts";
import { isLoopbackHost } from "./config/settings.ts";
import { LineTransport, writeStdout } from "./mcp/stdio.ts";
import type { ConfigCheck } from "./doctor.ts";
import { VERSION } from "./version.ts";
import { importLazy } from "./util/lazy_import.ts";
import { mark, startupFields } from "./startup.ts";
import { stdoutSlice, writeAllSync } from "./util/fd_write.ts";

/** Exit codes. */
export const EXIT = { ok: 0, failure: 1, usage: 2, config: 3 } as const;

const HELP = `ssh-mcp ${VERSION} - an MCP server giving AI agents safe, audited SSH access

Usage:
  ssh-mcp [serve]          run the MCP server on stdio (default; MCP_TRANSPORT=http for
                           the Streamable HTTP gateway)
  ssh-mcp tools [--json]   print the tools visible with the current environment
  ssh-mcp doctor [--json] [alias ...]
                           check the configuration and, per host: pinned host key,
                           auth material, reachability and authentication
  ssh-mcp doctor --client NAME
                           print the MCP client configuration for NAME (claude-desktop,
                           claude-code, cursor, vscode, windsurf, zed, continue) with this
                           machine's absolute paths
  ssh-mcp init [--ssh-config FILE] [--out FILE]
                           write a starter hosts.toml (read-only tier) from ~/.ssh/config
  ssh-mcp serve-ssh --host-key PATH --authorized-keys PATH [--listen 127.0.0.1:8022]
                           serve this MCP server over SSH (public-key auth only)
  ssh-mcp bridge HOST|ALIAS [options]
                           stdio MCP endpoint relayed to an MCP server on a remote host
  ssh-mcp --version        print the version
  ssh-mcp --help           this text

Configuration comes from the environment (and .env in the working directory):
SSH_HOSTS_FILE (hosts.toml), SSH_KNOWN_HOSTS, SSH_AUDIT_LOG, ALLOW_LOW_ACCESS_TOOLS,
ALLOW_DANGEROUS_TOOLS, ALLOW_SUDO, ... See README.md and hosts.toml.example.

Exit codes: 0 ok, 1 failure (doctor: a host check failed), 2 usage, 3 invalid configuration.
`;

function out(text: string): void {
  // one line per write: each slice then holds at most one newline (util/fd_write.ts)
  const enc = new TextEncoder();
  for (const line of (text.endsWith("\n") ? text.slice(0, -1) : text).split("\n")) {
    writeAllSync(Deno.stdout, enc.encode(line + "\n"), stdoutSlice);
  }
}

async function load(): Promise<LoadedConfig | null> {
  try {
    return await loadConfig({ env: Deno.env.toObject(), cwd: Deno.cwd() });
  } catch (e) {
    if (e instanceof ConfigError) {
      stderrSink(`ssh-mcp: configuration error: ${e.message}`);
      return null;
    }
    throw e;
  }
}

/** Runs the CLI; returns the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const args = [...argv];
  const json = args.includes("--json");
  const rest = args.filter((a) => a !== "--json");
  const cmd = rest[0] ?? "serve";
  if (cmd === "--version" || cmd === "-V" || cmd === "version") {
    out(`ssh-mcp ${VERSION}`);
    return EXIT.ok;
  }
  if (cmd === "--help" || cmd === "-h" || cmd === "help") {
    out(HELP);
    return EXIT.ok;
  }
  if (cmd === "serve") {
    if (rest.length > 1) {
      stderrSink(`ssh-mcp: serve takes no arguments (got ${rest.slice(1).join(" ")})\n\n${HELP}`);
      return EXIT.usage;
    }
    return await serve();
  }
  if (cmd === "tools") return await tools(json);
  // the other commands' modules load only when asked for: `serve` on stdio (what an MCP
  // client starts) never evaluates the doctor, the bridge (the v2 client SDK), serve-ssh or
  // the HTTP gateway (jose, the event store). Literal specifiers: `deno compile` packs them.
  const io = { out, err: stderrSink };
  if (cmd === "init") {
    return await (await importLazy<typeof import("./init.ts")>(
      new URL("./init.ts", import.meta.url),
    )).runInit(rest.slice(1), io);
  }
  if (cmd === "serve-ssh") {
    return await (await importLazy<typeof import("./serve_ssh.ts")>(
      new URL("./serve_ssh.ts", import.meta.url),
    )).runServeSsh(rest.slice(1), io);
  }
  if (cmd === "bridge") {
    return await (await importLazy<typeof import("./bridge/bridge.ts")>(
      new URL("./bridge/bridge.ts", import.meta.url),
    )).runBridge(rest.slice(1), io);
  }
  if (cmd === "doctor" && rest.includes("--client")) {
    return await (await importLazy<typeof import("./client_config.ts")>(
      new URL("./client_config.ts", import.meta.url),
    )).runDoctorClient(rest.slice(1), io);
  }
  if (cmd === "doctor") {
    const cfg = await load();
    if (!cfg) return EXIT.config;
    const { runDoctor } = await importLazy<typeof import("./doctor.ts")>(
      new URL("./doctor.ts", import.meta.url),
    );
    return await runDoctor(cfg, rest.slice(1), {
      json,
      write: out,
      extraChecks: [transportCheck(cfg)],
    });
  }
  stderrSink(`ssh-mcp: unknown command ${JSON.stringify(cmd)}\n\n${HELP}`);
  return EXIT.usage;
}

/** The inline-cap check (TRANS-9) as a doctor line. */
function transportCheck(cfg: LoadedConfig): ConfigCheck {
  try {
    checkInlineCaps(cfg.settings);
    return {
      check: "transport",
      status: "ok",
      detail: `one MCP message may carry up to ${messageLimit(cfg.settings)} bytes`,
    };
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    const [detail, fix] = e.message.split(" Fix: ");
    return { check: "transport", status: "fail", detail: detail!, ...(fix ? { fix } : {}) };
  }
}

async function tools(json: boolean): Promise<number> {
  const cfg = await load();
  if (!cfg) return EXIT.config;
  const app = await App.create(cfg, { logger: new Logger({ level: "ERROR" }), openAudit: false });
  const visible = app.catalog.visible;
  if (json) {
    out(
      JSON.stringify(visible.map((t) => ({ name: t.name, tier: t.tier, group: t.group })), null, 2),
    );
  } else {
    const w = Math.max(...visible.map((t) => t.name.length), 4);
    out(`${"name".padEnd(w)}  ${"tier".padEnd(10)}  group`);
    for (const t of visible) out(`${t.name.padEnd(w)}  ${t.tier.padEnd(10)}  ${t.group}`);
    out(`\n${visible.length} of ${app.catalog.registered.length} tools visible`);
  }
  await app.close();
  return EXIT.ok;
}

async function serve(): Promise<number> {
  const cfg = await load();
  if (!cfg) return EXIT.config;
  mark("config");
  const transportName = cfg.settings.MCP_TRANSPORT;
  if (transportName === "sse") {
    stderrSink(
      "ssh-mcp: configuration error: MCP_TRANSPORT=sse (the old HTTP+SSE transport) is not served; use MCP_TRANSPORT=http (Streamable HTTP, which streams with SSE) or stdio.",
    );
    return EXIT.config;
  }
  const http = transportName === "http" || transportName === "streamable-http";
  let app: App;
  try {
    // TRANS-9: inline caps must fit the transport's message limit
    checkInlineCaps(cfg.settings);
    // AUDIT-12: an audit sink that cannot be opened stops the start
    // stdio: the checkers load after the early answers, with the MCP layer
    app = await App.create(cfg, { deferCheckers: !http });
  } catch (e) {
    if (e instanceof ConfigError) {
      stderrSink(`ssh-mcp: configuration error: ${e.message}`);
      return EXIT.config;
    }
    if (isToolError(e)) {
      // e.g. the shared state (SSH_STATE_URL) cannot be reached: a clean refusal, not a crash
      stderrSink(`ssh-mcp: cannot start: ${e.message}`);
      return EXIT.config;
    }
    throw e;
  }
  mark("app");
  app.logStartup();
  // OTLP traces only when OTEL_* names an endpoint (the SDK is not even loaded otherwise)
  const telemetry = await initTelemetry(app.settings, cfg.env, app.logger);
  app.onShutdown(() => telemetry.shutdown());
  await app.startHooks();
  const closed = Promise.withResolvers<void>();
  if (http) {
    app.pool.startReaper();
    return await serveHttp(app, (await mcpLayer(app)).service, closed);
  }
  const limit = messageLimit(cfg.settings);
  app.logger.info("MCP stdio transport", { max_message_bytes: limit });
  // TRANS-7: the server's own line transport: input over the limit gets an
  // error answer, the connection stays up; stdin EOF closes it
  const transport = new LineTransport({
    input: Deno.stdin.readable,
    write: writeStdout,
    maxMessageBytes: limit,
    logger: app.logger,
  });
  void transport.ended.then(() => closed.resolve());
  const removeSignals = stopAndReloadSignals(app, closed);
  // everything that can refuse the start has run and the start-up summary is out: answer
  // initialize and tools/list while the SDK and the MCP layer load (mcp/early.ts)
  const answers = earlyAnswersFor(app.settings, app.catalog.visible);
  if (answers) {
    await Promise.race([startEarlyStdio(transport, answers, app.logger), closed.promise]);
  }
  // the idle reaper's setInterval is the first Node timer of the Worker (util/timer.ts): after
  // the answers; no connection exists before them
  app.pool.startReaper();
  const [{ service, serveStdio, parseJSONRPCMessage }] = await Promise.all([
    mcpLayer(app),
    app.loadCheckers(),
  ]);
  transport.setParser(parseJSONRPCMessage);
  // one server instance per connection, for whichever protocol era the client opens with
  // (2025: initialize; 2026-07-28: server/discover and per-request envelopes)
  const handle = serveStdio(() => service.create(), {
    transport,
    onerror: (e) => app.logger.debug("MCP protocol error", { error: e.message.slice(0, 500) }),
  });
  mark("serving");
  app.logger.info(`ssh-mcp ${VERSION} serving MCP on stdio`, startupFields());
  void app.checkPinnedAgentKeys();
  await closed.promise;
  removeSignals();
  await handle.close().catch(() => {});
  await app.close();
  return EXIT.ok;
}

/**
 * The MCP layer (the SDK, the registry's call pipeline, the MCP service),
 * imported by URL: the stdio server answers its first requests before it has
 * loaded (mcp/early.ts).
 */
async function mcpLayer(app: App) {
  const [{ McpService }, { ToolRegistry }, sdk] = await Promise.all([
    importLazy<typeof import("./mcp/server.ts")>(new URL("./mcp/server.ts", import.meta.url)),
    importLazy<typeof import("./registry/pipeline.ts")>(
      new URL("./registry/pipeline.ts", import.meta.url),
    ),
    importLazy<typeof import("./mcp/sdk.ts")>(new URL("./mcp/sdk.ts", import.meta.url)),
  ]);
  return {
    service: new McpService(app, new ToolRegistry(app)),
    serveStdio: sdk.serveStdio,
    parseJSONRPCMessage: sdk.parseJSONRPCMessage,
  };
}

/**
 * SIGINT/SIGTERM resolve `closed`; SIGHUP reloads the configuration (a
 * failed reload keeps the previous one). Returns the remover.
 */
function stopAndReloadSignals(app: App, closed: PromiseWithResolvers<void>): () => void {
  if (Deno.build.os === "windows") return () => {};
  const stopSignals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
  const onStop = () => closed.resolve();
  const onHup = () => {
    app.reload({ invalidateChanged: false }).catch((e) => {
      app.logger.error("SIGHUP reload failed; the previous configuration stays active", {
        error: isToolError(e) ? e.message : String(e),
      });
    });
  };
  for (const s of stopSignals) Deno.addSignalListener(s, onStop);
  Deno.addSignalListener("SIGHUP", onHup);
  return () => {
    for (const s of stopSignals) Deno.removeSignalListener(s, onStop);
    Deno.removeSignalListener("SIGHUP", onHup);
  };
}

/** `serve` over Streamable HTTP until SIGINT/SIGTERM (SIGHUP reloads, as on stdio). */
async function serveHttp(
  app: App,
  service: McpService,
  closed: PromiseWithResolvers<void>,
): Promise<number> {
  let gateway;
  try {
    const [{ loadAuth, resourceUrlFromPublicUrl }, { startHttp }] = await Promise.all([
      importLazy<typeof import("./http/auth.ts")>(new URL("./http/auth.ts", import.meta.url)),
      importLazy<typeof import("./mcp/http.ts")>(new URL("./mcp/http.ts", import.meta.url)),
    ]);
    const st = app.settings;
    const scheme = st.MCP_HTTP_TLS_CERT !== null ? "https" : "http";
    const host = st.MCP_HTTP_HOST.includes(":") ? `[${st.MCP_HTTP_HOST}]` : st.MCP_HTTP_HOST;
    // the protected resource (token audience): MCP_HTTP_PUBLIC_URL, or on a loopback bind
    // the bound URL; off loopback with OAuth, MCP_HTTP_PUBLIC_URL is required (loadAuth says so)
    const resourceUrl = st.MCP_HTTP_PUBLIC_URL !== null
      ? resourceUrlFromPublicUrl(st.MCP_HTTP_PUBLIC_URL)
      : isLoopbackHost(st.MCP_HTTP_HOST)
      ? `${scheme}://${host}:${st.MCP_HTTP_PORT}/mcp`
      : undefined;
    const auth = await loadAuth(st, app.config.env, {
      logger: app.logger,
      ...(resourceUrl ? { resourceUrl } : {}),
    });
    gateway = await startHttp(app, service, { auth });
  } catch (e) {
    stderrSink(`ssh-mcp: cannot serve HTTP: ${e instanceof Error ? e.message : String(e)}`);
    await app.close();
    return EXIT.config;
  }
  const removeSignals = stopAndReloadSignals(app, closed);
  void app.checkPinnedAgentKeys();
  await Promise.race([closed.promise, gateway.finished]);
  removeSignals();
  await gateway.close().catch(() => {});
  await app.close();
  return EXIT.ok;
}

export { FIX_HINTS };
