/**
 * Access tokens of inboxes connected over OAuth, renewed ahead of need. Every
 * five minutes `oauth_renewal_sweep` queues `oauth_renew_access` for each
 * active connected inbox whose token expires within 15 minutes
 * (app_private.queue_oauth_renewals); the job renews it
 * (src/oauth/access-token.ts), so sends and polls find a valid token and a
 * withdrawn consent stops the inbox before its next message is due.
 *
 * A refusal for good has already stopped the inbox when `oauthLogin` throws
 * OAuthReconnectRequired: the job ends. A temporary failure fails the job,
 * which graphile-worker retries (three attempts; the next sweep queues it
 * again). No token is logged.
 */
import { z } from 'zod';
import type { Task } from 'graphile-worker';
import { oauthLogin, OAuthReconnectRequired } from '../src/oauth/access-token.ts';
import { queryRows } from '../src/db/query.ts';
import type { TaskDeps } from '../src/worker/context.ts';

/** Renew tokens that expire within this long: the sweep's window, so a queued inbox is renewed once. */
export const RENEW_WITHIN_MS = 15 * 60_000;

const RenewPayload = z.object({ tenant_id: z.uuid(), email_account_id: z.uuid() });

export const oauthRenewalSweep: Task = async (_payload, helpers) => {
  const { rows } = await helpers.query<{ n: number }>('select count(*)::int as n from app_private.queue_oauth_renewals(make_interval(secs => $1))', [RENEW_WITHIN_MS / 1000]);
  if (rows[0]?.n) helpers.logger.debug(`queued the renewal of ${rows[0].n} OAuth access tokens`);
};

export function oauthRenewAccess(deps: TaskDeps): Task {
  return async (rawPayload, helpers) => {
    const { tenant_id: tenantId, email_account_id: accountId } = RenewPayload.parse(rawPayload);
    try {
      // One connection throughout: the renewal holds a session advisory lock on the inbox.
      await helpers.withPgClient((db) =>
        oauthLogin(queryRows(db), { secretBox: deps.imap.secretBox, oauth: deps.imap.oauth }, tenantId, accountId, { marginMs: RENEW_WITHIN_MS }));
    } catch (error) {
      if (!(error instanceof OAuthReconnectRequired)) throw error;
      helpers.logger.info(`inbox ${accountId}: ${error.message}`);
    }
  };
}
