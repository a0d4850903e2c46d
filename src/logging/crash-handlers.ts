import type { Logger } from 'pino';

/** sysexits(3) EX_SOFTWARE: an internal error, told apart from a bad configuration (78) and a failed command (1). */
export const EXIT_CRASH = 70;

export interface CrashHandlerOptions {
  /** Ends the process; replaceable so tests can observe it. */
  readonly exit?: (code: number) => void;
}

/**
 * Process-level handlers for errors nothing else caught: the error is logged as one fatal line
 * (pino's error serializer: type, message, stack; the logger's redaction applies) and the process
 * exits with EXIT_CRASH once the line is written, so a supervisor restarts it. State after an
 * uncaught exception is undefined (Node's documentation), so the process never carries on.
 * Returns a function that removes the handlers.
 */
export function installCrashHandlers(logger: Logger, options: CrashHandlerOptions = {}): () => void {
  const exit = options.exit ?? ((code: number) => process.exit(code));
  let crashing = false;

  const crash = (event: 'uncaughtException' | 'unhandledRejection', error: unknown): void => {
    // A second failure while the first is being logged: exit now rather than loop.
    if (crashing) return exit(EXIT_CRASH);
    crashing = true;
    const err = error instanceof Error ? error : new Error(`non-error value thrown: ${typeof error}`);
    try {
      logger.fatal({ err, event }, 'crashed: exiting so the supervisor restarts the process');
      logger.flush((flushError) => {
        void flushError; // nothing left to report it to
        exit(EXIT_CRASH);
      });
    } catch {
      exit(EXIT_CRASH);
    }
  };
  const onException = (error: Error): void => crash('uncaughtException', error);
  const onRejection = (reason: unknown): void => crash('unhandledRejection', reason);

  process.on('uncaughtException', onException);
  process.on('unhandledRejection', onRejection);
  return () => {
    process.off('uncaughtException', onException);
    process.off('unhandledRejection', onRejection);
  };
}
