import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { MimeParseError, parseEmail, type AttachmentPart } from './email.parser.js';

async function parse(raw: string, maxTextChars = 1_000_000) {
  const parts: (Omit<AttachmentPart, 'content'> & { content: string })[] = [];
  const email = await parseEmail(Readable.from([Buffer.from(raw, 'utf8')]), {
    maxTextChars,
    async storeAttachment(part) {
      const chunks: Buffer[] = [];
      for await (const chunk of part.content) chunks.push(chunk as Buffer);
      parts.push({ ...part, content: Buffer.concat(chunks).toString('utf8') });
    },
  });
  return { email, parts };
}

const crlf = (...lines: string[]): string => lines.join('\r\n');

describe('parseEmail', () => {
  it('reads addresses (groups flattened), dates, ids and headers in order', async () => {
    const { email } = await parse(
      crlf(
        'From: "ACME, Billing" <billing@vendor.example>',
        'To: Team: a@x.example, b@x.example;, c@x.example',
        'Reply-To: <r@vendor.example>',
        'Subject: =?utf-8?Q?Gr=C3=BC=C3=9Fe?=',
        'Date: not a date',
        'Message-ID: <m1@vendor.example>',
        'References: <a@x> <b@x>',
        'X-Folded: one',
        '  two',
        '',
        'body',
      ),
    );
    expect(email).toMatchObject({
      from: { name: 'ACME, Billing', address: 'billing@vendor.example' },
      to: [{ address: 'a@x.example' }, { address: 'b@x.example' }, { address: 'c@x.example' }],
      replyTo: [{ name: '', address: 'r@vendor.example' }],
      subject: 'Grüße',
      date: null,
      messageId: '<m1@vendor.example>',
      references: ['<a@x>', '<b@x>'],
      text: 'body',
      html: null,
    });
    expect(email.headers.map((h) => h.name)).toEqual(['From', 'To', 'Reply-To', 'Subject', 'Date', 'Message-ID', 'References', 'X-Folded']);
    expect(email.headers.at(-1)).toEqual({ name: 'X-Folded', value: 'one  two' });
  });

  it('hands attachments over in order with safe file names and content ids', async () => {
    const { parts } = await parse(
      crlf(
        'Content-Type: multipart/mixed; boundary="b"',
        '',
        '--b',
        'Content-Type: text/plain',
        '',
        'hello',
        '--b',
        'Content-Type: image/png',
        'Content-Disposition: inline',
        'Content-ID: <logo@x>',
        '',
        'PNG',
        '--b',
        'Content-Type: application/pdf',
        'Content-Disposition: attachment; filename="../../etc/passwd"',
        '',
        'PDF',
        '--b--',
        '',
      ),
    );
    expect(parts).toEqual([
      { filename: 'attachment', contentType: 'image/png', disposition: 'inline', contentId: 'logo@x', content: 'PNG' },
      { filename: '.._.._etc_passwd', contentType: 'application/pdf', disposition: 'attachment', contentId: null, content: 'PDF' },
    ]);
  });

  it('cuts text and html at the limit and says so', async () => {
    const { email } = await parse(crlf('Content-Type: text/plain', '', 'x'.repeat(50)), 10);
    expect(email.text).toBe('x'.repeat(10));
    expect(email.truncated).toEqual(['text']);
  });

  it('rejects structure beyond its limits with a MimeParseError', async () => {
    await expect(parse(crlf('Subject: big', `X-Pad: ${'a'.repeat(300 * 1024)}`, '', 'x'))).rejects.toBeInstanceOf(MimeParseError);
  });

  it('rejects with the store error, after every started store has settled', async () => {
    const failure = new Error('disk full');
    const raw = crlf('Content-Type: multipart/mixed; boundary="b"', '', '--b', 'Content-Type: application/pdf', '', 'PDF', '--b--', '');
    await expect(
      parseEmail(Readable.from([Buffer.from(raw)]), {
        maxTextChars: 100,
        async storeAttachment(part) {
          part.content.resume();
          throw failure;
        },
      }),
    ).rejects.toBe(failure);
  });
});
