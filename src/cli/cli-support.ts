import { loadConfigWithSecrets } from '../config/config.load.js';
import type { SealpostConfig } from '../config/config.schema.js';
import { createLogger, type Logger } from '../logging/logger.js';
import { createSealpost, type Sealpost } from '../app/sealpost.js';
import { openDatabase, type DatabaseHandle } from '../db/database.js';
import { migrateToLatest } from '../db/migrator.js';

/**
 * Configuration for a CLI command, secrets read from their `_FILE` or fetched from AWS Secrets
 * Manager; a bad value ends the command with every problem listed.
 */
export function configForCommand(): Promise<SealpostConfig> {
  return loadConfigWithSecrets(process.env);
}

/** Logs go to stderr for one-shot commands, so their stdout stays machine-readable. */
export function commandLogger(config: SealpostConfig): Logger {
  return createLogger(config.logLevel === 'info' ? 'warn' : config.logLevel, process.stderr);
}

/**
 * The bootstrap of every command that acts on Sealpost: the configuration, the composition
 * root (the same services, audited, as `sealpost start` runs), the work, then close.
 */
export async function withSealpost<T>(work: (sealpost: Sealpost, config: SealpostConfig) => Promise<T>): Promise<T> {
  const config = await configForCommand();
  const sealpost = await createSealpost(config, { logger: commandLogger(config) });
  try {
    return await work(sealpost, config);
  } finally {
    await sealpost.close();
  }
}

/**
 * For the commands that must not touch the keyring or the blob store (`migrate`, `audit
 * verify`, `keys rotate --kek`): the database alone, migrated unless `migrate: false`, closed
 * after `work`.
 */
export async function withDatabase<T>(
  work: (database: DatabaseHandle, config: SealpostConfig, applied: readonly string[]) => Promise<T>,
  options: { migrate?: boolean } = {},
): Promise<T> {
  const config = await configForCommand();
  const database = openDatabase(config.database);
  try {
    const applied = options.migrate === false ? [] : await migrateToLatest(database.db, database.dialect);
    return await work(database, config, applied);
  } finally {
    await database.close();
  }
}

export function print(value: unknown, json: boolean, human: () => string): void {
  process.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : `${human()}\n`);
}
