import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface GpgResult {
  readonly code: number;
  readonly stderr: string;
}

function gpg(home: string, args: string[]): Promise<GpgResult> {
  return new Promise((resolve) => {
    execFile('gpg', ['--homedir', home, '--batch', '--no-tty', '--no-autostart', ...args], { timeout: 30_000 }, (err, _stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stderr });
    });
  });
}

/**
 * `gpg --verify` of `signedText` against exactly `publicKeyArmored`, in a throw-away GNUPGHOME
 * (Debian's gnupg), so no key of the machine's user is trusted or touched.
 */
export async function gpgVerify(publicKeyArmored: string, signedText: string): Promise<GpgResult> {
  const home = mkdtempSync(path.join(os.tmpdir(), 'sp-gpg-'));
  try {
    writeFileSync(path.join(home, 'key.asc'), publicKeyArmored);
    writeFileSync(path.join(home, 'security.txt'), signedText);
    const imported = await gpg(home, ['--import', path.join(home, 'key.asc')]);
    if (imported.code !== 0) return imported;
    return await gpg(home, ['--verify', path.join(home, 'security.txt')]);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}
