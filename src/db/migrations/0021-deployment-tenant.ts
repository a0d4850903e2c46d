import { sql, type Kysely } from 'kysely';
import type { Dialect } from '../database.js';

/**
 * The deployment's own tenant (src/ops/deployment-tenant/): `tenants.kind` tells it from customer
 * tenants ('customer' for every existing row), and a partial unique index lets at most one row be
 * the deployment's, so neither two starting processes nor an edit of the database can make a
 * second one.
 */
export async function up(db: Kysely<unknown>, _dialect: Dialect): Promise<void> {
  await db.schema
    .alterTable('tenants')
    .addColumn('kind', 'text', (c) => c.notNull().defaultTo('customer').check(sql`kind in ('customer', 'deployment')`))
    .execute();
  await db.schema.createIndex('tenants_one_deployment').on('tenants').column('kind').unique().where(sql.ref('kind'), '=', 'deployment').execute();
}
