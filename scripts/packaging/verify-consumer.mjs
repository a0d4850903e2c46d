// The same check as verify-consumer.cjs, through `import` (the ESM build).
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign } from 'node:crypto';
import { canonicalize, isVerifyError, verifyReceipt } from '@sealpost/verify';

const { publicKey, privateKey } = generateKeyPairSync('ed25519');
const now = Math.floor(Date.now() / 1000);
const jwks = { keys: [{ kty: 'OKP', crv: 'Ed25519', x: publicKey.export({ format: 'jwk' }).x, kid: 'sk_pack', use: 'sig', nbf: now - 60, exp: now + 3600 }] };
const tenant = 'ten_01JDG3ZK8Q4W7N2M5R9T6V3X1Z';
const unsigned = {
  v: 1, kind: 'accepted', id: 'rcp_01JDG3ZK8Q4W7N2M5R9T6V3X1A', message_id: 'msg_01JDG3ZK8Q4W7N2M5R9T6V3X1Y', tenant,
  body_sha256: 'a'.repeat(64), issued_at: new Date(now * 1000).toISOString(),
};
const value = sign(null, Buffer.from(canonicalize(unsigned), 'utf8'), privateKey).toString('base64url');
const receipt = { ...unsigned, sig: { alg: 'Ed25519', kid: 'sk_pack', value } };

assert.equal(verifyReceipt(receipt, jwks, { tenant }).receipt.id, unsigned.id);
assert.throws(() => verifyReceipt({ ...receipt, sig: { ...receipt.sig, value: value.replace(/^./, (c) => (c === 'A' ? 'B' : 'A')) } }, jwks, { tenant }), (err) => isVerifyError(err));
assert.equal(import.meta.resolve('@sealpost/verify').includes('/dist/esm/'), true, 'import must load the ESM build');
console.log(`ESM: @sealpost/verify verifies a receipt on Node ${process.version}`);
