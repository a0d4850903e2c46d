import { createHash } from 'node:crypto';
import type Mail from 'nodemailer/lib/mailer/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDialects } from '../../support/test-database.js';
import { blobKeys, compose, expectedBlobKeys, RawSmtpClient, startSmtpHarness, type EmailEnvelope, type SmtpHarness, type SmtpReply } from './smtp-test-support.js';

/** Replies a refusal of hostile input may get; 451 (an internal failure) is never one of them. */
const CLEAN_REPLIES = [250, 552, 554];

function lines(...parts: string[]): Buffer {
  return Buffer.from(parts.join('\r\n'), 'utf8');
}

function head(to: string, extra: string[] = []): string[] {
  return ['From: billing@vendor.example', `To: ${to}`, 'Subject: robustness', 'Message-ID: <r@vendor.example>', 'MIME-Version: 1.0', ...extra];
}

function manyParts(to: string, count: number): Buffer {
  const parts = [...head(to, ['Content-Type: multipart/mixed; boundary="b"']), ''];
  for (let i = 0; i < count; i++) parts.push('--b', 'Content-Type: application/octet-stream', `Content-Disposition: attachment; filename="p${i}.bin"`, '', `part ${i}`);
  parts.push('--b--', '');
  return lines(...parts);
}

function nested(to: string, depth: number): Buffer {
  const parts = [...head(to, ['Content-Type: multipart/mixed; boundary="n0"']), ''];
  for (let i = 1; i <= depth; i++) parts.push(`--n${i - 1}`, `Content-Type: multipart/mixed; boundary="n${i}"`, '');
  parts.push(`--n${depth}`, 'Content-Type: text/plain', '', 'deep inside');
  for (let i = depth; i >= 0; i--) parts.push(`--n${i}--`);
  parts.push('');
  return lines(...parts);
}

/** Mulberry32: a small seeded PRNG, so a failing fuzz case can be replayed from its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `length` bytes drawn from `random`, so that they too are the same on every run. */
function bytesFrom(random: () => number, length: number): Buffer {
  return Buffer.from(Array.from({ length }, () => Math.floor(random() * 256)));
}

/** What nodemailer would otherwise make up afresh each time: Message-ID, Date, MIME boundaries. */
const FIXED_MAIL = { messageId: '<fuzz@vendor.example>', date: new Date('2026-01-05T10:00:00Z'), baseBoundary: 'fuzz' } as Mail.Options;

const TOKENS = [
  '\r\n\r\n',
  '--b\r\n',
  '--b--\r\n',
  'Content-Type: multipart/mixed; boundary="b"\r\n',
  'Content-Type: message/rfc822\r\n',
  'Content-Transfer-Encoding: base64\r\n',
  'Content-Transfer-Encoding: quoted-printable\r\n',
  '=?utf-8?B?w7bDpMO8?=',
  '=?x-unknown?Q?=FF=FE?=',
  'charset="utf-7"',
  '=\r\n',
  '=ZZ',
  '\u00ff\u00fe\u0000',
  'Content-Disposition: attachment; filename*=utf-8\'\'%E2%82%AC.pdf\r\n',
];

function mutate(seed: Buffer, random: () => number): Buffer {
  let data = Buffer.from(seed);
  const steps = 1 + Math.floor(random() * 5);
  for (let i = 0; i < steps; i++) {
    const at = Math.floor(random() * (data.length + 1));
    const choice = random();
    if (choice < 0.25 && data.length > 0) {
      data[Math.min(at, data.length - 1)] = Math.floor(random() * 256);
    } else if (choice < 0.45) {
      data = Buffer.concat([data.subarray(0, at), bytesFrom(random, 1 + Math.floor(random() * 64)), data.subarray(at)]);
    } else if (choice < 0.6) {
      data = Buffer.concat([data.subarray(0, at), data.subarray(Math.min(data.length, at + Math.floor(random() * 200)))]);
    } else if (choice < 0.7) {
      const length = Math.floor(random() * 500);
      data = Buffer.concat([data.subarray(0, at), data.subarray(at, at + length), data.subarray(at)]);
    } else if (choice < 0.95) {
      data = Buffer.concat([data.subarray(0, at), Buffer.from(TOKENS[Math.floor(random() * TOKENS.length)]!, 'latin1'), data.subarray(at)]);
    } else {
      data = data.subarray(0, at);
    }
  }
  return data;
}

describe.each(testDialects())('SMTP robustness on %s', (dialect) => {
  let h: SmtpHarness;
  let tenant: { tenant: string; apiKey: string };
  let inbox: { address: string };

  beforeAll(async () => {
    h = await startSmtpHarness(dialect, { limits: { messagesPerMinutePerIp: 1_000_000 } });
    tenant = await h.app.createTenant();
    inbox = await h.createInbox(tenant.apiKey);
  });
  afterAll(async () => {
    await h?.close();
  });

  async function deliver(message: Buffer): Promise<SmtpReply> {
    const client = await RawSmtpClient.secure(h.smtp.port, h.ca);
    const reply = await client.send('billing@vendor.example', [inbox.address], message);
    await client.quit();
    return reply;
  }

  const dataOf = (reply: SmtpReply): Promise<EmailEnvelope> => h.envelope(tenant.apiKey, reply.text);

  const malformed: [string, () => Buffer][] = [
    ['multipart without a boundary', () => lines(...head(inbox.address, ['Content-Type: multipart/mixed']), '', '--x', 'Content-Type: text/plain', '', 'hi', '--x--', '')],
    ['a boundary that never closes', () => lines(...head(inbox.address, ['Content-Type: multipart/mixed; boundary="b"']), '', '--b', 'Content-Type: application/pdf', 'Content-Transfer-Encoding: base64', '', 'JVBERi0xLjQK')],
    ['invalid base64 and quoted-printable', () => lines(...head(inbox.address, ['Content-Type: multipart/mixed; boundary="b"']), '', '--b', 'Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: quoted-printable', '', '=ZZ=4 =\u00ff', '--b', 'Content-Type: application/pdf', 'Content-Transfer-Encoding: base64', '', '!!!not*base64$$$', '--b--', '')],
    ['unknown charsets and broken encoded words', () => lines(...head(inbox.address, ['Content-Type: text/plain; charset=x-no-such-charset']).map((l) => (l.startsWith('Subject') ? 'Subject: =?x-unknown?B?!!!?= =?utf-8?Q?=FF?=' : l)), '', 'body')],
    ['NUL bytes and a 1 MB line without a break', () => lines(...head(inbox.address), '', 'a\u0000b', 'x'.repeat(1024 * 1024))],
    ['an empty message', () => Buffer.alloc(0)],
    ['headers only, no body separator', () => lines(...head(inbox.address))],
  ];

  it.each(malformed)('accepts or refuses cleanly: %s', async (_name, build) => {
    const reply = await deliver(build());
    expect(CLEAN_REPLIES).toContain(reply.code);
  });

  it('reads 8-bit (UTF-8) headers as UTF-8', async () => {
    const reply = await deliver(Buffer.from(['From: "Jörg Müller" <joerg@vendor.example>', `To: ${inbox.address}`, 'Subject: Grüße aus Köln', '', 'Hallo'].join('\r\n'), 'utf8'));
    expect(reply.code).toBe(250);
    const { data } = await dataOf(reply);
    expect(data).toMatchObject({ subject: 'Grüße aus Köln', from: { name: 'Jörg Müller', address: 'joerg@vendor.example' } });
    expect(data.headers).toContainEqual({ name: 'Subject', value: 'Grüße aus Köln' });
  });

  it('keeps a forwarded message/rfc822 part as one attachment', async () => {
    const inner = await compose({ from: 'a@vendor.example', to: 'b@vendor.example', subject: 'inner', text: 'forwarded', attachments: [{ filename: 'x.txt', content: 'x' }] });
    const outer = await compose({
      from: 'billing@vendor.example',
      to: inbox.address,
      subject: 'Fwd: inner',
      text: 'see attached',
      attachments: [{ content: inner, contentType: 'message/rfc822' }],
    });
    const reply = await deliver(outer);
    expect(reply.code).toBe(250);
    const { data, attachments } = await dataOf(reply);
    expect(data.text).toBe('see attached');
    expect(attachments).toHaveLength(1);
    expect(attachments[0]).toMatchObject({ content_type: 'message/rfc822', size: inner.length, sha256: createHash('sha256').update(inner).digest('hex') });
  });

  it('accepts a 1,000-part message and refuses a 1,500-part one with 554 5.6.0', async () => {
    const thousand = await deliver(manyParts(inbox.address, 999));
    expect(thousand.code).toBe(250);
    expect((await dataOf(thousand)).attachments).toHaveLength(999);
    const tooMany = await deliver(manyParts(inbox.address, 1_500));
    expect(tooMany.text).toMatch(/^554 5\.6\.0 /);
    expect(blobKeys(h.app)).toEqual(await expectedBlobKeys(h.app));
  });

  it('handles deeply nested multiparts: 200 levels accepted, 2,000 refused cleanly', async () => {
    const deep = await deliver(nested(inbox.address, 200));
    expect(deep.code).toBe(250);
    expect((await dataOf(deep)).data.text).toContain('deep inside');
    const deeper = await deliver(nested(inbox.address, 2_000));
    expect(deeper.text).toMatch(/^554 5\.6\.0 /);
  });

  it('refuses a header block over 256 KB with 554 5.6.0', async () => {
    const reply = await deliver(lines(...head(inbox.address, [`X-Padding: ${'a'.repeat(300 * 1024)}`]), '', 'body'));
    expect(reply.text).toMatch(/^554 5\.6\.0 /);
  });

  // MIME handling does not depend on the database, so the fuzz run (about 20 s) is done once, on SQLite.
  // Every message is the same on every run: message n comes from seed message n % 5 and a PRNG
  // seeded with n alone (not from a stream the connections share in whatever order they run).
  it.runIf(dialect === 'sqlite')('survives thousands of mutated messages: every reply clean, no stray blobs', async () => {
    const seeds = [
      await compose({ ...FIXED_MAIL, from: 'billing@vendor.example', to: inbox.address, subject: 'Invoice', text: 'text', html: '<p>html</p>', attachments: [{ filename: 'a.pdf', content: bytesFrom(prng(0x5ea1), 3000) }, { filename: 'b.txt', content: 'plain' }] }),
      await compose({ ...FIXED_MAIL, from: 'billing@vendor.example', to: inbox.address, subject: 'Fwd', text: 'fwd', attachments: [{ content: await compose({ ...FIXED_MAIL, from: 'x@y.example', to: 'z@y.example', subject: 'inner', text: 'inner' }), contentType: 'message/rfc822' }] }),
      manyParts(inbox.address, 5),
      nested(inbox.address, 5),
      Buffer.from(['From: "Jörg" <j@vendor.example>', `To: ${inbox.address}`, 'Subject: Grüße', 'Content-Type: text/plain; charset=iso-8859-1', 'Content-Transfer-Encoding: quoted-printable', '', 'Gr=FC=DFe'].join('\r\n'), 'utf8'),
    ];
    const total = 2_000;
    const connections = 8;
    const unclean: { seed: number; reply: string }[] = [];
    let next = 0;
    // Several connections at once, many transactions each, as a busy relay would send.
    await Promise.all(
      Array.from({ length: connections }, async () => {
        const client = await RawSmtpClient.secure(h.smtp.port, h.ca);
        while (next < total) {
          const n = next++;
          const message = mutate(seeds[n % seeds.length]!, prng(0x5ea1 + n));
          const reply = await client.send('billing@vendor.example', [inbox.address], message);
          if (!CLEAN_REPLIES.includes(reply.code)) unclean.push({ seed: n, reply: reply.text });
        }
        await client.quit();
      }),
    );
    expect(unclean).toEqual([]);
    // Still serving, and every blob on disk belongs to a stored payload.
    expect((await deliver(seeds[0]!)).code).toBe(250);
    expect(blobKeys(h.app)).toEqual(await expectedBlobKeys(h.app));
  }, 300_000);
});
