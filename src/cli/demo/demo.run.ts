import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import nodemailer from 'nodemailer';
import { Agent, fetch, type RequestInit } from 'undici';
import { verifyCheckpoint, verifyInclusion, verifyReceipt, verifyWebhook, type JwkSet, type Receipt } from '@sealpost/verify';
import { startApi, type ApiRole } from '../../app/api.js';
import { createSealpost, type Sealpost } from '../../app/sealpost.js';
import { startSmtp } from '../../app/smtp.js';
import { startWorker } from '../../app/worker.js';
import { loadConfig } from '../../config/config.load.js';
import type { DeliveryWorker } from '../../delivery/delivery.worker.js';
import type { SmtpServerHandle } from '../../ingest/smtp/smtp.server.js';
import { createLogger } from '../../logging/logger.js';
import { startDemoReceiver, type DemoReceiver, type ReceivedRequest } from './demo-receiver.js';

/** The demo is two messages on loopback: if they are not through in this time, something is wrong. */
const DEMO_TIMEOUT_MS = 30_000;
const POLL_MS = 20;

/** Headers worth showing of a forwarded request (the rest is transport). */
const SHOWN_HEADERS = ['content-type', 'user-agent', 'webhook-id', 'webhook-timestamp', 'webhook-signature', 'sealpost-key-id', 'sealpost-forwarded'];

export interface DemoOutput {
  line(text?: string): void;
  heading(text: string): void;
  ok(text: string): void;
}

export interface DemoOptions {
  /** Keep the data directory (and print how to start Sealpost on it) instead of removing it. */
  readonly keep?: string;
}

export interface DemoResult {
  readonly tenant: string;
  readonly forwarded: number;
  readonly verified: { readonly webhooks: number; readonly receipts: number; readonly inclusionProofs: number };
  readonly checkpoint: { readonly treeSize: number };
  readonly dataDir: string;
  readonly kept: boolean;
}

/** A step of the demo did not do what it should; the message says which. */
export class DemoFailure extends Error {}

/** A free TCP port on 127.0.0.1, so the public URL (attachment links, JWKS URL) can name it before the API starts. */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function until<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  const end = Date.now() + DEMO_TIMEOUT_MS;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new DemoFailure(`${what} did not happen within ${DEMO_TIMEOUT_MS / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/** `--keep`: a new or empty directory only, so the demo can never add a tenant to a real deployment's data. */
async function emptyDirectory(dir: string): Promise<string> {
  const resolved = path.resolve(dir);
  await mkdir(resolved, { recursive: true, mode: 0o700 });
  if ((await readdir(resolved)).length > 0) throw new DemoFailure(`${resolved} is not empty; --keep needs a new or empty directory`);
  return resolved;
}

/** An offline DNS for SPF/DKIM/DMARC: every lookup fails as "no such record", so no packet leaves the machine. */
const offlineResolver = async (name: string): Promise<never> => {
  throw Object.assign(new Error(`queryTxt ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
};

function pretty(body: Buffer): string {
  try {
    return JSON.stringify(JSON.parse(body.toString('utf8')), null, 2);
  } catch {
    return body.toString('utf8');
  }
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * `sealpost demo`: the whole path on loopback, in a fresh temporary data directory. Starts every
 * role and a receiver, creates a tenant, an inbox and a destination, sends a JSON payload over
 * HTTPS and an e-mail with an attachment over SMTP+STARTTLS, shows what the receiver got, and
 * verifies every signature, receipt and inclusion proof with @sealpost/verify. Everything it
 * started is stopped and, unless `keep` is set, the directory removed, whatever happens.
 */
export async function runDemo(out: DemoOutput, options: DemoOptions = {}): Promise<DemoResult> {
  const root = options.keep === undefined ? await mkdtemp(path.join(os.tmpdir(), 'sealpost-demo-')) : await emptyDirectory(options.keep);
  const dataDir = path.join(root, 'data');
  let sealpost: Sealpost | undefined;
  let api: ApiRole | undefined;
  let smtp: SmtpServerHandle | undefined;
  let worker: DeliveryWorker | undefined;
  let receiver: DemoReceiver | undefined;
  let dispatcher: Agent | undefined;
  try {
    const [httpPort, smtpPort] = [await freePort(), await freePort()];
    const publicUrl = `https://127.0.0.1:${httpPort}`;
    // Only these settings: the demo ignores the caller's SEALPOST_* variables (its database, its keys).
    const config = loadConfig({
      SEALPOST_DATA_DIR: dataDir,
      SEALPOST_HTTP_HOST: '127.0.0.1',
      SEALPOST_HTTP_PORT: String(httpPort),
      SEALPOST_SMTP_HOST: '127.0.0.1',
      SEALPOST_SMTP_PORT: String(smtpPort),
      SEALPOST_PUBLIC_URL: publicUrl,
      SEALPOST_INBOUND_DOMAIN: 'inbound.demo.localhost',
      SEALPOST_AUDIT_ORIGIN: 'demo.sealpost.localhost/audit',
      // The receiver runs on this machine: let loopback destinations through, and nothing wider.
      SEALPOST_ALLOW_PRIVATE_DESTINATIONS: '127.0.0.1/32',
      SEALPOST_LOG_LEVEL: 'warn',
    });

    out.heading('1. Starting Sealpost');
    sealpost = await createSealpost(config, { logger: createLogger('warn', process.stderr) });
    api = await startApi(sealpost);
    smtp = await startSmtp(sealpost, { resolver: offlineResolver, name: 'localhost' });
    const caFile = path.join(dataDir, 'tls', 'self-signed.crt');
    const ca = await readFile(caFile, 'utf8');
    const tls = { cert: ca, key: await readFile(path.join(dataDir, 'tls', 'self-signed.key'), 'utf8') };
    worker = startWorker(sealpost, { extraCa: ca });
    receiver = await startDemoReceiver(tls);
    const receiverUrl = receiver.url.replace('localhost', '127.0.0.1');
    out.line(`data dir        ${dataDir}`);
    out.line(`HTTPS API       ${publicUrl}   (self-signed certificate: ${caFile})`);
    out.line(`SMTP ingress    127.0.0.1:${smtp.port}   (STARTTLS required)`);
    out.line(`your receiver   ${receiverUrl}   (stands in for your endpoint)`);

    dispatcher = new Agent({ connect: { ca, servername: 'localhost' } });
    const agent = dispatcher;
    const call = async (pathname: string, init: RequestInit & { key?: string } = {}): Promise<{ status: number; text: string }> => {
      const { key, headers, ...rest } = init;
      const res = await fetch(`${publicUrl}${pathname}`, {
        ...rest,
        dispatcher: agent,
        headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(headers as Record<string, string> | undefined) },
      });
      return { status: res.status, text: await res.text() };
    };
    const json = async <T>(pathname: string, init: RequestInit & { key?: string; expect?: number } = {}): Promise<T> => {
      const { expect = 200, ...rest } = init;
      const res = await call(pathname, rest);
      if (res.status !== expect) throw new DemoFailure(`${init.method ?? 'GET'} ${pathname} answered ${res.status}: ${res.text}`);
      return JSON.parse(res.text) as T;
    };

    out.heading('2. A tenant, a destination and an inbox');
    const { tenant: created, apiKey } = await sealpost.tenants.create('Demo tenant', 'growth');
    const tenant = created.id;
    out.line(`tenant          ${tenant}`);
    out.line(`API key         ${apiKey}`);
    const post = (body: unknown) => ({ method: 'POST', key: apiKey, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const destination = await json<{ id: string }>('/v1/destinations', { ...post({ url: receiverUrl }), expect: 201 });
    out.line(`destination     ${destination.id} → ${receiverUrl}`);
    const inbox = await json<{ id: string; address: string }>('/v1/inboxes', { ...post({ dmarc_policy: 'accept' }), expect: 201 });
    out.line(`inbox           ${inbox.address}`);

    out.heading('3. A vendor sends a JSON payload over HTTPS');
    const payload = { invoice: 'INV-1001', amount: 120.5, currency: 'EUR', customer: { id: 'C-42', name: 'ACME GmbH' } };
    const accepted = await json<{ id: string; receipt: Receipt }>('/v1/payloads', {
      ...post(payload),
      headers: { 'content-type': 'application/json', 'idempotency-key': 'demo-INV-1001' },
      expect: 202,
    });
    out.ok(`202 Accepted: ${accepted.id}, with a signed "accepted" receipt ${accepted.receipt.id}`);

    out.heading('4. A vendor sends an e-mail with an attachment over SMTP + STARTTLS');
    const mailer = nodemailer.createTransport({
      host: '127.0.0.1',
      port: smtp.port,
      secure: false,
      requireTLS: true,
      name: 'vendor.localhost',
      tls: { ca, servername: 'localhost', minVersion: 'TLSv1.2' },
    });
    try {
      const sent = await mailer.sendMail({
        from: 'Billing <billing@vendor.example>',
        to: inbox.address,
        subject: 'Invoice INV-1002',
        text: 'Hello, please find invoice INV-1002 attached.',
        attachments: [{ filename: 'INV-1002.csv', contentType: 'text/csv', content: 'item,qty,price\nwidget,3,40.00\n' }],
      });
      out.ok(`250 ${sent.response.replace(/^250\s*/, '')}`);
    } finally {
      mailer.close();
    }

    out.heading('5. What your receiver got');
    const forwarded = await until('both deliveries', async () => (receiver!.received.length >= 2 ? [...receiver!.received] : undefined));
    for (const request of forwarded) showRequest(out, request);

    out.heading('6. Verifying with @sealpost/verify');
    const jwks = await json<JwkSet>(`/.well-known/sealpost/tenants/${tenant}/jwks.json`);
    out.line(`tenant JWKS     ${publicUrl}/.well-known/sealpost/tenants/${tenant}/jwks.json (${jwks.keys.length} key)`);
    let webhooks = 0;
    let receipts = 0;
    let proofs = 0;
    const logKey = (await call('/.well-known/sealpost-log-key')).text.trim();
    for (const request of forwarded) {
      const verified = verifyWebhook({ headers: request.headers, body: request.body, jwks, tenant });
      webhooks += 1;
      out.ok(`webhook ${verified.id}: v1a signature valid (kid ${verified.kid}), envelope of ${tenant}`);
      // The delivered receipt is written with the attempt; wait until the delivery is recorded.
      await until(`the delivery of ${verified.id}`, async () => {
        const list = await json<{ data: { status: string }[] }>(`/v1/deliveries?payload=${verified.id}`, { key: apiKey });
        return list.data.some((d) => d.status === 'succeeded') ? true : undefined;
      });
      const { data } = await json<{ data: Receipt[] }>(`/v1/payloads/${verified.id}/receipts`, { key: apiKey });
      for (const receipt of data) {
        const { receipt: checked } = verifyReceipt(receipt, jwks, { tenant });
        if (checked.body_sha256 !== sha256(request.body)) throw new DemoFailure(`receipt ${checked.id} names another body than the one forwarded`);
        receipts += 1;
        out.ok(`receipt ${checked.id} (${checked.kind}): signature valid, body_sha256 matches the forwarded body`);
        const proof = await json<{ index: number; tree_size: number; leaf_hash: string; proof: string[]; checkpoint?: string }>(`/v1/receipts/${checked.id}/proof`, { key: apiKey });
        if (proof.checkpoint === undefined) throw new DemoFailure(`no signed checkpoint covers receipt ${checked.id}`);
        const signed = verifyCheckpoint(proof.checkpoint, logKey);
        const included = verifyInclusion(Buffer.from(proof.leaf_hash, 'base64'), proof.index, proof.tree_size, proof.proof.map((p) => Buffer.from(p, 'base64')), signed.rootHash);
        if (!included || signed.treeSize !== proof.tree_size) throw new DemoFailure(`the inclusion proof of receipt ${checked.id} does not verify`);
        proofs += 1;
        out.ok(`  logged: audit event #${proof.index}, proven included in the signed checkpoint of ${signed.treeSize} events`);
      }
    }

    out.heading('7. The audit checkpoint');
    await sealpost.audit.checkpoints.checkpointIfGrown();
    const checkpoint = await json<{ checkpoint: string; tree_size: number }>('/v1/audit/checkpoint', { key: apiKey });
    const signed = verifyCheckpoint(checkpoint.checkpoint, logKey);
    for (const text of checkpoint.checkpoint.trimEnd().split('\n')) out.line(`  ${text}`);
    out.ok(`checkpoint of ${signed.treeSize} events, signed by the log key ${logKey.split('+')[0]} (/.well-known/sealpost-log-key)`);

    out.heading('Try next');
    tryNext(out, { kept: options.keep !== undefined, root, dataDir, caFile, publicUrl, apiKey, httpPort, smtpPort, receiverUrl });

    return {
      tenant,
      forwarded: forwarded.length,
      verified: { webhooks, receipts, inclusionProofs: proofs },
      checkpoint: { treeSize: signed.treeSize },
      dataDir,
      kept: options.keep !== undefined,
    };
  } finally {
    await api?.close();
    await smtp?.close();
    await worker?.stop();
    await receiver?.close();
    await dispatcher?.close();
    await sealpost?.close();
    if (options.keep === undefined) await rm(root, { recursive: true, force: true });
  }
}

function showRequest(out: DemoOutput, request: ReceivedRequest): void {
  out.line(`${request.method} ${request.path}`);
  for (const name of SHOWN_HEADERS) {
    if (request.headers[name] !== undefined) out.line(`${name}: ${request.headers[name]}`);
  }
  out.line('');
  out.line(pretty(request.body));
  out.line('');
}

function tryNext(
  out: DemoOutput,
  run: { kept: boolean; root: string; dataDir: string; caFile: string; publicUrl: string; apiKey: string; httpPort: number; smtpPort: number; receiverUrl: string },
): void {
  if (!run.kept) {
    out.line('Everything above ran in a temporary directory, now removed; nothing is left running.');
    out.line('Keep the demo\'s data, tenant and key to explore them:');
    out.line('  npx sealpost demo --keep ./sealpost-demo');
    out.line('Or run Sealpost for real (README, "Quick start"):');
    out.line('  npx sealpost start');
    out.line('  open https://localhost:8443/docs        # the API, documented (OpenAPI: /v1/openapi.json)');
    return;
  }
  out.line(`The demo's data is kept in ${run.root}. Start Sealpost on it again:`);
  out.line(
    `  SEALPOST_DATA_DIR=${run.dataDir} SEALPOST_HTTP_HOST=127.0.0.1 SEALPOST_HTTP_PORT=${run.httpPort} SEALPOST_SMTP_PORT=${run.smtpPort} SEALPOST_PUBLIC_URL=${run.publicUrl} npx sealpost start`,
  );
  out.line('Then, in another terminal:');
  out.line(`  export KEY=${run.apiKey} CA=${run.caFile} API=${run.publicUrl}`);
  out.line('  curl --cacert $CA -H "authorization: Bearer $KEY" $API/v1/payloads');
  out.line('  curl --cacert $CA -H "authorization: Bearer $KEY" $API/v1/deliveries');
  out.line('  curl --cacert $CA -H "authorization: Bearer $KEY" -H \'content-type: application/json\' -d \'{"hello":"world"}\' $API/v1/payloads');
  out.line('  curl --cacert $CA -H "authorization: Bearer $KEY" $API/v1/audit/checkpoint');
  out.line('  open $API/docs');
  out.line(`(The receiver at ${run.receiverUrl} ran inside the demo: new deliveries to it will be retried until you point the destination elsewhere.)`);
}
