import { context, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type Span, type Tracer } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { SEALPOST_VERSION } from '../delivery/forwarded-request.js';

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

const propagator = new W3CTraceContextPropagator();
const headerGetter = {
  keys: (carrier: Readonly<Record<string, string | string[] | undefined>>) => Object.keys(carrier),
  get: (carrier: Readonly<Record<string, string | string[] | undefined>>, key: string) => carrier[key],
};

function wrap(span: Span, parent: Context): TraceSpan {
  const { traceId, spanId } = span.spanContext();
  const carrier: Record<string, string> = {};
  propagator.inject(trace.setSpan(parent, span), carrier, { set: (c, k, v) => void (c[k] = v) });
  return {
    logFields: { trace_id: traceId, span_id: spanId },
    traceparent: carrier.traceparent,
    setAttributes: (attributes) => void span.setAttributes(attributes),
    end(failed) {
      if (failed !== undefined) span.setStatus({ code: SpanStatusCode.ERROR, message: failed });
      span.end();
    },
  };
}

function tracingWith(tracer: Tracer, shutdown: () => Promise<void>): Tracing {
  return {
    enabled: true,
    serverSpan(name, headers, attributes) {
      // Only the W3C header is read: a malformed one is ignored and the span starts a new trace.
      const parent = propagator.extract(context.active(), headers, headerGetter);
      return wrap(tracer.startSpan(name, { kind: SpanKind.SERVER, attributes }, parent), parent);
    },
    clientSpan(name, attributes) {
      const parent = context.active();
      return wrap(tracer.startSpan(name, { kind: SpanKind.CLIENT, attributes }, parent), parent);
    },
    shutdown,
  };
}

/**
 * OpenTelemetry tracing for this process, exporting over OTLP/HTTP to `endpoint` (a collector).
 * The provider is Sealpost's own, not registered globally, so libraries' instrumentation and
 * several Sealposts in one process (tests) stay apart. `exporter` replaces OTLP (tests).
 */
export function createTracing(endpoint: string | undefined, options: { exporter?: SpanExporter } = {}): Tracing {
  if (endpoint === undefined && options.exporter === undefined) return NO_TRACING;
  const exporter = options.exporter ?? new OTLPTraceExporter({ url: endpoint });
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'sealpost', 'service.version': SEALPOST_VERSION }),
    spanProcessors: [new BatchSpanProcessor(exporter)],
  });
  return tracingWith(provider.getTracer('sealpost', SEALPOST_VERSION), () => provider.shutdown());
}
