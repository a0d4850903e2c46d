import { sign, type KeyObject } from 'node:crypto';
import {
  CHECKPOINT_SEQUENCE_EXTENSION,
  ed25519PublicKey,
  isNoteKeyName,
  isVerifyError,
  noteKeyId,
  parseVerifierKey as parseVerifierKeyText,
  rawEd25519PublicKey,
  verifyCheckpoint,
} from '@sealpost/verify';
import { HASH_BYTES } from './merkle-tree.js';

/**
 * Checkpoints: C2SP tlog-checkpoint bodies (origin, tree size, base64 root hash) signed as
 * C2SP signed notes with Ed25519 (https://c2sp.org/tlog-checkpoint, https://c2sp.org/signed-note).
 * Signing is here; reading and verifying is @sealpost/verify's, the same code customers run.
 */

/** Signature type byte of Ed25519 in C2SP signed-note. */
const ED25519_TYPE = 0x01;
/** "em dash, space": the start of every signature line. */
const SIGNATURE_LINE_START = '\u2014 ';

export interface NoteKey {
  readonly name: string;
  /** Raw 32-byte Ed25519 public key (RFC 8032). */
  readonly publicKey: Buffer;
}

export interface Checkpoint {
  readonly origin: string;
  readonly treeSize: number;
  readonly rootHash: Buffer;
  /** From the signed sequence extension line; absent on checkpoints signed before it existed. */
  readonly sequence?: CheckpointSequence;
}

/**
 * Where a checkpoint stands among all checkpoints the log issued: `seq` were issued before it,
 * the newest of them of `previousSize` events. Signed with the body as a C2SP tlog-checkpoint
 * extension line (verifiers that do not know it ignore it), so deleting any checkpoint but the
 * newest leaves a gap in the numbers that no one without the log key can close.
 */
export interface CheckpointSequence {
  readonly seq: number;
  readonly previousSize: number;
}

/** First word of the sequence extension line: `sealpost-seq <seq> <previous tree size>`. */
export const SEQUENCE_EXTENSION = CHECKPOINT_SEQUENCE_EXTENSION;

/** C2SP: key names are non-empty and hold no Unicode space, no plus sign and no control character. */
export const isValidKeyName = isNoteKeyName;
export { noteKeyId };

/** The C2SP verifier key string: `<name>+<hex key ID>+<base64(0x01 || public key)>`. */
export function verifierKey(key: NoteKey): string {
  return `${key.name}+${noteKeyId(key.name, key.publicKey).toString('hex')}+${Buffer.concat([Buffer.from([ED25519_TYPE]), key.publicKey]).toString('base64')}`;
}

/** Parses a verifier key string made by {@link verifierKey}; throws on anything else. */
export function parseVerifierKey(text: string): NoteKey {
  return parseVerifierKeyText(text);
}

export const rawPublicKey = rawEd25519PublicKey;
export const publicKeyObject = ed25519PublicKey;

export function checkpointBody(origin: string, treeSize: number, rootHash: Buffer, sequence?: CheckpointSequence): string {
  // eslint-disable-next-line no-control-regex -- C2SP forbids control characters; these patterns find them
  if (origin.length === 0 || /[\u0000-\u001f\u007f]/.test(origin)) throw new TypeError('a checkpoint origin is one non-empty line');
  if (!Number.isSafeInteger(treeSize) || treeSize < 0) throw new RangeError('tree size must be a non-negative integer');
  if (rootHash.length !== HASH_BYTES) throw new TypeError('a root hash is 32 bytes');
  const body = `${origin}\n${treeSize}\n${rootHash.toString('base64')}\n`;
  if (sequence === undefined) return body;
  if (!Number.isSafeInteger(sequence.seq) || sequence.seq < 0 || !Number.isSafeInteger(sequence.previousSize) || sequence.previousSize < 0 || sequence.previousSize > treeSize) {
    throw new RangeError('a checkpoint sequence is two non-negative integers, the previous size at most the tree size');
  }
  return `${body}${SEQUENCE_EXTENSION} ${sequence.seq} ${sequence.previousSize}\n`;
}

/** The signed note: the text, a blank line, one signature line by `key`. */
export function signNote(text: string, key: NoteKey, privateKey: KeyObject): string {
  if (!text.endsWith('\n')) throw new TypeError('note text must end in a newline');
  const signature = sign(null, Buffer.from(text, 'utf8'), privateKey);
  const blob = Buffer.concat([noteKeyId(key.name, key.publicKey), signature]).toString('base64');
  return `${text}\n${SIGNATURE_LINE_START}${key.name} ${blob}\n`;
}

/**
 * Verifies `note` was signed by `key` and parses its checkpoint body (@sealpost/verify's
 * verifyCheckpoint, the customers' rule). Throws an Error naming what failed; signatures by
 * other keys are ignored, as C2SP requires.
 */
export function openCheckpoint(note: string, key: NoteKey): Checkpoint {
  try {
    return verifyCheckpoint(note, { name: key.name, keyId: noteKeyId(key.name, key.publicKey), publicKey: key.publicKey });
  } catch (err) {
    if (!isVerifyError(err)) throw err;
    if (err.code === 'SP_VERIFY_UNKNOWN_KEY') throw new Error(`note is not signed by ${key.name}`);
    if (err.code === 'SP_VERIFY_BAD_SIGNATURE') throw new Error('signature does not verify');
    throw new Error(err.message);
  }
}
