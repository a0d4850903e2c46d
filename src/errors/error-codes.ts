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
  SP_ERR_BACKUP_NOT_CONFIGURED: { status: 500, title: 'Backups are not configured' },
  SP_ERR_BACKUP_NOT_FOUND: { status: 404, title: 'Snapshot not found' },
  SP_ERR_BACKUP_CORRUPTED: { status: 500, title: 'The snapshot is corrupted or incomplete' },
  SP_ERR_BACKUP_KEY_UNAVAILABLE: { status: 503, title: "The snapshot's data key cannot be unwrapped" },
  SP_ERR_BACKUP_TARGET_NOT_EMPTY: { status: 409, title: 'The restore target is not empty' },
  SP_ERR_BACKUP_ENVIRONMENT_REFUSED: { status: 403, title: 'Production data may not be restored here unscrubbed' },
  SP_ERR_BACKUP_TOO_LARGE: { status: 500, title: 'The database is too large to snapshot this way' },
  SP_ERR_BACKUP_TOOL_FAILED: { status: 500, title: 'A PostgreSQL client tool failed' },
  SP_ERR_KEYS_RECOVERY_INVALID: { status: 400, title: 'The recovery file or recovery key is invalid' },
  SP_ERR_DB_UNAVAILABLE: { status: 503, title: 'Database unavailable' },
  SP_ERR_HTTP_NOT_FOUND: { status: 404, title: 'Not found' },
  SP_ERR_HTTP_BAD_REQUEST: { status: 400, title: 'Bad request' },
  SP_ERR_HTTP_BODY_TOO_LARGE: { status: 413, title: 'Request body too large' },
  SP_ERR_HTTP_UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'Unsupported media type' },
  SP_ERR_HTTP_RATE_LIMITED: { status: 429, title: 'Too many requests' },
  SP_ERR_HTTP_HEADERS_TOO_LARGE: { status: 431, title: 'Request header fields too large' },
  SP_ERR_HTTP_REQUEST_TIMEOUT: { status: 408, title: 'Request timeout' },
  SP_ERR_HTTP_NOT_READY: { status: 503, title: 'Not ready' },
  SP_ERR_TLS_CERT_INVALID: { status: 500, title: 'TLS certificate or key is unreadable or invalid' },
  SP_ERR_TLS_KEY_MISMATCH: { status: 500, title: 'TLS private key does not match the certificate' },
  SP_ERR_TLS_SELF_SIGNED_FAILED: { status: 500, title: 'Self-signed TLS certificate could not be created' },
  SP_ERR_AUTH_UNAUTHENTICATED: { status: 401, title: 'Unauthenticated' },
  SP_ERR_AUTH_SCOPE_MISSING: { status: 403, title: 'API key lacks the required scope' },
  SP_ERR_AUTH_SCOPE_ESCALATION: { status: 403, title: 'API key cannot grant scopes it does not hold' },
  SP_ERR_AUTH_PLAN_REQUIRED: { status: 403, title: 'Not available on this plan' },
  SP_ERR_RESOURCE_NOT_FOUND: { status: 404, title: 'Resource not found' },
  SP_ERR_INGEST_INVALID_JSON: { status: 400, title: 'Invalid JSON' },
  SP_ERR_INGEST_NOT_UTF8: { status: 400, title: 'Body is not valid UTF-8' },
  SP_ERR_INGEST_JSON_UNREPRESENTABLE: { status: 400, title: 'JSON member cannot be signed exactly', smtp: { code: 550, enhanced: '5.6.0' } },
  SP_ERR_INGEST_TOO_DEEP: { status: 400, title: 'JSON nested too deeply' },
  SP_ERR_INGEST_MULTIPART_INVALID: { status: 400, title: 'Invalid multipart body' },
  SP_ERR_INGEST_ATTACHMENT_TOO_LARGE: { status: 413, title: 'Attachment too large' },
  SP_ERR_INGEST_IDEMPOTENCY_CONFLICT: { status: 409, title: 'Idempotency key reused with a different body' },
  SP_ERR_INGEST_FORWARDING_LOOP: { status: 400, title: 'Request was forwarded by Sealpost' },
  SP_ERR_INGEST_FANOUT_EXCEEDED: { status: 409, title: 'Payload matches too many destinations' },
  SP_ERR_SMTP_STARTTLS_REQUIRED: { status: 403, title: 'Must issue a STARTTLS command first', smtp: { code: 530, enhanced: '5.7.0' } },
  SP_ERR_SMTP_RECIPIENT_UNKNOWN: { status: 404, title: 'No such inbox', smtp: { code: 550, enhanced: '5.1.1' } },
  SP_ERR_SMTP_TOO_MANY_RECIPIENTS: { status: 400, title: 'Too many recipients', smtp: { code: 452, enhanced: '4.5.3' } },
  SP_ERR_SMTP_RECIPIENT_DEFERRED: { status: 409, title: 'Recipient needs a separate transaction', smtp: { code: 452, enhanced: '4.5.3' } },
  SP_ERR_SMTP_MESSAGE_TOO_LARGE: { status: 413, title: 'Message too large', smtp: { code: 552, enhanced: '5.3.4' } },
  SP_ERR_SMTP_MESSAGE_MALFORMED: { status: 400, title: 'Message could not be parsed', smtp: { code: 554, enhanced: '5.6.0' } },
  SP_ERR_SMTP_DMARC_REJECTED: { status: 403, title: 'Message failed DMARC', smtp: { code: 550, enhanced: '5.7.1' } },
  SP_ERR_SMTP_TOO_MANY_CONNECTIONS: { status: 429, title: 'Too many connections', smtp: { code: 421, enhanced: '4.7.0' } },
  SP_ERR_SMTP_RATE_LIMITED: { status: 429, title: 'Too many messages', smtp: { code: 421, enhanced: '4.7.0' } },
  SP_ERR_INBOX_LIMIT_REACHED: { status: 409, title: 'Inbox limit reached' },
  SP_ERR_DESTINATION_URL_INVALID: { status: 400, title: 'Destination URL not accepted' },
  SP_ERR_DESTINATION_ADDRESS_REFUSED: { status: 400, title: 'Destination address refused' },
  SP_ERR_DESTINATION_HEADER_INVALID: { status: 400, title: 'Destination header not accepted' },
  SP_ERR_DESTINATION_LOOP_REFUSED: { status: 400, title: "Destination is this deployment's own API" },
  SP_ERR_DESTINATION_LIMIT_REACHED: { status: 409, title: 'Destination limit reached' },
  SP_ERR_DELIVERY_REPLAY_RANGE_INVALID: { status: 400, title: 'Invalid replay time range' },
  SP_ERR_AUDIT_EVENT_INVALID: { status: 500, title: 'Audit event could not be recorded' },
  SP_ERR_AUDIT_TREE_SIZE_INVALID: { status: 400, title: 'Tree size or index out of range' },
  SP_ERR_AUDIT_LOG_INCONSISTENT: { status: 500, title: 'Audit log is inconsistent' },
  SP_ERR_SIGNING_KEY_UNAVAILABLE: { status: 503, title: 'Signing key unavailable' },
  SP_ERR_SIGNING_JWKS_UNREADABLE: { status: 400, title: 'JWKS could not be read' },
  SP_ERR_RECEIPT_INVALID: { status: 500, title: 'Receipt could not be issued' },
  SP_ERR_INTERNAL_ERROR: { status: 500, title: 'Internal error' },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERROR_CODES;
