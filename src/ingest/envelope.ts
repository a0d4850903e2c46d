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
  | { readonly channel: 'smtp'; readonly remote_ip: string; readonly tls: string; readonly auth: Record<string, string> };

export interface Envelope {
  readonly id: string;
  readonly type: 'payload.received' | 'email.received';
  readonly tenant: string;
  readonly received_at: string;
  readonly source: EnvelopeSource;
  readonly data: Record<string, unknown>;
  readonly attachments: readonly AttachmentRef[];
}
