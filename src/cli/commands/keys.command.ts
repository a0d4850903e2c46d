import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { keyringDir, openKeyProvider } from '../../app/key-provider.factory.js';
import { recorderFor } from '../../app/effects.js';
import { auditRecorder } from '../../audit/audit-recorder.js';
import { AuditLog } from '../../audit/audit-log.js';
import { SIGNING_LOCK_WAIT_MS, withSigningKeyLock } from '../../app/scheduler.js';
import type { SealpostConfig } from '../../config/config.schema.js';
import type { KekRotation } from '../../crypto/kek-version.service.js';
import type { SigningKeyStatus } from '../../crypto/signing-key.js';
import type { RotationResult } from '../../crypto/signing-key.service.js';
import { SealpostError } from '../../errors/sealpost-error.js';
import { exportKeyring, importKeyring, openRecoveryFile } from '../../ops/backup/keyring-recovery.js';
import { replicaKeyProblem } from '../../ops/backup/key-replication.js';
import { holdsData } from '../../ops/backup/restore.js';
import { configForCommand, print, withDatabase, withSealpost } from '../cli-support.js';
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

/** The first line on standard input: the recovery key is never an argument (shell history, `ps`). */
async function readStdinLine(): Promise<string> {
  let text = '';
  for await (const chunk of process.stdin) {
    text += (chunk as Buffer).toString('utf8');
    if (text.includes('\n') || text.length > 4096) break;
  }
  return text.split('\n')[0] ?? '';
}

function localOnly(config: SealpostConfig, what: string): void {
  if (config.keyProvider !== 'local') {
    throw new SealpostError('SP_ERR_CONFIG_INVALID', `${what} is for the local keyring; with AWS KMS use a multi-region key with a replica in the backup replica's region (docs/operations.md)`);
  }
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
      print({ ...(kek ? { kek: kek.current, kek_rotated: kek.rotated, tenant_keys_resealed: kek.tenantKeysResealed } : {}), ...(signing ? { signing } : {}) }, options.json === true, () =>
        [
          ...(kek
            ? [
                kek.rotated
                  ? `new master key version ${kek.current} (${kek.tenantKeysResealed} tenant root keys re-sealed under it); running processes wrap new data keys under it within ${config.keyRefreshSeconds} s (SEALPOST_KEY_REFRESH_SECONDS). Processes on other hosts see it only if they share the keyring directory (docs/operations.md "Keys on several hosts")`
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
    .command('export-recovery')
    .description('seal every file of the local keyring under a new recovery key (shown once; keep it offline) into --out; audited')
    .requiredOption('--out <file>', 'where to write the recovery file (created 0600; must not exist)')
    .option('--json', 'print JSON')
    .action(async (options: { out: string; json?: boolean }) => {
      const config = await configForCommand();
      localOnly(config, 'export-recovery');
      if (existsSync(options.out)) throw new SealpostError('SP_ERR_CONFIG_INVALID', `${options.out} exists; choose a new file`);
      const exported = exportKeyring(keyringDir(config));
      await withDatabase((database) =>
        database.db.transaction().execute(async (tx) => {
          writeFileSync(options.out, exported.file, { mode: 0o600, flag: 'wx' });
          await recorderFor(auditRecorder(new AuditLog()), 'keyRecovery')(tx, {
            tenant: null,
            actor: CLI_ACTOR,
            action: 'keys.recovery_exported',
            details: { files: exported.files, sha256: exported.sha256 },
          });
        }),
      );
      print({ file: options.out, files: exported.files, sha256: exported.sha256, recovery_key: exported.recoveryKey }, options.json === true, () =>
        [
          `wrote ${options.out} (${exported.files} keyring files, sha256 ${exported.sha256})`,
          '',
          'RECOVERY KEY (shown once; keep it offline, apart from the file):',
          exported.recoveryKey,
        ].join('\n'),
      );
    });

  keys
    .command('import-recovery')
    .description('restore the local keyring from a recovery file; the recovery key is read from standard input')
    .requiredOption('--in <file>', 'the recovery file written by export-recovery')
    .option('--force', 'replace keyring files that differ from the recovery file')
    .option('--json', 'print JSON')
    .action(async (options: { in: string; force?: boolean; json?: boolean }) => {
      const config = await configForCommand();
      localOnly(config, 'import-recovery');
      const files = openRecoveryFile(readFileSync(options.in), await readStdinLine());
      const result = importKeyring(keyringDir(config), files, options.force === true);
      // On a new machine there is no database yet, and creating one here would make the restore
      // that follows refuse a "non-empty" destination: the restore's own event records it then.
      const recorded =
        (config.database.dialect === 'postgres' || existsSync(config.database.file)) &&
        (await withDatabase(
          async (database) => {
            if (!(await holdsData(database.db, database.dialect))) return false;
            await database.db.transaction().execute((tx) =>
              recorderFor(auditRecorder(new AuditLog()), 'keyRecovery')(tx, { tenant: null, actor: CLI_ACTOR, action: 'keys.recovery_imported', details: { written: result.written, unchanged: result.unchanged } }),
            );
            return true;
          },
          { migrate: false },
        ));
      print({ ...result, audited: recorded }, options.json === true, () => `keyring restored into ${keyringDir(config)}: ${result.written} file(s) written, ${result.unchanged} already present${recorded ? '' : ' (no database with data here yet: not recorded in an audit log)'}`);
    });

  keys
    .command('check')
    .description('show the master key provider and whether its yearly rotation is in place')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }) => {
      const config = await configForCommand();
      const status = await openKeyProvider(config).status();
      const replication = config.backupReplica === undefined ? undefined : replicaKeyProblem(status, config.backupReplicaRegion);
      print({ ...status, ...(replication ? { backup_replica_problem: replication } : {}) }, options.json === true, () =>
        [
          `provider:  ${status.provider}`,
          `current:   ${status.currentKek}`,
          `rotation:  ${status.rotationEnabled ? 'enabled' : 'NOT ENABLED — enable automatic yearly rotation on the KMS key'}`,
          ...Object.entries(status.details).map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`),
          ...(config.backupReplica === undefined ? [] : [`backups:   ${replication ?? (status.provider === 'local' ? 'keep a keyring recovery file offline (sealpost keys export-recovery)' : 'the key is replicated to the backup replica region')}`]),
        ].join('\n'),
      );
      if (!status.rotationEnabled || replication !== undefined) process.exitCode = 1;
    });
}
