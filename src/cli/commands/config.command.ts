import { Option, type Command } from 'commander';
import { START_ROLES, checkStartConfig, type StartRole } from '../../app/start-checks.js';
import { CONFIG_FIELDS } from '../../config/config.schema.js';
import { configForCommand, print } from '../cli-support.js';

const SECRET_KEYS = new Set(Object.entries(CONFIG_FIELDS).flatMap(([key, spec]) => ('secret' in spec && spec.secret ? [key] : [])));

export function registerConfig(program: Command): void {
  program
    .command('config')
    .description('configuration')
    .command('check')
    .description('validate the configuration (environment, SEALPOST_CONFIG file, secret files, AWS Secrets Manager) as `sealpost start` does, TLS files included, and print it; secrets only as where each came from; exits 78 on a problem')
    .addOption(new Option('--role <role>', 'check for this role, as `sealpost start --role` would').choices(START_ROLES).default('all'))
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean; role: StartRole }) => {
      const config = await configForCommand();
      await checkStartConfig(config, options.role);
      const { secretSources, ...settings } = config;
      // Secret settings, and what is derived from them (the PostgreSQL URL), are left out: only their source is shown.
      const shown: Record<string, unknown> = Object.fromEntries(Object.entries(settings).filter(([key]) => !SECRET_KEYS.has(key)));
      shown.database = config.database.dialect === 'postgres' ? { dialect: 'postgres' } : config.database;
      const secrets = Object.fromEntries(secretSources.map((s) => [s.setting, s.source]));
      print({ ...shown, secrets }, options.json === true, () =>
        [
          ...Object.entries(shown).map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`),
          'secrets (where each came from; values are never shown):',
          ...secretSources.map((s) => `  ${s.setting}: ${s.source}`),
        ].join('\n'),
      );
    });
}
