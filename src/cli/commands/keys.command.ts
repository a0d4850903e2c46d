import type { Command } from 'commander';
import { keyringDir, openKeyProvider } from '../../app/key-provider.factory.js';
import { LocalKeyring } from '../../crypto/local-keyring.js';
import { SealpostError } from '../../errors/sealpost-error.js';
import { configForCommand, print } from '../cli-support.js';

export function registerKeys(program: Command): void {
  const keys = program.command('keys').description('encryption and signing keys');

  keys
    .command('rotate')
    .description('rotate a key now instead of waiting for its schedule')
    .option('--kek', 'add a new local keyring master key version (new data keys are wrapped under it; old versions stay for reading)')
    .option('--json', 'print JSON')
    .action(async (options: { kek?: boolean; json?: boolean }) => {
      if (!options.kek) throw new SealpostError('SP_ERR_CONFIG_INVALID', 'Say which key to rotate: --kek');
      const config = configForCommand();
      if (config.keyProvider !== 'local') {
        throw new SealpostError('SP_ERR_CONFIG_INVALID', 'With AWS KMS the master key is rotated by KMS itself; enable automatic rotation on the key');
      }
      const keyring = new LocalKeyring(keyringDir(config), config.kekRotationDays);
      keyring.open();
      const version = keyring.rotate();
      print({ kek: `local:v${version}` }, options.json === true, () => `new master key version local:v${version}; running processes use it for data keys created from now on`);
    });

  keys
    .command('check')
    .description('show the master key provider and whether its yearly rotation is in place')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }) => {
      const config = configForCommand();
      const status = await openKeyProvider(config).provider.status();
      print(status, options.json === true, () =>
        [
          `provider:  ${status.provider}`,
          `current:   ${status.currentKek}`,
          `rotation:  ${status.rotationEnabled ? 'enabled' : 'NOT ENABLED — enable automatic yearly rotation on the KMS key'}`,
          ...Object.entries(status.details).map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`),
        ].join('\n'),
      );
      if (!status.rotationEnabled) process.exitCode = 1;
    });
}
