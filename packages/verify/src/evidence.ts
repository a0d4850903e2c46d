import { createHash, verify } from 'node:crypto';
import { canonicalize } from './canonical-json.js';
import { parseVerifierKey, type LogVerifierKey } from './checkpoint.js';
import { ed25519PublicKey } from './ed25519.js';
import { VerifyError } from './errors.js';

/** The `format` of an evidence bundle's manifest. */
export const EVIDENCE_FORMAT = 'sealpost-evidence/v1';
/** The signed manifest and its detached signature, beside the files the manifest lists. */
export const EVIDENCE_MANIFEST = 'manifest.json';
export const EVIDENCE_SIGNATURE = 'manifest.sig';
/** Prefixed to the manifest's bytes before signing, so the signature means nothing in any other context. */
const SIGNING_CONTEXT = `${EVIDENCE_FORMAT}\n`;
/** A bundle is a few JSON files; far more is not one. */
const MAX_FILES = 64;
const TAR_BLOCK = 512;

/**
 * The manifest of a compliance evidence bundle: what it covers and the SHA-256 of each file.
 *
 * @example
 * ```ts
 * import type { EvidenceManifest } from '@sealpost/verify';
 * const period = (m: EvidenceManifest): string => `${m.from} .. ${m.to}: ${m.files.length} files`;
 * ```
 */
export interface EvidenceManifest {
  readonly format: typeof EVIDENCE_FORMAT;
  readonly id: string;
  readonly created_at: string;
  /** The period covered, inclusive start, exclusive end (RFC 3339). */
  readonly from: string;
  readonly to: string;
  /** The audit log key that signed the manifest: C2SP verifier key name and hex key ID. */
  readonly key: { readonly name: string; readonly key_id: string };
  readonly files: readonly { readonly path: string; readonly size: number; readonly sha256: string }[];
}

/**
 * The exact bytes an evidence manifest's Ed25519 signature covers: the context line, then the
 * manifest as RFC 8785 canonical JSON. Sealpost signs these; {@link verifyEvidenceBundle} checks them.
 *
 * @example
 * ```ts
 * import { evidenceSignedBytes } from '@sealpost/verify';
 * const bytes = evidenceSignedBytes(manifestJsonText); // openssl pkeyutl -verify -rawin accepts the signature over these
 * ```
 */
export function evidenceSignedBytes(manifestText: string): Buffer {
  return Buffer.from(SIGNING_CONTEXT + manifestText, 'utf8');
}

const malformed = (message: string): VerifyError => new VerifyError('SP_VERIFY_MALFORMED_INPUT', message);

/**
 * The files of an evidence archive (a POSIX ustar tar of regular files), by name. Refuses
 * anything but plain files with relative names.
 *
 * @example
 * ```ts
 * import { readFileSync } from 'node:fs';
 * import { readEvidenceArchive } from '@sealpost/verify';
 * const files = readEvidenceArchive(readFileSync('evidence.tar'));
 * ```
 */
export function readEvidenceArchive(tar: Uint8Array): Record<string, Uint8Array> {
  const bytes = Buffer.from(tar.buffer, tar.byteOffset, tar.byteLength);
  const files: Record<string, Uint8Array> = {};
  let offset = 0;
  while (offset + TAR_BLOCK <= bytes.length) {
    const header = bytes.subarray(offset, offset + TAR_BLOCK);
    if (header.every((b) => b === 0)) return files;
    const name = header.subarray(0, 100).toString('latin1').replace(/\0.*$/s, '');
    const size = Number.parseInt(header.subarray(124, 136).toString('latin1').replace(/\0.*$/s, '').trim() || '0', 8);
    const type = String.fromCharCode(header[156] ?? 0);
    if (!(type === '0' || type === '\0') || name === '' || name.startsWith('/') || name.split('/').includes('..') || !Number.isSafeInteger(size)) throw malformed(`not a plain file entry: ${JSON.stringify(name)}`);
    if (Object.hasOwn(files, name) || Object.keys(files).length >= MAX_FILES) throw malformed('duplicate or too many entries');
    const start = offset + TAR_BLOCK;
    if (start + size > bytes.length) throw malformed('truncated archive');
    files[name] = bytes.subarray(start, start + size);
    offset = start + Math.ceil(size / TAR_BLOCK) * TAR_BLOCK;
  }
  throw malformed('truncated archive');
}

/**
 * Verifies a compliance evidence bundle (`sealpost compliance evidence`) offline: the manifest's
 * Ed25519 signature by the deployment's audit log key (pin it from `/.well-known/sealpost-log-key`),
 * then the size and SHA-256 of every file it lists; a file missing, changed or not listed fails.
 * Throws {@link VerifyError} (`SP_VERIFY_BAD_SIGNATURE` for a signature or digest that does not
 * match, `SP_VERIFY_MALFORMED_INPUT` for anything not in the format).
 *
 * @example
 * ```ts
 * import { readFileSync } from 'node:fs';
 * import { readEvidenceArchive, verifyEvidenceBundle } from '@sealpost/verify';
 * const manifest = verifyEvidenceBundle(readEvidenceArchive(readFileSync('evidence.tar')), pinnedLogKey);
 * console.log(`${manifest.from} .. ${manifest.to}`, manifest.files.map((f) => f.path));
 * ```
 */
export function verifyEvidenceBundle(files: Readonly<Record<string, Uint8Array>>, verifierKey: LogVerifierKey | string): EvidenceManifest {
  const key = typeof verifierKey === 'string' ? parseVerifierKey(verifierKey) : verifierKey;
  const manifestBytes = files[EVIDENCE_MANIFEST];
  const signatureBytes = files[EVIDENCE_SIGNATURE];
  if (manifestBytes === undefined || signatureBytes === undefined) throw malformed(`the bundle needs ${EVIDENCE_MANIFEST} and ${EVIDENCE_SIGNATURE}`);
  const manifestText = Buffer.from(manifestBytes).toString('utf8');
  const signature = Buffer.from(Buffer.from(signatureBytes).toString('latin1').trim(), 'base64');
  if (signature.length !== 64 || !verify(null, evidenceSignedBytes(manifestText), ed25519PublicKey(key.publicKey), signature)) {
    throw new VerifyError('SP_VERIFY_BAD_SIGNATURE', 'the manifest signature does not verify');
  }
  let manifest: EvidenceManifest;
  try {
    manifest = JSON.parse(manifestText) as EvidenceManifest;
  } catch {
    throw malformed('the manifest is not JSON');
  }
  // Signed bytes are the canonical form: no second reading of the same signature.
  if (canonicalize(manifest) !== manifestText || manifest.format !== EVIDENCE_FORMAT || !Array.isArray(manifest.files)) throw malformed('not a sealpost-evidence/v1 manifest');
  if (manifest.key?.name !== key.name || manifest.key.key_id !== key.keyId.toString('hex')) throw malformed('the manifest names another key');
  const listed = new Set<string>([EVIDENCE_MANIFEST, EVIDENCE_SIGNATURE]);
  for (const entry of manifest.files) {
    const body = Object.hasOwn(files, entry.path) ? files[entry.path] : undefined;
    if (body === undefined) throw new VerifyError('SP_VERIFY_BAD_SIGNATURE', `${entry.path} is missing`);
    if (body.length !== entry.size || createHash('sha256').update(body).digest('hex') !== entry.sha256) throw new VerifyError('SP_VERIFY_BAD_SIGNATURE', `${entry.path} does not match the signed manifest`);
    listed.add(entry.path);
  }
  const extra = Object.keys(files).filter((name) => !listed.has(name));
  if (extra.length > 0) throw new VerifyError('SP_VERIFY_BAD_SIGNATURE', `not in the signed manifest: ${extra.join(', ')}`);
  return manifest;
}
