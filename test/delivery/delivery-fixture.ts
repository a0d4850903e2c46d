import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import http, { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Insertable } from 'kysely';
import { ulid } from 'ulid';
import { createLogger } from '../../src/logging/logger.js';
import { canonicalJson } from '../../src/crypto/canonical-json.js';
import { DataKeyRepository } from '../../src/crypto/data-key.repository.js';
import { LocalKeyring } from '../../src/crypto/local-keyring.js';
import { RecordCipher } from '../../src/crypto/record-cipher.js';
import type { DatabaseHandle, Dialect } from '../../src/db/database.js';
import type { Database } from '../../src/db/schema.js';
import { DestinationRepository, type Destination } from '../../src/delivery/destination.repository.js';
import { enqueueDeliveries } from '../../src/delivery/outbox.repository.js';
import type { DeliveryWorkerConfig } from '../../src/delivery/delivery.worker.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';

export const silentLogger = createLogger('silent');

export function workerConfig(overrides: Partial<DeliveryWorkerConfig> = {}): DeliveryWorkerConfig {
  return {
    retrySchedule: [0],
    deliveryTimeoutSeconds: 5,
    workerConcurrency: 8,
    destinationDisableAfterDays: 5,
    allowPrivateDestinations: true,
    allowHttpDestinations: true,
    ...overrides,
  };
}

/** A migrated database, a real cipher over a local keyring, and helpers that write rows the way ingest does. */
export interface DeliveryFixture {
  readonly testDb: TestDatabase;
  readonly handle: DatabaseHandle;
  readonly cipher: RecordCipher;
  /** The local keyring the cipher uses; worker processes open the same one. */
  readonly keyringDir: string;
  tenant(): Promise<string>;
  /** Seals a payload as ingest does and returns the row to insert, without inserting it. */
  sealPayload(tenantId: string, data: Record<string, unknown>, type: string): Promise<{ id: string; body: Buffer; row: Insertable<Database['payloads']> }>;
  /** Stores a payload exactly as ingest does (sealed canonical envelope) and returns its id and bytes. */
  payload(tenantId: string, data?: Record<string, unknown>, type?: string): Promise<{ id: string; body: Buffer }>;
  destination(tenantId: string, fields: Partial<Destination> & { url: string }): Promise<Destination>;
  /** A payload plus its outbox rows, in one transaction, as ingest does. */
  ingest(tenantId: string, data?: Record<string, unknown>, now?: number): Promise<{ id: string; body: Buffer }>;
  dispose(): Promise<void>;
}

export async function openDeliveryFixture(dialect: Dialect): Promise<DeliveryFixture> {
  const testDb = await createTestDatabase(dialect);
  const handle = await testDb.openMigrated();
  const keyringDir = mkdtempSync(path.join(os.tmpdir(), 'sealpost-keyring-'));
  const keyring = new LocalKeyring(keyringDir, 365);
  keyring.open();
  const cipher = new RecordCipher(keyring, new DataKeyRepository(handle.db));
  const destinations = new DestinationRepository(handle.db, cipher);

  /** Seals an envelope (outside any transaction: a new data key is written through the main handle) and returns the row to insert. */
  const sealPayload = async (tenantId: string, data: Record<string, unknown>, type: string) => {
    const id = `msg_${ulid()}`;
    const envelope = { id, type, tenant: tenantId, received_at: new Date().toISOString(), source: { channel: 'https', api_key: 'key_test' }, data, attachments: [] };
    const body = canonicalJson(envelope);
    const row = {
      id,
      tenant_id: tenantId,
      type,
      channel: 'https',
      envelope_sealed: await cipher.encrypt(body, { tenant: tenantId, table: 'payloads', id, field: 'envelope' }),
      body_sha256: createHash('sha256').update(body).digest('hex'),
      size: body.length,
      received_at: Date.now(),
    };
    return { id, body, row };
  };

  const payload = async (tenantId: string, data: Record<string, unknown> = { hello: 'wörld', n: 1 }, type = 'payload.received') => {
    const { id, body, row } = await sealPayload(tenantId, data, type);
    await handle.db.insertInto('payloads').values(row).execute();
    return { id, body };
  };

  return {
    testDb,
    handle,
    cipher,
    keyringDir,
    sealPayload,
    async tenant() {
      const id = `ten_${ulid()}`;
      await handle.db.insertInto('tenants').values({ id, name: 'Test tenant', plan: 'starter', created_at: Date.now() }).execute();
      return id;
    },
    payload,
    async destination(tenantId, fields) {
      const now = Date.now();
      const d: Destination = {
        id: `dst_${ulid()}`,
        tenantId,
        headers: {},
        eventTypes: null,
        enabled: true,
        disabledReason: null,
        timeoutMs: 5_000,
        maxConcurrency: 10,
        failingSince: null,
        createdAt: now,
        updatedAt: now,
        ...fields,
      };
      await destinations.insert(d);
      return d;
    },
    async ingest(tenantId, data = { hello: 'wörld' }, now = Date.now()) {
      const { id, body, row } = await sealPayload(tenantId, data, 'payload.received');
      // As ingest does: the payload row first (which takes SQLite's write lock), then its outbox rows, in one transaction.
      await handle.db.transaction().execute(async (tx) => {
        await tx.insertInto('payloads').values(row).execute();
        await enqueueDeliveries(tx, { tenantId, payloadId: id, type: 'payload.received', now });
      });
      return { id, body };
    },
    async dispose() {
      await testDb.dispose();
      rmSync(keyringDir, { recursive: true, force: true });
    },
  };
}

export interface ReceivedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

export type ReceiverHandler = (request: ReceivedRequest, res: ServerResponse, req: IncomingMessage) => void;

/** A loopback HTTP receiver that records every request and answers with the current handler (200 by default). */
export interface Receiver {
  readonly port: number;
  readonly url: string;
  readonly requests: ReceivedRequest[];
  /** Requests being handled right now, and the most there ever were at once. */
  readonly inFlight: { now: number; max: number };
  handler: ReceiverHandler;
  /**
   * While true the receiver is down: each connection is reset as soon as it is accepted. It keeps
   * its port meanwhile, so nothing else can take it (closing and listening again later could not
   * promise that).
   */
  refuseConnections: boolean;
  close(): Promise<void>;
}

export async function startReceiver(): Promise<Receiver> {
  const requests: ReceivedRequest[] = [];
  const inFlight = { now: 0, max: 0 };
  const receiver = {
    handler: ((_r, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    }) as ReceiverHandler,
    refuseConnections: false,
  };
  const server = http.createServer((req, res) => {
    inFlight.now++;
    inFlight.max = Math.max(inFlight.max, inFlight.now);
    res.on('close', () => inFlight.now--);
    res.on('error', () => undefined);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const request = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) };
      requests.push(request);
      receiver.handler(request, res, req);
    });
  });
  server.on('clientError', (_err, socket) => socket.destroy());
  server.on('connection', (socket) => {
    if (receiver.refuseConnections) socket.resetAndDestroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const actual = (server.address() as AddressInfo).port;
  return Object.assign(receiver, {
    port: actual,
    url: `http://127.0.0.1:${actual}/hook`,
    requests,
    inFlight,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  });
}
