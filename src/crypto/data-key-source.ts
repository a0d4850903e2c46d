/**
 * Where ciphers get their AES-256 data keys. Implemented by the envelope cipher
 * (record-cipher.ts), which creates, wraps, persists and caches them; consumed by the record
 * and blob encryption so that both share one key lifecycle.
 */
export interface DataKey {
  /** Stable id stored in every ciphertext header (ASCII, at most 64 bytes). */
  readonly id: string;
  /** 32 bytes of key material. Never logged, never persisted unwrapped. */
  readonly key: Buffer;
}

export interface DataKeySource {
  /**
   * The data key new ciphertexts of `owner` should use (a tenant id: one of that tenant's own
   * keys; `_system` or nothing: the deployment's); its wrapped form is already persisted.
   */
  currentDataKey(owner?: string): Promise<DataKey>;
  /** Unwraps (or returns from cache) the data key a stored ciphertext of `owner` names. */
  dataKeyById(id: string, owner?: string): Promise<DataKey>;
}
