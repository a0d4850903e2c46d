// A customer's CommonJS program using @sealpost/verify installed from the packed tarball:
// it signs a receipt the way DESIGN §5 says and checks that the package accepts it and refuses
// an altered copy. Run from a project that installed the tarball (scripts/check-packages.sh).
'use strict';
const assert = require('node:assert/strict');
const { generateKeyPairSync, sign } = require('node:crypto');
const verify = require('@sealpost/verify');

const { publicKey, privateKey } = generateKeyPairSync('ed25519');
const now = Math.floor(Date.now() / 1000);
const jwks = { keys: [{ kty: 'OKP', crv: 'Ed25519', x: publicKey.export({ format: 'jwk' }).x, kid: 'sk_pack', use: 'sig', nbf: now - 60, exp: now + 3600 }] };
const tenant = 'ten_01JDG3ZK8Q4W7N2M5R9T6V3X1Z';
const unsigned = {
  v: 1, kind: 'accepted', id: 'rcp_01JDG3ZK8Q4W7N2M5R9T6V3X1A', message_id: 'msg_01JDG3ZK8Q4W7N2M5R9T6V3X1Y', tenant,
  body_sha256: 'a'.repeat(64), issued_at: new Date(now * 1000).toISOString(),
};
const value = sign(null, Buffer.from(verify.canonicalize(unsigned), 'utf8'), privateKey).toString('base64url');
const receipt = { ...unsigned, sig: { alg: 'Ed25519', kid: 'sk_pack', value } };

assert.equal(verify.verifyReceipt(receipt, jwks, { tenant }).receipt.id, unsigned.id);
assert.throws(() => verify.verifyReceipt({ ...receipt, tenant: 'ten_01JDG3ZK8Q4W7N2M5R9T6V3X99' }, jwks, { tenant }), (err) => verify.isVerifyError(err));
assert.equal(require.resolve('@sealpost/verify').includes('/dist/cjs/'), true, 'require() must load the CommonJS build');
console.log(`CommonJS: @sealpost/verify ${require('@sealpost/verify/package.json').version} verifies a receipt on Node ${process.version}`);
