// A vendor's program, as @sealpost/client's README shows it, run from a project that installed
// the packed @sealpost/verify and @sealpost/client tarballs, against a `sealpost` installed from
// its own tarball (scripts/check-sealpost-package.sh). The relay's self-signed CA is trusted
// through NODE_EXTRA_CA_CERTS, as the README says for a private CA.
import assert from 'node:assert/strict';
import { SealpostClient } from '@sealpost/client';

const [baseUrl, apiKey, tenant] = process.argv.slice(2);
const sealpost = new SealpostClient({ baseUrl, apiKey, tenant });
const sent = await sealpost.sendPayload(
  { invoice: 'INV-7', total: 120.5 },
  { idempotencyKey: 'invoice-INV-7', attachments: [{ filename: 'INV-7.txt', contentType: 'text/plain', data: 'invoice INV-7' }] },
);
assert.equal(sent.receipt.kind, 'accepted');
assert.equal(sent.receipt.tenant, tenant);
const again = await sealpost.sendPayload({ invoice: 'INV-7', total: 120.5 }, { idempotencyKey: 'invoice-INV-7', attachments: [{ filename: 'INV-7.txt', contentType: 'text/plain', data: 'invoice INV-7' }] });
assert.equal(again.id, sent.id);
assert.equal(again.replayed, true);
console.log(`@sealpost/client sent ${sent.id} to the packaged relay; accepted receipt ${sent.receipt.id} verified; the repeat was answered with the same receipt`);
