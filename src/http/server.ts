import type { Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifySchema } from 'fastify';
import type { Logger } from '../logging/logger.js';
import type { SealpostConfig } from '../config/config.schema.js';
import { frameworkErrorHandler, rawClientErrorHandler, registerErrorHandling } from './error-handler.js';
import { healthRoutes } from './health.routes.js';
import { consoleRoutes } from './console.routes.js';
import { homeRoutes } from './home.routes.js';
import { assetRoutes } from './html/assets.js';
import { registerOpenApi } from './openapi.js';
import { registerRequestTracing } from './request-tracing.js';
import type { Tracing } from '../ops/tracing.js';
import { REQUEST_ID_HEADER, genRequestId } from './request-id.js';
import { registerSecurityHeaders } from './security-headers.js';
import { buildTlsOptions, loadTlsMaterial, type TlsMaterial } from '../crypto/tls-options.js';

export type HttpConfig = Pick<
  SealpostConfig,
  'httpHost' | 'httpPort' | 'dataDir' | 'tlsCert' | 'tlsKey' | 'tlsMinVersion' | 'shutdownTimeoutSeconds'
>;

/**
 * A request (headers and body) must arrive within this time, so slow senders cannot hold
 * sockets open indefinitely (slowloris); generous enough for large attachments on slow links.
 */
const REQUEST_TIMEOUT_MS = 120_000;

/**
 * Fastify logs two lines per request (incoming, completed); one is enough: when it is answered,
 * with method, redacted URL, client, status and duration.
 */
class OneLinePerRequest extends LogController {
  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    const line = { req: request, res: { statusCode: reply.statusCode }, responseTime: Math.round(reply.elapsedTime) };
    if (error) reply.log.error({ ...line, err: error }, 'request errored');
    else reply.log.info(line, 'request completed');
  }
}

export interface HttpServerOptions {
  readonly config: HttpConfig;
  readonly logger: Logger;
  /** Resolves when the process can serve traffic; `/readyz` answers 503 while it rejects. */
  readonly readiness: () => Promise<void>;
  /** A span per request, its trace id in the request's logs; off when absent or disabled. */
  readonly tracing?: Tracing;
}

export interface ListenResult {
  readonly port: number;
  /** Set when serving the generated self-signed certificate, so the CLI can print it for pinning. */
  readonly fingerprint?: string;
  /** The self-signed certificate was created by this start. */
  readonly certificateGenerated: boolean;
}

/** A route as it was registered. */
export interface RegisteredRoute {
  readonly method: string;
  readonly url: string;
  readonly schema: FastifySchema | undefined;
}

export interface HttpServer {
  /** Register route plugins here before `listen()`. */
  readonly app: FastifyInstance;
  /** Every route registered so far, the generated HEAD routes included: the OpenAPI document must account for each. */
  readonly routes: readonly RegisteredRoute[];
  /** The certificate currently served. */
  readonly tls: Pick<TlsMaterial, 'source' | 'fingerprint' | 'notAfter'>;
  listen(): Promise<ListenResult>;
  /** Re-reads certificate and key; new connections get them, open connections keep theirs. */
  reloadTls(): Promise<void>;
  /** Stops accepting, lets in-flight requests finish, and cuts the rest after `shutdownTimeoutSeconds`. */
  close(): Promise<void>;
}

/**
 * Builds the HTTPS API server: TLS (configured or self-signed), security headers, request ids,
 * problem+json errors, the OpenAPI document and its docs page, the health routes, the home page and
 * the static assets of the server-rendered pages (src/http/html/). Async because the TLS material must exist before the
 * server does (a self-signed certificate may have to be generated first).
 */
export async function buildHttpServer(options: HttpServerOptions): Promise<HttpServer> {
  const { config, logger } = options;
  let material = await loadTlsMaterial(config, logger);

  const fastify = Fastify({
    https: buildTlsOptions(config, material),
    loggerInstance: logger,
    logController: new OneLinePerRequest(),
    // The header is read by genRequestId, which keeps it only when it is a safe token.
    requestIdHeader: false,
    genReqId: genRequestId,
    // Behind a proxy the operator must opt in; otherwise X-Forwarded-For would let any client pick its IP.
    trustProxy: false,
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    requestTimeout: REQUEST_TIMEOUT_MS,
    // Errors before routing (malformed URL) and before parsing (oversized headers) leave as
    // problem+json with the security headers too, instead of Fastify's default body that quotes the path.
    frameworkErrors: frameworkErrorHandler,
    clientErrorHandler: rawClientErrorHandler(logger),
  });
  const httpsServer: HttpsServer = fastify.server;
  // Route plugins are written against the default instance type; the raw server type is ours alone.
  const app = fastify as unknown as FastifyInstance;
  const routes: RegisteredRoute[] = [];
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) routes.push({ method: String(method), url: route.url, schema: route.schema });
  });

  if (options.tracing?.enabled) registerRequestTracing(app, options.tracing);
  app.addHook('onRequest', (request, reply, done) => {
    reply.header(REQUEST_ID_HEADER, request.id);
    done();
  });
  registerErrorHandling(app);
  registerSecurityHeaders(app);
  await registerOpenApi(app);
  await app.register(healthRoutes, { readiness: options.readiness });
  await app.register(homeRoutes);
  await app.register(assetRoutes);
  await app.register(consoleRoutes, { logger });

  let reloading: Promise<void> = Promise.resolve();
  let closing: Promise<void> | undefined;

  return {
    app,
    routes,
    get tls() {
      return { source: material.source, fingerprint: material.fingerprint, notAfter: material.notAfter };
    },

    async listen() {
      await app.listen({ host: config.httpHost, port: config.httpPort });
      const { port } = httpsServer.address() as AddressInfo;
      if (material.source === 'self-signed') {
        logger.info(
          { fingerprint: material.fingerprint, notAfter: material.notAfter.toISOString(), generated: material.generated },
          'serving a self-signed TLS certificate for localhost; pin its SHA-256 fingerprint',
        );
        return { port, fingerprint: material.fingerprint, certificateGenerated: material.generated };
      }
      return { port, certificateGenerated: false };
    },

    reloadTls() {
      // One reload at a time, so two quick SIGHUPs cannot install an older pair last.
      reloading = reloading.catch(() => undefined).then(async () => {
        const next = await loadTlsMaterial(config, logger);
        httpsServer.setSecureContext(buildTlsOptions(config, next));
        material = next;
        logger.info(
          { source: next.source, fingerprint: next.fingerprint, notAfter: next.notAfter.toISOString() },
          'TLS certificate reloaded',
        );
      });
      return reloading;
    },

    close() {
      closing ??= (async () => {
        const timer = setTimeout(() => {
          logger.warn({ timeoutSeconds: config.shutdownTimeoutSeconds }, 'shutdown timeout reached; closing open connections');
          httpsServer.closeAllConnections();
        }, config.shutdownTimeoutSeconds * 1000);
        try {
          await app.close();
        } finally {
          clearTimeout(timer);
        }
      })();
      return closing;
    },
  };
}
