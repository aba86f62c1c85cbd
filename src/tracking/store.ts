/**
 * The tracking endpoints' only database access: the SQL functions of
 * functions/150-tracking.sql, called on the API's owner pool with the
 * (tenant, message) of a verified token.
 */
import type pg from 'pg';
import type { MessageRef } from './tokens.ts';
import type { UnsubscribePreview } from './pages.ts';

export interface Requester {
  ip: string | null;
  userAgent: string | null;
}

export type UnsubscribeOutcome = 'unsubscribed' | 'already_unsubscribed' | 'unknown_message';
export type UnsubscribeMethod = 'one_click' | 'confirmation_page';

export interface TrackingStore {
  /** Records an open or click; false when the message does not exist (nothing recorded). */
  recordEngagement(ref: MessageRef, type: 'open' | 'click', who: Requester, linkUrl?: string): Promise<boolean>;
  unsubscribePreview(ref: MessageRef): Promise<UnsubscribePreview | null>;
  unsubscribe(ref: MessageRef, who: Requester, method: UnsubscribeMethod): Promise<UnsubscribeOutcome>;
}

export function makeTrackingStore(pool: pg.Pool): TrackingStore {
  return {
    async recordEngagement(ref, type, who, linkUrl) {
      const { rows } = await pool.query<{ recorded: boolean }>(
        'select app_private.track_engagement($1, $2, $3, $4::inet, $5, $6) as recorded',
        [ref.tenantId, ref.messageId, type, who.ip, who.userAgent, linkUrl ?? null],
      );
      return rows[0]?.recorded === true;
    },
    async unsubscribePreview(ref) {
      const { rows } = await pool.query<{ recipient: string | null; sender: string; already_unsubscribed: boolean }>(
        'select recipient, sender, already_unsubscribed from app_private.unsubscribe_preview($1, $2)',
        [ref.tenantId, ref.messageId],
      );
      const row = rows[0];
      return row ? { recipient: row.recipient, sender: row.sender, alreadyUnsubscribed: row.already_unsubscribed } : null;
    },
    async unsubscribe(ref, who, method) {
      const { rows } = await pool.query<{ outcome: UnsubscribeOutcome }>(
        'select app_private.track_unsubscribe($1, $2, $3::inet, $4, $5) as outcome',
        [ref.tenantId, ref.messageId, who.ip, who.userAgent, method],
      );
      return rows[0]!.outcome;
    },
  };
}
