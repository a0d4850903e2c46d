import type { AuditActor } from '../audit/audit-event.js';
import type { AuditRecorder } from '../audit/audit-recorder.js';
import { canonicalJson } from '../crypto/canonical-json.js';
import { newId } from '../crypto/ids.js';
import type { PreparedWrite } from '../db/prepared-write.js';
import { SealpostError } from '../errors/sealpost-error.js';
import type { Destination } from './destination.repository.js';
import { forwardHeaders } from './forwarded-request.js';
import type { ErrorClass, SendOutcome, SendRequest } from './http-sender.js';
import type { RequestSigner } from './request-signer.js';

/** The envelope type of a test event: never `payload.received`, so a receiver cannot mistake it for real data. */
export const TEST_EVENT_TYPE = 'sealpost.test';
/**
 * Test events per destination and minute: enough to fix a receiver by trial and error, too few
 * for a tenant to use Sealpost as a flood source against a third party's URL.
 */
export const TESTS_PER_DESTINATION_PER_MINUTE = 5;
/** The operator waits for the answer: a test gives up sooner than a real delivery may (up to 300 s). */
export const MAX_TEST_TIMEOUT_MS = 30_000;

export interface TestSendResult {
  /** The test event's `webhook-id` (and envelope `id`). */
  readonly webhookId: string;
  readonly kid: string;
  readonly sentAt: number;
  readonly statusCode: number | null;
  readonly errorClass: ErrorClass | null;
  readonly errorDetail: string | null;
  readonly durationMs: number;
  /** The first bytes of the receiver's answer (RESPONSE_CAPTURE_BYTES at most). */
  readonly responseHead: Buffer | null;
}

export interface DestinationTestDeps {
  /** The tenant's destination, or undefined (another tenant's is undefined too). */
  readonly find: (tenantId: string, id: string) => Promise<Destination | undefined>;
  readonly signer: RequestSigner;
  /** The delivery engine's sender: SSRF guard at connect time, no redirects, capped answer, no self-loops. */
  readonly sender: { send(request: SendRequest): Promise<SendOutcome> };
  /** Counts one test of a bucket; resolves to 0 or the seconds to wait (util/rate-limiter.ts). */
  readonly limiter: { hit(bucket: string): Promise<number> };
  /** Runs the `destination.tested` event in a transaction of its own. */
  readonly commit: (write: PreparedWrite) => Promise<void>;
  readonly audit: AuditRecorder;
  readonly now?: () => number;
}

/**
 * "Send test event" (`POST /v1/destinations/:id/test`): one signed request, built and sent as the
 * worker sends a real delivery (same canonical body, signature headers, custom headers, SSRF and
 * self-loop guards), answered to the operator at once. It creates no payload, delivery, attempt or
 * receipt: the body says `"type": "sealpost.test"` and `"test": true`, and a receipt for it would
 * be evidence of a delivery that never carried data. The event is recorded (`destination.tested`).
 */
export class DestinationTestService {
  private readonly now: () => number;

  constructor(private readonly deps: DestinationTestDeps) {
    this.now = deps.now ?? Date.now;
  }

  async send(tenantId: string, destinationId: string, actor: AuditActor): Promise<TestSendResult> {
    const destination = await this.deps.find(tenantId, destinationId);
    if (!destination) throw new SealpostError('SP_ERR_RESOURCE_NOT_FOUND', 'No such destination');
    // Keyed by destination only: however many keys or operators a tenant has, a URL gets this many.
    const wait = await this.deps.limiter.hit(`destination-test:${destination.id}`);
    if (wait > 0) {
      throw new SealpostError('SP_ERR_DESTINATION_TEST_RATE_LIMITED', `At most ${TESTS_PER_DESTINATION_PER_MINUTE} test events per destination and minute; retry in ${wait} s`, {
        logDetail: { retryAfter: wait, destination: destination.id },
      });
    }
    const sentAt = this.now();
    const webhookId = newId('payload', sentAt);
    const body = canonicalJson({
      id: webhookId,
      type: TEST_EVENT_TYPE,
      test: true,
      tenant: tenantId,
      received_at: new Date(sentAt).toISOString(),
      source: { channel: 'test' },
      data: { message: 'A test event from Sealpost: your endpoint is reachable and can verify our signature. It carries no payload.', destination: destination.id },
      attachments: [],
    });
    const timestamp = Math.floor(sentAt / 1000);
    const signed = await this.deps.signer.sign({ tenantId, webhookId, timestamp, body });
    const outcome = await this.deps.sender.send({
      url: destination.url,
      headers: forwardHeaders({ webhookId, timestamp, custom: destination.headers, signed }),
      body,
      timeoutMs: Math.min(destination.timeoutMs, MAX_TEST_TIMEOUT_MS),
    });
    const result: TestSendResult = {
      webhookId,
      kid: signed['sealpost-key-id'] ?? '',
      sentAt,
      statusCode: outcome.statusCode,
      errorClass: outcome.errorClass,
      errorDetail: outcome.errorDetail,
      durationMs: outcome.durationMs,
      responseHead: outcome.responseHead,
    };
    // The answer's bytes stay out of the log: they are the receiver's, and may echo anything.
    await this.deps.commit((tx) =>
      this.deps.audit(tx, {
        tenant: tenantId,
        actor,
        action: 'destination.tested',
        resource: destination.id,
        details: { webhook_id: webhookId, status_code: outcome.statusCode, error_class: outcome.errorClass, duration_ms: outcome.durationMs },
      }),
    );
    return result;
  }
}
