/**
 * A delivery worker in its own process, for the multi-process tests. Configured by environment:
 * SP_TEST_DATABASE (JSON of SealpostConfig['database']), SP_TEST_KEYRING, SP_TEST_WORKER_ID.
 * Prints "worker ready" on stderr; SIGTERM stops it gracefully. It exits when its stdin closes,
 * so it never outlives the test process that started it.
 */
import { createLogger } from '../../src/logging/logger.js';
import { DataKeyRepository } from '../../src/crypto/data-key.repository.js';
import { LocalKeyring } from '../../src/crypto/local-keyring.js';
import { RecordCipher } from '../../src/crypto/record-cipher.js';
import { openDatabase } from '../../src/db/database.js';
import { startDeliveryWorker } from '../../src/delivery/delivery.worker.js';
import { noSignature, testAudit } from './worker-test-deps.js';

const database = JSON.parse(process.env.SP_TEST_DATABASE ?? '') as Parameters<typeof openDatabase>[0];
const handle = openDatabase(database);
const keyring = new LocalKeyring(process.env.SP_TEST_KEYRING ?? '', 365);
keyring.open();
const cipher = new RecordCipher(keyring, new DataKeyRepository(handle.db));
const worker = startDeliveryWorker({ signer: noSignature, audit: testAudit,
  db: handle.db,
  dialect: handle.dialect,
  cipher,
  config: {
    retrySchedule: [0, 5, 5, 5, 5],
    deliveryTimeoutSeconds: 5,
    workerConcurrency: 16,
    destinationDisableAfterDays: 5,
    allowPrivateDestinations: true,
    allowHttpDestinations: true,
  },
  logger: createLogger('warn', process.stderr),
  workerId: process.env.SP_TEST_WORKER_ID ?? 'process-worker',
  idlePollMs: 20,
  leaseMarginMs: 300,
});
process.stdin.once('end', () => process.exit(1));
process.stdin.resume();
process.stderr.write('worker ready\n');
process.once('SIGTERM', () => {
  void worker
    .stop()
    .then(() => handle.close())
    .then(() => process.exit(0));
});
