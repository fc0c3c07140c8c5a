/**
 * The OpenTelemetry SDK side of `otel.ts`, loaded only by its dynamic
 * `import()` when tracing is configured: a tracer provider with a batch span
 * processor and the OTLP/HTTP (JSON) exporter, W3C trace-context extraction
 * for remote parents, and an AsyncLocalStorage context manager so child spans
 * nest under the active span across awaits. Nothing is registered globally:
 * spans are started with explicit contexts.
 *
 * @module
 */

import {
  type Context,
  defaultTextMapGetter,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from "@opentelemetry/api";
import {
  type ExportResult,
  ExportResultCode,
  setGlobalErrorHandler,
  W3CTraceContextPropagator,
} from "@opentelemetry/core";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  type ReadableSpan,
  type Sampler,
  type SpanExporter,
  TraceIdRatioBasedSampler,
  TracerProvider,
} from "@opentelemetry/sdk-trace";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import type { Logger } from "../log.ts";
import { VERSION } from "../version.ts";
import type {
  OtelConfig,
  SpanAttributes,
  SpanKindName,
  TelemetrySpan,
  TraceCarrier,
  TracerBackend,
} from "./types.ts";

const KIND: Record<SpanKindName, SpanKind> = {
  server: SpanKind.SERVER,
  client: SpanKind.CLIENT,
  internal: SpanKind.INTERNAL,
};

/** Upper bound of the flush at shutdown (a dead collector must not hold the exit). */
const SHUTDOWN_MS = 5000;

function samplerFor(cfg: OtelConfig): Sampler {
  const ratio = () => new TraceIdRatioBasedSampler(cfg.samplerRatio);
  switch (cfg.sampler) {
    case "always_on":
      return new AlwaysOnSampler();
    case "always_off":
      return new AlwaysOffSampler();
    case "traceidratio":
      return ratio();
    case "parentbased_always_off":
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case "parentbased_traceidratio":
      return new ParentBasedSampler({ root: ratio() });
    default:
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
  }
}

function clean(attrs: SpanAttributes): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const [k, v] of Object.entries(attrs)) {
    if (v !== null && v !== undefined) out[k] = v;
  }
  return out;
}

/**
 * The OTLP exporter, logging one WARNING when exports start failing (a dead
 * or refusing collector) and one INFO when they work again; spans of failed
 * exports are dropped.
 */
class WarningExporter implements SpanExporter {
  readonly #inner: SpanExporter;
  readonly #logger: Logger;
  readonly #endpoint: string;
  #failing = false;

  constructor(inner: SpanExporter, logger: Logger, endpoint: string) {
    this.#inner = inner;
    this.#logger = logger;
    this.#endpoint = endpoint;
  }

  export(spans: ReadableSpan[], done: (r: ExportResult) => void): void {
    const report = (r: ExportResult) => {
      if (r.code === ExportResultCode.SUCCESS) {
        if (this.#failing) {
          this.#failing = false;
          this.#logger.info("OpenTelemetry export works again", { endpoint: this.#endpoint });
        }
      } else if (!this.#failing) {
        this.#failing = true;
        this.#logger.warn(
          "OpenTelemetry export failed; spans are dropped until the collector answers (calls are not affected)",
          { endpoint: this.#endpoint, error: r.error?.name ?? "Error" },
        );
      }
      done(r);
    };
    try {
      this.#inner.export(spans, report);
    } catch (e) {
      report({ code: ExportResultCode.FAILED, error: e as Error });
    }
  }

  shutdown(): Promise<void> {
    return this.#inner.shutdown();
  }

  forceFlush(): Promise<void> {
    return this.#inner.forceFlush?.() ?? Promise.resolve();
  }
}

/** A started OTel span with the context it was started in. */
class OtelSpan implements TelemetrySpan {
  readonly span: Span;
  readonly parent: Context;
  #ended = false;

  constructor(span: Span, parent: Context) {
    this.span = span;
    this.parent = parent;
  }

  set(attrs: SpanAttributes): void {
    if (!this.#ended) this.span.setAttributes(clean(attrs));
  }

  fail(errorClass: string): void {
    if (this.#ended) return;
    this.span.setAttribute("error.type", errorClass);
    // the status message is the class only: error messages may name paths
    this.span.setStatus({ code: SpanStatusCode.ERROR, message: errorClass });
  }

  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.span.end();
  }
}

/** The tracing backend for `cfg` (see module docs). */
export function createBackend(cfg: OtelConfig, logger: Logger): TracerBackend {
  const endpointUrl = new URL(cfg.url);
  const endpoint = `${endpointUrl.origin}${endpointUrl.pathname}`;
  // the SDK's own errors (failed exports are reported by WarningExporter) go to DEBUG
  setGlobalErrorHandler((e) =>
    logger.debug("OpenTelemetry SDK error", { error: (e as Error)?.name ?? String(e) })
  );
  const exporter = new WarningExporter(
    new OTLPTraceExporter({ url: cfg.url, headers: cfg.headers, timeoutMillis: cfg.timeoutMs }),
    logger,
    endpoint,
  );
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ "service.version": VERSION, ...cfg.resource }),
    sampler: samplerFor(cfg),
    spanProcessors: [new BatchSpanProcessor({ exporter, ...cfg.batch })],
  });
  const tracer = provider.getTracer("ssh-mcp", VERSION);
  const contexts = new AsyncLocalStorageContextManager().enable();
  const propagator = new W3CTraceContextPropagator();

  return {
    start(name, attrs, kind, remote?: TraceCarrier) {
      let parent = contexts.active();
      if (remote && trace.getSpan(parent) === undefined) {
        const carrier: Record<string, string> = {};
        if (typeof remote.traceparent === "string") carrier.traceparent = remote.traceparent;
        if (typeof remote.tracestate === "string") carrier.tracestate = remote.tracestate;
        if (carrier.traceparent) {
          parent = propagator.extract(ROOT_CONTEXT, carrier, defaultTextMapGetter);
        }
      }
      const span = tracer.startSpan(name, { kind: KIND[kind], attributes: clean(attrs) }, parent);
      return new OtelSpan(span, parent);
    },
    active(span, fn) {
      if (!(span instanceof OtelSpan)) return fn();
      return contexts.with(trace.setSpan(span.parent, span.span), fn);
    },
    async shutdown() {
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        await Promise.race([
          provider.shutdown().catch(() => {}),
          new Promise<void>((r) => (timer = setTimeout(r, SHUTDOWN_MS))),
        ]);
      } finally {
        clearTimeout(timer);
        contexts.disable();
      }
    },
  };
}
