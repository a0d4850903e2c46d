import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBackupService, openBackupTargets, restoreBlobStore, restoreKeyProvider, restoreScrubber } from '../../src/app/backup-services.js';
import { keyringDir } from '../../src/app/key-provider.factory.js';
import { createSealpost, type Sealpost } from '../../src/app/sealpost.js';
import { loadConfig } from '../../src/config/config.load.js';
import { rawMessageBlobContext, rawMessageBlobKey } from '../../src/ingest/smtp/raw-message.js';
import { createLogger } from '../../src/logging/logger.js';
import type { BackupTarget } from '../../src/ops/backup/backup-target.js';
import { exportKeyring, importKeyring, openRecoveryFile } from '../../src/ops/backup/keyring-recovery.js';
import { restoreSnapshot } from '../../src/ops/backup/restore.js';
import { NO_PROGRESS, readAll } from '../../src/ops/backup/snapshot-reader.js';
import { acceptedId, compose, fixedResolver, startSmtpHarness, type SmtpHarness } from '../ingest/smtp/smtp-test-support.js';

const ACTOR = { type: 'system', id: 'test' } as const;
const SECRET_TEXT = 'EMAIL-MARKER-body: wire 9,999 EUR to account DE00';
const SECRET_SUBJECT = 'EMAIL-MARKER-subject Invoice März';
const SECRET_FILE = Buffer.concat([Buffer.from('EMAIL-MARKER-attachment '), Buffer.alloc(5_000, 0x42)]);

describe('backups of e-mail payloads (raw message and attachments)', { timeout: 180_000 }, () => {
  let h: SmtpHarness;
  let dir: string;
  let targets: { target: BackupTarget; replica: BackupTarget };
  let staging: Sealpost | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'sealpost-backup-email-'));
    h = await startSmtpHarness('sqlite', {
      env: { SEALPOST_ENVIRONMENT: 'production', SEALPOST_BACKUP_TARGET: path.join(dir, 'a'), SEALPOST_BACKUP_REPLICA: path.join(dir, 'b') },
      resolver: fixedResolver({}),
    });
    targets = await openBackupTargets(h.app.context.config);
  });
  afterAll(async () => {
    await staging?.close();
    await targets?.target.close();
    await targets?.replica.close();
    await h?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('backs up the raw message with the attachments, and a scrubbed restore keeps none of the mail', async () => {
    const tenant = await h.app.createTenant();
    const inbox = await h.createInbox(tenant.apiKey);
    const raw = await compose({
      from: 'Billing <billing@vendor.example>',
      to: inbox.address,
      subject: SECRET_SUBJECT,
      text: SECRET_TEXT,
      attachments: [{ filename: 'secret-statement.pdf', content: SECRET_FILE, contentType: 'application/pdf' }],
    });
    const transport = nodemailer.createTransport({ host: '127.0.0.1', port: h.smtp.port, secure: false, requireTLS: true, name: 'mta.vendor.example', tls: { ca: h.ca, servername: 'localhost' } });
    const info = await transport.sendMail({ envelope: { from: 'billing@vendor.example', to: [inbox.address] }, raw });
    const id = acceptedId(info.response);
    const envelope = await h.envelope(tenant.apiKey, info.response);
    const rawRef = envelope.data.raw_message;

    const recovery = exportKeyring(keyringDir(h.app.context.config));
    const snapshot = await createBackupService(h.app.context, targets).create(ACTOR);
    // The attachment and the raw message, found inside the sealed envelope.
    expect(snapshot.blobCount).toBe(2);

    const dataDir = path.join(dir, 'staging');
    const config = loadConfig({ SEALPOST_DATA_DIR: dataDir, SEALPOST_ENVIRONMENT: 'staging', SEALPOST_LOG_LEVEL: 'silent' });
    importKeyring(keyringDir(config), openRecoveryFile(recovery.file, recovery.recoveryKey), false);
    const keyProvider = await restoreKeyProvider(config);
    const result = await restoreSnapshot({
      id: snapshot.id,
      source: targets.replica,
      keyProvider,
      scrub: restoreScrubber(config, keyProvider),
      to: { dialect: 'sqlite', dir: dataDir },
      openBlobStore: restoreBlobStore(config, dataDir),
      environment: 'staging',
      force: false,
      progress: NO_PROGRESS,
      actor: ACTOR,
    });
    expect(result.scrubbed).toMatchObject({ payloads: 1, attachments: 1, rawMessages: 1 });

    staging = await createSealpost(config, { logger: createLogger('silent'), publicUrl: 'https://localhost' });
    const scrubbed = JSON.parse((await staging.payloadRepository.find(tenant.tenant, id))!.canonicalEnvelope.toString()) as typeof envelope;
    expect(scrubbed.type).toBe('email.received');
    expect(scrubbed.data.raw_message.id).toBe(rawRef.id);
    expect(scrubbed.data.raw_message.size).toBe(rawRef.size);
    expect(scrubbed.data.smtp.recipients[0]?.inbox_id).toBe(inbox.id);
    expect(scrubbed.data.subject?.length).toBe(Buffer.byteLength(SECRET_SUBJECT));
    const rawBack = await readAll(await staging.blobs.getDecrypted(rawMessageBlobKey(tenant.tenant, rawRef.id), rawMessageBlobContext(tenant.tenant, rawRef.id), tenant.tenant));
    expect(rawBack.length).toBe(rawRef.size);

    const files = readdirSync(dataDir, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile() && !e.parentPath.includes('keyring'))
      .map((e) => readFileSync(path.join(e.parentPath, e.name)).toString('latin1'));
    const everything = [JSON.stringify(scrubbed), rawBack.toString('latin1'), ...files].join('\n');
    for (const text of [SECRET_TEXT, SECRET_SUBJECT, 'EMAIL-MARKER', 'billing@vendor.example', 'secret-statement.pdf']) expect(everything.includes(text), text).toBe(false);
  });
});
