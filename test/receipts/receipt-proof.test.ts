import { createHash } from 'node:crypto';
import { canonicalizeToBuffer, hashLeaf, verifyCheckpoint, verifyInclusion, type Receipt } from '@sealpost/verify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { testDialects } from '../support/test-database.js';

describe.each(testDialects())('receipt proofs on %s', (dialect) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(dialect);
  });
  afterAll(async () => {
    await app?.close();
  });

  it('proves that an accepted receipt was logged, against a signed checkpoint', async () => {
    const { apiKey, tenant } = await app.createTenant();
    const res = await app.fetch('/v1/payloads', { method: 'POST', token: apiKey, headers: { 'content-type': 'application/json' }, body: '{"invoice":"INV-1"}' });
    const { receipt } = (await res.json()) as { receipt: Receipt };

    const proofRes = await app.fetch(`/v1/receipts/${receipt.id}/proof`, { token: apiKey });
    expect(proofRes.status).toBe(200);
    const proof = (await proofRes.json()) as { index: number; tree_size: number; leaf_hash: string; proof: string[]; checkpoint: string };
    const logKey = await (await app.fetch('/.well-known/sealpost-log-key')).text();
    const checkpoint = verifyCheckpoint(proof.checkpoint, logKey.trim());
    expect(checkpoint.treeSize).toBe(proof.tree_size);
    const leaf = Buffer.from(proof.leaf_hash, 'base64');
    expect(verifyInclusion(leaf, proof.index, proof.tree_size, proof.proof.map((p) => Buffer.from(p, 'base64')), checkpoint.rootHash)).toBe(true);

    // The logged event names this receipt and the hash of its canonical JSON.
    const row = await app.context.database.db.selectFrom('audit_events').select(['event', 'leaf_hash']).where('log_index', '=', proof.index).executeTakeFirstOrThrow();
    const event = JSON.parse(row.event!) as { action: string; resource: string; tenant: string; details: { sha256: string } };
    expect(event).toMatchObject({ action: 'receipt.issued', resource: receipt.id, tenant });
    expect(event.details.sha256).toBe(createHash('sha256').update(canonicalizeToBuffer(receipt)).digest('hex'));
    expect(Buffer.compare(hashLeaf(Buffer.from(row.event!, 'utf8')), leaf)).toBe(0);

    // Another tenant cannot ask for it.
    const other = await app.createTenant();
    expect((await app.fetch(`/v1/receipts/${receipt.id}/proof`, { token: other.apiKey })).status).toBe(404);
  });
});
