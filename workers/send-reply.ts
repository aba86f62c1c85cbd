/**
 * `send_reply`: sends one reply a member wrote in a conversation
 * (app_public.send_reply queues it, job key `send_reply:<message id>`) from
 * the conversation's inbox, over the campaign engine's delivery path
 * (src/sending/deliver.ts with the REPLY kind): the same send lock, claim,
 * hand-over mark and outcome recording, so it reaches the SMTP server at most
 * once. A retried job first resolves an attempt a dead worker left "sending"
 * (app_private.prepare_reply_send, as run_enrollment does for campaign
 * emails); a deferred attempt is queued again for its retry time.
 */
import type { Task } from 'graphile-worker';
import { z } from 'zod';
import { deliverMessage } from '../src/sending/deliver.ts';
import { queryRows } from '../src/db/query.ts';
import { REPLY } from '../src/sending/reply.ts';
import { emailDeliveries } from '../src/metrics/registry.ts';
import type { TaskDeps } from '../src/worker/context.ts';

const Payload = z.object({ tenant_id: z.uuid(), message_id: z.uuid() });

export function sendReply(deps: TaskDeps): Task {
  return async (rawPayload, helpers) => {
    const payload = Payload.parse(rawPayload);
    await helpers.withPgClient(async (client) => {
      const query = queryRows(client);
      const [state] = await query<{ status: string }>('select app_private.prepare_reply_send($1, $2) as status', [payload.tenant_id, payload.message_id]);
      if (state?.status !== 'queued') {
        helpers.logger.debug(`reply ${payload.message_id}: ${state?.status ?? 'gone'}`);
        return;
      }
      const result = await deliverMessage(client, deps.sending, payload.tenant_id, payload.message_id, helpers.logger, REPLY);
      emailDeliveries.inc({ result });
      helpers.logger.debug(`reply ${payload.message_id}: ${result}`);
      if (result === 'deferred') {
        const [retry] = await query<{ scheduled_for: Date }>(
          `select m.scheduled_for from app_public.messages m where m.tenant_id = $1 and m.id = $2 and m.status = 'queued'`,
          [payload.tenant_id, payload.message_id],
        );
        if (retry) await query('select app_private.queue_reply_send($1, $2, $3)', [payload.tenant_id, payload.message_id, retry.scheduled_for]);
      }
    });
  };
}
