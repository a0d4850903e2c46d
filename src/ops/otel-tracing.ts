import { context, SpanKind, SpanStatusCode, trace, type Context, type Span, type Tracer } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { SEALPOST_VERSION } from '../delivery/forwarded-request.js';
import type { TraceSpan, Tracing } from './tracing.js';

// The OpenTelemetry side of ./tracing.ts, imported by its createTracing only when tracing is on.

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

/** Tracing over Sealpost's own provider, exporting to `exporter` or OTLP/HTTP at `endpoint`. */
export function createOtelTracing(endpoint: string | undefined, options: { exporter?: SpanExporter }): Tracing {
  const exporter = options.exporter ?? new OTLPTraceExporter({ url: endpoint });
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'sealpost', 'service.version': SEALPOST_VERSION }),
    spanProcessors: [new BatchSpanProcessor(exporter)],
  });
  return tracingWith(provider.getTracer('sealpost', SEALPOST_VERSION), () => provider.shutdown());
}
