import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asOperator, signInAs, TestClock, type SignedInOperator } from '../../support/operators.js';
import { startTestApp, type TestApp } from '../../support/test-app.js';
import { testDialects } from '../../support/test-database.js';

interface ContactsView {
  contacts: string[];
  notices_go_to: 'security_contacts' | 'owners';
  updated_at: string | null;
}

describe.each(testDialects())('tenant security contacts on %s', { timeout: 120_000 }, (dialect) => {
  let app: TestApp;
  let tenant: string;
  let apiKey: string;
  let owner: SignedInOperator;
  let admin: SignedInOperator;
  let otherOwner: SignedInOperator;
  const clock = new TestClock();

  beforeAll(async () => {
    app = await startTestApp(dialect, { overrides: { identityClock: clock.now } });
    ({ tenant, apiKey } = await app.createTenant('operation'));
    owner = await signInAs(app, clock, tenant, 'owner', 'owner@tenant-a.example');
    admin = await signInAs(app, clock, tenant, 'admin');
    otherOwner = await signInAs(app, clock, (await app.createTenant('operation')).tenant, 'owner');
  });
  afterAll(async () => {
    await app?.close();
  });

  const send = (op: Pick<SignedInOperator, 'cookie' | 'csrf'>, method: string, body?: unknown) =>
    app.fetch('/v1/security-contacts', { method, headers: asOperator(op, body === undefined ? {} : { 'content-type': 'application/json' }), ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const code = async (res: { json(): Promise<unknown> }) => ((await res.json()) as { code?: string }).code;
  const events = () =>
    app.context.database.db.selectFrom('audit_events').select(['action', 'event']).where('tenant_id', '=', tenant).where('action', '=', 'security_contacts.changed').execute();

  it('falls back to the owners until contacts are set, and says so', async () => {
    const res = await send(owner, 'GET');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ contacts: [], notices_go_to: 'owners', updated_at: null });
    expect(await app.context.securityContacts.recipients(tenant)).toEqual({ addresses: ['owner@tenant-a.example'], source: 'owners' });
  });

  it('lets an owner set them, normalised and de-duplicated, sealed at rest and audited without the addresses', async () => {
    const res = await send(owner, 'PUT', { contacts: ['SecOps@Tenant-A.Example', 'secops@tenant-a.example', 'ciso@tenant-a.example'] });
    expect(res.status).toBe(200);
    const body = (await res.json()) as ContactsView;
    expect(body).toMatchObject({ contacts: ['SecOps@tenant-a.example', 'ciso@tenant-a.example'], notices_go_to: 'security_contacts' });
    expect(((await (await send(admin, 'GET')).json()) as ContactsView).contacts).toEqual(body.contacts);
    expect(await app.context.securityContacts.recipients(tenant)).toEqual({ addresses: body.contacts, source: 'security_contacts' });
    const row = await app.context.database.db.selectFrom('security_contacts').select(['contacts_sealed']).where('tenant_id', '=', tenant).executeTakeFirstOrThrow();
    expect(Buffer.from(row.contacts_sealed).toString('latin1')).not.toContain('ciso');
    const logged = await events();
    expect(logged).toHaveLength(1);
    expect(String(logged[0]!.event)).not.toContain('ciso');
    expect(String(logged[0]!.event)).toContain('"count":2');
  });

  it('refuses an admin, an API key and another tenant from changing them (owners decide)', async () => {
    const byAdmin = await send(admin, 'PUT', { contacts: ['attacker@evil.example'] });
    expect(byAdmin.status).toBe(403);
    const byKey = await app.fetch('/v1/security-contacts', { method: 'PUT', token: apiKey, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ contacts: ['attacker@evil.example'] }) });
    expect(byKey.status).toBe(403);
    // Another tenant's owner changes only their own tenant's list.
    expect((await send(otherOwner, 'PUT', { contacts: ['other@tenant-b.example'] })).status).toBe(200);
    expect((await app.context.securityContacts.get(tenant)).contacts).toEqual(['SecOps@tenant-a.example', 'ciso@tenant-a.example']);
    expect(await events()).toHaveLength(1);
  });

  it.each([
    ['a display name', ['Mallory <m@evil.example>'], 'SP_ERR_SECURITY_CONTACTS_INVALID'],
    ['a second recipient smuggled in', ['a@tenant-a.example,b@evil.example'], 'SP_ERR_SECURITY_CONTACTS_INVALID'],
    ['a header smuggled in', ['a@tenant-a.example\r\nBcc: b@evil.example'], 'SP_ERR_SECURITY_CONTACTS_INVALID'],
    ['no dot in the domain', ['root@localhost'], 'SP_ERR_SECURITY_CONTACTS_INVALID'],
    ['too many addresses', Array.from({ length: 11 }, (_, i) => `c${i}@tenant-a.example`), 'SP_ERR_HTTP_BAD_REQUEST'],
  ])('refuses %s with a precise 400 and changes nothing', async (_what, contacts, expected) => {
    const res = await send(owner, 'PUT', { contacts });
    expect(res.status).toBe(400);
    expect(await code(res)).toBe(expected);
    expect((await app.context.securityContacts.get(tenant)).contacts).toEqual(['SecOps@tenant-a.example', 'ciso@tenant-a.example']);
    expect(await events()).toHaveLength(1);
  });

  it('goes back to the owners when emptied', async () => {
    const res = await send(owner, 'PUT', { contacts: [] });
    expect(((await res.json()) as ContactsView).notices_go_to).toBe('owners');
    expect((await app.context.securityContacts.recipients(tenant)).source).toBe('owners');
  });
});
