import type { FastifyInstance } from 'fastify';
import type { TraceSpan, Tracing } from '../ops/tracing.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set when tracing is on: the request's server span. */
    traceSpan?: TraceSpan;
  }
}

/**
 * A server span per request (continuing the caller's W3C `traceparent`), and its trace id on
 * every log line of the request. Spans are named by route pattern, never by the URL: the path
 * holds ids and the query cursors.
 */
export function registerRequestTracing(app: FastifyInstance, tracing: Tracing): void {
  app.addHook('onRequest', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const span = tracing.serverSpan(`${request.method} ${route}`, request.headers, {
      'http.request.method': request.method,
      'http.route': route,
      'sealpost.request_id': request.id,
    });
    request.traceSpan = span;
    const log = request.log.child(span.logFields);
    request.log = log;
    reply.log = log;
    done();
  });
  app.addHook('onResponse', (request, reply, done) => {
    request.traceSpan?.setAttributes({ 'http.response.status_code': reply.statusCode });
    request.traceSpan?.end(reply.statusCode >= 500 ? `HTTP ${reply.statusCode}` : undefined);
    done();
  });
}
