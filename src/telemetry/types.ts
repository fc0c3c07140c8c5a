/**
 * Types shared by the telemetry facade (`otel.ts`) and the OTel SDK backend
 * (`otel_sdk.ts`), in a leaf module so the two do not import each other.
 *
 * @module
 */

/** Attribute values a span takes (null / undefined are left out). */
export type SpanAttributes = Record<string, string | number | boolean | null | undefined>;

/** Span kinds used here. */
export type SpanKindName = "server" | "client" | "internal";

/** W3C trace context of an incoming request (`_meta.traceparent` / `_meta.tracestate`). */
export interface TraceCarrier {
  traceparent?: string;
  tracestate?: string;
}

/** A span as instrumented code sees it. */
export interface TelemetrySpan {
  /** adds attributes (null / undefined values are skipped) */
  set(attrs: SpanAttributes): void;
  /** marks the span failed with an error class (never a message) */
  fail(errorClass: string): void;
  /** ends the span (idempotent) */
  end(): void;
}

/** What a tracing backend provides (the OTel SDK, see `otel_sdk.ts`). */
export interface TracerBackend {
  /**
   * Starts a span. Its parent is the active span; when there is none and
   * `remote` carries a valid `traceparent`, that remote span.
   */
  start(
    name: string,
    attrs: SpanAttributes,
    kind: SpanKindName,
    remote?: TraceCarrier,
  ): TelemetrySpan;
  /** Runs `fn` with `span` active (children started inside nest under it). */
  active<T>(span: TelemetrySpan, fn: () => T): T;
  /** Flushes pending spans (bounded in time) and stops exporting. */
  shutdown(): Promise<void>;
}

/** Samplers of `OTEL_TRACES_SAMPLER` that are supported. */
export const SAMPLERS = [
  "always_on",
  "always_off",
  "traceidratio",
  "parentbased_always_on",
  "parentbased_always_off",
  "parentbased_traceidratio",
] as const;

/** One of {@link SAMPLERS}. */
export type SamplerName = typeof SAMPLERS[number];

/** The exporter configuration read from the environment. */
export interface OtelConfig {
  /** the traces URL (`…/v1/traces`) */
  url: string;
  /** extra HTTP headers (values are secrets: never logged) */
  headers: Record<string, string>;
  /** export request timeout */
  timeoutMs: number;
  /** `service.name` plus `OTEL_RESOURCE_ATTRIBUTES` */
  resource: Record<string, string>;
  sampler: SamplerName;
  /** ratio of the `traceidratio` samplers (0..1) */
  samplerRatio: number;
  /** batch span processor */
  batch: {
    scheduledDelayMillis: number;
    exportTimeoutMillis: number;
    maxQueueSize: number;
    maxExportBatchSize: number;
  };
}
