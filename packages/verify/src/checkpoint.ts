import { createHash, verify } from 'node:crypto';
import { ed25519PublicKey } from './ed25519.js';
import { VerifyError } from './errors.js';

/** Signature type byte of Ed25519 in C2SP signed-note. */
const ED25519_TYPE = 0x01;
const SIGNATURE_LINE_START = '\u2014 ';
/** Notes above this size are refused unread; a checkpoint with a few signatures is well under 1 KiB. */
const MAX_NOTE_BYTES = 64 * 1024;

/**
 * An audit log public key, parsed from its C2SP verifier key string.
 *
 * @example
 * ```ts
 * import { parseVerifierKey, type LogVerifierKey } from '@sealpost/verify';
 * const key: LogVerifierKey = parseVerifierKey(pinnedKeyText);
 * console.log(key.name, key.keyId.toString('hex'));
 * ```
 */
export interface LogVerifierKey {
  /** Key name, also the name in the note's signature line (`sealpost.example.com/audit`). */
  readonly name: string;
  /** 4-byte key ID: SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)[:4]. */
  readonly keyId: Buffer;
  /** Raw 32-byte Ed25519 public key. */
  readonly publicKey: Buffer;
}

/**
 * What a verified checkpoint says: the log's identity, its size and its Merkle root.
 *
 * @example
 * ```ts
 * import type { VerifiedCheckpoint } from '@sealpost/verify';
 * const describe = (c: VerifiedCheckpoint): string => `${c.origin} @ ${c.treeSize}: ${c.rootHash.toString('base64')}`;
 * ```
 */
export interface VerifiedCheckpoint {
  /** First line of the checkpoint: the log's origin. */
  readonly origin: string;
  /** Number of events the tree holds. */
  readonly treeSize: number;
  /** RFC 9162 Merkle tree head, 32 bytes. */
  readonly rootHash: Buffer;
  /**
   * Where this checkpoint stands among all the log issued, from its signed `sealpost-seq`
   * extension line: `seq` checkpoints came before it, the newest of them of `previousSize`
   * events. Absent on checkpoints signed before Sealpost numbered them. Of two checkpoints you
   * hold, one numbered right after the other must name the other's size as `previousSize`.
   *
   * @example
   * ```ts
   * import type { VerifiedCheckpoint } from '@sealpost/verify';
   * const follows = (next: VerifiedCheckpoint, prev: VerifiedCheckpoint): boolean =>
   *   next.sequence?.seq === (prev.sequence?.seq ?? -2) + 1 && next.sequence?.previousSize === prev.treeSize;
   * ```
   */
  readonly sequence?: { readonly seq: number; readonly previousSize: number };
}

/**
 * First word of Sealpost's checkpoint numbering extension line: `sealpost-seq <seq> <previous tree size>`.
 *
 * @example
 * ```ts
 * import { CHECKPOINT_SEQUENCE_EXTENSION } from '@sealpost/verify';
 * const line = `${CHECKPOINT_SEQUENCE_EXTENSION} 7 1024`;
 * ```
 */
export const CHECKPOINT_SEQUENCE_EXTENSION = 'sealpost-seq';
const SEQUENCE_EXTENSION = CHECKPOINT_SEQUENCE_EXTENSION;
const DECIMAL = /^(0|[1-9][0-9]{0,15})$/;

function malformed(message: string): VerifyError {
  return new VerifyError('SP_VERIFY_MALFORMED_INPUT', message);
}

/** Strict base64 (RFC 4648 §4): only the canonical encoding of some bytes is accepted. */
function decodeBase64(text: string): Buffer | undefined {
  if (text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64') === text ? bytes : undefined;
}

/**
 * Whether `name` may name a C2SP signed-note key: non-empty, no Unicode space, no plus sign,
 * no control character.
 *
 * @example
 * ```ts
 * import { isNoteKeyName } from '@sealpost/verify';
 * isNoteKeyName('sealpost.example.com/audit'); // true
 * isNoteKeyName('two words'); // false
 * ```
 */
export function isNoteKeyName(name: string): boolean {
  // eslint-disable-next-line no-control-regex -- C2SP forbids control characters; these patterns find them
  return name.length > 0 && !/[\s+\u0000-\u001f\u007f]/u.test(name);
}

/**
 * The C2SP signed-note key ID of an Ed25519 key: SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)[:4].
 *
 * @example
 * ```ts
 * import { noteKeyId } from '@sealpost/verify';
 * const id = noteKeyId('sealpost.example.com/audit', raw32).toString('hex'); // 8 hex digits
 * ```
 */
export function noteKeyId(name: string, publicKey: Uint8Array): Buffer {
  return createHash('sha256')
    .update(Buffer.from(name, 'utf8'))
    .update(Uint8Array.of(0x0a, ED25519_TYPE))
    .update(publicKey)
    .digest()
    .subarray(0, 4);
}

/**
 * Parses a C2SP verifier key, the text served at `/.well-known/sealpost-log-key`:
 * `<name>+<8 hex digits key ID>+<base64(0x01 ‖ 32-byte Ed25519 public key)>`. Surrounding
 * white space is ignored. Throws {@link VerifyError} `SP_VERIFY_MALFORMED_INPUT` when the text
 * is not such a key or its key ID does not match the key.
 *
 * Fetch it once and pin it (in configuration, or next to your archive of checkpoints): a key
 * fetched together with the checkpoint it checks proves nothing.
 *
 * @example
 * ```ts
 * import { parseVerifierKey } from '@sealpost/verify';
 * const key = parseVerifierKey('sealpost.local/audit+1a2b3c4d+AXB1YmxpYy1rZXktYnl0ZXMtLi4u…');
 * ```
 */
export function parseVerifierKey(text: string): LogVerifierKey {
  if (typeof text !== 'string') throw malformed('verifier key must be a string');
  // The key's base64 may itself hold '+': only the first two separate fields (as in Go's golang.org/x/mod/sumdb/note).
  const [name, hexId, ...rest] = text.trim().split('+');
  const encoded = rest.length > 0 ? rest.join('+') : undefined;
  if (name === undefined || !isNoteKeyName(name) || hexId === undefined || !/^[0-9a-f]{8}$/.test(hexId) || encoded === undefined) {
    throw malformed('verifier key is not <name>+<key ID>+<key>');
  }
  const bytes = decodeBase64(encoded);
  if (!bytes || bytes.length !== 33 || bytes[0] !== ED25519_TYPE) throw malformed('verifier key is not an Ed25519 key');
  const publicKey = bytes.subarray(1);
  const keyId = noteKeyId(name, publicKey);
  if (keyId.toString('hex') !== hexId) throw malformed('verifier key ID does not match its key');
  return { name, keyId, publicKey };
}

/**
 * Parses a C2SP tlog-checkpoint body (the signed text of the note, ending in a newline) without
 * checking any signature: origin, tree size, root hash, the `sealpost-seq` line if present.
 * Extension lines Sealpost does not know are ignored; empty ones are refused. Use
 * {@link verifyCheckpoint} for anything you did not sign yourself.
 *
 * @example
 * ```ts
 * import { parseCheckpointBody } from '@sealpost/verify';
 * const { treeSize } = parseCheckpointBody('sealpost.local/audit\n3\n' + root.toString('base64') + '\n');
 * ```
 */
export function parseCheckpointBody(text: string): VerifiedCheckpoint {
  if (!text.endsWith('\n')) throw malformed('checkpoint body must end in a newline');
  // origin, size, root, optional extension lines; the text ends in a newline.
  const lines = text.slice(0, -1).split('\n');
  const [origin, size, root] = lines;
  if (origin === undefined || origin === '' || size === undefined || root === undefined) throw malformed('checkpoint needs origin, tree size and root hash lines');
  if (lines.slice(3).some((line) => line === '')) throw malformed('checkpoint extension lines must not be empty');
  if (!/^(0|[1-9][0-9]{0,15})$/.test(size) || !Number.isSafeInteger(Number(size))) throw malformed('checkpoint tree size is not a decimal integer');
  const rootHash = decodeBase64(root);
  if (!rootHash || rootHash.length !== 32) throw malformed('checkpoint root hash is not 32 bytes of base64');
  const checkpoint = { origin, treeSize: Number(size), rootHash };
  const numbering = lines.slice(3).filter((line) => line.split(' ')[0] === SEQUENCE_EXTENSION);
  if (numbering.length === 0) return checkpoint;
  const [, seq, previous, ...rest] = (numbering.length === 1 ? (numbering[0] as string) : '').split(' ');
  if (seq === undefined || previous === undefined || rest.length > 0 || !DECIMAL.test(seq) || !DECIMAL.test(previous) || Number(previous) > checkpoint.treeSize) {
    throw malformed('checkpoint sequence line is not "sealpost-seq <n> <previous tree size>"');
  }
  return { ...checkpoint, sequence: { seq: Number(seq), previousSize: Number(previous) } };
}

/**
 * Verifies a Sealpost audit checkpoint: a C2SP `tlog-checkpoint` body (origin, tree size,
 * base64 root hash) in a C2SP `signed-note` signed with Ed25519 by the log key. Returns what it
 * says; throws {@link VerifyError} otherwise:
 * - `SP_VERIFY_MALFORMED_INPUT`: not a signed note, or not a checkpoint, or (with
 *   `options.origin`) a checkpoint of another log;
 * - `SP_VERIFY_UNKNOWN_KEY`: no signature line by this key (signatures by other keys, such as
 *   witnesses, are ignored, as C2SP requires);
 * - `SP_VERIFY_BAD_SIGNATURE`: this key's signature does not verify.
 *
 * @example
 * ```ts
 * import { parseVerifierKey, verifyCheckpoint } from '@sealpost/verify';
 * const key = parseVerifierKey(pinnedLogKey);
 * const { treeSize, rootHash } = verifyCheckpoint(answer.checkpoint, key, { origin: 'sealpost.example.com/audit' });
 * ```
 */
export function verifyCheckpoint(note: string, verifierKey: LogVerifierKey | string, options: { origin?: string } = {}): VerifiedCheckpoint {
  const key = typeof verifierKey === 'string' ? parseVerifierKey(verifierKey) : verifierKey;
  if (typeof note !== 'string') throw malformed('checkpoint must be a string');
  if (Buffer.byteLength(note, 'utf8') > MAX_NOTE_BYTES) throw malformed('checkpoint note is too large');
  // C2SP: no control characters other than newline.
  // eslint-disable-next-line no-control-regex -- C2SP forbids control characters; these patterns find them
  if (/[\u0000-\u0009\u000b-\u001f\u007f]/.test(note)) throw malformed('checkpoint note holds control characters');
  const split = note.lastIndexOf('\n\n');
  if (split < 0 || !note.endsWith('\n')) throw malformed('checkpoint note has no signature lines');
  const text = note.slice(0, split + 1);
  let verified = false;
  for (const line of note.slice(split + 2, -1).split('\n')) {
    if (!line.startsWith(SIGNATURE_LINE_START)) throw malformed('malformed signature line');
    const fields = line.slice(SIGNATURE_LINE_START.length).split(' ');
    const [name, encoded] = fields;
    const bytes = encoded === undefined ? undefined : decodeBase64(encoded);
    if (fields.length !== 2 || name === undefined || !isNoteKeyName(name) || !bytes || bytes.length < 5) throw malformed('malformed signature line');
    // Another key (even one sharing our name or our ID, but not both): not ours to judge.
    if (name !== key.name || !bytes.subarray(0, 4).equals(key.keyId)) continue;
    if (bytes.length !== 4 + 64 || !verify(null, Buffer.from(text, 'utf8'), ed25519PublicKey(key.publicKey), bytes.subarray(4))) {
      throw new VerifyError('SP_VERIFY_BAD_SIGNATURE', 'checkpoint signature does not verify');
    }
    verified = true;
  }
  if (!verified) throw new VerifyError('SP_VERIFY_UNKNOWN_KEY', 'checkpoint is not signed by this log key');
  const checkpoint = parseCheckpointBody(text);
  if (options.origin !== undefined && checkpoint.origin !== options.origin) throw malformed('checkpoint is from another log');
  return checkpoint;
}
