import type { EmailAddressView, ParsedEmail } from './email.parser.js';
import type { RawMessageRef } from './raw-message.js';

/** How an attachment sat in the message; same order and ids as the envelope's `attachments`. */
export interface AttachmentInfo {
  readonly id: string;
  readonly disposition: 'inline' | 'attachment';
  /** For `cid:` links in `html`; null when the part has no Content-ID. */
  readonly content_id: string | null;
}

/** One accepted RCPT TO. The plus-tag of `<token>+<tag>@<domain>` is kept here, as written. */
export interface SmtpRecipient {
  readonly address: string;
  readonly inbox_id: string;
  readonly tag: string | null;
}

/**
 * The envelope's `data` of an `email.received` payload (a wire format, DESIGN §4): the fields
 * users of Postmark, Mailgun or SendGrid inbound parse know, plus what only the relay has.
 * Attachments themselves are the envelope's `attachments` (inline images and forwarded
 * `message/rfc822` parts included); `attachment_info` adds how each sat in the message.
 */
export interface EmailData {
  readonly from: EmailAddressView | null;
  readonly to: readonly EmailAddressView[];
  readonly cc: readonly EmailAddressView[];
  readonly reply_to: readonly EmailAddressView[];
  readonly subject: string | null;
  /** The Date header as ISO 8601; null when missing or unreadable. */
  readonly date: string | null;
  readonly message_id: string | null;
  readonly in_reply_to: string | null;
  readonly references: readonly string[];
  readonly text: string | null;
  readonly html: string | null;
  /** `text`/`html` cut at SEALPOST_MAX_BODY_BYTES characters; the raw message keeps everything. */
  readonly truncated: readonly string[];
  /** Top-level headers in order, unfolded, values not MIME-decoded. */
  readonly headers: readonly { readonly name: string; readonly value: string }[];
  readonly attachment_info: readonly AttachmentInfo[];
  /** The message as received; `GET /v1/payloads/:id/raw` serves it. */
  readonly raw_message: RawMessageRef;
  readonly smtp: {
    /** MAIL FROM; empty for the null sender (bounces). */
    readonly mail_from: string;
    readonly helo: string;
    readonly recipients: readonly SmtpRecipient[];
  };
}

export function emailData(
  email: ParsedEmail,
  smtp: EmailData['smtp'],
  raw: RawMessageRef,
  attachmentInfo: readonly AttachmentInfo[],
): EmailData {
  return {
    from: email.from,
    to: email.to,
    cc: email.cc,
    reply_to: email.replyTo,
    subject: email.subject,
    date: email.date,
    message_id: email.messageId,
    in_reply_to: email.inReplyTo,
    references: email.references,
    text: email.text,
    html: email.html,
    truncated: email.truncated,
    headers: email.headers,
    attachment_info: attachmentInfo,
    raw_message: raw,
    smtp,
  };
}
