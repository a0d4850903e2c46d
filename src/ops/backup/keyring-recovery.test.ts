import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { exportKeyring, importKeyring, openRecoveryFile } from './keyring-recovery.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function keyring(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sealpost-keyring-'));
  dirs.push(dir);
  writeFileSync(path.join(dir, 'kek-v000001.json'), '{"version":1,"key":"master-one"}', { mode: 0o600 });
  mkdirSync(path.join(dir, 'tenants'), { mode: 0o700 });
  writeFileSync(path.join(dir, 'tenants', 'ten_a.json'), '{"tenant":"key"}', { mode: 0o600 });
  return dir;
}

describe('keyring recovery file', () => {
  it('carries every file under the keyring, nested ones too, and restores them 0600', () => {
    const source = keyring();
    const exported = exportKeyring(source);
    expect(exported.files).toBe(2);
    expect(exported.recoveryKey).toMatch(/^sprk1-[A-Za-z0-9_-]{43}$/);
    // The file holds no key material in the clear.
    expect(exported.file.toString()).not.toContain('master-one');
    const target = path.join(mkdtempSync(path.join(os.tmpdir(), 'sealpost-keyring-')), 'keyring');
    dirs.push(path.dirname(target));
    expect(importKeyring(target, openRecoveryFile(exported.file, exported.recoveryKey), false)).toEqual({ written: 2, unchanged: 0 });
    expect(readFileSync(path.join(target, 'tenants', 'ten_a.json'), 'utf8')).toBe('{"tenant":"key"}');
    expect(statSync(path.join(target, 'kek-v000001.json')).mode & 0o777).toBe(0o600);
    expect(importKeyring(target, openRecoveryFile(exported.file, exported.recoveryKey), false)).toEqual({ written: 0, unchanged: 2 });
  });

  it('refuses a wrong recovery key', () => {
    const exported = exportKeyring(keyring());
    const other = exportKeyring(keyring());
    expect(() => openRecoveryFile(exported.file, other.recoveryKey)).toThrow(expect.objectContaining({ code: 'SP_ERR_KEYS_RECOVERY_INVALID' }));
    expect(() => openRecoveryFile(exported.file, 'not-a-key')).toThrow(expect.objectContaining({ code: 'SP_ERR_KEYS_RECOVERY_INVALID' }));
  });

  it('refuses a recovery file with an altered header or ciphertext', () => {
    const exported = exportKeyring(keyring());
    const body = JSON.parse(exported.file.toString()) as Record<string, string>;
    const redated = Buffer.from(JSON.stringify({ ...body, created_at: '2020-01-01T00:00:00.000Z' }));
    expect(() => openRecoveryFile(redated, exported.recoveryKey)).toThrow(expect.objectContaining({ code: 'SP_ERR_KEYS_RECOVERY_INVALID' }));
    const ciphertext = Buffer.from(body.ciphertext!, 'base64');
    ciphertext[0]! ^= 1;
    const flipped = Buffer.from(JSON.stringify({ ...body, ciphertext: ciphertext.toString('base64') }));
    expect(() => openRecoveryFile(flipped, exported.recoveryKey)).toThrow(expect.objectContaining({ code: 'SP_ERR_KEYS_RECOVERY_INVALID' }));
  });

  it('refuses to overwrite a different keyring file without force', () => {
    const exported = exportKeyring(keyring());
    const target = keyring();
    writeFileSync(path.join(target, 'kek-v000001.json'), '{"version":1,"key":"another-master"}');
    const files = openRecoveryFile(exported.file, exported.recoveryKey);
    expect(() => importKeyring(target, files, false)).toThrow(expect.objectContaining({ code: 'SP_ERR_KEYS_RECOVERY_INVALID' }));
    expect(readFileSync(path.join(target, 'kek-v000001.json'), 'utf8')).toContain('another-master');
    expect(importKeyring(target, files, true).written).toBe(1);
  });
});
