import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, statSync, writeSync } from 'node:fs';
import path from 'node:path';
import { canonicalJson } from '../../crypto/canonical-json.js';
import { SealpostError } from '../../errors/sealpost-error.js';

/*
 * The local keyring's way out of a lost disk: every file under the keyring directory (master key
 * versions, and any per-tenant key files kept there) in one file sealed with AES-256-GCM under a
 * 256-bit recovery key that is shown once and kept offline (printed, in a safe, split between
 * people). Snapshots never hold key material; this file and the recovery key together do.
 *
 *   {"format":"sealpost-keyring-recovery-v1","created_at":…,"cipher":"AES-256-GCM",
 *    "iv":<base64, 12 bytes>,"ciphertext":<base64>,"tag":<base64, 16 bytes>}
 *
 * The AAD is the RFC 8785 canonical JSON of the header (format, created_at, cipher), so none of
 * it can be changed. The plaintext is JSON {"files":[{"path","mode","content":<base64>}]}.
 * The recovery key is written `sprk1-` + base64url of its 32 bytes.
 */

export const RECOVERY_FORMAT = 'sealpost-keyring-recovery-v1';
const KEY_PREFIX = 'sprk1-';
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** A keyring is a few kilobytes; anything far bigger is not a recovery file. */
const MAX_RECOVERY_FILE_BYTES = 16 * 1024 * 1024;

interface RecoveryHeader {
  readonly format: typeof RECOVERY_FORMAT;
  readonly created_at: string;
  readonly cipher: 'AES-256-GCM';
}

interface RecoveryFile extends RecoveryHeader {
  readonly iv: string;
  readonly ciphertext: string;
  readonly tag: string;
}

interface KeyringFile {
  readonly path: string;
  readonly mode: number;
  readonly content: string;
}

function invalid(message: string, reason?: string): SealpostError {
  return new SealpostError('SP_ERR_KEYS_RECOVERY_INVALID', message, { logDetail: { reason } });
}

/** Every regular file under `dir`, relative paths with `/`. */
function keyringFiles(dir: string): KeyringFile[] {
  const out: KeyringFile[] = [];
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const full = path.join(entry.parentPath, entry.name);
    // Temp files of a rotation in progress are not part of the keyring.
    if (full.endsWith('.tmp')) continue;
    out.push({ path: path.relative(dir, full).split(path.sep).join('/'), mode: statSync(full).mode & 0o777, content: readFileSync(full).toString('base64') });
  }
  return out.sort((a, b) => (a.path < b.path ? -1 : 1));
}

/** Seals the keyring at `dir` under a new recovery key; returns the file's bytes and the key (shown once). */
export function exportKeyring(dir: string, now: number = Date.now()): { file: Buffer; recoveryKey: string; files: number; sha256: string } {
  if (!existsSync(dir)) throw invalid(`No keyring at ${dir}`);
  const files = keyringFiles(dir);
  if (files.length === 0) throw invalid(`The keyring at ${dir} is empty`);
  const key = randomBytes(KEY_BYTES);
  const iv = randomBytes(IV_BYTES);
  const header: RecoveryHeader = { format: RECOVERY_FORMAT, created_at: new Date(now).toISOString(), cipher: 'AES-256-GCM' };
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(canonicalJson(header));
  const plaintext = Buffer.from(JSON.stringify({ files }), 'utf8');
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  plaintext.fill(0);
  const body: RecoveryFile = { ...header, iv: iv.toString('base64'), ciphertext: ciphertext.toString('base64'), tag: cipher.getAuthTag().toString('base64') };
  const file = Buffer.from(`${JSON.stringify(body, null, 2)}\n`, 'utf8');
  const recoveryKey = KEY_PREFIX + key.toString('base64url');
  key.fill(0);
  return { file, recoveryKey, files: files.length, sha256: createHash('sha256').update(file).digest('hex') };
}

function parseRecoveryKey(text: string): Buffer {
  const trimmed = text.trim();
  const key = trimmed.startsWith(KEY_PREFIX) ? Buffer.from(trimmed.slice(KEY_PREFIX.length), 'base64url') : Buffer.alloc(0);
  if (key.length !== KEY_BYTES) throw invalid(`A recovery key is ${KEY_PREFIX} followed by 43 base64url characters`);
  return key;
}

/** Opens a recovery file; a wrong key or any altered byte fails as one error. */
export function openRecoveryFile(bytes: Buffer, recoveryKey: string): KeyringFile[] {
  if (bytes.length > MAX_RECOVERY_FILE_BYTES) throw invalid('Not a keyring recovery file', 'too large');
  let body: Partial<RecoveryFile>;
  try {
    body = JSON.parse(bytes.toString('utf8')) as Partial<RecoveryFile>;
  } catch {
    throw invalid('Not a keyring recovery file', 'not JSON');
  }
  if (body.format !== RECOVERY_FORMAT || body.cipher !== 'AES-256-GCM' || typeof body.created_at !== 'string' || typeof body.iv !== 'string' || typeof body.ciphertext !== 'string' || typeof body.tag !== 'string') {
    throw invalid('Not a keyring recovery file', 'header');
  }
  const key = parseRecoveryKey(recoveryKey);
  const header: RecoveryHeader = { format: body.format, created_at: body.created_at, cipher: body.cipher };
  let plaintext: Buffer;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(body.iv, 'base64'), { authTagLength: TAG_BYTES });
    decipher.setAAD(canonicalJson(header));
    decipher.setAuthTag(Buffer.from(body.tag, 'base64'));
    plaintext = Buffer.concat([decipher.update(Buffer.from(body.ciphertext, 'base64')), decipher.final()]);
  } catch {
    throw invalid('The recovery key does not open this file, or the file was altered', 'authentication');
  } finally {
    key.fill(0);
  }
  const parsed = JSON.parse(plaintext.toString('utf8')) as { files?: KeyringFile[] };
  plaintext.fill(0);
  const files = parsed.files ?? [];
  for (const f of files) {
    const parts = typeof f.path === 'string' ? f.path.split('/') : [];
    if (parts.length === 0 || parts.some((p) => p === '' || p === '.' || p === '..') || typeof f.content !== 'string') throw invalid('Not a keyring recovery file', 'file entry');
  }
  return files;
}

/**
 * Writes the recovered files into `dir` (0700; files 0600). A file already there with other
 * contents is not replaced without `force`: two keyrings must not be merged by accident.
 * Returns how many files were written (identical ones are skipped).
 */
export function importKeyring(dir: string, files: readonly KeyringFile[], force: boolean): { written: number; unchanged: number } {
  const conflicts = files.filter((f) => {
    const target = path.join(dir, ...f.path.split('/'));
    return existsSync(target) && !readFileSync(target).equals(Buffer.from(f.content, 'base64'));
  });
  if (conflicts.length > 0 && !force) {
    throw invalid(`${conflicts.length} keyring file(s) in ${dir} differ from the recovery file (${conflicts.map((c) => c.path).slice(0, 3).join(', ')}); --force replaces them`);
  }
  let written = 0;
  let unchanged = 0;
  for (const f of files) {
    const target = path.join(dir, ...f.path.split('/'));
    const content = Buffer.from(f.content, 'base64');
    if (existsSync(target) && readFileSync(target).equals(content)) {
      unchanged++;
      continue;
    }
    mkdirSync(path.dirname(target), { recursive: true, mode: 0o700 });
    const temp = `${target}.${process.pid}.tmp`;
    const fd = openSync(temp, 'w', 0o600);
    try {
      writeSync(fd, content);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, target);
    written++;
  }
  return { written, unchanged };
}
