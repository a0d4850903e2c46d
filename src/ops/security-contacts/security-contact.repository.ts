import type { Kysely } from 'kysely';
import type { RecordCipher } from '../../crypto/record-cipher.js';
import type { Database } from '../../db/schema.js';

export interface StoredSecurityContacts {
  readonly contacts: readonly string[];
  readonly updatedAt: number;
  readonly updatedBy: string;
}

const context = (tenantId: string) => ({ tenant: tenantId, table: 'security_contacts', id: tenantId, field: 'contacts' });

/**
 * A tenant's security contacts, sealed under the tenant's keys (e-mail addresses are personal
 * data, and erasing the tenant shreds them). Every method takes the tenant id.
 */
export class SecurityContactRepository {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly cipher: RecordCipher,
  ) {}

  async find(tenantId: string): Promise<StoredSecurityContacts | undefined> {
    const row = await this.db.selectFrom('security_contacts').select(['contacts_sealed', 'updated_at', 'updated_by']).where('tenant_id', '=', tenantId).executeTakeFirst();
    if (!row) return undefined;
    const contacts = JSON.parse((await this.cipher.decrypt(Buffer.from(row.contacts_sealed), context(tenantId))).toString('utf8')) as string[];
    return { contacts, updatedAt: row.updated_at, updatedBy: row.updated_by };
  }

  /** Seals the list: call before the transaction that stores it (the cipher may use the database). */
  seal(tenantId: string, contacts: readonly string[]): Promise<Buffer> {
    return this.cipher.encrypt(JSON.stringify(contacts), context(tenantId));
  }

  async store(tenantId: string, sealed: Buffer, at: number, by: string, tx: Kysely<Database>): Promise<void> {
    await tx
      .insertInto('security_contacts')
      .values({ tenant_id: tenantId, contacts_sealed: sealed, updated_at: at, updated_by: by })
      .onConflict((oc) => oc.column('tenant_id').doUpdateSet({ contacts_sealed: sealed, updated_at: at, updated_by: by }))
      .execute();
  }
}
