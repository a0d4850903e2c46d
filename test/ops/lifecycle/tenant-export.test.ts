import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { verifyReceipt, type JwkSet } from '@sealpost/verify';
import { FormData } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../../src/audit/audit-event.js';
import { newId } from '../../../src/crypto/ids.js';
import { rawMessageBlobContext, rawMessageBlobKey } from '../../../src/ingest/smtp/raw-message.js';
import { PART_MAX_PAYLOADS } from '../../../src/ops/lifecycle/tenant-export.service.js';
import { startTestApp, type TestApp } from '../../support/test-app.js';
import { testDialects } from '../../support/test-database.js';

const PAYLOADS = 2 * PART_MAX_PAYLOADS + 30;

interface ExportLine {
  id: string;
  type: string;
  envelope: { id: string; tenant: string; data: Record<string, unknown>; attachments?: { id: string; sha256: string }[] };
}

/** The complete entries of a (possibly cut) ustar archive: name and bytes. Independent of the writer. */
function tarEntries(archive: Buffer): { name: string; body: Buffer }[] {
  const entries: { name: string; body: Buffer }[] = [];
  let offset = 0;
  while (offset + 512 <= archive.length) {
    const header = archive.subarray(offset, offset + 512);
    if (header.every((b) => b === 0)) break;
    const name = header.subarray(0, 100).toString('ascii').replace(/\0.*$/s, '');
    const size = parseInt(header.subarray(124, 136).toString('ascii').replace(/\0.*$/s, ''), 8);
    const end = offset + 512 + size;
    if (end > archive.length) break; // cut inside this entry
    entries.push({ name, body: archive.subarray(offset + 512, end) });
    offset += 512 + Math.ceil(size / 512) * 512;
  }
  return entries;
}

function linesOf(entries: { name: string; body: Buffer }[], prefix: string): ExportLine[] {
  return entries
    .filter((e) => e.name.startsWith(prefix))
    .flatMap((e) => e.body.toString('utf8').split('\n').filter((l) => l !== ''))
    .map((l) => JSON.parse(l) as ExportLine);
}

describe.each(testDialects())('tenant data export on %s', { timeout: 180_000 }, (dialect) => {
  let app: TestApp;
  let tenant: { tenant: string; apiKey: string };
  const ids: string[] = [];
  const attachments = new Map<string, Buffer>();
  let email: { id: string; raw: Buffer };
  const scratch: string[] = [];

  async function exportArchive(body: object = {}): Promise<Buffer> {
    const res = await app.fetch('/v1/exports', { method: 'POST', token: tenant.apiKey, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/x-tar');
    return Buffer.from(await res.arrayBuffer());
  }

  beforeAll(async () => {
    app = await startTestApp(dialect);
    tenant = await app.createTenant();
    const other = await app.createTenant();
    for (let i = 0; i < PAYLOADS - 1; i += 10) {
      // Ten at a time, in order: ids are ULIDs, so the export's order is the order of these batches.
      const batch = await Promise.all(
        Array.from({ length: Math.min(10, PAYLOADS - 1 - i) }, async (_, j) => {
          const form = new FormData();
          form.append('payload', JSON.stringify({ n: i + j, text: 'Grüße ✓' }));
          const bytes = (i + j) % 25 === 0 ? Buffer.from(`attachment ${i + j} `.repeat(9_000)) : undefined;
          if (bytes) form.append('file', new Blob([bytes]), `../../etc/passwd-${i + j}`);
          const res = await app.fetch('/v1/payloads', { method: 'POST', token: tenant.apiKey, body: form });
          expect(res.status, await res.clone().text()).toBe(202);
          const { id } = (await res.json()) as { id: string };
          return { id, bytes };
        }),
      );
      for (const { id, bytes } of batch) {
        ids.push(id);
        if (bytes) attachments.set(id, bytes);
      }
    }
    // One e-mail with its raw message, stored as the SMTP ingress stores it.
    const { context } = app;
    const id = newId('payload');
    const rawId = newId('rawMessage');
    const raw = Buffer.from('From: a@example.com\r\nSubject: hi\r\n\r\nhello');
    await context.blobs.putEncrypted(rawMessageBlobKey(tenant.tenant, rawId), Readable.from([raw]), rawMessageBlobContext(tenant.tenant, rawId), tenant.tenant);
    const envelope = Buffer.from(JSON.stringify({ id, type: 'email.received', tenant: tenant.tenant, data: { raw_message: { id: rawId, size: raw.length, sha256: createHash('sha256').update(raw).digest('hex') } } }));
    const sealed = await context.payloadRepository.seal({ id, tenantId: tenant.tenant, type: 'email.received', channel: 'smtp', size: envelope.length, bodySha256: 'x'.repeat(64), receivedAt: Date.now(), canonicalEnvelope: envelope }, []);
    await context.database.db.transaction().execute((tx) => context.payloadRepository.insert(tx, sealed));
    ids.push(id);
    // The export's order: by id (ULIDs of one millisecond need not follow request order).
    ids.sort();
    email = { id, raw };
    expect((await app.fetch('/v1/payloads', { method: 'POST', token: other.apiKey, headers: { 'content-type': 'application/json' }, body: '{"other":true}' })).status).toBe(202);
  });
  afterAll(async () => {
    await app?.close();
    for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
  });

  it('streams every payload, receipt and attachment of the tenant as a tar that tar itself extracts', async () => {
    const archive = await exportArchive();
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sealpost-export-'));
    scratch.push(dir);
    writeFileSync(path.join(dir, 'export.tar'), archive);
    execFileSync('tar', ['-xf', 'export.tar'], { cwd: dir });

    const summary = JSON.parse(readFileSync(path.join(dir, 'export.json'), 'utf8')) as Record<string, unknown>;
    expect(summary).toEqual({ format: 'sealpost-export-v1', tenant: tenant.tenant, after: null, payloads: PAYLOADS, complete: true });
    expect(readdirSync(path.join(dir, 'payloads'))).toEqual(['000001.jsonl', '000002.jsonl', '000003.jsonl']);
    const entries = tarEntries(archive);
    const lines = linesOf(entries, 'payloads/');
    expect(lines.map((l) => l.id)).toEqual(ids);
    expect(lines.every((l) => l.envelope.tenant === tenant.tenant && l.envelope.id === l.id)).toBe(true);
    // The envelope is embedded as stored, UTF-8 and all.
    expect(entries.find((e) => e.name === 'payloads/000001.jsonl')!.body.toString('utf8')).toContain('"text":"Grüße ✓"');

    const jwks = (await (await app.fetch(`/.well-known/sealpost/tenants/${tenant.tenant}/jwks.json`)).json()) as JwkSet;
    const receipts = linesOf(entries, 'receipts/') as unknown as Record<string, unknown>[];
    expect(receipts).toHaveLength(PAYLOADS - 1); // the hand-made e-mail has none
    for (const receipt of receipts) expect(verifyReceipt(receipt, jwks, { tenant: tenant.tenant }).receipt.kind).toBe('accepted');

    for (const [payloadId, bytes] of attachments) {
      const line = lines.find((l) => l.id === payloadId)!;
      const attachmentId = line.envelope.attachments![0]!.id;
      expect(readFileSync(path.join(dir, 'attachments', payloadId, attachmentId)).equals(bytes)).toBe(true);
    }
    // A sender's file name never becomes a path in the archive.
    expect(entries.every((e) => !e.name.includes('..') && !e.name.includes('passwd'))).toBe(true);
    expect(existsSync(path.join(dir, 'etc'))).toBe(false);
    const rawEntry = entries.find((e) => e.name.startsWith(`raw/${email.id}/`));
    expect(rawEntry?.body.equals(email.raw)).toBe(true);
  });

  it('resumes after a cut download from the last cursor in it, with nothing lost or repeated', async () => {
    const full = await exportArchive();
    const cut = full.subarray(0, Math.floor(full.length * 0.6));
    const first = tarEntries(cut);
    const cursors = first.filter((e) => e.name.startsWith('cursors/')).map((e) => (JSON.parse(e.body.toString('utf8')) as { next_cursor: string }).next_cursor);
    expect(cursors.length).toBeGreaterThan(0);
    const cursor = cursors.at(-1)!;
    // What the client keeps: the parts whose cursor it received.
    const keptParts = new Set(first.filter((e) => e.name.startsWith('cursors/')).map((e) => path.basename(e.name, '.json')));
    const kept = linesOf(first.filter((e) => keptParts.has(path.basename(e.name, '.jsonl'))), 'payloads/');
    expect(kept.at(-1)?.id).toBe(cursor);

    const rest = tarEntries(await exportArchive({ cursor }));
    const resumed = linesOf(rest, 'payloads/');
    expect([...kept, ...resumed].map((l) => l.id)).toEqual(ids);
    expect(JSON.parse(rest.find((e) => e.name === 'export.json')!.body.toString('utf8'))).toMatchObject({ after: cursor, payloads: ids.length - kept.length, complete: true });

    const events = await app.context.database.db.selectFrom('audit_events').select('event').where('tenant_id', '=', tenant.tenant).where('action', '=', 'tenant.exported').execute();
    expect(events.map((r) => (JSON.parse(r.event!) as AuditEvent).details)).toContainEqual({ format: 'sealpost-export-v1', after: cursor });
  });

  it('needs payloads:read and refuses a malformed cursor', async () => {
    const writer = await app.fetch('/v1/api-keys', { method: 'POST', token: tenant.apiKey, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'w', scopes: ['payloads:write'] }) });
    const writerKey = ((await writer.json()) as { api_key: string }).api_key;
    expect((await app.fetch('/v1/exports', { method: 'POST', token: writerKey, headers: { 'content-type': 'application/json' }, body: '{}' })).status).toBe(403);
    for (const cursor of ['att_01JDG3ZZZZZZZZZZZZZZZZZZZZ', "msg_' or 1=1", '']) {
      const res = await app.fetch('/v1/exports', { method: 'POST', token: tenant.apiKey, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ cursor }) });
      expect(res.status, cursor).toBe(400);
    }
  });
});
