import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as openpgp from 'openpgp';
import { parse, stringify } from 'yaml';

/**
 * An armored OpenPGP private key written to `dir` for an import test; made at test time so no
 * private key is ever committed. Only the ones with `passphrase` are protected.
 */
export async function writeTestPrivateKey(
  dir: string,
  options: { name?: string; email?: string; passphrase?: string; rsaBits?: number; file?: string } = {},
): Promise<{ file: string; fingerprint: string }> {
  const userIDs = [{ name: options.name ?? 'Imported Security Team', email: options.email ?? 'security@imported.example' }];
  const { privateKey } = options.rsaBits
    ? await openpgp.generateKey({ type: 'rsa', rsaBits: options.rsaBits, userIDs, format: 'object', ...(options.passphrase ? { passphrase: options.passphrase } : {}) })
    : await openpgp.generateKey({ type: 'ecc', curve: 'curve25519Legacy', userIDs, format: 'object', ...(options.passphrase ? { passphrase: options.passphrase } : {}) });
  const file = path.join(dir, options.file ?? 'security-key.asc');
  writeFileSync(file, privateKey.armor(), { mode: 0o600 });
  return { file, fingerprint: privateKey.getFingerprint().toUpperCase() };
}

const EXAMPLE = path.resolve(import.meta.dirname, '../../deploy/trust.example.yaml');

/** The committed example trust config with `changes`, written to `dir`; returns its path. */
export function writeTrustConfig(dir: string, changes: Record<string, unknown> = {}): string {
  const config = { ...(parse(readFileSync(EXAMPLE, 'utf8')) as Record<string, unknown>), ...changes };
  const file = path.join(dir, 'trust.yaml');
  writeFileSync(file, stringify(config));
  return file;
}
