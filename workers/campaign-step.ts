/**
 * `campaign_step`: one enrollment's next action (job_key per enrollment, so
 * rescheduling replaces the pending job). app_private.run_enrollment decides
 * in SQL (steps, conditions, waits, window, caps, rotation, gap) and either
 * reschedules the job itself or hands back a message to deliver now; after a
 * delivery the loop asks again, so a send followed by a wait step is one job.
 */
import type { Task } from 'graphile-worker';
import { z } from 'zod';
import { deliverMessage, type DeliveryResult } from '../src/sending/deliver.ts';
import { queryRows } from '../src/db/query.ts';
import { emailDeliveries } from '../src/metrics/registry.ts';
import type { TaskDeps } from '../src/worker/context.ts';

const Payload = z.object({ tenant_id: z.uuid(), enrollment_id: z.uuid() });

interface Action {
  action: 'send' | 'wait' | 'done' | 'stopped' | 'idle' | 'busy';
  message_id: string | null;
  run_at: Date | null;
  detail: string | null;
}

/** After these the enrollment's next step is already settled (rescheduled, paused or in other hands). */
const FINAL: ReadonlySet<DeliveryResult> = new Set(['deferred', 'paused', 'limit', 'busy']);

/** At most this many sends in one job (a sequence rarely sends twice without a wait in between). */
const MAX_ROUNDS = 10;

export function campaignStep(deps: TaskDeps): Task {
  return async (rawPayload, helpers) => {
    const payload = Payload.parse(rawPayload);
    await helpers.withPgClient(async (client) => {
      const query = queryRows(client);
      for (let round = 0; round < MAX_ROUNDS; round++) {
        // Its commit need not wait for the disk: a booking is only acted on
        // outside the database after mark_handed_over's commit, which waits
        // (and makes every earlier commit durable with it). A booking lost in
        // a crash is made again when the job runs again (docs/sending.md).
        const [next] = await query<Action>(
          `select r.* from app_private.run_enrollment($1, $2) r, set_config('synchronous_commit', 'off', true)`,
          [payload.tenant_id, payload.enrollment_id],
        );
        if (!next || next.action !== 'send' || !next.message_id) {
          helpers.logger.debug(`enrollment ${payload.enrollment_id}: ${next?.action ?? 'nothing'}${next?.detail ? ` (${next.detail})` : ''}`);
          return;
        }
        const result = await deliverMessage(client, deps.sending, payload.tenant_id, next.message_id, helpers.logger);
        emailDeliveries.inc({ result });
        helpers.logger.debug(`enrollment ${payload.enrollment_id}: message ${next.message_id} ${result}`);
        if (FINAL.has(result)) return;
      }
      // Still sending after MAX_ROUNDS messages in a row: continue in a fresh job.
      await query('select app_private.schedule_enrollment($1, $2)', [payload.tenant_id, payload.enrollment_id]);
    });
  };
}
