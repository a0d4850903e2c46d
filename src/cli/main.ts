#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { ConfigError } from '../config/config.load.js';
import { isSealpostError } from '../errors/sealpost-error.js';
import { registerAudit } from './commands/audit.command.js';
import { registerCompletion } from './commands/completion.command.js';
import { registerConfig } from './commands/config.command.js';
import { registerDemo } from './commands/demo.command.js';
import { registerJcs } from './commands/jcs.command.js';
import { registerKeys } from './commands/keys.command.js';
import { registerMigrate } from './commands/migrate.command.js';
import { registerStart } from './commands/start.command.js';
import { registerTenants } from './commands/tenants.command.js';
import { registerVerify } from './commands/verify.command.js';

/** sysexits(3) EX_CONFIG: lets service managers tell a bad configuration from a crash. */
const EXIT_CONFIG = 78;
/** A command line that does not parse (unknown option, missing argument): 2, as grep and diff use it. docs/cli.md lists every code. */
const EXIT_USAGE = 2;

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
registerTenants(program);
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
    process.exitCode = 1;
  } else {
    process.stderr.write(`sealpost: unexpected error: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  }
}
