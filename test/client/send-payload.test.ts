import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Agent, fetch as undiciFetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isSealpostClientError, SealpostClient, type SealpostClientOptions } from '@sealpost/client';
import { isVerifyError } from '@sealpost/verify';
import { startTestApp, type TestApp } from '../support/test-app.js';

// @sealpost/client against a real Sealpost over TLS. The relay's behaviour does not depend on the
// database dialect (the ingest and idempotency tests cover both), so SQLite only here.

/** What the fault-injecting proxy does with each request, in order; past the end it forwards. */
type Step = { answer: number; retryAfter?: string } | 'forward-then-502' | { forward: 'tamper-receipt' };

interface Proxy {
  readonly url: string;
  /** Idempotency-Key of each request the proxy saw. */
  readonly keys: (string | undefined)[];
  script(steps: Step[]): void;
  close(): Promise<void>;
}

/**
 * A TLS proxy on 127.0.0.1 in front of the relay that fails requests as told: answers a status
 * itself, or forwards the request and loses the relay's answer (a dropped connection after
 * the commit), or alters the receipt.
 */
async function startProxy(app: TestApp, tls: { cert: Buffer; key: Buffer }, dispatcher: Agent): Promise<Proxy> {
  let steps: Step[] = [];
  const keys: (string | undefined)[] = [];
  const server: Server = createServer(tls, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        keys.push(req.headers['idempotency-key'] as string | undefined);
        const step = steps.shift();
        if (step !== undefined && typeof step === 'object' && 'answer' in step) {
          res.writeHead(step.answer, { 'content-type': 'application/problem+json', ...(step.retryAfter ? { 'retry-after': step.retryAfter } : {}) });
          res.end(JSON.stringify({ status: step.answer, code: 'SP_ERR_TEST', detail: 'injected by the test proxy' }));
          return;
        }
        const headers: Record<string, string> = {};
        for (const name of ['authorization', 'content-type', 'idempotency-key', 'user-agent']) {
          const value = req.headers[name];
          if (typeof value === 'string') headers[name] = value;
        }
        const upstream = await undiciFetch(`${app.url}${req.url}`, {
          method: req.method,
          headers,
          ...(req.method === 'GET' ? {} : { body: Buffer.concat(chunks) }),
          dispatcher,
        });
        let text = await upstream.text();
        if (step === 'forward-then-502') {
          res.writeHead(502, { 'content-type': 'text/html' }).end('<h1>Bad gateway</h1>');
          return;
        }
        if (step !== undefined && typeof step === 'object' && 'forward' in step) {
          const body = JSON.parse(text) as { receipt: { body_sha256: string } };
          body.receipt.body_sha256 = createHash('sha256').update('something else').digest('hex');
          text = JSON.stringify(body);
        }
        const out: Record<string, string> = { 'content-type': upstream.headers.get('content-type') ?? 'application/json' };
        const replayed = upstream.headers.get('idempotent-replayed');
        if (replayed) out['idempotent-replayed'] = replayed;
        res.writeHead(upstream.status, out).end(text);
      })().catch((err: unknown) => res.destroy(err as Error));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    keys,
    script(next) {
      steps = [...next];
      keys.length = 0;
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

describe('@sealpost/client against a real Sealpost', () => {
  let app: TestApp;
  let proxy: Proxy;
  let dispatcher: Agent;
  let tenant: { tenant: string; apiKey: string };
  let other: { tenant: string; apiKey: string };
  const waits: number[] = [];

  beforeAll(async () => {
    app = await startTestApp('sqlite');
    tenant = await app.createTenant();
    other = await app.createTenant();
    const tlsDir = path.join(app.context.config.dataDir, 'tls');
    const tls = { cert: readFileSync(path.join(tlsDir, 'self-signed.crt')), key: readFileSync(path.join(tlsDir, 'self-signed.key')) };
    // Trusts only the relay's self-signed certificate, as a vendor would with a private CA.
    dispatcher = new Agent({ connect: { ca: tls.cert, servername: 'localhost' } });
    proxy = await startProxy(app, tls, dispatcher);
  });
  afterAll(async () => {
    await proxy?.close();
    await dispatcher?.close();
    await app?.close();
  });

  function client(options: Partial<SealpostClientOptions> = {}, baseUrl = proxy.url): SealpostClient {
    return new SealpostClient({
      baseUrl,
      apiKey: tenant.apiKey,
      fetch: ((input: string | URL, init?: object) => undiciFetch(input, { ...init, dispatcher })) as unknown as typeof fetch,
      // Records the waits instead of waiting: the test checks the schedule, never the clock.
      sleep: async (ms) => {
        waits.push(ms);
      },
      ...options,
    });
  }

  async function storedPayloads(apiKey = tenant.apiKey): Promise<string[]> {
    const page = (await (await app.fetch('/v1/payloads?limit=100', { token: apiKey })).json()) as { data: { id: string }[] };
    return page.data.map((p) => p.id);
  }

  it('sends JSON with attachments and returns the accepted receipt, verified', async () => {
    proxy.script([]);
    const pdf = Buffer.from('%PDF-1.7 invoice');
    const sent = await client().sendPayload(
      { invoice: 'INV-1', total: 120.5 },
      { idempotencyKey: 'invoice-INV-1', attachments: [{ filename: 'INV-1.pdf', contentType: 'application/pdf', data: pdf }, { filename: 'note.txt', data: 'hello' }] },
    );
    expect(sent).toMatchObject({ replayed: false, attempts: 1, idempotencyKey: 'invoice-INV-1' });
    expect(sent.receipt).toMatchObject({ kind: 'accepted', message_id: sent.id, tenant: tenant.tenant });

    const read = (await (await app.fetch(`/v1/payloads/${sent.id}`, { token: tenant.apiKey })).json()) as {
      body_sha256: string;
      envelope: { data: unknown; attachments: { filename: string; content_type: string; sha256: string }[] };
    };
    expect(read.envelope.data).toEqual({ invoice: 'INV-1', total: 120.5 });
    expect(read.body_sha256).toBe(sent.receipt.body_sha256);
    expect(read.envelope.attachments).toEqual([
      expect.objectContaining({ filename: 'INV-1.pdf', content_type: 'application/pdf', sha256: createHash('sha256').update(pdf).digest('hex') }),
      expect.objectContaining({ filename: 'note.txt', content_type: 'application/octet-stream', sha256: createHash('sha256').update('hello').digest('hex') }),
    ]);
  });

  it('retries 503, then 429 after its Retry-After, then a lost answer, with one idempotency key, and stores the payload once', async () => {
    const before = await storedPayloads();
    waits.length = 0;
    proxy.script([{ answer: 503 }, { answer: 429, retryAfter: '2' }, 'forward-then-502']);
    const sent = await client({ retry: { baseDelayMs: 100, maxDelayMs: 1000 } }).sendPayload({ order: 4711 });

    expect(sent.attempts).toBe(4);
    // The third request was stored but its answer lost: the fourth gets the first receipt back.
    expect(sent.replayed).toBe(true);
    // The first POST only: /v1/signing-keys is fetched after it and needs no key.
    const postKeys = proxy.keys.filter((k) => k !== undefined);
    expect(postKeys).toHaveLength(4);
    expect(new Set(postKeys)).toEqual(new Set([sent.idempotencyKey]));
    expect(waits).toHaveLength(3);
    expect(waits[0]).toBeLessThan(100); // back-off after the 503
    expect(waits[1]).toBe(2000); // the 429's Retry-After
    expect(waits[2]).toBeLessThan(400); // back-off after the lost answer
    const after = await storedPayloads();
    expect(after.filter((id) => !before.includes(id))).toEqual([sent.id]);
  });

  it('fetches the signing keys again once when a receipt names a key it has not seen (rotation)', async () => {
    proxy.script([]);
    const sealpost = client();
    const first = await sealpost.sendPayload({ before: 'rotation' });
    await app.context.receipts.keys.rotate(tenant.tenant);
    const second = await sealpost.sendPayload({ after: 'rotation' });
    expect(second.receipt.sig.kid).not.toBe(first.receipt.sig.kid);
    // One GET /v1/signing-keys per key set: the first send's, and one after the rotation.
    expect(proxy.keys.filter((k) => k === undefined)).toHaveLength(2);
  });

  it('fails at once on a 4xx that a retry cannot fix', async () => {
    proxy.script([]);
    const err = await client({ apiKey: 'sp_live_not-a-key' }).sendPayload({ a: 1 }).catch((e: unknown) => e);
    expect(isSealpostClientError(err) && err.code).toBe('SP_CLIENT_REJECTED');
    expect(err).toMatchObject({ status: 401, attempts: 1 });
    expect(proxy.keys).toHaveLength(1);
  });

  it('gives up after maxAttempts, and without waiting when Retry-After exceeds maxRetryAfterMs', async () => {
    proxy.script([{ answer: 500 }, { answer: 502 }, { answer: 503 }]);
    const exhausted = await client({ retry: { maxAttempts: 3 } }).sendPayload({ a: 1 }).catch((e: unknown) => e);
    expect(exhausted).toMatchObject({ code: 'SP_CLIENT_GAVE_UP', status: 503, attempts: 3 });

    waits.length = 0;
    proxy.script([{ answer: 429, retryAfter: '3600' }]);
    const tooLong = await client().sendPayload({ a: 1 }).catch((e: unknown) => e);
    expect(tooLong).toMatchObject({ code: 'SP_CLIENT_GAVE_UP', status: 429, attempts: 1 });
    expect(waits).toEqual([]);
  });

  it('refuses a receipt whose signature does not verify', async () => {
    proxy.script([{ forward: 'tamper-receipt' }]);
    const err = await client().sendPayload({ tampered: true }).catch((e: unknown) => e);
    expect(isVerifyError(err) && err.code).toBe('SP_VERIFY_BAD_SIGNATURE');
  });

  it("refuses a receipt of another tenant than the one it sends for", async () => {
    proxy.script([]);
    // The other tenant's key and keys, but the caller expects its own tenant.
    const err = await client({ apiKey: other.apiKey, tenant: tenant.tenant }).sendPayload({ a: 1 }).catch((e: unknown) => e);
    expect(isVerifyError(err) && err.code).toBe('SP_VERIFY_TENANT_MISMATCH');
  });

  it('refuses a plain-HTTP relay URL and a bad idempotency key before sending anything', async () => {
    expect(() => client({}, 'http://127.0.0.1:1')).toThrow(expect.objectContaining({ code: 'SP_CLIENT_INVALID_INPUT' }));
    proxy.script([]);
    await expect(client().sendPayload({ a: 1 }, { idempotencyKey: 'has space' })).rejects.toMatchObject({ code: 'SP_CLIENT_INVALID_INPUT' });
    expect(proxy.keys).toEqual([]);
  });
});
