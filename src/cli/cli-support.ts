import { loadConfig } from '../config/config.load.js';
import type { SealpostConfig } from '../config/config.schema.js';
import { createLogger, type Logger } from '../app/logger.js';

/** Configuration for a CLI command; a bad value ends the command with every problem listed. */
export function configForCommand(): SealpostConfig {
  return loadConfig(process.env);
}

/** Logs go to stderr for one-shot commands, so their stdout stays machine-readable. */
export function commandLogger(config: SealpostConfig): Logger {
  return createLogger(config.logLevel === 'info' ? 'warn' : config.logLevel, process.stderr);
}

export function print(value: unknown, json: boolean, human: () => string): void {
  process.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : `${human()}\n`);
}
