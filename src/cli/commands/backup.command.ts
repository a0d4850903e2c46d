import path from 'node:path';
import type { Command } from 'commander';
import { backupRepository, createBackupService, createDrillDeps, openBackupTargets, restoreScrubber, restoreBlobStore, restoreKeyProvider } from '../../app/backup-services.js';
import { createSealpost, type Sealpost } from '../../app/sealpost.js';
import type { BackupTarget } from '../../ops/backup/backup-target.js';
import { runDrill } from '../../ops/backup/drill.js';
import { SealpostError } from '../../errors/sealpost-error.js';
import type { BackupService } from '../../ops/backup/backup.service.js';
import { restoreSnapshot, type RestoreDestination } from '../../ops/backup/restore.js';
import { commandLogger, configForCommand, print } from '../cli-support.js';
import { transferProgress } from '../transfer-progress.js';

const CLI_ACTOR = { type: 'system', id: 'sealpost-cli' } as const;

/** The running deployment's backup service (its database, keys and blob store), closed after `work`. */
async function withBackups<T>(work: (backups: BackupService) => Promise<T>): Promise<T> {
  const config = await configForCommand();
  const targets = await openBackupTargets(config);
  try {
    const sealpost = await createSealpost(config, { logger: commandLogger(config) });
    try {
      return await work(createBackupService(sealpost, targets));
    } finally {
      await sealpost.close();
    }
  } finally {
    await targets.target.close();
    await targets.replica.close();
  }
}

/** The running deployment and its replica, for drills. */
async function withDrill<T>(work: (sealpost: Sealpost, replica: BackupTarget) => Promise<T>): Promise<T> {
  const config = await configForCommand();
  const targets = await openBackupTargets(config);
  try {
    const sealpost = await createSealpost(config, { logger: commandLogger(config) });
    try {
      return await work(sealpost, targets.replica);
    } finally {
      await sealpost.close();
    }
  } finally {
    await targets.target.close();
    await targets.replica.close();
  }
}

/** `--to`: a postgres:// URL, or a data directory. */
export function parseDestination(to: string): RestoreDestination {
  if (/^postgres(ql)?:\/\//.test(to)) return { dialect: 'postgres', url: to };
  if (to.includes('://')) throw new SealpostError('SP_ERR_CONFIG_INVALID', '--to takes a data directory or a postgres:// URL');
  return { dialect: 'sqlite', dir: path.resolve(to) };
}

function fromOption(value: string | undefined): 'target' | 'replica' {
  if (value === undefined || value === 'target') return 'target';
  if (value === 'replica') return 'replica';
  throw new SealpostError('SP_ERR_CONFIG_INVALID', '--from is target or replica');
}

export function registerBackup(program: Command): void {
  const backup = program.command('backup').description('encrypted snapshots in two places, restores and restore drills');

  backup
    .command('create')
    .description('snapshot the database and the blob manifest, sealed under a new data key, into SEALPOST_BACKUP_TARGET and SEALPOST_BACKUP_REPLICA; both copies are read back and checked')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }) => {
      const summary = await withBackups((backups) => backups.create(CLI_ACTOR));
      print(summary, options.json === true, () =>
        `snapshot ${summary.id} (${summary.environment}): database ${summary.databaseBytes} bytes sealed, ${summary.blobCount} blobs (${summary.blobsCopied} new), verified in both targets in ${(summary.durationMs / 1000).toFixed(1)} s`,
      );
    });

  backup
    .command('list')
    .description('every snapshot in the target and the replica, side by side; flags any missing or differing copy')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }) => {
      const listed = await withBackups((backups) => backups.list());
      print({ snapshots: listed }, options.json === true, () =>
        listed.length === 0
          ? 'no snapshots'
          : ['SNAPSHOT                        CREATED                   ENV          TARGET    REPLICA   STATUS',
              ...listed.map((s) => `${s.id}  ${s.createdAt ?? '-'}  ${(s.environment ?? '-').padEnd(11)}  ${(s.target ?? 'MISSING').slice(0, 8)}  ${(s.replica ?? 'MISSING').slice(0, 8)}  ${s.status === 'ok' ? 'ok' : s.status.toUpperCase()}`)].join('\n'),
      );
      if (listed.some((s) => s.status !== 'ok')) process.exitCode = 1;
    });

  backup
    .command('verify')
    .argument('<snapshot>', 'snapshot id (bak_…)')
    .description('download one snapshot and check everything (manifest MAC, hashes, authentication tags, every blob copy) without restoring')
    .option('--from <where>', 'target, replica or both', 'both')
    .option('--json', 'print JSON')
    .action(async (id: string, options: { from: string; json?: boolean }) => {
      const from = options.from === 'both' ? 'both' : fromOption(options.from);
      const progress = transferProgress();
      const results = await withBackups((backups) => backups.verify(id, from, progress));
      progress.finish();
      print({ snapshot: id, verified: results }, options.json === true, () => results.map((r) => `${id} in ${r.target}: ok (${r.bytes} bytes, ${r.blobs} blobs)`).join('\n'));
    });

  backup
    .command('restore')
    .argument('<snapshot>', 'snapshot id (bak_…)')
    .requiredOption('--to <destination>', 'a data directory (SQLite snapshots) or a postgres:// URL (PostgreSQL snapshots)')
    .option('--from <where>', 'target or replica', 'target')
    .option('--force', 'replace a destination that already holds data')
    .option('--scrub', 'replace payload contents, e-mail bodies and attachments with synthetic values of the same shape and size (required for a production snapshot outside production); audited')
    .option('--json', 'print JSON')
    .description("restore a snapshot with this deployment's keys; everything is verified before anything is written")
    .action(async (id: string, options: { to: string; from?: string; force?: boolean; scrub?: boolean; json?: boolean }) => {
      const config = await configForCommand();
      const to = parseDestination(options.to);
      const targets = await openBackupTargets(config);
      const progress = transferProgress();
      try {
        const keyProvider = await restoreKeyProvider(config);
        const result = await restoreSnapshot({
          id,
          source: targets[fromOption(options.from)],
          keyProvider,
          ...(options.scrub ? { scrub: restoreScrubber(config, keyProvider) } : {}),
          to,
          openBlobStore: restoreBlobStore(config, to.dialect === 'sqlite' ? to.dir : undefined),
          environment: config.environment,
          force: options.force === true,
          progress,
          actor: CLI_ACTOR,
        });
        progress.finish();
        print(
          { snapshot: id, created_at: result.manifest.created_at, environment: result.manifest.environment, bytes: result.bytes, blobs: result.blobs, duration_ms: result.durationMs, scrubbed: result.scrubbed ?? null },
          options.json === true,
          () =>
            `restored ${id} (taken ${result.manifest.created_at}, ${result.manifest.environment}): ${result.blobs} blobs, ${result.bytes} bytes in ${(result.durationMs / 1000).toFixed(1)} s` +
            (result.scrubbed ? `; scrubbed ${result.scrubbed.payloads} payloads, ${result.scrubbed.attachments} attachments, ${result.scrubbed.rawMessages} raw e-mails` : ''),
        );
      } finally {
        progress.finish();
        await targets.target.close();
        await targets.replica.close();
      }
    });

  backup
    .command('drill')
    .description('restore the newest snapshot from the REPLICA into a scratch location, verify its audit log, a sample of receipts and its row counts; records the RTO and a signed report')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }) => {
      const report = await withDrill((sealpost, replica) => runDrill(createDrillDeps(sealpost, replica), CLI_ACTOR));
      print(report, options.json === true, () =>
        `drill ${report.id}: ${report.passed ? 'PASSED' : 'FAILED'} restoring ${report.snapshot ?? '-'} from ${report.source}; RTO ${report.rto_seconds} s` +
          (report.checks.audit ? `; audit log ${report.checks.audit.ok ? 'verified' : 'BROKEN'} (${report.checks.audit.events} events)` : '') +
          (report.checks.receipts ? `; receipts ${report.checks.receipts.verified}/${report.checks.receipts.sampled} verified` : '') +
          (report.error ? `\n${report.error}` : ''),
      );
      if (!report.passed) process.exitCode = 1;
    });

  backup
    .command('drills')
    .description('past restore drills, newest first, with their RTO')
    .option('--limit <n>', 'how many', '20')
    .option('--json', 'print JSON')
    .action(async (options: { limit: string; json?: boolean }) => {
      const limit = Math.min(1000, Math.max(1, Number.parseInt(options.limit, 10) || 20));
      const config = await configForCommand();
      const sealpost = await createSealpost(config, { logger: commandLogger(config) });
      try {
        const drills = await backupRepository(sealpost).drills(limit);
        const rows = drills.map((d) => ({ id: d.id, started_at: new Date(d.started_at).toISOString(), snapshot: d.snapshot_id, source: d.source, rto_seconds: d.rto_ms / 1000, passed: d.passed === 1, report_sha256: d.report_sha256 }));
        print({ drills: rows }, options.json === true, () =>
          rows.length === 0 ? 'no drills yet' : rows.map((d) => `${d.started_at}  ${d.id}  ${d.passed ? 'passed' : 'FAILED'}  RTO ${d.rto_seconds.toFixed(1)} s  ${d.snapshot} from ${d.source}`).join('\n'),
        );
      } finally {
        await sealpost.close();
      }
    });
}
