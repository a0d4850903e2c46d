#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { ConfigError } from '../config/config.load.js';
import { isSealpostError } from '../errors/sealpost-error.js';
import { isDatabaseUnavailable } from '../db/database-unavailable.js';
import { registerAudit } from './commands/audit.command.js';
import { registerBackup } from './commands/backup.command.js';
import { registerBreach } from './commands/breach.command.js';
import { registerCompletion } from './commands/completion.command.js';
import { registerCompliance } from './commands/compliance.command.js';
import { registerConfig } from './commands/config.command.js';
import { registerDemo } from './commands/demo.command.js';
import { registerDeploymentTenant } from './commands/deployment-tenant.command.js';
import { registerJcs } from './commands/jcs.command.js';
import { registerKeys } from './commands/keys.command.js';
import { registerMigrate } from './commands/migrate.command.js';
import { registerOperators } from './commands/operators.command.js';
import { registerSecurityKey } from './commands/security-key.command.js';
import { registerStaff } from './commands/staff.command.js';
import { registerStart } from './commands/start.command.js';
import { registerStatus } from './commands/status.command.js';
import { registerTenants } from './commands/tenants.command.js';
import { registerVerify } from './commands/verify.command.js';

/** sysexits(3) EX_CONFIG: lets service managers tell a bad configuration from a crash. */
const EXIT_CONFIG = 78;
/** A command line that does not parse (unknown option, missing argument): 2, as grep and diff use it. docs/cli.md lists every code. */
const EXIT_USAGE = 2;

/** What went wrong outside Sealpost's own errors, in one line an operator can act on. */
function describeFailure(err: unknown): string {
  const { code, message, address, port } = err as { code?: string; message?: string; address?: string; port?: number };
  if (code === 'EADDRINUSE' || code === 'EACCES') {
    const where = address === undefined ? 'the configured port' : `${address}:${port}`;
    const why = code === 'EADDRINUSE' ? 'is already in use by another process' : 'may not be opened by this user';
    return `cannot listen on ${where}: it ${why} (check SEALPOST_HTTP_PORT, SEALPOST_SMTP_PORT, SEALPOST_HEALTH_PORT)`;
  }
  if (isDatabaseUnavailable(err)) return `cannot reach the database (${message ?? code}); check SEALPOST_DATABASE_URL and that the database is running`;
  return `unexpected error: ${message ?? String(err)} (set SEALPOST_LOG_LEVEL=debug for the stack)`;
}

const program = new Command('sealpost')
  .description('Sealpost — a security-first payload relay')
  .version('0.1.0')
  .showHelpAfterError()
  .exitOverride();

registerStart(program);
registerDemo(program);
registerMigrate(program);
registerKeys(program);
registerConfig(program);
registerAudit(program);
registerBackup(program);
registerTenants(program);
registerOperators(program);
registerStaff(program);
registerDeploymentTenant(program);
registerBreach(program);
registerSecurityKey(program);
registerCompliance(program);
registerStatus(program);
registerJcs(program);
registerVerify(program);
registerCompletion(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // --help and --version end with 0; anything else commander throws is a usage error.
    process.exitCode = err.exitCode === 0 ? 0 : EXIT_USAGE;
  } else if (err instanceof ConfigError) {
    process.stderr.write(`sealpost: ${err.message}\n`);
    process.exitCode = EXIT_CONFIG;
  } else if (isSealpostError(err)) {
    process.stderr.write(`sealpost: ${err.message} (${err.code})\n`);
    // A keyring that differs from the database's is set-up, like a bad setting: a restart does not fix it.
    process.exitCode = err.code === 'SP_ERR_CRYPTO_KEYRING_MISMATCH' ? EXIT_CONFIG : 1;
  } else {
    // One clear line; the stack only when asked for (SEALPOST_LOG_LEVEL=debug), since start-up
    // failures are mostly the environment (database down, port taken), not bugs.
    process.stderr.write(`sealpost: ${describeFailure(err)}\n`);
    if (/^(debug|trace)$/.test(process.env.SEALPOST_LOG_LEVEL ?? '')) process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  }
}
