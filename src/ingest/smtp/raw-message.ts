/** Id of a stored raw message (`eml_<ULID>`); recorded in the payload as `data.raw_message.id`. */
export const RAW_MESSAGE_ID_PATTERN = /^eml_[0-9A-HJKMNP-TV-Z]{26}$/;

/** What `data.raw_message` of an `email.received` payload holds. */
export interface RawMessageRef {
  readonly id: string;
  readonly size: number;
  readonly sha256: string;
}

export function rawMessageBlobKey(tenantId: string, rawId: string): string {
  return `raw/${tenantId.toLowerCase()}/${rawId.toLowerCase()}`;
}

/** Binds the ciphertext to tenant and message: the blob decrypts under no other payload. */
export function rawMessageBlobContext(tenantId: string, rawId: string): string {
  return JSON.stringify([tenantId, 'raw', rawId]);
}

/** The raw message reference of a decoded envelope, if it is an e-mail that has one. */
export function rawMessageRefOf(envelope: { type: string; data: Record<string, unknown> }): RawMessageRef | undefined {
  if (envelope.type !== 'email.received') return undefined;
  const ref = envelope.data.raw_message as Partial<RawMessageRef> | null | undefined;
  if (!ref || typeof ref.id !== 'string' || !RAW_MESSAGE_ID_PATTERN.test(ref.id)) return undefined;
  if (typeof ref.size !== 'number' || typeof ref.sha256 !== 'string') return undefined;
  return { id: ref.id, size: ref.size, sha256: ref.sha256 };
}
