/**
 * The catalogue of every error Sealpost reports. A code is never reused once retired:
 * customers match on it. `docs/errors.md` documents each one (a test keeps the two in step).
 *
 * `smtp` is the reply code and RFC 3463 enhanced status used when the error ends an SMTP
 * transaction; absent means the SMTP mapper answers `451 4.3.0` (a local, retryable error).
 */
export interface ErrorSpec {
  readonly status: number;
  readonly title: string;
  readonly smtp?: { readonly code: number; readonly enhanced: string };
}

export const ERROR_CODES = {
  SP_ERR_CONFIG_INVALID: { status: 500, title: 'Invalid configuration' },
  SP_ERR_CRYPTO_DECRYPT_FAILED: { status: 500, title: 'Stored data could not be decrypted' },
  SP_ERR_CRYPTO_KEY_UNAVAILABLE: { status: 503, title: 'Encryption key unavailable' },
  SP_ERR_CRYPTO_KEYRING_INVALID: { status: 500, title: 'Local keyring is unreadable or unsafe' },
  SP_ERR_STORAGE_BLOB_NOT_FOUND: { status: 404, title: 'Blob not found' },
  SP_ERR_STORAGE_BLOB_KEY_INVALID: { status: 400, title: 'Invalid blob key' },
  SP_ERR_STORAGE_UNAVAILABLE: { status: 503, title: 'Blob storage unavailable' },
  SP_ERR_DB_UNAVAILABLE: { status: 503, title: 'Database unavailable' },
  SP_ERR_HTTP_NOT_FOUND: { status: 404, title: 'Not found' },
  SP_ERR_HTTP_BAD_REQUEST: { status: 400, title: 'Bad request' },
  SP_ERR_HTTP_BODY_TOO_LARGE: { status: 413, title: 'Request body too large' },
  SP_ERR_HTTP_UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'Unsupported media type' },
  SP_ERR_HTTP_RATE_LIMITED: { status: 429, title: 'Too many requests' },
  SP_ERR_HTTP_NOT_READY: { status: 503, title: 'Not ready' },
  SP_ERR_TLS_CERT_INVALID: { status: 500, title: 'TLS certificate or key is unreadable or invalid' },
  SP_ERR_TLS_KEY_MISMATCH: { status: 500, title: 'TLS private key does not match the certificate' },
  SP_ERR_TLS_SELF_SIGNED_FAILED: { status: 500, title: 'Self-signed TLS certificate could not be created' },
  SP_ERR_INTERNAL_ERROR: { status: 500, title: 'Internal error' },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERROR_CODES;
