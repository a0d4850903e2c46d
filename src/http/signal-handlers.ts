import type { Logger } from '../logging/logger.js';
import type { HttpServer } from './server.js';

export interface SignalHandlerOptions {
  /** Runs after the HTTP server has closed (close the database, stop workers…). */
  readonly onShutdown?: () => Promise<void>;
  /** Ends the process; replaceable so tests can observe it. */
  readonly exit?: (code: number) => void;
}

/**
 * Process signals for the CLI, kept apart from buildHttpServer so tests never install global
 * handlers: SIGHUP re-reads the TLS certificate (the usual signal after a renewal, as nginx and
 * HAProxy use it); SIGTERM and SIGINT close gracefully, and a second one exits at once.
 * Returns a function that removes the handlers.
 */
export function installSignalHandlers(server: Pick<HttpServer, 'reloadTls' | 'close'>, logger: Logger, options: SignalHandlerOptions = {}): () => void {
  const exit = options.exit ?? ((code: number) => process.exit(code));
  let shuttingDown = false;

  const onHangup = (): void => {
    logger.info({ signal: 'SIGHUP' }, 'reloading TLS certificate');
    server.reloadTls().catch((err: unknown) => {
      // The previous certificate stays in service; a bad file must not take the API down.
      logger.error({ err }, 'TLS reload failed; still serving the previous certificate');
    });
  };

  const onTerminate = (signal: NodeJS.Signals): void => {
    if (shuttingDown) {
      logger.warn({ signal }, 'second signal during shutdown; exiting now');
      exit(1);
      return;
    }
    shuttingDown = true;
    logger.info({ signal }, 'shutting down');
    server
      .close()
      .then(() => options.onShutdown?.())
      .then(
        () => {
          logger.info('shutdown complete');
          exit(0);
        },
        (err: unknown) => {
          logger.error({ err }, 'shutdown failed');
          exit(1);
        },
      );
  };

  process.on('SIGHUP', onHangup);
  process.on('SIGTERM', onTerminate);
  process.on('SIGINT', onTerminate);
  return () => {
    process.off('SIGHUP', onHangup);
    process.off('SIGTERM', onTerminate);
    process.off('SIGINT', onTerminate);
  };
}
