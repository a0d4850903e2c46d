import { ConfigError } from '../config/config.load.js';
import type { SealpostConfig } from '../config/config.schema.js';
import { loadTlsMaterial } from '../crypto/tls-options.js';
import { isSealpostError } from '../errors/sealpost-error.js';

/** What `sealpost start --role` accepts; `all` runs every role in one process (DESIGN §1). */
export const START_ROLES = ['all', 'api', 'smtp', 'worker', 'scheduler'] as const;
export type StartRole = (typeof START_ROLES)[number];

/**
 * The rules a configuration must meet to run `role`, beyond each setting's own validation: the
 * checks `sealpost start` makes before it opens anything, and `sealpost config check --role`
 * makes too, so a configuration that passes the check starts. Throws a ConfigError (exit 78)
 * listing every problem.
 */
export async function checkStartConfig(config: SealpostConfig, role: StartRole): Promise<void> {
  const problems: string[] = [];
  if (config.publicUrl === undefined && (role !== 'all' || config.database.dialect === 'postgres')) {
    problems.push(
      'SEALPOST_PUBLIC_URL: required when roles run in separate processes or the database is PostgreSQL (attachment links in e-mail payloads and loop protection use it; the https://localhost default reaches nothing), e.g. https://sealpost.example.com',
    );
  }
  // Only a configured certificate is read here: the self-signed one is created by the API at start.
  if ((role === 'all' || role === 'api' || role === 'smtp') && (config.tlsCert !== undefined || config.tlsKey !== undefined)) {
    try {
      await loadTlsMaterial(config);
    } catch (err) {
      if (!isSealpostError(err)) throw err;
      problems.push(err.message);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
}
