/**
 * A subscription's deliveries as the worker sees them: the lease on posting
 * them, the next one due (the oldest pending, in event order), its secrets,
 * and the recording of an attempt (app_private.record_webhook_attempt). Every query names the tenant,
 * so on Citus each runs on the tenant's shards.
 */
import type { PoolClient } from 'pg';
import type { SecretBox } from '../crypto/secrets.ts';
import type { PostOutcome } from './post.ts';

export interface PendingDelivery {
  id: string;
  eventId: string;
  eventType: string;
  eventCreated: Date;
  data: unknown;
  nextAttemptAt: Date | null;
  attempts: number;
  url: string;
  enabled: boolean;
}

type Query = Pick<PoolClient, 'query'>;

/** The oldest pending delivery of the subscription (null when none, or the subscription is gone). */
export async function headDelivery(db: Query, tenantId: string, subscriptionId: string): Promise<PendingDelivery | null> {
  const { rows } = await db.query<PendingDelivery>(
    `select d.id, d.event_id as "eventId", e.event_type as "eventType", e.created as "eventCreated", e.data,
            d.next_attempt_at as "nextAttemptAt", d.attempts, s.url, s.enabled
     from app_public.webhook_deliveries d
     join app_public.webhook_events e on e.tenant_id = d.tenant_id and e.id = d.event_id
     join app_public.webhook_subscriptions s on s.tenant_id = d.tenant_id and s.id = d.webhook_subscription_id
     where d.tenant_id = $1 and d.webhook_subscription_id = $2 and d.status = 'pending'
     order by d.event_created, d.event_id
     limit 1`,
    [tenantId, subscriptionId],
  );
  return rows[0] ?? null;
}

/** The secrets deliveries are signed with now: the current one, and the previous one during a rotation's overlap. */
export async function signingSecrets(db: Query, box: SecretBox, tenantId: string, subscriptionId: string): Promise<string[]> {
  const { rows } = await db.query<{ secret_encrypted: Buffer; previous_secret_encrypted: Buffer | null; previous_valid: boolean }>(
    `select secret_encrypted, previous_secret_encrypted, coalesce(previous_expires_at > now(), false) as previous_valid
     from app_private.webhook_secrets where tenant_id = $1 and subscription_id = $2`,
    [tenantId, subscriptionId],
  );
  const row = rows[0];
  if (!row) return [];
  const secrets = [box.decrypt(row.secret_encrypted)];
  if (row.previous_valid && row.previous_secret_encrypted) secrets.push(box.decrypt(row.previous_secret_encrypted));
  return secrets;
}

/** The body of a delivery: the same bytes on every attempt and replay. */
export function deliveryBody(delivery: Pick<PendingDelivery, 'eventType' | 'eventCreated' | 'data'>): string {
  return JSON.stringify({ type: delivery.eventType, timestamp: delivery.eventCreated.toISOString(), data: delivery.data });
}

/** Records an attempt; returns whether it disabled the subscription (retryAt null after a failure: given up). */
export async function recordAttempt(db: Query, tenantId: string, deliveryId: string, succeeded: boolean, outcome: PostOutcome, retryAt: Date | null): Promise<boolean> {
  const { rows } = await db.query<{ disabled: boolean }>(
    'select app_private.record_webhook_attempt($1, $2, $3, $4, $5, $6, $7, $8) as disabled',
    [tenantId, deliveryId, succeeded, outcome.status, outcome.body, outcome.durationMs, outcome.error, retryAt],
  );
  return rows[0]?.disabled ?? false;
}

/** Takes or extends the subscription's delivery lease for `ms`; when not claimed, `heldUntil` is when the other holder's lease ends. */
export async function claimLease(db: Query, tenantId: string, subscriptionId: string, holder: string, ms: number): Promise<{ claimed: boolean; heldUntil: Date | null }> {
  const { rows } = await db.query<{ claimed: boolean; held_until: Date | null }>(
    `select claimed, held_until from app_private.claim_webhook_lease($1, $2, $3, $4 * interval '1 millisecond')`,
    [tenantId, subscriptionId, holder, ms],
  );
  return { claimed: rows[0]?.claimed ?? false, heldUntil: rows[0]?.held_until ?? null };
}

/** Gives the lease back (when this holder still has it). */
export async function releaseLease(db: Query, tenantId: string, subscriptionId: string, holder: string): Promise<void> {
  await db.query('select app_private.release_webhook_lease($1, $2, $3)', [tenantId, subscriptionId, holder]);
}
