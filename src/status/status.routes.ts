import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { idPattern } from '../crypto/ids.js';
import { SealpostError } from '../errors/sealpost-error.js';
import { assetRoutes } from '../http/html/assets.js';
import { escapeHtml } from '../http/html/html.js';
import { sendPage } from '../http/html/layout.js';
import { mediaResponse } from '../http/problem.schema.js';
import { html } from '../http/html/html.js';
import { renderPage } from '../http/html/layout.js';
import { TOKEN_PATTERN, type SubscriptionService } from './subscriptions/subscription.service.js';
import type { WebhookSubscriptionService } from './subscriptions/webhook-subscription.service.js';
import { MAX_URL_LENGTH } from '../delivery/destination.service.js';
import { postmortemFragment } from './incidents/postmortem.render.js';
import { STATUS_SCRIPT, STATUS_STYLESHEET } from './status.assets.js';
import type { StatusLive } from './status-live.js';
import { renderPostmortemPage, renderStatusPage } from './status.page.js';
import type { StatusPageService, StatusSnapshot } from './status-page.service.js';

/** Live connections one client address may hold: a page or two per person behind one NAT, not a socket flood. */
const MAX_LIVE_PER_IP = 20;
/** Proxies close idle streams; a comment line this often keeps the connection open. */
const KEEPALIVE_MS = 15_000;
const IncidentParams = Type.Object({ id: Type.String({ pattern: idPattern('incident') }) });
const JsonObject = Type.Object({}, { additionalProperties: true, description: 'see docs/status-page.md' });
/** A form with one token is a few dozen bytes. */
const MAX_FORM_BYTES = 1024;
const SubscribeBody = Type.Object({ email: Type.String({ format: 'email', maxLength: 254 }) }, { additionalProperties: false });
const TokenQuery = Type.Object({ token: Type.String({ pattern: TOKEN_PATTERN }) }, { additionalProperties: false });
// The URL's own rules (https, SSRF guard, own listeners) are the destination service's; the schema only bounds it.
const WebhookBody = Type.Object({ url: Type.String({ minLength: 1, maxLength: MAX_URL_LENGTH }) }, { additionalProperties: false });
/** Fresh on every load: it is the point of a status page. */
const NO_CACHE = 'no-cache';

function notFound(): SealpostError {
  return new SealpostError('SP_ERR_RESOURCE_NOT_FOUND', 'No such postmortem');
}

function snapshotJson(snapshot: StatusSnapshot): string {
  return JSON.stringify({ generated_at: new Date().toISOString(), ...snapshot });
}

/** XML text and attribute escaping: the five special characters, as in HTML. */
const xml = escapeHtml;

/**
 * The public status page: read-only, no credentials, no tenant data. `/status` (HTML, a script
 * file for live updates), `/status.json`, `/status/events` (Server-Sent Events), the Atom feed,
 * and postmortems (HTML and the signed document).
 */
export async function statusRoutes(
  app: FastifyInstance,
  deps: {
    page: StatusPageService;
    live: StatusLive;
    publicUrl: string;
    subscriptions: SubscriptionService;
    webhooks: WebhookSubscriptionService;
    /** Counts a subscription request of this client; resolves to the seconds to wait, 0 if allowed. */
    admitSubscription: (ip: string) => Promise<number>;
  },
): Promise<void> {
  const base = deps.publicUrl.replace(/\/$/, '');
  await app.register(assetRoutes, { assets: [STATUS_STYLESHEET, STATUS_SCRIPT] });
  const livePerIp = new Map<string, number>();
  const streams = new Set<() => void>();
  // Open streams would hold the server's close until they end: end them first, clients reconnect.
  app.addHook('preClose', async () => {
    for (const end of [...streams]) end();
  });

  app.get('/status', { schema: { response: { 200: mediaResponse('the status page', ['text/html']) } } }, async (_request, reply) =>
    sendPage(reply, renderStatusPage(await deps.page.snapshot()), { scripts: true, connect: true, cacheControl: NO_CACHE }),
  );

  app.get('/status.json', { schema: { response: { 200: mediaResponse('components, incidents with their signed updates, maintenance', ['application/json'], JsonObject) } } }, async (_request, reply) =>
    reply.type('application/json; charset=utf-8').header('cache-control', NO_CACHE).header('access-control-allow-origin', '*').send(snapshotJson(await deps.page.snapshot())),
  );

  app.get('/status/events', { schema: { response: { 200: mediaResponse('Server-Sent Events: `status` with the status.json document at connect and on every change', ['text/event-stream']) } } }, async (request, reply) => {
    const ip = request.ip || 'unknown';
    if ((livePerIp.get(ip) ?? 0) >= MAX_LIVE_PER_IP) throw new SealpostError('SP_ERR_HTTP_RATE_LIMITED', 'Too many live connections from this address');
    const first = await deps.page.snapshot();
    const send = (snapshot: StatusSnapshot): void => void reply.raw.write(`event: status\ndata: ${snapshotJson(snapshot)}\n\n`);
    const stop = deps.live.listen(send);
    if (!stop) throw new SealpostError('SP_ERR_HTTP_RATE_LIMITED', 'Too many live connections; retry later');
    livePerIp.set(ip, (livePerIp.get(ip) ?? 0) + 1);
    reply.hijack();
    reply.raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      // Reverse proxies (nginx) would otherwise buffer the stream.
      'x-accel-buffering': 'no',
    });
    reply.raw.write('retry: 3000\n\n');
    send(first);
    const keepalive = setInterval(() => reply.raw.write(': keepalive\n\n'), KEEPALIVE_MS);
    keepalive.unref();
    let open = true;
    const close = (): void => {
      if (!open) return;
      open = false;
      clearInterval(keepalive);
      stop();
      streams.delete(end);
      const left = (livePerIp.get(ip) ?? 1) - 1;
      if (left <= 0) livePerIp.delete(ip);
      else livePerIp.set(ip, left);
    };
    const end = (): void => {
      close();
      reply.raw.end();
    };
    streams.add(end);
    request.raw.once('close', close);
  });

  app.get('/status/feed.atom', { schema: { response: { 200: mediaResponse('Atom feed of incident updates, each with its signed document', ['application/atom+xml']) } } }, async (_request, reply) => {
    const entries = await deps.page.feed();
    const updated = entries[0] ? String(entries[0].document.posted_at) : new Date(0).toISOString();
    const body = [
      '<?xml version="1.0" encoding="utf-8"?>',
      '<feed xmlns="http://www.w3.org/2005/Atom" xmlns:sp="https://sealpost.dev/ns/status">',
      `<id>${xml(`${base}/status`)}</id>`,
      '<title>Sealpost status</title>',
      `<updated>${xml(updated)}</updated>`,
      `<link rel="self" href="${xml(`${base}/status/feed.atom`)}"/>`,
      `<link rel="alternate" type="text/html" href="${xml(`${base}/status`)}"/>`,
      '<author><name>Sealpost</name></author>',
      ...entries.map((e) =>
        [
          '<entry>',
          `<id>${xml(`${base}/status#${String(e.document.id)}`)}</id>`,
          `<title>${xml(`${e.incidentTitle}: ${String(e.document.state)}`)}</title>`,
          `<updated>${xml(String(e.document.posted_at))}</updated>`,
          `<link rel="alternate" type="text/html" href="${xml(`${base}/status`)}"/>`,
          `<content type="text">${xml(String(e.document.message))}</content>`,
          // The update exactly as signed (RFC 8785 JSON with its `sig`), to verify with the log key.
          `<sp:signed>${xml(e.text)}</sp:signed>`,
          '</entry>',
        ].join(''),
      ),
      '</feed>',
    ].join('\n');
    return reply.type('application/atom+xml; charset=utf-8').header('cache-control', NO_CACHE).send(body);
  });

  app.get<{ Params: Static<typeof IncidentParams> }>(
    '/status/incidents/:id/postmortem',
    { schema: { params: IncidentParams, response: { 200: mediaResponse('the postmortem, rendered', ['text/html']) } } },
    async (request, reply) => {
      const found = await deps.page.postmortem(request.params.id);
      if (!found) throw notFound();
      const d = found.document;
      return sendPage(reply, renderPostmortemPage(found.incident.title, String(d.root_cause), String(d.published_at), await postmortemFragment(String(d.markdown)), `/status/incidents/${found.incident.id}/postmortem.json`), {
        cacheControl: NO_CACHE,
      });
    },
  );

  app.get<{ Params: Static<typeof IncidentParams> }>(
    '/status/incidents/:id/postmortem.json',
    { schema: { params: IncidentParams, response: { 200: mediaResponse('the signed postmortem document', ['application/json'], JsonObject) } } },
    async (request, reply) => {
      const found = await deps.page.postmortem(request.params.id);
      if (!found) throw notFound();
      return reply.type('application/json; charset=utf-8').header('cache-control', NO_CACHE).send(found.text);
    },
  );

  // The confirmation and unsubscribe pages post a form; its one field is the token.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: MAX_FORM_BYTES }, (_request, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });

  app.post<{ Body: Static<typeof SubscribeBody> }>(
    '/status/subscriptions',
    { schema: { body: SubscribeBody, response: { 202: Type.Object({ status: Type.Literal('pending'), message: Type.String() }) } } },
    async (request, reply) => {
      await admit(request.ip, reply);
      await deps.subscriptions.subscribe(request.body.email);
      // The same answer for a new, pending or confirmed address: it names no subscriber.
      return reply.code(202).send({ status: 'pending', message: 'If this address can receive mail, a confirmation link is on its way.' });
    },
  );

  const admit = async (ip: string, reply: { header(name: string, value: string): unknown }): Promise<void> => {
    const wait = await deps.admitSubscription(ip || 'unknown');
    if (wait > 0) {
      reply.header('retry-after', String(wait));
      throw new SealpostError('SP_ERR_HTTP_RATE_LIMITED', `Rate limit exceeded; retry in ${wait} s`);
    }
  };

  app.post<{ Body: Static<typeof WebhookBody> }>(
    '/status/subscriptions/webhook',
    { schema: { body: WebhookBody, response: { 202: Type.Object({ status: Type.Literal('pending'), message: Type.String() }) } } },
    async (request, reply) => {
      await admit(request.ip, reply);
      await deps.webhooks.subscribe(request.body.url);
      // The same answer for a new, pending or confirmed URL: it names no subscriber.
      return reply.code(202).send({ status: 'pending', message: 'A signed confirmation event with a one-time token is on its way to this URL; POST the token to /status/subscriptions/webhook/confirm within 24 hours.' });
    },
  );

  app.post<{ Body: Static<typeof TokenQuery> }>(
    '/status/subscriptions/webhook/confirm',
    { schema: { body: TokenQuery, response: { 200: Type.Object({ status: Type.Literal('confirmed'), unsubscribe_token: Type.String() }) } } },
    async (request, reply) => {
      const unsubscribe = await deps.webhooks.confirm(request.body.token);
      return reply.header('cache-control', 'no-store').send({ status: 'confirmed', unsubscribe_token: unsubscribe });
    },
  );

  app.post<{ Body: Static<typeof TokenQuery> }>(
    '/status/subscriptions/webhook/unsubscribe',
    { schema: { body: TokenQuery, response: { 200: Type.Object({ status: Type.Literal('unsubscribed') }) } } },
    async (request, reply) => {
      await deps.webhooks.unsubscribe(request.body.token);
      return reply.send({ status: 'unsubscribed' });
    },
  );

  for (const kind of ['confirm', 'unsubscribe'] as const) {
    const path = `/status/subscriptions/${kind}`;
    const action = kind === 'confirm' ? 'Confirm subscription' : 'Unsubscribe';
    // A GET only shows the form: mail scanners follow links, and must not (un)subscribe anyone.
    app.get<{ Querystring: Static<typeof TokenQuery> }>(path, { schema: { querystring: TokenQuery, response: { 200: mediaResponse(`a form to ${kind}`, ['text/html']) } } }, async (request, reply) =>
      sendPage(
        reply,
        renderPage({
          title: `${action} · Sealpost status`,
          main: html`<h1>${action}</h1>
<form method="post" action="${path}"><input type="hidden" name="token" value="${request.query.token}"><button type="submit">${action}</button></form>`,
        }),
        { cacheControl: 'no-store' },
      ),
    );
    app.post<{ Body: Static<typeof TokenQuery> }>(path, { schema: { body: TokenQuery, response: { 200: mediaResponse(`the ${kind} result`, ['text/html']) } } }, async (request, reply) => {
      const done = kind === 'confirm' ? await deps.subscriptions.confirm(request.body.token) : await deps.subscriptions.unsubscribe(request.body.token);
      const text = done
        ? kind === 'confirm'
          ? 'Subscribed: status updates will come to this address, each with a link to unsubscribe.'
          : 'Unsubscribed: no more status updates will come to this address.'
        : 'This link is not valid any more (used, expired, or already unsubscribed).';
      return sendPage(reply, renderPage({ title: `${action} · Sealpost status`, main: html`<h1>${action}</h1><p role="status">${text}</p><p><a href="/status">Back to the status page</a></p>` }), {
        cacheControl: 'no-store',
        status: done ? 200 : 400,
      });
    });
  }
}
