import type { Logger } from '../logging/logger.js';
import type { OutboundMailer } from '../mail/outbound-mailer.js';
import type { ApiKeyRecord } from './api-key.repository.js';
import { keyAgeWarning } from './api-key.service.js';
import type { KeyAgeNoticeRepository } from './key-age-notice.repository.js';
import type { Member } from './operators/operator.repository.js';
import type { Tenant } from './tenant.repository.js';

/** What the notice needs to read: the tenants, their keys and their owners. */
export interface KeyAgeNoticeSources {
  tenants(): Promise<Tenant[]>;
  keys(tenantId: string): Promise<ApiKeyRecord[]>;
  members(tenantId: string): Promise<Member[]>;
}

function monthOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 7);
}

/**
 * The customer responsibility "rotate API keys yearly", shown: once a month each tenant's owners
 * get the list of live API keys older than a year (the same rule as `age_warning` in
 * `GET /v1/api-keys`). Run daily by the scheduler; the first run of a month sends, later ones
 * find the month claimed.
 */
export class KeyAgeNoticeService {
  constructor(
    private readonly sources: KeyAgeNoticeSources,
    private readonly notices: KeyAgeNoticeRepository,
    private readonly mailer: OutboundMailer,
    private readonly now: () => number,
    private readonly logger: Logger,
  ) {}

  /** Sends this month's notices not yet sent; returns how many tenants were told. */
  async run(): Promise<number> {
    if (!this.mailer.configured) return 0;
    const now = this.now();
    const month = monthOf(now);
    let told = 0;
    for (const tenant of await this.sources.tenants()) {
      const old = (await this.sources.keys(tenant.id)).filter((k) => k.revokedAt === null && (k.expiresAt === null || k.expiresAt > now) && keyAgeWarning(k, now));
      const owners = (await this.sources.members(tenant.id)).filter((m) => m.role === 'owner');
      if (old.length === 0 || owners.length === 0) continue;
      if (!(await this.notices.claim(tenant.id, month, now))) continue;
      const lines = old.map((k) => `- sp_live_${k.prefix}… "${k.name}" (${k.id}), created ${new Date(k.createdAt).toISOString().slice(0, 10)}`);
      for (const owner of owners) {
        await this.mailer
          .send({
            to: owner.email,
            subject: `Sealpost: ${old.length} API key(s) older than a year in ${tenant.name}`,
            text: `These API keys of tenant ${tenant.id} are older than 365 days. Rotate them (POST /v1/api-keys/:id/rotate):\n\n${lines.join('\n')}\n`,
          })
          .catch((err: unknown) => this.logger.error({ err, tenant: tenant.id }, 'old API key notice could not be sent'));
      }
      told += 1;
    }
    return told;
  }
}
