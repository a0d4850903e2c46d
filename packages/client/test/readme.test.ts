import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLIENT_ERROR_CODES } from '../src/index.js';

describe('@sealpost/client README', () => {
  it('documents every error code', () => {
    const readme = readFileSync(path.join(import.meta.dirname, '..', 'README.md'), 'utf8');
    const documented = [...readme.matchAll(/^\| `(SP_CLIENT_[A-Z_]+)` \|/gm)].map((m) => m[1]);
    expect(documented).toEqual(Object.keys(CLIENT_ERROR_CODES));
  });
});
