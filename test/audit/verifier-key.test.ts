import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseVerifierKey, verifyCheckpoint } from '../../packages/verify/src/checkpoint.js';
import { checkpointBody, openCheckpoint, parseVerifierKey as parseOnServer, rawPublicKey, signNote, verifierKey } from '../../src/audit/checkpoint.js';

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

describe('one checkpoint rule for the server and @sealpost/verify (C2SP signed-note)', () => {
  const pair = generateKeyPairSync('ed25519');
  const key = { name: 'sealpost.test/audit', publicKey: rawPublicKey(pair.publicKey) };
  const root = Buffer.alloc(32, 7).toString('base64');
  const both = (note: string) => [
    () => openCheckpoint(note, key),
    () => verifyCheckpoint(note, verifierKey(key)),
  ];

  it('refuses a note holding the DEL control character (0x7f), on both sides', () => {
    const note = signNote(`sealpost.test/audit\x7f\n3\n${root}\n`, key, pair.privateKey);
    for (const open of both(note)) expect(open).toThrow(/control characters/);
    expect(() => checkpointBody('sealpost.test/audit\x7f', 3, Buffer.alloc(32))).toThrow(TypeError);
  });

  it('refuses an empty extension line, on both sides', () => {
    const note = signNote(`sealpost.test/audit\n3\n${root}\n\n`, key, pair.privateKey);
    for (const open of both(note)) expect(open).toThrow(/empty/);
  });

  it('refuses a signature blob of any length but key ID + 64 bytes, on both sides', () => {
    const good = signNote(`sealpost.test/audit\n3\n${root}\n`, key, pair.privateKey);
    const [text, line] = [good.slice(0, good.lastIndexOf('\n\n') + 2), good.slice(good.lastIndexOf('\n\n') + 2, -1)];
    const blob = Buffer.from(line!.split(' ')[2]!, 'base64');
    const long = `${text}\u2014 ${key.name} ${Buffer.concat([blob, Buffer.from([0])]).toString('base64')}\n`;
    expect(() => openCheckpoint(long, key)).toThrow('signature does not verify');
    expect(() => verifyCheckpoint(long, verifierKey(key))).toThrow(expect.objectContaining({ code: 'SP_VERIFY_BAD_SIGNATURE' }));
    expect(openCheckpoint(good, key).treeSize).toBe(3);
  });
});
