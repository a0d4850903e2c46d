import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseVerifierKey, verifyCheckpoint } from '../../packages/verify/src/checkpoint.js';
import { checkpointBody, parseVerifierKey as parseOnServer, rawPublicKey, signNote, verifierKey } from '../../src/audit/checkpoint.js';

describe('C2SP verifier keys', () => {
  it("parse when the key's base64 holds '+' (only the first two '+' separate fields)", () => {
    let made: { text: string; pair: ReturnType<typeof generateKeyPairSync> } | undefined;
    // About half of all keys have a '+' in their base64; 200 tries never all miss in practice.
    for (let i = 0; i < 200 && !made; i += 1) {
      const pair = generateKeyPairSync('ed25519');
      const text = verifierKey({ name: 'sealpost.test/audit', publicKey: rawPublicKey(pair.publicKey) });
      if (text.split('+').length > 3) made = { text, pair };
    }
    if (!made) throw new Error('no key with a + in 200 tries');
    const parsed = parseVerifierKey(made.text);
    expect(parsed.publicKey).toEqual(rawPublicKey(made.pair.publicKey));
    expect(parseOnServer(made.text).publicKey).toEqual(parsed.publicKey);
    const note = signNote(checkpointBody('sealpost.test/audit', 3, Buffer.alloc(32, 1)), parsed, made.pair.privateKey);
    expect(verifyCheckpoint(note, made.text)).toEqual({ origin: 'sealpost.test/audit', treeSize: 3, rootHash: Buffer.alloc(32, 1) });
  });

  it.each([
    ['no separators', 'sealpost.test/audit'],
    ['a short key ID', 'name+abc+AQ=='],
    ['a space in the name', 'seal post+00000000+AQ=='],
    ['a key that is not Ed25519', `name+00000000+${Buffer.concat([Buffer.from([2]), Buffer.alloc(32)]).toString('base64')}`],
  ])('refuse %s', (_what, text) => {
    expect(() => parseVerifierKey(text)).toThrow(expect.objectContaining({ code: 'SP_VERIFY_MALFORMED_INPUT' }));
  });
});
