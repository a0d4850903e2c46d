// Baseline (target 3, same work): Sealpost's SMTP ingress and forwarding written lean, with none of
// its layers (no Kysely, no services, no hooks, no separate worker reading back what ingest wrote).
// Per message, the work Sealpost does and no less:
//   - smtp-server with STARTTLS; each RCPT looked up in `inboxes` by the SHA-256 of its token;
//   - the message read once and split three ways as it arrives: the raw message streamed into an
//     encrypted blob; mailparser (same options), its attachment streamed into an encrypted blob;
//     mailauth's SPF/DKIM/DMARC/ARC with the same hermetic resolver ("no such record" at once);
//   - each blob: Sealpost's blob format (STREAM over AES-256-GCM, 64 KB segments, HKDF-SHA256 key
//     per blob), SHA-256 of the plaintext, a temp file fsynced, renamed into place, the directory
//     fsynced;
//   - the RFC 8785 envelope (same canonicaliser), its SHA-256 and AES-256-GCM seal; an
//     Ed25519-signed `accepted` receipt sealed the same way; its audit event (leaf hash, chain);
//   - rows: idempotency key (looked up, expired one removed, inserted), payload, attachment, one
//     outbox row per matching destination, receipt, audit event, log head; SQLite WAL with
//     synchronous=FULL, group-committed per event-loop turn; 250 after commit;
//   - then forwarding: the canonical bytes signed (`v1a`, Standard Webhooks) and POSTed to the
//     destination over a keep-alive pool; on 2xx the attempt, the delivery's status, a signed and
//     sealed `delivered` receipt and its audit event, group-committed the same way.
// Lean where a one-process design may be: the forwarder takes the envelope bytes from memory
// (Sealpost's worker claims the delivery by lease and reads and decrypts the envelope back, so
// that any worker process can send it). Keys live in memory as Sealpost's live in its caches.
import { createCipheriv, createHash, hkdfSync, randomBytes, sign } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { mkdir, open, rename } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough, Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import Database from 'better-sqlite3';
import { authenticate } from 'mailauth';
import { MailParser, type AttachmentStream, type MessageText } from 'mailparser';
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';
import { Pool } from 'undici';
import { ulid } from 'ulid';
import { canonicalizeToBuffer } from '@sealpost/verify';
import { dataKey, kid, leafHash, leanGroupCommit, seal, sha256, signingKey } from './lean-support.js';

const db = new Database(process.env.BENCH_DB!);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = FULL');
db.pragma('foreign_keys = ON');
const blobRoot = path.join(path.dirname(process.env.BENCH_DB!), 'lean-blobs');
mkdirSync(path.join(blobRoot, 'tmp'), { recursive: true, mode: 0o700 });

const findInbox = db.prepare<[string], { id: string; tenant_id: string; dmarc_policy: string }>(
  'select id, tenant_id, dmarc_policy from inboxes where token_sha256 = ? and deleted_at is null',
);
const findIdempotency = db.prepare('select request_sha256, response_sealed, created_at from idempotency_keys where tenant_id = ? and key_sha256 = ?');
const removeExpiredIdempotency = db.prepare('delete from idempotency_keys where tenant_id = ? and key_sha256 = ? and created_at < ?');
const insertIdempotency = db.prepare('insert into idempotency_keys (tenant_id, key_sha256, request_sha256, payload_id, response_sealed, created_at) values (?, ?, ?, ?, ?, ?)');
const findDestinations = db.prepare<[string], { id: string; event_types: string | null }>(
  'select id, event_types from destinations where tenant_id = ? and enabled = 1 and deleted_at is null',
);
const insertPayload = db.prepare('insert into payloads (id, tenant_id, type, channel, envelope_sealed, body_sha256, size, received_at) values (?, ?, ?, ?, ?, ?, ?, ?)');
const insertAttachment = db.prepare('insert into attachments (id, tenant_id, payload_id, meta_sealed, size, sha256, blob_key, created_at) values (?, ?, ?, ?, ?, ?, ?, ?)');
const insertDelivery = db.prepare(
  "insert into deliveries (id, tenant_id, payload_id, destination_id, status, attempts, next_attempt_at, created_at, updated_at) values (?, ?, ?, ?, 'pending', 0, ?, ?, ?)",
);
const insertAttempt = db.prepare(
  "insert into delivery_attempts (id, tenant_id, delivery_id, attempt, started_at, duration_ms, status_code, error_class, response_sealed, worker) values (?, ?, ?, 1, ?, ?, ?, null, null, 'lean')",
);
const markDelivered = db.prepare("update deliveries set status = 'delivered', attempts = 1, last_status_code = ?, updated_at = ? where id = ?");
const insertReceipt = db.prepare('insert into receipts (id, tenant_id, message_id, kind, delivery_id, receipt_sealed, issued_at, audit_index) values (?, ?, ?, ?, ?, ?, ?, ?)');
const insertAudit = db.prepare(
  "insert into audit_events (log_index, tenant_id, occurred_at, actor_type, actor_id, action, resource, event, leaf_hash, chain_hash, purged_at) values (?, ?, ?, 'system', 'sealpost', 'receipt.issued', ?, ?, ?, ?, null)",
);

// The tenant of the bench's API key, an inbox and a destination (the receiver) for it.
const tenantId = (db.prepare('select tenant_id from api_keys limit 1').get() as { tenant_id: string }).tenant_id;
const now0 = Date.now();
const inboxToken = 'leanbench' + ulid().slice(-7).toLowerCase();
const inboxId = `inb_${ulid()}`;
// As Sealpost stores an inbox: `token` holds the id (the token itself only sealed and hashed).
db.prepare("insert into inboxes (id, tenant_id, token, token_sha256, token_sealed, dmarc_policy, created_at, deleted_at) values (?, ?, ?, ?, ?, 'accept', ?, null)").run(
  inboxId,
  tenantId,
  inboxId,
  createHash('sha256').update(inboxToken, 'utf8').digest('hex'),
  randomBytes(64),
  now0,
);
db.prepare('insert into destinations (id, tenant_id, config_sealed, event_types, enabled, timeout_ms, max_concurrency, created_at, updated_at) values (?, ?, ?, null, 1, 10000, 8, ?, ?)').run(
  `dst_${ulid()}`,
  tenantId,
  randomBytes(200),
  now0,
  now0,
);
const receiver = new URL(process.env.BENCH_RECEIVER!);
const pool = new Pool(receiver.origin, { connections: 8 });

const SEGMENT = 64 * 1024;

/** Sealpost's blob format: "SPB1" | id length | id | salt | nonce prefix, then 64 KB AES-256-GCM segments. */
function blobCipher(context: string): Transform {
  const salt = randomBytes(16);
  const prefix = randomBytes(7);
  const key = Buffer.from(hkdfSync('sha256', dataKey.key, salt, Buffer.concat([Buffer.from('sealpost-blob-v1\0'), Buffer.from(context)]), 32));
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let index = 0;
  const segment = (plaintext: Buffer, last: boolean): Buffer => {
    const nonce = Buffer.alloc(12);
    prefix.copy(nonce);
    nonce.writeUInt32BE(index++, 7);
    nonce[11] = last ? 1 : 0;
    const cipher = createCipheriv('aes-256-gcm', key, nonce);
    return Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
  };
  let headerSent = false;
  const header = (): Buffer[] => (headerSent ? [] : ((headerSent = true), [Buffer.from('SPB1'), Buffer.from([dataKey.id.length]), Buffer.from(dataKey.id), salt, prefix]));
  return new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      pending.push(chunk);
      pendingBytes += chunk.length;
      const out = header();
      // A segment is sealed only once more follows it: the last one carries the last flag.
      while (pendingBytes > SEGMENT) {
        const all = Buffer.concat(pending);
        out.push(segment(all.subarray(0, SEGMENT), false));
        pending = [all.subarray(SEGMENT)];
        pendingBytes -= SEGMENT;
      }
      callback(null, out.length ? Buffer.concat(out) : undefined);
    },
    flush(callback: TransformCallback) {
      callback(null, Buffer.concat([...header(), segment(Buffer.concat(pending), true)]));
    },
  });
}

/** Streams `source` encrypted into the blob at `key`: temp file, fsync, rename, directory fsync. */
async function putBlob(key: string, source: Readable, context: string): Promise<{ size: number; sha256: string }> {
  const hash = createHash('sha256');
  let size = 0;
  const temp = path.join(blobRoot, 'tmp', `${process.pid}-${ulid()}`);
  const file = await open(temp, 'wx', 0o600);
  try {
    await pipeline(
      source,
      async function* (chunks: AsyncIterable<Buffer>) {
        for await (const chunk of chunks) {
          hash.update(chunk);
          size += chunk.length;
          yield chunk;
        }
      },
      blobCipher(context),
      async (sealed: AsyncIterable<Buffer>) => {
        for await (const chunk of sealed) await file.write(chunk);
      },
    );
    await file.sync();
  } finally {
    await file.close();
  }
  const target = path.join(blobRoot, key);
  await mkdir(path.dirname(target), { recursive: true, mode: 0o700 });
  await rename(temp, target);
  const dir = await open(path.dirname(target), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
  return { size, sha256: hash.digest('hex') };
}

const { commit, appendLeaf } = leanGroupCommit(db);

/** A signed receipt, sealed, and its audit event appended to the chain (inside a commit). */
function receipt(kind: 'accepted' | 'delivered', tenant: string, messageId: string, bodySha256: string, deliveryId: string | null): () => void {
  const now = Date.now();
  const unsigned = { v: 1, kind, id: `rcp_${ulid(now)}`, message_id: messageId, tenant, body_sha256: bodySha256, issued_at: new Date(now).toISOString(), ...(deliveryId ? { delivery_id: deliveryId } : {}) };
  const signed = { ...unsigned, sig: { alg: 'Ed25519', kid, value: sign(null, canonicalizeToBuffer(unsigned), signingKey).toString('base64url') } };
  const canonical = canonicalizeToBuffer(signed);
  const sealed = seal(canonical, tenant, 'receipts', signed.id, 'receipt');
  const event = canonicalizeToBuffer({ time: unsigned.issued_at, tenant, actor: { type: 'system', id: 'sealpost' }, action: 'receipt.issued', resource: signed.id, details: { kind, message_id: messageId, sha256: sha256(canonical).toString('hex') } });
  const leaf = leafHash(event);
  return () => {
    const { index, chain } = appendLeaf(leaf);
    insertAudit.run(index, tenant, now, signed.id, event.toString('utf8'), leaf, chain);
    insertReceipt.run(signed.id, tenant, messageId, kind, deliveryId, sealed, now, index);
  };
}

async function forward(tenant: string, payloadId: string, deliveryId: string, body: Buffer, bodySha256: string): Promise<void> {
  const webhookId = payloadId;
  const timestamp = String(Math.floor(Date.now() / 1000));
  const signature = sign(null, Buffer.concat([Buffer.from(`${webhookId}.${timestamp}.`), body]), signingKey).toString('base64');
  const started = Date.now();
  const res = await pool.request({
    path: receiver.pathname,
    method: 'POST',
    headers: { 'content-type': 'application/json', 'webhook-id': webhookId, 'webhook-timestamp': timestamp, 'webhook-signature': `v1a,${signature}`, 'sealpost-key-id': kid },
    body,
  });
  await res.body.dump();
  if (res.statusCode >= 300) return;
  const now = Date.now();
  const delivered = receipt('delivered', tenant, payloadId, bodySha256, deliveryId);
  await commit(() => {
    insertAttempt.run(`att_${ulid(now)}`, tenant, deliveryId, started, now - started, res.statusCode);
    markDelivered.run(res.statusCode, now, deliveryId);
    delivered();
  });
}

const resolver = async (name: string): Promise<string[][]> => {
  throw Object.assign(new Error(`queryTxt ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
};

async function receive(stream: SMTPServerDataStream, session: SMTPServerSession, inbox: { id: string; tenant_id: string }): Promise<string> {
  const tenant = inbox.tenant_id;
  const rawId = `raw_${ulid()}`;
  const raw = new PassThrough();
  const mime = new PassThrough();
  const auth = new PassThrough();
  stream.pipe(raw);
  stream.pipe(mime);
  stream.pipe(auth);
  const attachments: { id: string; filename: string; contentType: string; size: number; sha256: string; blobKey: string }[] = [];
  const parsed = new Promise<{ text: MessageText | undefined; parser: MailParser }>((resolve, reject) => {
    const parser = new MailParser({ ignoreEmbedded: true, checksumAlgo: false, skipTextToHtml: true, skipTextLinks: true } as ConstructorParameters<typeof MailParser>[0]);
    const stores: Promise<void>[] = [];
    let text: MessageText | undefined;
    parser.on('data', (item: AttachmentStream | MessageText) => {
      if (item.type === 'text') return void (text = item);
      const id = `att_${ulid()}`;
      const blobKey = `${tenant}/attachments/${id}`;
      // The parser goes on once this attachment is read to its end, while its store finishes.
      item.content.once('end', () => item.release?.());
      stores.push(
        putBlob(blobKey, item.content, JSON.stringify([tenant, 'attachment', id])).then((stored) => {
          attachments.push({ id, filename: item.filename ?? 'attachment', contentType: item.contentType, blobKey, ...stored });
        }),
      );
    });
    pipeline(mime, parser).then(
      () => Promise.all(stores).then(() => resolve({ text, parser }), reject),
      reject,
    );
  });
  const [rawStored, { text, parser }, verdict] = await Promise.all([
    putBlob(`${tenant}/raw/${rawId}`, raw, JSON.stringify([tenant, 'raw-message', rawId])),
    parsed,
    authenticate(auth, { ip: session.remoteAddress, helo: session.hostNameAppearsAs, sender: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', mta: 'lean.bench.test', resolver, disableBimi: true }),
  ]);

  const headers = parser.headers || new Map<string, unknown>();
  const now = Date.now();
  const id = `msg_${ulid(now)}`;
  const recipients = session.envelope.rcptTo.map((r) => r.address.toLowerCase()).sort();
  const requestSha256 = createHash('sha256').update([rawStored.sha256, session.envelope.mailFrom ? session.envelope.mailFrom.address : '', ...recipients].join('\n')).digest('hex');
  const envelope = {
    id,
    type: 'email.received',
    tenant,
    received_at: new Date(now).toISOString(),
    source: { channel: 'smtp', remote_ip: session.remoteAddress, tls: 'TLSv1.3', auth: { spf: verdict.spf ? verdict.spf.status.result : 'none', dkim: verdict.dkim?.results[0]?.status.result ?? 'none', dmarc: verdict.dmarc ? verdict.dmarc.status.result : 'none', arc: verdict.arc ? verdict.arc.status.result : 'none' } },
    data: {
      // The envelope's header fields, as Sealpost's email data carries them.
      from: (headers.get('from') as { value?: unknown } | undefined)?.value ?? null,
      to: (headers.get('to') as { value?: unknown } | undefined)?.value ?? [],
      subject: headers.get('subject') ?? null,
      date: headers.get('date') ?? null,
      message_id: headers.get('message-id') ?? null,
      headers: (parser.headerLines || []).map(({ line }) => {
        const text = Buffer.from(line, 'binary').toString('utf8');
        const colon = text.indexOf(':');
        return { name: text.slice(0, colon).trim(), value: text.slice(colon + 1).replace(/\r?\n(?=[ \t])/g, '').trim() };
      }),
      text: text?.text ?? null,
      html: typeof text?.html === 'string' ? text.html : null,
      smtp: { mail_from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', helo: session.hostNameAppearsAs, recipients: recipients.map((address) => ({ address, inbox_id: inbox.id, tag: null })) },
      raw: { id: rawId, size: rawStored.size, sha256: rawStored.sha256 },
      attachments: attachments.map((a) => ({ id: a.id, filename: a.filename, content_type: a.contentType, size: a.size, sha256: a.sha256 })),
    },
  };
  const canonical = canonicalizeToBuffer(envelope);
  const bodySha256 = sha256(canonical).toString('hex');
  const sealedEnvelope = seal(canonical, tenant, 'payloads', id, 'envelope');
  const sealedMeta = attachments.map((a) => seal(Buffer.from(JSON.stringify({ filename: a.filename, content_type: a.contentType })), tenant, 'attachments', a.id, 'meta'));
  const keySha256 = sha256(Buffer.from(`smtp ${requestSha256}`)).toString('hex');
  const sealedResponse = seal(Buffer.from(JSON.stringify({ id })), tenant, 'idempotency_keys', keySha256, 'response');
  const accepted = receipt('accepted', tenant, id, bodySha256, null);
  const deliveryIds: string[] = [];
  await commit(() => {
    removeExpiredIdempotency.run(tenant, keySha256, now - 86_400_000);
    if (findIdempotency.get(tenant, keySha256)) throw new Error('replay (the bench sends distinct messages)');
    insertPayload.run(id, tenant, 'email.received', 'smtp', sealedEnvelope, bodySha256, canonical.length, now);
    attachments.forEach((a, i) => insertAttachment.run(a.id, tenant, id, sealedMeta[i], a.size, a.sha256, a.blobKey, now));
    insertIdempotency.run(tenant, keySha256, requestSha256, id, sealedResponse, now);
    for (const d of findDestinations.all(tenant)) {
      if (d.event_types !== null && !(JSON.parse(d.event_types) as string[]).includes('email.received')) continue;
      const deliveryId = `dlv_${ulid(now)}`;
      insertDelivery.run(deliveryId, tenant, id, d.id, now, now, now);
      deliveryIds.push(deliveryId);
    }
    accepted();
  });
  for (const deliveryId of deliveryIds) void forward(tenant, id, deliveryId, canonical, bodySha256).catch(() => undefined);
  return id;
}

/** The inbox each transaction's RCPT found (one lookup per recipient, as Sealpost's). */
const inboxOf = new Map<string, { id: string; tenant_id: string }>();
const server = new SMTPServer({
  cert: readFileSync(process.env.BENCH_CERT!),
  key: readFileSync(process.env.BENCH_KEY!),
  minVersion: 'TLSv1.2',
  authOptional: true,
  disabledCommands: ['AUTH'],
  disableReverseLookup: true,
  logger: false,
  onRcptTo(address, session, callback) {
    const token = address.address.toLowerCase().split('@')[0]!.split('+')[0]!;
    const inbox = findInbox.get(createHash('sha256').update(token, 'utf8').digest('hex'));
    if (inbox) inboxOf.set(session.id, inbox);
    callback(inbox ? null : Object.assign(new Error('No such inbox'), { responseCode: 550 }));
  },
  onData(stream, session, callback) {
    const inbox = inboxOf.get(session.id)!;
    inboxOf.delete(session.id);
    receive(stream, session, inbox).then(
      (id) => callback(null, `OK ${id}`),
      (err: unknown) => {
        stream.resume();
        callback(Object.assign(err instanceof Error ? err : new Error(String(err)), { responseCode: 451 }));
      },
    );
  },
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`SMTP ${(server.server.address() as { port: number }).port} INBOX ${inboxToken}@lean.bench.test\n`));
process.on('SIGTERM', () => {
  server.close(() => {
    void pool.close().then(() => {
      db.close();
      process.exit(0);
    });
  });
});
