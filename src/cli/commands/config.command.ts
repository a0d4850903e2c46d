import type { Command } from 'commander';
import { redactUrl } from '../../config/config.load.js';
import { configForCommand, print } from '../cli-support.js';

export function registerConfig(program: Command): void {
  program
    .command('config')
    .description('configuration')
    .command('check')
    .description('validate the configuration (environment and SEALPOST_CONFIG file) and print the result')
    .option('--json', 'print JSON')
    .action((options: { json?: boolean }) => {
      const config = configForCommand();
      const shown = { ...config, ...(config.databaseUrl ? { databaseUrl: redactUrl(config.databaseUrl) } : {}), ...(config.staffOidcClientSecret ? { staffOidcClientSecret: '***' } : {}) };
      if (shown.database.dialect === 'postgres') shown.database = { dialect: 'postgres', url: redactUrl(shown.database.url) };
      print(shown, options.json === true, () => Object.entries(shown).map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`).join('\n'));
    });
}
