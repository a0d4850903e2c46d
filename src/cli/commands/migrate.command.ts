import type { Command } from 'commander';
import { openDatabase } from '../../db/database.js';
import { migrateToLatest } from '../../db/migrator.js';
import { configForCommand, print } from '../cli-support.js';

export function registerMigrate(program: Command): void {
  program
    .command('migrate')
    .description('apply pending database migrations (also done by `start`)')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }) => {
      const config = configForCommand();
      const database = openDatabase(config.database);
      try {
        const applied = await migrateToLatest(database.db, database.dialect);
        print({ dialect: database.dialect, applied }, options.json === true, () =>
          applied.length === 0 ? `${database.dialect}: schema is up to date` : `${database.dialect}: applied ${applied.join(', ')}`,
        );
      } finally {
        await database.close();
      }
    });
}
