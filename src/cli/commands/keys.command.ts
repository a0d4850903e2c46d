import type { Command } from 'commander';
import { openKeyProvider } from '../../app/key-provider.factory.js';
import { SIGNING_LOCK_WAIT_MS, withSigningKeyLock } from '../../app/scheduler.js';
import type { SealpostConfig } from '../../config/config.schema.js';
import type { KekRotation } from '../../crypto/kek-version.service.js';
import type { SigningKeyStatus } from '../../crypto/signing-key.js';
import type { RotationResult } from '../../crypto/signing-key.service.js';
import { SealpostError } from '../../errors/sealpost-error.js';
import { configForCommand, print, withSealpost } from '../cli-support.js';
import { progressBar } from '../progress-bar.js';

/**
 * Adds a master key version, once, under the database's rotation lock, recording `kek.rotated`
 * in the transaction that records the version. Several commands racing make one version: each
 * rotates only if the version it started with is still current.
 */
async function rotateKek(config: SealpostConfig): Promise<KekRotation> {
  if (config.keyProvider !== 'local') {
    throw new SealpostError('SP_ERR_CONFIG_INVALID', 'With AWS KMS the master key is rotated by KMS itself; enable automatic rotation on the key');
  }
  return withSealpost(async (sealpost) => {
    const versions = sealpost.kekVersions;
    if (!versions) throw new SealpostError('SP_ERR_CONFIG_INVALID', 'No local keyring');
    const current = versions.health().detail.current ?? undefined;
    return versions.rotate({ actor: { type: 'system', id: 'cli' }, trigger: 'keys rotate --kek', ...(current ? { expectedCurrent: current } : {}) });
  });
}

/** Who rotates from the command line, in the `signing_key.rotated` audit event. */
const CLI_ACTOR = { type: 'system', id: 'sealpost-cli' } as const;

/** Rotates one tenant's signing key, or every tenant's; each rotation is audited. */
function rotateSigningKeys(options: { tenant?: string; ifDue: boolean }): Promise<RotationResult[]> {
  // A key activated after the command was given satisfies it (see RotateOptions.unlessRotatedSince).
  const requestedAt = Date.now();
  return withSealpost(async (sealpost) => {
    let ids: string[];
    if (options.tenant !== undefined) {
      if (!(await sealpost.tenants.find(options.tenant))) throw new SealpostError('SP_ERR_CONFIG_INVALID', `No tenant ${options.tenant}`);
      ids = [options.tenant];
    } else {
      ids = (await sealpost.tenants.list()).map((t) => t.id);
    }
    const locked = await withSigningKeyLock(sealpost, SIGNING_LOCK_WAIT_MS, async () => {
      const results: RotationResult[] = [];
      for (const id of ids) results.push(await sealpost.receipts.keys.rotate(id, { ifDue: options.ifDue, actor: CLI_ACTOR, unlessRotatedSince: requestedAt }));
      return results;
    });
    if (!locked.acquired) throw new SealpostError('SP_ERR_SIGNING_KEY_UNAVAILABLE', 'Another process is rotating signing keys; try again');
    return locked.value;
  });
}

function describeRotation(r: RotationResult, refreshSeconds: number): string {
  const pickUp = `running processes sign with it within ${refreshSeconds} s (SEALPOST_KEY_REFRESH_SECONDS)`;
  switch (r.reason) {
    case 'created':
      return `${r.tenant}: first signing key ${r.active} created and active`;
    case 'rotated':
      return `${r.tenant}: new signing key ${r.active} is active; ${pickUp}. ${r.replaced} stays valid for verification for 90 days, then moves to the tenant's jwks-archive.json`;
    case 'not-due':
      return `${r.tenant}: signing key ${r.active} is not due for replacement (see sealpost keys status); nothing rotated`;
    default:
      return `${r.tenant}: another process rotated first; the active signing key is ${r.active}; nothing rotated`;
  }
}

const DATE = (ms: number | null): string => (ms === null ? '-' : new Date(ms).toISOString());

function describeStatus(keys: readonly SigningKeyStatus[]): string {
  if (keys.length === 0) return "no signing keys yet: a tenant's first signature, or `sealpost keys rotate --signing`, creates its first";
  return keys
    .map((k) =>
      [
        `${k.tenantId ?? 'legacy (deployment-wide, never signs again)'}  ${k.kid}  ${k.state.toUpperCase()}`,
        `  activated ${DATE(k.activatedAt)}`,
        k.state === 'active' ? `  replacement due ${DATE(k.replaceDueAt)}` : `  replaced  ${DATE(k.replacedAt)}`,
        ...(k.state === 'retired' ? [`  retired   ${DATE(k.retiredAt)}`] : []),
        `  valid     ${DATE(k.notBefore)} .. ${DATE(k.expiresAt)}${k.state === 'active' ? ' (moves with the replacement)' : ''}`,
      ].join('\n'),
    )
    .join('\n');
}

export function registerKeys(program: Command): void {
  const keys = program.command('keys').description('encryption and signing keys');

  keys
    .command('reseal-legacy')
    .description("re-encrypt tenant records written before per-tenant keys under their tenant's own keys, so an erasure shreds them too; safe while running and to repeat")
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }) => {
      const bar = options.json === true ? undefined : progressBar('re-sealing records');
      const report = await withSealpost((sealpost) => sealpost.legacyReseal.run({ type: 'system', id: 'sealpost-cli' }, (done, total) => bar?.update(done, total)));
      bar?.finish();
      const out = { examined: report.examined, resealed: report.resealed, by_table: report.byTable };
      print(out, options.json === true, () => `${report.resealed} of ${report.examined} records re-sealed under their tenant's keys`);
    });

  keys
    .command('rotate')
    .description('rotate a key now instead of waiting for its schedule')
    .option('--kek', 'add a new local keyring master key version (new data keys are wrapped under it; old versions stay for reading)')
    .option('--signing', "replace each tenant's active Ed25519 signing key (the old one stays valid for verification for 90 days); audited; safe to run from several hosts at once")
    .option('--tenant <id>', 'with --signing: only this tenant\'s key (default: every tenant)')
    .option('--if-due', 'with --signing: only if the active key is 90 days old, as the scheduler does')
    .option('--json', 'print JSON')
    .action(async (options: { kek?: boolean; signing?: boolean; tenant?: string; ifDue?: boolean; json?: boolean }) => {
      if (!options.kek && !options.signing) throw new SealpostError('SP_ERR_CONFIG_INVALID', 'Say which key to rotate: --kek or --signing');
      if (options.ifDue && !options.signing) throw new SealpostError('SP_ERR_CONFIG_INVALID', '--if-due applies to --signing only');
      if (options.tenant !== undefined && !options.signing) throw new SealpostError('SP_ERR_CONFIG_INVALID', '--tenant applies to --signing only');
      const config = await configForCommand();
      const kek = options.kek ? await rotateKek(config) : undefined;
      const signing = options.signing ? await rotateSigningKeys({ tenant: options.tenant, ifDue: options.ifDue === true }) : undefined;
      print({ ...(kek ? { kek: kek.current, kek_rotated: kek.rotated } : {}), ...(signing ? { signing } : {}) }, options.json === true, () =>
        [
          ...(kek
            ? [
                kek.rotated
                  ? `new master key version ${kek.current}; running processes wrap new data keys under it within ${config.keyRefreshSeconds} s (SEALPOST_KEY_REFRESH_SECONDS). With processes on other hosts, copy the new keyring file to them first (docs/operations.md)`
                  : `another process rotated first; the master key version is ${kek.current}; nothing rotated`,
              ]
            : []),
          ...(signing ? (signing.length === 0 ? ['no tenants: no signing key to rotate'] : signing.map((r) => describeRotation(r, config.keyRefreshSeconds))) : []),
        ].join('\n'),
      );
    });

  keys
    .command('status')
    .description('show every signing key, per tenant, with its state (active, replaced, retired) and dates; legacy deployment-wide keys too')
    .option('--tenant <id>', 'only this tenant\'s keys')
    .option('--json', 'print JSON')
    .action(async (options: { tenant?: string; json?: boolean }) => {
      const status = await withSealpost((sealpost) => sealpost.receipts.keys.status(options.tenant));
      const asJson = status.map((k) => ({
        tenant: k.tenantId,
        kid: k.kid,
        state: k.state,
        created_at: DATE(k.createdAt),
        activated_at: DATE(k.activatedAt),
        replace_due_at: k.replaceDueAt === null ? null : DATE(k.replaceDueAt),
        replaced_at: k.replacedAt === null ? null : DATE(k.replacedAt),
        retired_at: k.retiredAt === null ? null : DATE(k.retiredAt),
        nbf: Math.floor(k.notBefore / 1000),
        exp: Math.ceil(k.expiresAt / 1000),
        x: k.x,
      }));
      print({ signing_keys: asJson }, options.json === true, () => describeStatus(status));
    });

  keys
    .command('check')
    .description('show the master key provider and whether its yearly rotation is in place')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }) => {
      const config = await configForCommand();
      const status = await openKeyProvider(config).status();
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
