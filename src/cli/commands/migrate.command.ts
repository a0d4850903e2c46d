import type { Command } from 'commander';
import { print, withDatabase } from '../cli-support.js';

export function registerMigrate(program: Command): void {
  program
    .command('migrate')
    .description('apply pending database migrations (also done by `start`)')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }) => {
      await withDatabase(async (database, _config, applied) => {
        print({ dialect: database.dialect, applied }, options.json === true, () =>
          applied.length === 0 ? `${database.dialect}: schema is up to date` : `${database.dialect}: applied ${applied.join(', ')}`,
        );
      });
    });
}
