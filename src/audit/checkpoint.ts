import { createHash, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { HASH_BYTES } from './merkle-tree.js';

/**
 * Checkpoints: C2SP tlog-checkpoint bodies (origin, tree size, base64 root hash) signed as
 * C2SP signed notes with Ed25519 (https://c2sp.org/tlog-checkpoint, https://c2sp.org/signed-note).
 */

/** Signature type byte of Ed25519 in C2SP signed-note. */
const ED25519_TYPE = 0x01;
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
/** "em dash, space": the start of every signature line. */
const SIGNATURE_LINE_START = '\u2014 ';
/** A note longer than this is refused unread (C2SP asks verifiers for a limit). */
const MAX_NOTE_BYTES = 64 * 1024;

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
export const SEQUENCE_EXTENSION = 'sealpost-seq';

/** C2SP: key names are non-empty and hold no Unicode space and no plus sign. */
export function isValidKeyName(name: string): boolean {
  // eslint-disable-next-line no-control-regex -- C2SP forbids control characters; these patterns find them
  return name.length > 0 && !/[\s+\u0000-\u001f]/u.test(name);
}

/** key ID = SHA-256(key name || 0x0A || 0x01 || 32-byte public key)[:4]. */
export function noteKeyId(name: string, publicKey: Buffer): Buffer {
  return createHash('sha256')
    .update(Buffer.from(name, 'utf8'))
    .update(Buffer.from([0x0a, ED25519_TYPE]))
    .update(publicKey)
    .digest()
    .subarray(0, 4);
}

/** The C2SP verifier key string: `<name>+<hex key ID>+<base64(0x01 || public key)>`. */
export function verifierKey(key: NoteKey): string {
  return `${key.name}+${noteKeyId(key.name, key.publicKey).toString('hex')}+${Buffer.concat([Buffer.from([ED25519_TYPE]), key.publicKey]).toString('base64')}`;
}

/** Parses a verifier key string made by {@link verifierKey}; throws on anything else. */
export function parseVerifierKey(text: string): NoteKey {
  // The key's base64 may itself hold '+': only the first two separate fields (as in Go's golang.org/x/mod/sumdb/note).
  const [name, hexId, ...rest] = text.trim().split('+');
  const encoded = rest.length > 0 ? rest.join('+') : undefined;
  const bytes = encoded === undefined ? undefined : decodeBase64(encoded);
  if (name === undefined || !isValidKeyName(name) || hexId === undefined || !/^[0-9a-f]{8}$/.test(hexId)) {
    throw new Error('malformed verifier key');
  }
  if (!bytes || bytes.length !== 33 || bytes[0] !== ED25519_TYPE) throw new Error('verifier key is not an Ed25519 key');
  const key = { name, publicKey: bytes.subarray(1) };
  if (noteKeyId(name, key.publicKey).toString('hex') !== hexId) throw new Error('verifier key ID does not match its key');
  return key;
}

export function rawPublicKey(key: KeyObject): Buffer {
  const spki = key.export({ type: 'spki', format: 'der' });
  return spki.subarray(spki.length - 32);
}

export function publicKeyObject(raw: Buffer): KeyObject {
  return createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
}

export function checkpointBody(origin: string, treeSize: number, rootHash: Buffer, sequence?: CheckpointSequence): string {
  // eslint-disable-next-line no-control-regex -- C2SP forbids control characters; these patterns find them
  if (origin.length === 0 || /[\u0000-\u001f]/.test(origin)) throw new TypeError('a checkpoint origin is one non-empty line');
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

/** Strict base64: only the canonical encoding of some bytes (no stray padding bits). */
function decodeBase64(text: string): Buffer | undefined {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) return undefined;
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64') === text ? bytes : undefined;
}

/**
 * Verifies `note` was signed by `key` and parses its checkpoint body. Throws an Error naming
 * what failed; signatures by other keys are ignored, as C2SP requires.
 */
export function openCheckpoint(note: string, key: NoteKey): Checkpoint {
  if (Buffer.byteLength(note, 'utf8') > MAX_NOTE_BYTES) throw new Error('note is too large');
  // eslint-disable-next-line no-control-regex -- C2SP forbids control characters; these patterns find them
  if (/[\u0000-\u0009\u000b-\u001f]/.test(note)) throw new Error('note holds control characters');
  const split = note.lastIndexOf('\n\n');
  if (split < 0 || !note.endsWith('\n')) throw new Error('note has no signature block');
  const text = note.slice(0, split + 1);
  const signatureLines = note.slice(split + 2, -1).split('\n');
  const keyId = noteKeyId(key.name, key.publicKey);
  let verified = false;
  for (const line of signatureLines) {
    if (!line.startsWith(SIGNATURE_LINE_START)) throw new Error('malformed signature line');
    const [name, blob, ...rest] = line.slice(SIGNATURE_LINE_START.length).split(' ');
    const bytes = blob === undefined ? undefined : decodeBase64(blob);
    if (rest.length > 0 || name === undefined || !isValidKeyName(name) || !bytes || bytes.length < 5) throw new Error('malformed signature line');
    if (name !== key.name || !bytes.subarray(0, 4).equals(keyId)) continue;
    if (!verify(null, Buffer.from(text, 'utf8'), publicKeyObject(key.publicKey), bytes.subarray(4))) throw new Error('signature does not verify');
    verified = true;
  }
  if (!verified) throw new Error(`note is not signed by ${key.name}`);
  return parseCheckpointBody(text);
}

const DECIMAL = /^(0|[1-9][0-9]{0,15})$/;

/** Origin, size, root and sequence of a checkpoint body; other extension lines are allowed and ignored. */
export function parseCheckpointBody(text: string): Checkpoint {
  const lines = text.split('\n');
  const [origin, size, root, ...extensions] = lines;
  if (lines.length < 4 || origin === undefined || origin === '' || size === undefined || root === undefined) throw new Error('malformed checkpoint');
  if (!DECIMAL.test(size) || !Number.isSafeInteger(Number(size))) throw new Error('malformed checkpoint tree size');
  const rootHash = decodeBase64(root);
  if (!rootHash || rootHash.length !== HASH_BYTES) throw new Error('malformed checkpoint root hash');
  const checkpoint = { origin, treeSize: Number(size), rootHash };
  const sequenceLines = extensions.filter((line) => line.split(' ')[0] === SEQUENCE_EXTENSION);
  if (sequenceLines.length === 0) return checkpoint;
  const [, seq, previous, ...rest] = (sequenceLines.length === 1 ? sequenceLines[0] : '')!.split(' ');
  if (seq === undefined || previous === undefined || rest.length > 0 || !DECIMAL.test(seq) || !DECIMAL.test(previous) || Number(previous) > checkpoint.treeSize) {
    throw new Error('malformed checkpoint sequence line');
  }
  return { ...checkpoint, sequence: { seq: Number(seq), previousSize: Number(previous) } };
}
