/** The forwarded document (DESIGN §4). Its RFC 8785 canonical form is what is stored, signed and sent. */
export interface AttachmentRef {
  readonly id: string;
  readonly filename: string;
  readonly content_type: string;
  readonly size: number;
  readonly sha256: string;
  readonly url: string;
}

export type EnvelopeSource =
  | { readonly channel: 'https'; readonly api_key: string }
  | { readonly channel: 'smtp'; readonly remote_ip: string; readonly tls: string; readonly auth: Record<string, string> }
  /** Written by Sealpost itself into the deployment tenant (status notices, src/status/subscriptions/). */
  | { readonly channel: 'system'; readonly origin: 'status-page' };

export interface Envelope {
  readonly id: string;
  /** `status.notice`: a status page update, only ever in the deployment tenant. */
  readonly type: 'payload.received' | 'email.received' | 'status.notice';
  readonly tenant: string;
  readonly received_at: string;
  readonly source: EnvelopeSource;
  readonly data: Record<string, unknown>;
  readonly attachments: readonly AttachmentRef[];
}
