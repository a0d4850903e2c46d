// The same check as client-consumer.cjs, through `import` (the ESM build).
import assert from 'node:assert/strict';
import { isSealpostClientError, parseRetryAfter, SealpostClient } from '@sealpost/client';

assert.equal(parseRetryAfter('7'), 7000);
assert.throws(() => new SealpostClient({ baseUrl: 'http://relay.example.com', apiKey: 'k' }), (err) => isSealpostClientError(err) && err.code === 'SP_CLIENT_INVALID_INPUT');
assert.equal(import.meta.resolve('@sealpost/client').includes('/dist/esm/'), true, 'import must load the ESM build');
console.log(`ESM: @sealpost/client loads on Node ${process.version}`);
