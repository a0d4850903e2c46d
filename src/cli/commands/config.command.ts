import { Option, type Command } from 'commander';
import { START_ROLES, checkStartConfig, type StartRole } from '../../app/start-checks.js';
import { redactUrl } from '../../config/config.load.js';
import { configForCommand, print } from '../cli-support.js';

export function registerConfig(program: Command): void {
  program
    .command('config')
    .description('configuration')
    .command('check')
    .description('validate the configuration (environment and SEALPOST_CONFIG file) as `sealpost start` does, TLS files included, and print the result; exits 78 on a problem')
    .addOption(new Option('--role <role>', 'check for this role, as `sealpost start --role` would').choices(START_ROLES).default('all'))
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean; role: StartRole }) => {
      const config = configForCommand();
      await checkStartConfig(config, options.role);
      const shown = { ...config, ...(config.databaseUrl ? { databaseUrl: redactUrl(config.databaseUrl) } : {}) };
      if (shown.database.dialect === 'postgres') shown.database = { dialect: 'postgres', url: redactUrl(shown.database.url) };
      print(shown, options.json === true, () => Object.entries(shown).map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`).join('\n'));
    });
}
