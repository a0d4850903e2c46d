import { mkdtempSync, rmSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startDeliveryWorker } from '../../src/delivery/delivery.worker.js';
import { ensureSelfSignedCert, type SelfSignedCert } from '../../src/crypto/self-signed-cert.js';
import { testDialects } from '../support/test-database.js';
import { openDeliveryFixture, silentLogger, workerConfig, type DeliveryFixture } from './delivery-fixture.js';
import { noSignature, testAudit } from './worker-test-deps.js';

const POLL = { timeout: 15_000, interval: 10 };

describe.each(testDialects())('delivery over TLS on %s', (dialect) => {
  let fx: DeliveryFixture;
  let certDir: string;
  let cert: SelfSignedCert;

  beforeAll(async () => {
    fx = await openDeliveryFixture(dialect);
    certDir = mkdtempSync(path.join(os.tmpdir(), 'sealpost-tls-'));
    cert = await ensureSelfSignedCert(certDir);
  });
  afterAll(async () => {
    await fx.dispose();
    rmSync(certDir, { recursive: true, force: true });
  });

  /** An HTTPS receiver with the self-signed localhost certificate; records the TLS version of each request. */
  async function httpsReceiver(options: https.ServerOptions = {}) {
    const versions: string[] = [];
    const server = https.createServer({ cert: cert.cert, key: cert.key, ...options }, (req, res) => {
      versions.push((req.socket as TLSSocket).getProtocol() ?? '?');
      req.resume();
      req.on('end', () => res.writeHead(200).end('ok'));
    });
    server.on('tlsClientError', () => undefined);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    return {
      url: `https://localhost:${port}/hook`,
      versions,
      close: () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
    };
  }

  async function deliverOnce(url: string, extraCa?: string) {
    const tenant = await fx.tenant();
    await fx.destination(tenant, { url });
    const sent = await fx.ingest(tenant);
    const worker = startDeliveryWorker({ signer: noSignature, audit: testAudit, db: fx.handle.db, dialect, cipher: fx.cipher, config: workerConfig(), logger: silentLogger, idlePollMs: 10, ...(extraCa ? { extraCa } : {}) });
    try {
      await vi.waitFor(async () => {
        const d = await fx.handle.db.selectFrom('deliveries').select('status').where('payload_id', '=', sent.id).executeTakeFirstOrThrow();
        expect(d.status).not.toBe('pending');
      }, POLL);
      return fx.handle.db
        .selectFrom('delivery_attempts')
        .innerJoin('deliveries', 'deliveries.id', 'delivery_attempts.delivery_id')
        .select(['deliveries.status', 'delivery_attempts.error_class', 'delivery_attempts.status_code'])
        .where('deliveries.payload_id', '=', sent.id)
        .execute();
    } finally {
      await worker.stop();
    }
  }

  it('delivers over TLS 1.2+ to a receiver whose certificate is trusted', async () => {
    const r = await httpsReceiver();
    try {
      expect(await deliverOnce(r.url, cert.cert)).toEqual([{ status: 'succeeded', error_class: null, status_code: 200 }]);
      expect(['TLSv1.2', 'TLSv1.3']).toContain(r.versions[0]);
    } finally {
      await r.close();
    }
  });

  it('refuses a certificate it does not trust (error class tls), sending nothing', async () => {
    const r = await httpsReceiver();
    try {
      expect(await deliverOnce(r.url)).toEqual([{ status: 'dead', error_class: 'tls', status_code: null }]);
      expect(r.versions).toEqual([]);
    } finally {
      await r.close();
    }
  });

  it('refuses a receiver that offers nothing newer than TLS 1.1', async () => {
    const r = await httpsReceiver({ minVersion: 'TLSv1', maxVersion: 'TLSv1.1' });
    try {
      expect(await deliverOnce(r.url, cert.cert)).toEqual([{ status: 'dead', error_class: 'tls', status_code: null }]);
      expect(r.versions).toEqual([]);
    } finally {
      await r.close();
    }
  });
});
