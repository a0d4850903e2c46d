// Signing and verification cost (issue 4): canonicalise+sign of a 2 KB envelope as a ratio to a
// bare node:crypto Ed25519 signature of the same bytes (target >= 0.8), and the throughput of
// @sealpost/verify. Prints numbers; asserts nothing. Run: npx tsx bench/signing.bench.ts
import { generateKeyPairSync, sign } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import referenceCanonicalize from 'canonicalize';
import { verifyReceipt, verifyWebhook, type JwkSet } from '@sealpost/verify';
import { canonicalJson } from '../src/crypto/canonical-json.js';
import { rawPublicKey, type ActiveSigningKey } from '../src/crypto/signing-key.js';
import { acceptedReceipt, signReceipt } from '../src/receipts/receipt.js';
import { Ed25519RequestSigner, webhookSignedBytes } from '../src/receipts/webhook-signer.js';
import { median, TARGETS } from './support/targets.js';

const ROUNDS = 5;
const ROUND_MS = 400;
const TARGET_RATIO = TARGETS.signToBare;

const WEBHOOK_ID = 'msg_01JDG3ZK8Q4W7N2M5R9T6V3X1Y';

/** About 2 KB of canonical JSON, shaped like a real envelope: nesting, numbers, non-ASCII. */
const TENANT = 'ten_01JDG3ZK8Q4W7N2M5R9T6V3X1Z';

function envelope(): Record<string, unknown> {
  return {
    id: WEBHOOK_ID,
    type: 'payload.received',
    tenant: TENANT,
    received_at: '2026-11-24T21:07:28.123Z',
    source: { channel: 'https', api_key: 'key_01JDG3ZK8Q4W7N2M5R9T6V3X20' },
    data: {
      invoice: 'INV-2026-4711',
      vendor: { name: 'ACME Grüße GmbH', vat: 'DE123456789', address: { street: 'Hauptstraße 1', city: 'München', zip: '80331' } },
      currency: 'EUR',
      total: 1234.56,
      lines: Array.from({ length: 12 }, (_, i) => ({ sku: `SKU-${1000 + i}`, description: `Widget no. ${i} — größe ${i % 3}`, qty: i + 1, price: 9.99 + i, tax: 0.19 })),
      notes: 'Bitte überweisen Sie den Betrag innerhalb von 14 Tagen. 😀',
    },
    attachments: [{ id: 'att_01JDG3ZK8Q4W7N2M5R9T6V3X21', filename: 'invoice.pdf', content_type: 'application/pdf', size: 48213, sha256: 'a'.repeat(64), url: 'https://relay.example.com/v1/attachments/att_01JDG3ZK8Q4W7N2M5R9T6V3X21' }],
  };
}

const PAIRS = 15;
const PAIR_MS = 150;

/** Operations per second of `fn` over one short timed round. */
async function timedRate(fn: () => unknown): Promise<number> {
  let n = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < PAIR_MS) {
    for (let i = 0; i < 64; i++) await fn();
    n += 64;
    elapsed = performance.now() - start;
  }
  return (n * 1000) / elapsed;
}

/** Operations per second of `fn`: the median of several timed rounds. */
async function opsPerSecond(fn: () => unknown): Promise<number> {
  const rates: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    let n = 0;
    const start = performance.now();
    let elapsed = 0;
    while (elapsed < ROUND_MS) {
      for (let i = 0; i < 64; i++) await fn();
      n += 64;
      elapsed = performance.now() - start;
    }
    rates.push((n * 1000) / elapsed);
  }
  rates.sort((a, b) => a - b);
  return rates[Math.floor(rates.length / 2)]!;
}

export interface SigningBenchResult {
  readonly envelopeBytes: number;
  readonly bareSignPerSecond: number;
  readonly canonicalizeSignPerSecond: number;
  readonly ratio: number;
  readonly referenceCanonicalizeSignPerSecond: number;
  /** What the delivery worker does per attempt: sign the canonical body stored at ingest. */
  readonly storedBodySignPerSecond: number;
  /** Median of the interleaved rounds' ratios of storedBodySignPerSecond to bare signing. */
  readonly storedBodyRatio: number;
  readonly receiptSignPerSecond: number;
  readonly verifyWebhookPerSecond: number;
  readonly verifyReceiptPerSecond: number;
}

export async function runSigningBench(): Promise<SigningBenchResult> {
  const pair = generateKeyPairSync('ed25519');
  const key: ActiveSigningKey = { kid: 'sp_sig_20261124_0123456789abcdef', tenantId: TENANT, privateKey: pair.privateKey, publicKey: rawPublicKey(pair.publicKey) };
  const signer = new Ed25519RequestSigner({ currentKey: async () => key });
  const doc = envelope();
  const body = canonicalJson(doc);
  const timestamp = 1_795_900_000;
  const signedBytes = webhookSignedBytes(WEBHOOK_ID, timestamp, body);

  // Warm up every path before measuring (JIT, key object internals).
  for (let i = 0; i < 2_000; i++) {
    sign(null, signedBytes, key.privateKey);
    await signer.sign({ tenantId: TENANT, webhookId: WEBHOOK_ID, timestamp, body: canonicalJson(doc) });
  }

  // The measured paths alternate in short rounds and the ratio is the median of the pairs'
  // ratios: on a shared machine the load changes within seconds, and a pair sees the same load.
  const bare: number[] = [];
  const ours: number[] = [];
  const ratios: number[] = [];
  const storedRatios: number[] = [];
  for (let i = 0; i < PAIRS; i++) {
    const b = await timedRate(() => sign(null, signedBytes, key.privateKey));
    const o = await timedRate(() => signer.sign({ tenantId: TENANT, webhookId: WEBHOOK_ID, timestamp, body: canonicalJson(doc) }));
    const stored = await timedRate(() => signer.sign({ tenantId: TENANT, webhookId: WEBHOOK_ID, timestamp, body }));
    bare.push(b);
    ours.push(o);
    ratios.push(o / b);
    storedRatios.push(stored / b);
  }
  const bareSignPerSecond = median(bare);
  const canonicalizeSignPerSecond = median(ours);

  const referenceCanonicalizeSignPerSecond = await opsPerSecond(() =>
    sign(null, webhookSignedBytes(WEBHOOK_ID, timestamp, Buffer.from(referenceCanonicalize(doc) ?? '', 'utf8')), key.privateKey),
  );
  const unsignedReceipt = acceptedReceipt({ tenantId: TENANT, messageId: WEBHOOK_ID, bodySha256: 'b'.repeat(64), issuedAt: timestamp * 1000 });
  const receiptSignPerSecond = await opsPerSecond(() => signReceipt(unsignedReceipt, key));

  const jwks: JwkSet = { keys: [{ kty: 'OKP', crv: 'Ed25519', kid: key.kid, x: key.publicKey.toString('base64url'), use: 'sig', nbf: timestamp - 86_400, exp: timestamp + 86_400 }] };
  const headers = { 'webhook-id': WEBHOOK_ID, 'webhook-timestamp': String(timestamp), ...(await signer.sign({ tenantId: TENANT, webhookId: WEBHOOK_ID, timestamp, body })) };
  const now = new Date(timestamp * 1000);
  const verifyWebhookPerSecond = await opsPerSecond(() => verifyWebhook({ headers, body, jwks, tenant: TENANT, now }));
  const receiptText = JSON.stringify(signReceipt(unsignedReceipt, key));
  const verifyReceiptPerSecond = await opsPerSecond(() => verifyReceipt(receiptText, jwks, { tenant: TENANT, now }));

  return {
    envelopeBytes: body.length,
    bareSignPerSecond,
    canonicalizeSignPerSecond,
    ratio: median(ratios),
    referenceCanonicalizeSignPerSecond,
    storedBodySignPerSecond: median(storedRatios) * bareSignPerSecond,
    storedBodyRatio: median(storedRatios),
    receiptSignPerSecond,
    verifyWebhookPerSecond,
    verifyReceiptPerSecond,
  };
}

export function formatSigningBench(r: SigningBenchResult): string {
  const n = (x: number): string => Math.round(x).toLocaleString('en-US').padStart(8);
  return [
    `signing (${r.envelopeBytes}-byte canonical envelope, Ed25519, node ${process.version})`,
    `  bare crypto.sign of the signed bytes      ${n(r.bareSignPerSecond)} /s`,
    `  canonicalise + sign (Ed25519RequestSigner) ${n(r.canonicalizeSignPerSecond)} /s   ratio ${r.ratio.toFixed(2)} (without reuse: ${r.ratio >= TARGET_RATIO ? 'met' : 'NOT met'})`,
    `  same with the reference canonicalize pkg   ${n(r.referenceCanonicalizeSignPerSecond)} /s   ratio ${(r.referenceCanonicalizeSignPerSecond / r.bareSignPerSecond).toFixed(2)}`,
    `  delivery attempt: sign the stored body     ${n(r.storedBodySignPerSecond)} /s   ratio ${r.storedBodyRatio.toFixed(2)} (target >= ${TARGET_RATIO}, ${r.storedBodyRatio >= TARGET_RATIO ? 'met' : 'NOT met'}: canonicalised once at ingest, the bytes reused by every signature)`,
    `  receipt canonicalise + sign                ${n(r.receiptSignPerSecond)} /s`,
    `verification (@sealpost/verify)`,
    `  verifyWebhook                              ${n(r.verifyWebhookPerSecond)} /s`,
    `  verifyReceipt                              ${n(r.verifyReceiptPerSecond)} /s`,
  ].join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.stdout.write(`${formatSigningBench(await runSigningBench())}\n`);
}
