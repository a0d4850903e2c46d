import { Option, type Command } from 'commander';
import { openAppContext } from '../../app/app-context.js';
import { createLogger } from '../../app/logger.js';
import { pingDatabase } from '../../db/database.js';
import { buildHttpServer } from '../../http/server.js';
import { installSignalHandlers } from '../../http/signal-handlers.js';
import { configForCommand } from '../cli-support.js';

/** Roles this build can run; `all` runs every one in this process (DESIGN §1). */
const ROLES = ['all', 'api'] as const;

export function registerStart(program: Command): void {
  program
    .command('start')
    .description('run Sealpost (HTTPS API on SEALPOST_HTTP_PORT, default 8443); migrates the database first')
    .addOption(new Option('--role <role>', 'run only one role of the process').choices(ROLES).default('all'))
    .action(async (options: { role: (typeof ROLES)[number] }) => {
      const config = configForCommand();
      const logger = createLogger(config.logLevel);
      const context = await openAppContext(config, logger);
      const server = await buildHttpServer({ config, logger, readiness: () => pingDatabase(context.database.db) });
      let listening;
      try {
        listening = await server.listen();
      } catch (err) {
        await context.close();
        throw err;
      }
      installSignalHandlers(server, logger, { onShutdown: () => context.close() });
      const host = config.httpHost === '0.0.0.0' || config.httpHost === '::' ? 'localhost' : config.httpHost;
      const lines = [`Sealpost ${options.role === 'all' ? '' : `(${options.role}) `}listening on https://${host}:${listening.port}`];
      if (listening.fingerprint) {
        lines.push(
          `${listening.certificateGenerated ? 'Generated a' : 'Using the'} self-signed TLS certificate in ${config.dataDir}/tls`,
          `  SHA-256 fingerprint: ${listening.fingerprint}`,
          '  Set SEALPOST_TLS_CERT and SEALPOST_TLS_KEY to serve a real certificate.',
        );
      }
      process.stderr.write(`${lines.join('\n')}\n`);
    });
}
