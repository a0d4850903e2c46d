// A vendor's CommonJS program using @sealpost/client installed from its packed tarball (beside
// @sealpost/verify's): the entry point loads, its one dependency resolves, input is checked.
// scripts/check-packages.sh also sends a real payload with it (client-send.mjs).
'use strict';
const assert = require('node:assert/strict');
const { SealpostClient, parseRetryAfter, isSealpostClientError } = require('@sealpost/client');

assert.equal(parseRetryAfter('7'), 7000);
assert.throws(() => new SealpostClient({ baseUrl: 'http://relay.example.com', apiKey: 'k' }), (err) => isSealpostClientError(err) && err.code === 'SP_CLIENT_INVALID_INPUT');
assert.equal(require.resolve('@sealpost/client').includes('/dist/cjs/'), true, 'require() must load the CommonJS build');
console.log(`CommonJS: @sealpost/client ${require('@sealpost/client/package.json').version} loads on Node ${process.version}`);
