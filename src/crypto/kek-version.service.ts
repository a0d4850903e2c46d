import type { AuditActor } from '../audit/audit-event.js';
import type { PreparedWrite } from '../db/prepared-write.js';
import { SealpostError } from '../errors/sealpost-error.js';
import type { Logger } from '../logging/logger.js';
import type { KekVersionRepository, KekVersionRow } from './kek-version.repository.js';
import type { LocalKeyring } from './local-keyring.js';

const DAY_MS = 86_400_000;
/** The rotation lock's lease: far longer than writing one key file and one row. */
const LOCK_TTL_MS = 60_000;
/** How long a start or `keys rotate --kek` waits for another process's rotation to finish. */
const LOCK_WAIT_MS = 30_000;
const LOCK_NAME = 'kek-rotation';

export interface KekRotation {
  readonly rotated: boolean;
  /** The master key new data keys are wrapped under afterwards. */
  readonly current: string;
  readonly reason: 'rotated' | 'not-due' | 'rotated-elsewhere';
}

export interface KekVersionServiceOptions {
  readonly rotationDays: number;
  /** Names this process in the rotation lock. */
  readonly holder: string;
  /** Writes `kek.rotated` in the transaction that records the new version. */
  readonly audit: (kek: string, actor: AuditActor, trigger: string | undefined) => PreparedWrite;
  /** A rotation made here or seen from another process: the cipher must stop using data keys wrapped under the old version. */
  readonly onNewVersion: (kek: string) => void;
  readonly logger: Logger;
  readonly now?: () => number;
}

const ref = (version: number): string => `local:v${version}`;

function mismatch(dir: string, problems: string[]): SealpostError {
  return new SealpostError(
    'SP_ERR_CRYPTO_KEYRING_MISMATCH',
    `The local keyring in ${dir} does not match this database (${problems.join('; ')}). Every process must use the same keyring: copy the keyring directory from a host that runs Sealpost against this database (or move to AWS KMS), then start again. Nothing was changed. See docs/operations.md "Keys on several hosts".`,
  );
}

/**
 * Keeps every process's local keyring in step with the database (DESIGN §6, "Encryption keys"):
 * the database records each master key version in use with a check value. At start a process
 * verifies its keyring against that record and refuses to start on a difference, rather than
 * wrap data keys other processes cannot unwrap; it never adds a version itself. Only `rotate`
 * (the scheduler when one is due, or `sealpost keys rotate --kek`) adds one, under a database
 * lock, once, audited. `refresh` (every SEALPOST_KEY_REFRESH_SECONDS) moves a running process
 * to a version another process added.
 */
export class KekVersionService {
  private readonly now: () => number;
  /** A version the database uses that this keyring lacks, found by `refresh`: the process is not ready. */
  private missing: number | undefined;

  constructor(
    private readonly repository: KekVersionRepository,
    private readonly keyring: LocalKeyring,
    private readonly dir: string,
    private readonly options: KekVersionServiceOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  /**
   * At start: the keyring must hold every version the database records, with the same key. A
   * database without a record yet (new, or from before migration 0014) records this keyring's
   * versions, after proving they unwrap its data keys; a new deployment gets its first version.
   */
  async verify(): Promise<{ current: string }> {
    this.keyring.load();
    let rows = await this.repository.list();
    if (rows.length === 0) {
      const adopted = await this.repository.withLock(LOCK_NAME, this.lockOptions(), async () => {
        const again = await this.repository.list();
        return again.length > 0 ? again : this.adopt();
      });
      if (!adopted.acquired) throw new SealpostError('SP_ERR_CRYPTO_KEY_UNAVAILABLE', 'Another process holds the master key lock; try again');
      rows = adopted.value;
    }
    const problems = this.differences(rows);
    if (problems.length > 0) throw mismatch(this.dir, problems);
    const newest = rows[rows.length - 1]!;
    this.keyring.useVersion(newest.version);
    return { current: newest.kekRef };
  }

  /** Moves this process to the newest version the database records, if another process added one. */
  async refresh(): Promise<void> {
    const rows = await this.repository.list();
    const newest = rows[rows.length - 1];
    if (newest === undefined || newest.version === this.keyring.currentVersion()) {
      this.missing = undefined;
      return;
    }
    const problems = this.differences([newest]);
    if (problems.length > 0) {
      if (this.missing !== newest.version) {
        this.options.logger.error({ kek: newest.kekRef }, `master key ${newest.kekRef} was added by another process but this keyring does not have it: copy the new file to ${this.dir}; until then this process keeps the previous version and is not ready`);
      }
      this.missing = newest.version;
      return;
    }
    this.missing = undefined;
    this.keyring.useVersion(newest.version);
    this.options.onNewVersion(newest.kekRef);
    this.options.logger.info({ kek: newest.kekRef }, 'new master key version in use');
  }

  /**
   * Adds a master key version, once, under the database lock: `ifDue` (the scheduler) only when
   * the newest is `rotationDays` old; `expectedCurrent` (the command) only if nobody rotated since
   * the caller looked, so racing commands make one new version, not one each.
   */
  async rotate(options: { actor: AuditActor; trigger?: string; ifDue?: boolean; expectedCurrent?: string }): Promise<KekRotation> {
    const result = await this.repository.withLock(LOCK_NAME, this.lockOptions(), async (): Promise<KekRotation> => {
      const rows = await this.repository.list();
      const newest = rows[rows.length - 1];
      if (newest === undefined) throw new SealpostError('SP_ERR_CRYPTO_KEY_UNAVAILABLE', 'The database records no master key version; start Sealpost once first');
      if (options.expectedCurrent !== undefined && newest.kekRef !== options.expectedCurrent) {
        return { rotated: false, current: newest.kekRef, reason: 'rotated-elsewhere' };
      }
      if (options.ifDue && this.now() - newest.createdAt < this.options.rotationDays * DAY_MS) {
        return { rotated: false, current: newest.kekRef, reason: 'not-due' };
      }
      // Past any file a failed rotation left behind (written, never recorded).
      const onDisk = this.keyring.checks();
      let version = Math.max(newest.version, onDisk[onDisk.length - 1]?.version ?? 0) + 1;
      while (!this.keyring.createVersion(version)) version++;
      const written = this.keyring.checks().find((c) => c.version === version)!;
      const row: KekVersionRow = { kekRef: ref(version), version, check: written.check, createdAt: written.createdAt };
      await this.repository.insert([row], this.options.audit(row.kekRef, options.actor, options.trigger));
      this.keyring.useVersion(version);
      this.options.onNewVersion(row.kekRef);
      return { rotated: true, current: row.kekRef, reason: 'rotated' };
    });
    if (!result.acquired) throw new SealpostError('SP_ERR_CRYPTO_KEY_UNAVAILABLE', 'Another process holds the master key lock; try again');
    return result.value;
  }

  /** For `/readyz`: false while the database uses a version this keyring lacks. */
  health(): { ok: boolean; detail: { current: string | null; missing: string | null } } {
    const current = this.keyring.currentVersion();
    return { ok: this.missing === undefined, detail: { current: current === undefined ? null : ref(current), missing: this.missing === undefined ? null : ref(this.missing) } };
  }

  private lockOptions(): { holder: string; ttlMs: number; waitMs: number; now: () => number } {
    return { holder: this.options.holder, ttlMs: LOCK_TTL_MS, waitMs: LOCK_WAIT_MS, now: this.now };
  }

  /** What differs between the keyring and the recorded versions, as sentences for the operator. */
  private differences(rows: readonly KekVersionRow[]): string[] {
    const onDisk = new Map(this.keyring.checks().map((c) => [c.version, c.check]));
    const problems: string[] = [];
    for (const row of rows) {
      const check = onDisk.get(row.version);
      if (check === undefined) problems.push(`master key ${row.kekRef} is missing from it`);
      else if (check !== row.check) problems.push(`it holds a different key as ${row.kekRef}`);
    }
    return problems;
  }

  /** First start against this database: record the keyring's versions (creating the first on a new deployment). */
  private async adopt(): Promise<KekVersionRow[]> {
    const samples = await this.repository.sampleLocalDataKeys();
    let checks = this.keyring.checks();
    if (checks.length === 0) {
      if (samples.length > 0) throw mismatch(this.dir, [`it is empty, but the database holds data keys wrapped under ${samples.map((s) => s.key.kekRef).join(', ')}`]);
      this.keyring.createVersion(1);
      checks = this.keyring.checks();
      this.options.logger.info({ kek: ref(1) }, 'local keyring: first master key created');
    }
    const problems: string[] = [];
    for (const sample of samples) {
      try {
        await this.keyring.decryptDataKey(sample.id, sample.key);
      } catch {
        problems.push(`it cannot unwrap the data keys wrapped under ${sample.key.kekRef}`);
      }
    }
    if (problems.length > 0) throw mismatch(this.dir, problems);
    const rows = checks.map((c) => ({ kekRef: ref(c.version), version: c.version, check: c.check, createdAt: c.createdAt }));
    await this.repository.insert(rows);
    return rows;
  }
}
