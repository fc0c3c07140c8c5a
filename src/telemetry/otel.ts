/**
 * OpenTelemetry traces (issue 14), behind a facade with no OTel import:
 *
 * - {@link initTelemetry} turns tracing on only when `OTEL_ENABLED` is true
 *   AND `OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`
 *   is set (and `OTEL_SDK_DISABLED` is not true). Only then is the SDK
 *   (`otel_sdk.ts`, the `@opentelemetry/*` packages) loaded, by a dynamic
 *   `import()`: without the variables start-up loads nothing of it and every
 *   span below is a shared no-op.
 * - Instrumented code calls {@link withSpan} / {@link startSpan} /
 *   {@link callSpan}; child spans nest under the active span across awaits
 *   (the SDK side uses an AsyncLocalStorage context manager).
 * - §TELEM (SECURITY.md TELEM-1, INV-4): attributes are names, aliases,
 *   hashes the audit line already carries, counts, exit codes and error
 *   classes; never command text, paths, secrets, output or error messages
 *   (a message may name a path).
 * - Export is OTLP/HTTP JSON through a batch processor: it never blocks or
 *   fails a call; a dead collector logs one WARNING per outage.
 *
 * @module
 */

import type { Settings } from "../config/types.ts";
import { isToolError } from "../errors.ts";
import type { Logger } from "../log.ts";
import {
  type OtelConfig,
  type SamplerName,
  SAMPLERS,
  type SpanAttributes,
  type SpanKindName,
  type TelemetrySpan,
  type TraceCarrier,
  type TracerBackend,
} from "./types.ts";
import { importLazy } from "../util/lazy_import.ts";

export * from "./types.ts";

/** The handle the application keeps: flush on shutdown. */
export interface Telemetry {
  /** true when spans are exported */
  readonly enabled: boolean;
  /** flushes pending spans (bounded in time) and stops the exporter; a no-op when disabled */
  shutdown(): Promise<void>;
}

const NOOP_SPAN: TelemetrySpan = Object.freeze({
  set() {},
  fail() {},
  end() {},
});

/** The installed backend; null while tracing is off. */
let backend: TracerBackend | null = null;

/** True while spans are recorded (lets hot paths skip building attributes). */
export function tracing(): boolean {
  return backend !== null;
}

/** The error class of `e` for a span: a `ToolError` code, else the error's name. */
export function errorClass(e: unknown): string {
  if (isToolError(e)) return e.code;
  if (e instanceof Error) return e.name || "Error";
  return "Error";
}

/** Starts a span (child of the active span); the caller ends it. */
export function startSpan(
  name: string,
  attrs: SpanAttributes = {},
  kind: SpanKindName = "internal",
): TelemetrySpan {
  return backend ? backend.start(name, attrs, kind) : NOOP_SPAN;
}

/**
 * Runs `fn` inside a new span (active for everything `fn` awaits), ends it,
 * and marks it failed with the error class when `fn` throws.
 */
export async function withSpan<T>(
  name: string,
  attrs: SpanAttributes,
  fn: (span: TelemetrySpan) => Promise<T>,
  kind: SpanKindName = "internal",
  remote?: TraceCarrier,
): Promise<T> {
  const b = backend;
  if (!b) return await fn(NOOP_SPAN);
  const span = b.start(name, attrs, kind, remote);
  try {
    return await b.active(span, () => fn(span));
  } catch (e) {
    span.fail(errorClass(e));
    throw e;
  } finally {
    span.end();
  }
}

/** Name of the span of one tool call. */
export const CALL_SPAN = "ssh-mcp.tool_call";

/**
 * The span of one tool call (kind SERVER): a child of the active span (the
 * `call_tool` wrapper of search mode), else of the request's W3C trace
 * context, else a new trace.
 */
export async function callSpan<T>(
  tool: string,
  tier: string,
  trace: TraceCarrier | undefined,
  fn: (span: TelemetrySpan) => Promise<T>,
): Promise<T> {
  return await withSpan(
    CALL_SPAN,
    { "mcp.tool.name": tool, "ssh_mcp.tier": tier },
    fn,
    "server",
    trace,
  );
}

/** What {@link callAttributes} reads of a call's audit record (`CallRecord`). */
export interface CallFacts {
  readonly correlationId: string;
  readonly primary: { readonly policy: { readonly alias: string } } | undefined;
  /** the audit line's extra fields (`AuditExtra`) */
  readonly fields: object;
}

/** Audit fields copied to the call span besides the `*_hash` ones (all counts or flags). */
const CALL_FIELDS = [
  "exit_code",
  "timed_out",
  "cancelled",
  "bytes_out",
  "bytes_err",
  "script_len",
] as const;

const HASH_RE = /^sha256:[0-9a-f]{1,64}$/;

/**
 * The call span's outcome attributes: host alias, result, error class, the
 * correlation id of the audit line, the `*_hash` values the pipeline already
 * computed for it and its counts (never a raw argument).
 */
export function callAttributes(
  rec: CallFacts,
  isError: boolean,
  errorClassName?: string,
): SpanAttributes {
  const attrs: SpanAttributes = {
    "ssh_mcp.host": rec.primary?.policy.alias,
    "ssh_mcp.result": isError ? "error" : "ok",
    "ssh_mcp.error": isError ? errorClassName ?? "Error" : undefined,
    "ssh_mcp.correlation_id": rec.correlationId,
  };
  const fields = rec.fields as Readonly<Record<string, unknown>>;
  for (const [k, v] of Object.entries(fields)) {
    if (k.endsWith("_hash") && typeof v === "string" && HASH_RE.test(v)) attrs[`ssh_mcp.${k}`] = v;
  }
  for (const k of CALL_FIELDS) {
    const v = fields[k];
    if (typeof v === "number" || typeof v === "boolean") attrs[`ssh_mcp.${k}`] = v;
  }
  return attrs;
}

/** Sets the outcome of a finished call on its span. */
export function endCall(
  span: TelemetrySpan,
  rec: CallFacts,
  isError: boolean,
  errorClassName?: string,
): void {
  span.set(callAttributes(rec, isError, errorClassName));
  if (isError) span.fail(errorClassName ?? "Error");
}

// ---------------------------------------------------------------------------
// configuration from the standard OTEL_* variables

type Env = Record<string, string | undefined>;

function nonEmpty(env: Env, key: string): string | null {
  const v = env[key]?.trim();
  return v ? v : null;
}

/** `k=v,k2=v2` with percent-encoded values (OTEL_EXPORTER_OTLP_HEADERS, OTEL_RESOURCE_ATTRIBUTES). */
export function parseKeyValues(text: string | null | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (text ?? "").split(",")) {
    const i = part.indexOf("=");
    if (i <= 0) continue;
    const k = part.slice(0, i).trim();
    let v = part.slice(i + 1).trim();
    try {
      v = decodeURIComponent(v);
    } catch {
      // keep the raw text
    }
    if (k) out[k] = v;
  }
  return out;
}

function intEnv(env: Env, key: string, dflt: number, warn: (m: string) => void): number {
  const raw = nonEmpty(env, key);
  if (raw === null) return dflt;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) {
    warn(`${key}=${JSON.stringify(raw)} is not a non-negative number; using ${dflt}`);
    return dflt;
  }
  return Math.floor(n);
}

/** The traces URL: the signal-specific endpoint as is, else `<endpoint>/v1/traces`. */
export function tracesUrl(env: Env): string | null {
  const specific = nonEmpty(env, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
  if (specific) return specific;
  const base = nonEmpty(env, "OTEL_EXPORTER_OTLP_ENDPOINT");
  if (!base) return null;
  return base.endsWith("/") ? `${base}v1/traces` : `${base}/v1/traces`;
}

/**
 * The exporter configuration, or null when tracing stays off (no endpoint
 * variable). `warn` receives problems with the variables (never a header value).
 */
export function otelConfig(env: Env, warn: (m: string) => void): OtelConfig | null {
  const url = tracesUrl(env);
  if (url === null) return null;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    warn("the OTLP traces endpoint is not a valid URL; OpenTelemetry tracing stays off");
    return null;
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    warn(
      "the OTLP traces endpoint must be an http:// or https:// URL (OTLP/HTTP); tracing stays off",
    );
    return null;
  }
  const protocol = nonEmpty(env, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") ??
    nonEmpty(env, "OTEL_EXPORTER_OTLP_PROTOCOL");
  if (protocol === "grpc") {
    warn("OTEL_EXPORTER_OTLP_PROTOCOL=grpc is not supported; spans are sent as OTLP/HTTP JSON");
  }
  const headers = {
    ...parseKeyValues(env.OTEL_EXPORTER_OTLP_HEADERS),
    ...parseKeyValues(env.OTEL_EXPORTER_OTLP_TRACES_HEADERS),
  };
  const samplerRaw = (nonEmpty(env, "OTEL_TRACES_SAMPLER") ?? "parentbased_always_on")
    .toLowerCase();
  let sampler: SamplerName = "parentbased_always_on";
  if ((SAMPLERS as readonly string[]).includes(samplerRaw)) sampler = samplerRaw as SamplerName;
  else {warn(
      `OTEL_TRACES_SAMPLER=${
        JSON.stringify(samplerRaw)
      } is not supported; using parentbased_always_on`,
    );}
  let samplerRatio = 1;
  const arg = nonEmpty(env, "OTEL_TRACES_SAMPLER_ARG");
  if (arg !== null && sampler.endsWith("traceidratio")) {
    const r = Number(arg);
    if (Number.isFinite(r) && r >= 0 && r <= 1) samplerRatio = r;
    else warn(`OTEL_TRACES_SAMPLER_ARG=${JSON.stringify(arg)} is not a ratio in [0, 1]; using 1`);
  }
  const resource: Record<string, string> = {
    ...parseKeyValues(env.OTEL_RESOURCE_ATTRIBUTES),
    "service.name": nonEmpty(env, "OTEL_SERVICE_NAME") ??
      parseKeyValues(env.OTEL_RESOURCE_ATTRIBUTES)["service.name"] ?? "ssh-mcp",
  };
  const maxQueueSize = Math.max(1, intEnv(env, "OTEL_BSP_MAX_QUEUE_SIZE", 2048, warn));
  return {
    url,
    headers,
    timeoutMs: intEnv(
      env,
      "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
      intEnv(env, "OTEL_EXPORTER_OTLP_TIMEOUT", 10000, warn),
      warn,
    ),
    resource,
    sampler,
    samplerRatio,
    batch: {
      scheduledDelayMillis: intEnv(env, "OTEL_BSP_SCHEDULE_DELAY", 5000, warn),
      exportTimeoutMillis: intEnv(env, "OTEL_BSP_EXPORT_TIMEOUT", 30000, warn),
      maxQueueSize,
      maxExportBatchSize: Math.min(
        maxQueueSize,
        Math.max(1, intEnv(env, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 512, warn)),
      ),
    },
  };
}

const DISABLED: Telemetry = Object.freeze({
  enabled: false,
  shutdown: () => Promise.resolve(),
});

/**
 * Turns tracing on when `settings.OTEL_ENABLED` and an OTLP endpoint variable
 * say so (see module docs); otherwise returns a disabled handle without
 * loading any OpenTelemetry module. Never throws: a broken configuration or
 * SDK leaves tracing off with a WARNING. Call once at start-up and
 * `shutdown()` the handle when the server stops (it flushes pending spans).
 */
export async function initTelemetry(
  settings: Pick<Settings, "OTEL_ENABLED">,
  env: Env,
  logger: Logger,
): Promise<Telemetry> {
  if (!settings.OTEL_ENABLED) return DISABLED;
  if ((env.OTEL_SDK_DISABLED ?? "").trim().toLowerCase() === "true") return DISABLED;
  const warn = (m: string) => logger.warn(`OpenTelemetry: ${m}`);
  const cfg = otelConfig(env, warn);
  if (!cfg) return DISABLED;
  let b: TracerBackend;
  try {
    const sdk = await importLazy<typeof import("./otel_sdk.ts")>(
      new URL("./otel_sdk.ts", import.meta.url),
    );
    b = sdk.createBackend(cfg, logger);
  } catch (e) {
    warn(`the SDK could not be started (${(e as Error).name}); tracing stays off`);
    return DISABLED;
  }
  const previous = backend;
  backend = b;
  await previous?.shutdown().catch(() => {});
  const endpoint = new URL(cfg.url);
  logger.info("OpenTelemetry tracing on (OTLP/HTTP JSON)", {
    endpoint: `${endpoint.origin}${endpoint.pathname}`,
    service_name: cfg.resource["service.name"],
    sampler: cfg.sampler,
  });
  let done: Promise<void> | null = null;
  return {
    enabled: true,
    shutdown() {
      done ??= (async () => {
        if (backend === b) backend = null;
        await b.shutdown();
      })();
      return done;
    },
  };
}
