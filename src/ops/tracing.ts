import type { Attributes } from '@opentelemetry/api';
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';

/** One traced operation: its ids for the logs, its `traceparent` for the next hop, and its end. */
export interface TraceSpan {
  /** Fields for a pino child logger; empty when tracing is off. */
  readonly logFields: { readonly trace_id?: string; readonly span_id?: string };
  /** W3C `traceparent` naming this span as the parent; undefined when tracing is off. */
  readonly traceparent: string | undefined;
  setAttributes(attributes: Attributes): void;
  end(failed?: string): void;
}

export interface Tracing {
  readonly enabled: boolean;
  /** A server span for an incoming request, child of its `traceparent` header when it carries a valid one. */
  serverSpan(name: string, headers: Readonly<Record<string, string | string[] | undefined>>, attributes: Attributes): TraceSpan;
  /** A client span for an outgoing call (a delivery attempt). */
  clientSpan(name: string, attributes: Attributes): TraceSpan;
  /** Sends the spans still buffered and stops. */
  shutdown(): Promise<void>;
}

const NO_SPAN: TraceSpan = { logFields: {}, traceparent: undefined, setAttributes() {}, end() {} };

/** Tracing off (no SEALPOST_OTEL_EXPORTER_OTLP_ENDPOINT): nothing is recorded, nothing propagated. */
export const NO_TRACING: Tracing = {
  enabled: false,
  serverSpan: () => NO_SPAN,
  clientSpan: () => NO_SPAN,
  shutdown: async () => {},
};

/**
 * OpenTelemetry tracing for this process, exporting over OTLP/HTTP to `endpoint` (a collector).
 * The provider is Sealpost's own, not registered globally, so libraries' instrumentation and
 * several Sealposts in one process (tests) stay apart. `exporter` replaces OTLP (tests). The
 * OpenTelemetry SDK (./otel-tracing.ts) is loaded only when tracing is on.
 */
export async function createTracing(endpoint: string | undefined, options: { exporter?: SpanExporter } = {}): Promise<Tracing> {
  if (endpoint === undefined && options.exporter === undefined) return NO_TRACING;
  const { createOtelTracing } = await import('./otel-tracing.js');
  return createOtelTracing(endpoint, options);
}
